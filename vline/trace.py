"""Trace files (goldens): JSON Lines, optionally gzip; the first line is `{"meta": {...}}` (SPEC §1.3).
This module is the one reader of the format."""
from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, quote

GZIP_MAGIC = b"\x1f\x8b"
RECORD_INTS = ("prompt_tokens", "output_tokens")


class TraceProblem(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message

    def at(self, path: str | Path) -> str:
        """`FILE:LINE: message`, as every other error names its place."""
        return f"{path}:{self.line}: {self.message}" if self.line else f"{path}: {self.message}"

    def error(self, path: str | Path) -> InputError:
        return InputError(self.message, path=str(path), line=self.line)


def open_bytes(path: Path):
    """The trace's bytes, gunzipped when it is gzip (multi-member streams read as one)."""
    with open(path, "rb") as f:
        gz = f.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


# What json.loads lets through that no output can carry: integers over 64 bits (no count or id in a trace
# is one), infinities from huge exponents, lone UTF-16 surrogates. Looked for only when the line's text
# hints at one, so a plain line pays one regex search and no walk.
_SUSPECT = re.compile(r"[0-9]{20,}|[eE][+-]?[0-9]{3}|\\u[dD][89a-fA-F]")


def _value_problem(value: object) -> str | None:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a \\u escape is half of a UTF-16 surrogate pair"
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and not -(2 ** 63) <= item < 2 ** 64:
            return "an integer is out of range (too many digits for 64 bits)"
        elif isinstance(item, float) and not math.isfinite(item):
            return "a number is out of range (it reads as infinity)"
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return None


def _parse(raw: bytes, no: int) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TraceProblem(f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})", no) from None
    if no == 1 and text.startswith("\ufeff"):
        raise TraceProblem("starts with a UTF-8 byte order mark (BOM): save the file as UTF-8 without a BOM", no)
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise TraceProblem(f"not JSON ({e.msg} at column {e.colno})", no) from None
    except RecursionError:
        raise TraceProblem("not JSON this tool accepts: nested too deeply", no) from None
    except ValueError as e:  # NaN/Infinity, or int() of more than 4300 digits
        why = str(e) if "JSON number" in str(e) else "an integer is out of range (too many digits for 64 bits)"
        raise TraceProblem(f"not JSON this tool accepts: {why}", no) from None
    if _SUSPECT.search(text) and (why := _value_problem(value)):
        raise TraceProblem(f"not JSON this tool accepts: {why}", no)
    return value


def records(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON) of every non-blank line; integers stay integers."""
    no = 0
    try:
        with open_bytes(path) as f:
            for no, raw in enumerate(f, start=1):
                if raw.strip():
                    yield no, _parse(raw, no)
    except FileNotFoundError:
        raise TraceProblem("file not found") from None
    except IsADirectoryError:
        raise TraceProblem("is a directory, not a trace") from None
    except (OSError, EOFError, zlib.error) as e:  # a gzip stream cut short or corrupt: where reading stopped
        raise TraceProblem(f"unreadable trace: {e}", no + 1) from None


def meta_line(path: Path) -> int | None:
    """The line of the meta record (the first non-blank line)."""
    try:
        for no, _ in records(path):
            return no
    except TraceProblem as e:
        return e.line
    return None


_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def _meta(no: int, first: object) -> dict:
    if not isinstance(first, dict) or not isinstance(first.get("meta"), dict):
        raise TraceProblem('the first record is not {"meta": {...}}', no)
    return first["meta"]


def _stamp(no: int, meta: dict) -> None:
    """A stamped fingerprint is a sha256; anything else would be printed, or become a manifest value
    (after the golden was staged), as it is."""
    stamp = meta.get("config_hash")
    if stamp is not None and not (isinstance(stamp, str) and _HEX64.match(stamp)):
        raise TraceProblem(f"meta config_hash: {quote(stamp)} is not 64 lowercase hex characters", no)


def read_meta(path: Path) -> dict:
    """The meta object of a trace, plain or gzip; a bad trace is an InputError naming file and line."""
    try:
        for no, first in records(path):
            meta = _meta(no, first)
            _stamp(no, meta)
            return meta
    except TraceProblem as e:
        raise e.error(path) from None
    raise InputError("empty trace: no meta line", path=str(path))


def check(path: Path) -> tuple[dict, TraceProblem | None]:
    """The meta and the first problem of a trace, if any: a bad line or a record missing a required key."""
    meta: dict | None = None
    try:
        for no, rec in records(path):
            if meta is None:
                meta, at = _meta(no, rec), no
            elif problem := _record_problem(rec):
                raise TraceProblem(problem, no)
        if meta is not None:
            _stamp(at, meta)
    except TraceProblem as e:
        return meta or {}, e
    return (meta, None) if meta is not None else ({}, TraceProblem("empty trace: no meta line"))


def _record_problem(rec: object) -> str | None:
    if not isinstance(rec, dict):
        return "a record is not a JSON object"
    for key in (*RECORD_INTS, "ttft_ms"):
        if key not in rec:
            return f"record has no {key}"
    for key in RECORD_INTS:
        if isinstance(rec[key], bool) or not isinstance(rec[key], int):
            return f"{key} is not an integer ({quote(rec[key])})"
    if isinstance(rec["ttft_ms"], bool) or not isinstance(rec["ttft_ms"], (int, float)):
        return f"ttft_ms is not a number ({quote(rec['ttft_ms'])})"
    return None
