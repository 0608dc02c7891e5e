"""Edits of compat.toml that keep every other byte: values in place (tomlkit), whole [[vllm]] tables
as blocks of lines.

A table's block is the comment lines directly above its header, the table itself, and the blank
lines after it. tomlkit attaches leading comments to the previous table, so removing or inserting
whole tables through it would strand a line's comment above its neighbour; blocks keep them together.
"""
from __future__ import annotations

import tomlkit

from .. import tomlfile
from ..errors import InputError


def _index(text: str, line: str) -> int:
    data = tomlfile.tomllib.loads(text)
    for i, entry in enumerate(data.get("vllm", [])):
        if entry.get("line") == line:
            return i
    raise InputError(f"no [[vllm]] line {line!r}", path="compat.toml")


def set_values(text: str, line: str, values: dict[str, object]) -> str:
    """Set keys of one line's table in place; comments and layout stay."""
    doc = tomlkit.parse(text)
    table = doc["vllm"][_index(text, line)]
    for key, value in values.items():
        if table.get(key) != value or type(table.get(key)) is not type(value):
            table[key] = value
    return doc.as_string()


def _blocks(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The lines of text, and for each [[vllm]] table in file order its (start, end) line indices."""
    lines = text.splitlines(keepends=True)
    layout = tomlfile.scan(text)
    headers = sorted([b.line - 1 for b in layout.tables.values()]
                     + [b.line - 1 for blocks in layout.arrays.values() for b in blocks])

    def preamble_start(h: int) -> int:
        while h > 0 and lines[h - 1].lstrip().startswith("#"):
            h -= 1
        return h

    out = []
    for b in layout.arrays.get("vllm", []):
        h = b.line - 1
        later = [x for x in headers if x > h]
        end = preamble_start(later[0]) if later else len(lines)
        out.append((preamble_start(h), end))
    return lines, out


def remove_line(text: str, line: str) -> str:
    """Remove a line's table with the comments above it."""
    i = _index(text, line)
    lines, blocks = _blocks(text)
    start, end = blocks[i]
    rest = lines[:start] + lines[end:]
    if end == len(lines):  # the last table: drop the blank lines it leaves at the end
        while rest and not rest[-1].strip():
            rest.pop()
    return "".join(rest)


def render_table(fields: dict[str, object], comment: list[str]) -> str:
    body = "".join(f"{k} = {tomlkit.item(v).as_string()}\n" for k, v in fields.items())
    return "".join(f"# {c}\n" if c else "#\n" for c in comment) + "[[vllm]]\n" + body


def insert_line(text: str, fields: dict[str, object], comment: list[str], before: str | None) -> str:
    """Insert a new [[vllm]] table (with its comment) before line `before`'s block, or at the end."""
    table = render_table(fields, comment)
    if before is None:
        if text and not text.endswith("\n"):
            text += "\n"
        return text + ("\n" if text.strip() else "") + table
    i = _index(text, before)
    lines, blocks = _blocks(text)
    start = blocks[i][0]
    head = "".join(lines[:start])
    sep = "\n" if head and not head.endswith("\n\n") else ""
    return head + sep + table + "\n" + "".join(lines[start:])
