"""Trace files (goldens): JSON Lines, optionally gzip; the first line is `{"meta": {...}}` (SPEC §1.3)."""
from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

from .errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


def open_text(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == GZIP_MAGIC
    if gz:
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_meta(path: Path) -> dict:
    """The meta object of a trace, plain or gzip (multi-member streams are fine)."""
    shown = str(path)
    try:
        with open_text(path) as f:
            for no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    first = json.loads(raw)
                except json.JSONDecodeError as e:
                    raise InputError(f"first record is not JSON: {e.msg}", path=shown, line=no) from None
                if not isinstance(first, dict) or not isinstance(first.get("meta"), dict):
                    raise InputError('first record is not {"meta": {...}}', path=shown, line=no)
                return first["meta"]
    except FileNotFoundError:
        raise InputError("file not found", path=shown) from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise InputError(f"unreadable trace: {e}", path=shown) from None
    raise InputError("empty trace: no meta line", path=shown)
