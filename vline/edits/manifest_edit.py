"""Edits of conformance/manifest.toml: vline writes only between `# BEGIN <LINE> GOLDENS` and
`# END <LINE> GOLDENS`; every byte outside those markers is the user's and stays as it was.

Each edit checks its result parses (tomllib) to what it meant: markers in a place where a table cannot
go (inside a multi-line array, say) make the edit refuse, never write a broken manifest.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import tomlkit

from .. import tomlfile
from ..errors import InputError, quote
from ..manifest import KEYS, RELPATH, markers

SHOWN = str(RELPATH)


def _markers(lines: list[str], line: str) -> tuple[int, int] | None:
    """The (BEGIN, END) line indices of `line`'s block."""
    begin = end = None
    for no, kind, name in markers("".join(lines)):
        if name == line.upper():
            if kind == "BEGIN":
                begin = no - 1
            elif begin is not None:
                end = no - 1
                break
    return (begin, end) if begin is not None and end is not None else None


def render_entry(entry: dict[str, str]) -> str:
    return "[[golden]]\n" + "".join(f"{k} = {tomlkit.string(entry[k]).as_string()}\n" for k in KEYS)


def _goldens(data: dict | None) -> tuple[dict, list[str]]:
    """The data without its goldens, and the goldens as sorted JSON: where in the file an entry sits
    does not matter to vline, what the file holds does."""
    rest = copy.deepcopy(data or {})
    goldens = rest.pop("golden", [])
    return rest, sorted(json.dumps(g, sort_keys=True, default=repr) for g in goldens) \
        if isinstance(goldens, list) else [repr(goldens)]


def _data(text: str) -> dict:
    return tomlfile.parse_text(text, Path(SHOWN), SHOWN).data  # invalid input: InputError naming its line


def add_entry(text: str, entry: dict[str, str]) -> str:
    """Append an entry to its line's block, creating the block at the end of the file."""
    before = _data(text)
    lines = tomlfile.split_lines(text, keepends=True)
    span = _markers(lines, entry["line"])
    body = render_entry(entry)
    if span is None:
        if text and not text.endswith("\n"):
            text += "\n"
        sep = "\n" if text.strip() else ""
        name = entry["line"].upper()
        out = f"{text}{sep}# BEGIN {name} GOLDENS\n{body}# END {name} GOLDENS\n"
    else:
        begin, end = span
        inner = "".join(lines[begin + 1:end])
        joiner = "\n" if inner.strip() else ""
        out = "".join(lines[: begin + 1]) + inner + joiner + body + "".join(lines[end:])
    rest, goldens = _goldens(before)
    want = (rest, sorted([*goldens, json.dumps(entry, sort_keys=True)]))
    if not tomlfile.same_data(_goldens(tomlfile.loads_or_none(out)), want):
        raise InputError(f"cannot add a golden to the {quote(entry['line'])} GOLDENS block where it sits "
                         "(a table cannot go there); move the markers or add it by hand", path=SHOWN,
                         line=span[0] + 1 if span else None)
    return out


def remove_block(text: str, line: str) -> str:
    """Remove a line's generated block (markers included) and one blank line before it."""
    _data(text)
    lines = tomlfile.split_lines(text, keepends=True)
    span = _markers(lines, line)
    if span is None:
        return text
    begin, end = span
    first = begin
    if begin > 0 and not lines[begin - 1].strip():
        begin -= 1
    out = "".join(lines[:begin] + lines[end + 1:])
    if tomlfile.loads_or_none(out) is None:
        raise InputError(f"cannot remove the {quote(line)} GOLDENS block: what is left would not be TOML "
                         "(do the markers cut a table or array in two?); remove it by hand", path=SHOWN,
                         line=first + 1)
    return out
