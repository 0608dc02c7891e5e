"""Read a TOML file with tomllib and keep where each table and key sits, for `file:line` findings.

tomllib gives values but no positions; a light line scan recovers them. Positions are for
messages only: values always come from tomllib.
"""

import re
from typing import NamedTuple
from pathlib import Path

import tomllib

from .errors import InputError

_ARRAY = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(?:#.*)?$")
_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")
_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


class Block(NamedTuple):
    """A table's header line and the line of each key in it."""

    line: int
    keys: dict[str, int]

    def at(self, key: str) -> int:
        return self.keys.get(key, self.line)


class Layout(NamedTuple):
    root: Block
    tables: dict[str, Block]
    arrays: dict[str, list[Block]]


_PART = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""")


def _name(raw: str) -> str:
    """A dotted table name as its parts joined by '.': `patch."https://x.git"` is patch + the URL."""
    parts, i = [], 0
    while i < len(raw):
        m = _PART.match(raw, i)
        if not m:
            return raw.strip()
        parts.append(m.group(1).strip("\"'"))
        i = m.end()
    return ".".join(parts)


# Outside strings: the tokens that open a string or comment, and newlines.
_OUTSIDE = re.compile(r'"""|' + "'''" + r"""|["'#\n]""")
_CLOSE = {
    '"': re.compile(r'[\\"\n]'),
    "'": re.compile(r"['\n]"),
    '"""': re.compile(r'\\.|"{3,5}', re.S),
    "'''": re.compile(r"'{3,5}"),
}


def code_lines(text: str) -> list[bool]:
    """For each line of `text`, whether it starts outside any string: a line inside a multi-line
    string is a value, never a header, a key or a marker comment. A small TOML string tokenizer."""
    starts = [True]
    i, n, state = 0, len(text), None
    while i < n:
        if state is None:
            m = _OUTSIDE.search(text, i)
            if not m:
                break
            tok = m.group()
            if tok == "\n":
                starts.append(True)
                i = m.end()
            elif tok == "#":
                j = text.find("\n", m.end())
                i = n if j < 0 else j
            else:
                state, i = tok, m.end()
            continue
        m = _CLOSE[state].search(text, i)
        end = m.end() if m else n
        if state in ('"', "'"):  # one-line strings: an unterminated one ends at its line (invalid anyway)
            if m and m.group() == "\\":
                i = end + (0 if text[end:end + 1] == "\n" else 1)
                continue
            if m and m.group() == "\n":
                starts.append(True)
            state, i = None, end
            continue
        starts.extend([False] * text.count("\n", i, end))
        i = end
        if m and not m.group().startswith("\\"):
            state = None
        elif not m:
            break
    count = len(text.splitlines())
    return (starts + [True] * count)[:count]


def scan(text: str) -> Layout:
    root = Block(1, {})
    layout = Layout(root, {}, {})
    current = root
    code = code_lines(text)
    for no, raw in enumerate(text.splitlines(), start=1):
        if not code[no - 1]:
            continue
        if m := _ARRAY.match(raw):
            current = Block(no, {})
            layout.arrays.setdefault(_name(m.group(1)), []).append(current)
            continue
        if m := _TABLE.match(raw):
            current = Block(no, {})
            layout.tables[_name(m.group(1))] = current
            continue
        if m := _KEY.match(raw):
            current.keys.setdefault(m.group(1).strip("\"'"), no)
    return layout


class TomlFile(NamedTuple):
    path: Path
    shown: str  # the path as messages show it
    text: str
    data: dict
    layout: Layout


def decode(raw: bytes, shown: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise InputError("starts with a UTF-8 byte order mark (BOM): save the file as UTF-8 without a BOM",
                         path=shown, line=1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InputError(f"not valid UTF-8 (byte 0x{raw[e.start]:02x})", path=shown, line=line) from None


def read(path: Path, shown: str | None = None) -> TomlFile:
    """Read and parse; a missing, unreadable, non-UTF-8 or malformed file is an InputError (exit 2)."""
    shown = shown or str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=shown) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a TOML file", path=shown) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", path=shown) from None
    return parse_text(decode(raw, shown), Path(path), shown)


def deepest_line(text: str) -> int:
    """The line where brackets and braces nest deepest (strings ignored roughly): where a too-deep file fails."""
    depth = best = 0
    line = best_line = 1
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            line += 1
    return best_line


def parse_text(text: str, path: Path, shown: str) -> TomlFile:
    if text.startswith("\ufeff"):
        raise InputError("starts with a byte order mark (BOM): save the file as UTF-8 without a BOM",
                         path=shown, line=1)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise InputError("invalid TOML: arrays or tables nested too deeply", path=shown,
                         line=deepest_line(text)) from None
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _AT.search(msg)
        line = int(m.group(1)) if m else max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
        msg = _AT.sub("", msg).replace("(at end of document)", "").strip()
        raise InputError(f"invalid TOML: {msg}", path=shown, line=line) from None
    return TomlFile(path, shown, text, data, scan(text))
