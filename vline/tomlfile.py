"""Read a TOML file and keep where each table and key sits, for `file:line` findings.

A file in the simple shape vline writes (see `simple`) is read in one pass that gives values and
positions. Any other file is read by tomllib, which gives values but no positions; a light line scan
recovers them. Positions are for messages only; the fuzz tests hold the one-pass reader to tomllib's
values and the scan's positions.
"""

import re
import threading
from typing import NamedTuple
from pathlib import Path

from . import lazy_re
from .errors import InputError


_IMPORTING = threading.Lock()


def _tomllib():
    """tomllib, imported on first use: a command whose files are all of the simple shape (below) never pays
    for it. tomli 2.x is tomllib's upstream compiled with mypyc (imports ~5 ms faster, parses ~3x faster);
    without its wheel, the standard library's, same behaviour. Under a lock: threads (`each -j`) importing
    mypyc's tomli at once can see it half made, without TOMLDecodeError (the import lock does not cover it)."""
    lib = globals().get("tomllib")
    if lib is not None:
        return lib
    with _IMPORTING:
        try:
            import tomli as lib
        except ImportError:
            import tomllib as lib
        globals()["tomllib"] = lib
    return lib


def __getattr__(name: str):  # `from .tomlfile import tomllib` elsewhere
    if name == "tomllib":
        return _tomllib()
    raise AttributeError(name)


_ARRAY = lazy_re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(?:#.*)?$")
_TABLE = lazy_re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = lazy_re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")
_AT = lazy_re.compile(r"\(at line (\d+), column (\d+)\)")
# Characters no string value may hold: C0 and C1 controls, DEL, and the Unicode line separators.
CONTROL = lazy_re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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


_PART = lazy_re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""")


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


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of a file as TOML, JSON Lines and Dockerfiles count them: broken at "\n" only. str.splitlines
    also breaks at \x0b, \x0c, \x1c-\x1e, \x85, U+2028 and U+2029, which a string or comment may hold."""
    out = text.split("\n")
    last = out.pop()  # what follows the final newline: "" when the text ends with one
    if keepends:
        out = [ln + "\n" for ln in out]
    if last:
        out.append(last)
    return out


# Outside strings: the tokens that open a string or comment, and newlines.
_OUTSIDE = lazy_re.compile(r'"""|' + "'''" + r"""|["'#\n]""")
_CLOSE = {
    '"': lazy_re.compile(r'[\\"\n]'),
    "'": lazy_re.compile(r"['\n]"),
    '"""': lazy_re.compile(r'\\.|"{3,5}', re.S),
    "'''": lazy_re.compile(r"'{3,5}"),
}


def code_lines(text: str) -> list[bool]:
    """For each line of `text`, whether it starts outside any string: a line inside a multi-line
    string is a value, never a header, a key or a marker comment. A small TOML string tokenizer."""
    if '"""' not in text and "'''" not in text:  # no multi-line string: every line starts outside one
        return [True] * len(split_lines(text))
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
    count = len(split_lines(text))
    return (starts + [True] * count)[:count]


def scan(text: str) -> Layout:
    root = Block(1, {})
    layout = Layout(root, {}, {})
    current = root
    code = code_lines(text)
    for no, raw in enumerate(split_lines(text), start=1):
        if not code[no - 1]:
            continue
        if "[" not in raw:  # most lines are keys: no header patterns to try
            if m := _KEY.match(raw):
                current.keys.setdefault(m.group(1).strip("\"'"), no)
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


# The shape vline writes its own large files in (the manifest, compat.toml, matrix kinds): `[[name]]` and
# `[name]` headers; `key = ` a plain string, true|false, a small integer, an array of plain strings (on one
# line, or over several whose every line but the last ends with a comma) or an inline table of those (a
# Cargo dependency); comments and blank lines. Each is a subset of TOML 1.0 read as TOML reads it (bare
# keys, basic strings without escapes, integers of at most 18 digits); a file with any other line, a key or
# table defined twice, or a control character (invalid anywhere in TOML but tab and newline; CR: CRLF files)
# is read by tomllib. One regex pass gives values and positions (tomllib and scan take ~3x longer), and a
# command whose files are all of this shape never imports tomllib.
_CONTROL_OR_CR = lazy_re.compile(r"[\x00-\x08\x0b-\x1f\x7f\r]")
_STR = r'"[^"\\\n]*"'
_ITEMS = r"(?:" + _STR + r"[ \t]*,[ \t]*)*"  # strings, each followed by a comma
_LAST = r"(?:" + _STR + r"[ \t]*)?"  # and perhaps one without
_BARE = r"([A-Za-z0-9_-]+)"
_INT = r"[+-]?(?:0|[1-9][0-9]{0,17})"
_ARRAY1 = r"\[[ \t]*" + _ITEMS + _LAST + r"\]"
# A value (an inline table's values too): string, boolean, integer or array; in _VALUE each is its own group.
_VALUES = (_STR, "true|false", _INT, _ARRAY1)
_VALUE = "|".join(f"({v})" for v in _VALUES)
_PAIR = r"[A-Za-z0-9_-]+[ \t]*=[ \t]*(?:" + "|".join(_VALUES) + r")[ \t]*"
_INLINE = r"\{[ \t]*(?:" + _PAIR + r"(?:,[ \t]*" + _PAIR + r")*)?\}"
_PAIRS = lazy_re.compile(_BARE + r"[ \t]*=[ \t]*(?:" + _VALUE + ")")
# Every group that says which form a line has is non-empty when it matched (findall gives "" for both).
_SIMPLE = lazy_re.compile(
    r"^[ \t]*(?:(\[\[?)[ \t]*" + _BARE + r"[ \t]*(\]\]?)"  # header: opening, name, closing
    r"|" + _BARE + r"[ \t]*=[ \t]*(?:" + _VALUE  # key = a value
    + r"|(" + _INLINE + r")"  # key = an inline table
    r"|(\[[ \t]*" + _ITEMS + r"))"  # key = an array opened, each item with its comma
    r"|(" + _ITEMS + _LAST + r"\])"  # the last line of an array
    r"|(" + _ITEMS + r"))"  # a line inside an array (or a blank line)
    r"[ \t]*(?:#.*)?$", re.M)
_ITEM = lazy_re.compile(r'"([^"]*)"')


def _scalar(string: str, boolean: str, integer: str, array: str) -> object:
    if string:
        return string[1:-1]
    if boolean:
        return boolean == "true"
    if integer:
        return int(integer)
    return _ITEM.findall(array)


def _inline(text: str) -> dict | None:
    """An inline table the pattern matched; None if it defines a key twice (tomllib's error)."""
    table: dict = {}
    for key, *value in _PAIRS.findall(text):
        if key in table:
            return None
        table[key] = _scalar(*value)
    return table


def simple(text: str) -> tuple[dict, Layout] | None:
    """Data and layout of a file written in the simple shape above, or None (read it with tomllib)."""
    if _CONTROL_OR_CR.search(text):
        return None
    rows = _SIMPLE.findall(text)
    if len(rows) != text.count("\n") + 1:  # a line of another shape
        return None
    data: dict = {}
    root = Block(1, {})
    tables: dict[str, Block] = {}
    arrays: dict[str, list[Block]] = {}
    table, block = data, root
    items: list | None = None  # the array being read over several lines
    for no, (opening, name, closing, key, string, boolean, integer, one_line, inline, opened, last, more) in \
            enumerate(rows, start=1):
        if items is not None:  # inside a multi-line array: items, blank lines and comments only
            if key or name:
                return None
            if last:
                items += _ITEM.findall(last)
                items = None
            elif more:
                items += _ITEM.findall(more)
            continue
        if last or more:
            return None  # array items outside an array
        if key:
            if key in table:
                return None  # defined twice: tomllib's error names it
            if string:  # the usual value: no call
                table[key] = string[1:-1]
            elif boolean or integer or one_line:
                table[key] = _scalar(string, boolean, integer, one_line)
            elif inline:
                if (value := _inline(inline)) is None:
                    return None
                table[key] = value
            else:
                items = table[key] = _ITEM.findall(opened)
            block.keys[key] = no
        elif name:
            block = Block(no, {})
            if opening == "[[" and closing == "]]" and (name in arrays or name not in data):
                table = {}
                data.setdefault(name, []).append(table)
                arrays.setdefault(name, []).append(block)
            elif opening == "[" and closing == "]" and name not in data:
                table = data[name] = {}
                tables[name] = block
            else:  # `[[a]`, a table defined twice, an array of a root key's name: tomllib's error says which
                return None
    if items is not None:  # an array never closed
        return None
    return data, Layout(root, tables, arrays)


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


def read_text(path: Path, shown: str | None = None, what: str = "a text file") -> str:
    """A text file vline reads: missing, unreadable, a folder, non-UTF-8 or with a BOM is an InputError (exit 2).
    Line ends are kept as they are (CRLF included): edits write back the bytes they did not change."""
    shown = shown or str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=shown) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not {what}", path=shown) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", path=shown) from None
    return decode(raw, shown)


def read(path: Path, shown: str | None = None) -> TomlFile:
    """Read and parse; a missing, unreadable, non-UTF-8 or malformed file is an InputError (exit 2)."""
    shown = shown or str(path)
    return parse_text(read_text(path, shown, "a TOML file"), Path(path), shown)


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


# An integer literal that may not fit 64 bits: 19 decimal digits or more, 16 hex, 22 octal, 64 binary.
_LONG_INT = lazy_re.compile(r"(?<![\w.])(?:[0-9_]{19,}|0x[0-9A-Fa-f_]{16,}|0o[0-7_]{22,}|0b[01_]{64,})(?![\w.])")
_STRINGS = lazy_re.compile(r'"(?:[^"\\]|\\.)*"|' + r"'[^']*'")
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1


def _long_int_line(text: str) -> int:
    """The line of the first integer literal too long for 64 bits (strings and comments skipped)."""
    code = code_lines(text)
    for no, raw in enumerate(split_lines(text), start=1):
        if code[no - 1] and _LONG_INT.search(_STRINGS.sub('""', raw).split("#", 1)[0]):
            return no
    return 1


def _out_of_range(data: dict) -> bool:
    """Whether any integer in the document lies outside 64 bits (walked without recursion)."""
    todo: list = [data]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and not INT_MIN <= item <= INT_MAX:
            return True
    return False


def parse_text(text: str, path: Path, shown: str) -> TomlFile:
    if text.startswith("\ufeff"):
        raise InputError("starts with a byte order mark (BOM): save the file as UTF-8 without a BOM",
                         path=shown, line=1)
    if (fast := simple(text)) is not None:
        return TomlFile(path, shown, text, *fast)
    # TOML integers are 64-bit and an implementation must refuse others: tomllib does not, and one
    # of more than 4300 digits fails in int() with a plain ValueError, so the rule is applied here.
    def too_big() -> InputError:
        return InputError("invalid TOML: integer out of range (TOML integers are 64-bit)", path=shown,
                          line=_long_int_line(text))

    lib = _tomllib()
    try:
        data = lib.loads(text)
    except RecursionError:
        raise InputError("invalid TOML: arrays or tables nested too deeply", path=shown,
                         line=deepest_line(text)) from None
    except lib.TOMLDecodeError as e:
        msg = str(e)
        m = _AT.search(msg)
        line = int(m.group(1)) if m else max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
        msg = _AT.sub("", msg).replace("(at end of document)", "").strip()
        raise InputError(f"invalid TOML: {msg}", path=shown, line=line) from None
    except ValueError:
        raise too_big() from None
    if _out_of_range(data):
        raise too_big()
    return TomlFile(path, shown, text, data, scan(text))


def loads_or_none(text: str) -> dict | None:
    """The data of `text` as parse_text reads it, or None when it is not TOML vline reads."""
    try:
        return parse_text(text, Path("-"), "-").data
    except InputError:
        return None


def same_data(a: object, b: object) -> bool:
    """Equal TOML data; nan (a valid TOML float) is equal to itself here."""
    import json

    return a == b or json.dumps(a, sort_keys=True, default=repr) == json.dumps(b, sort_keys=True, default=repr)


def verified(out: str, want: dict, shown: str, what: str, line: int | None = None) -> str:
    """`out`, the text an edit produced, if it parses to exactly `want`, the data the edit meant; else the
    edit is refused: an edit never writes a file that is invalid, or changed anywhere but where it meant."""
    if not same_data(loads_or_none(out), want):
        raise InputError(f"cannot {what} without changing other parts of the file (its layout is one vline "
                         "does not edit); make the change by hand", path=shown, line=line)
    return out
