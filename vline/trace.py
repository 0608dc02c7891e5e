"""Trace files (goldens): JSON Lines, optionally gzip; the first line is `{"meta": {...}}` (SPEC §1.3).
This module is the one reader of the format."""
from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
RECORD_INTS = ("prompt_tokens", "output_tokens")


class TraceProblem(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def open_text(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == GZIP_MAGIC
    if gz:
        return gzip.open(path, "rt", encoding="utf-8")  # multi-member streams read as one
    return open(path, encoding="utf-8")


def records(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON) of every non-blank line; integers stay integers."""
    try:
        with open_text(path) as f:
            for no, raw in enumerate(f, start=1):
                if raw.strip():
                    try:
                        yield no, json.loads(raw)
                    except json.JSONDecodeError as e:
                        raise TraceProblem(f"not JSON ({e.msg})", no) from None
    except FileNotFoundError:
        raise TraceProblem("file not found") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise TraceProblem(f"unreadable trace: {e}") from None


def _meta(no: int, first: object) -> dict:
    if not isinstance(first, dict) or not isinstance(first.get("meta"), dict):
        raise TraceProblem('the first record is not {"meta": {...}}', no)
    return first["meta"]


def read_meta(path: Path) -> dict:
    """The meta object of a trace, plain or gzip; a bad trace is an InputError naming file and line."""
    try:
        for no, first in records(path):
            return _meta(no, first)
    except TraceProblem as e:
        raise InputError(e.message, path=str(path), line=e.line) from None
    raise InputError("empty trace: no meta line", path=str(path))


def check(path: Path) -> tuple[dict, list[str]]:
    """The meta and the first problem of a trace, if any: a bad line or a record missing a required key."""
    meta: dict | None = None
    try:
        for no, rec in records(path):
            if meta is None:
                meta = _meta(no, rec)
            elif problem := _record_problem(rec):
                raise TraceProblem(problem, no)
    except TraceProblem as e:
        return meta or {}, [str(e)]
    return (meta, []) if meta is not None else ({}, ["empty trace: no meta line"])


def _record_problem(rec: object) -> str | None:
    if not isinstance(rec, dict):
        return "a record is not a JSON object"
    for key in (*RECORD_INTS, "ttft_ms"):
        if key not in rec:
            return f"record has no {key}"
    for key in RECORD_INTS:
        if isinstance(rec[key], bool) or not isinstance(rec[key], int):
            return f"{key} is not an integer ({rec[key]!r})"
    if isinstance(rec["ttft_ms"], bool) or not isinstance(rec["ttft_ms"], (int, float)):
        return f"ttft_ms is not a number ({rec['ttft_ms']!r})"
    return None
