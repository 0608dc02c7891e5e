"""Edits of conformance/manifest.toml: vline writes only between `# BEGIN <LINE> GOLDENS` and
`# END <LINE> GOLDENS`; every byte outside those markers is the user's and stays as it was."""
from __future__ import annotations

import tomlkit

from ..manifest import KEYS, markers


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


def add_entry(text: str, entry: dict[str, str]) -> str:
    """Append an entry to its line's block, creating the block at the end of the file."""
    lines = text.splitlines(keepends=True)
    span = _markers(lines, entry["line"])
    body = render_entry(entry)
    if span is None:
        if text and not text.endswith("\n"):
            text += "\n"
        sep = "\n" if text.strip() else ""
        name = entry["line"].upper()
        return f"{text}{sep}# BEGIN {name} GOLDENS\n{body}# END {name} GOLDENS\n"
    begin, end = span
    inner = "".join(lines[begin + 1:end])
    joiner = "\n" if inner.strip() else ""
    return "".join(lines[: begin + 1]) + inner + joiner + body + "".join(lines[end:])


def remove_block(text: str, line: str) -> str:
    """Remove a line's generated block (markers included) and one blank line before it."""
    lines = text.splitlines(keepends=True)
    span = _markers(lines, line)
    if span is None:
        return text
    begin, end = span
    if begin > 0 and not lines[begin - 1].strip():
        begin -= 1
    return "".join(lines[:begin] + lines[end + 1:])
