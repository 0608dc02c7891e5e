"""Edits of compat.toml that keep every other byte: values in place (tomlkit), whole [[vllm]] tables
as blocks of lines.

A table's block is the comment lines directly above its header, the table itself, and the blank
lines after it. tomlkit attaches leading comments to the previous table, so removing or inserting
whole tables through it would strand a line's comment above its neighbour; blocks keep them together.

Every edit is checked before it is returned: the result must parse to the input's data with exactly the
edit applied (tomlfile.verified), so a layout these edits do not understand is refused, never damaged.
"""
from __future__ import annotations

import copy
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .. import tomlfile
from ..errors import InputError, quote

SHOWN = "compat.toml"


def _data(text: str) -> dict:
    return tomlfile.parse_text(text, Path(SHOWN), SHOWN).data  # invalid TOML: InputError naming its line


def _index(data: dict, line: str) -> int:
    raw = data.get("vllm")
    if isinstance(raw, list):
        for i, entry in enumerate(raw):
            if isinstance(entry, dict) and entry.get("line") == line:
                return i
    raise InputError(f"no [[vllm]] line {quote(line)}", path=SHOWN)


def set_values(text: str, line: str, values: dict[str, object]) -> str:
    """Set keys of one line's table in place; comments and layout stay."""
    data = _data(text)
    i = _index(data, line)
    try:
        doc = tomlkit.parse(text)
        if doc.as_string() != text:  # tomlkit reorders some layouts: it would rewrite bytes it was not asked to
            raise InputError("cannot edit this file without rewriting parts of it (tomlkit cannot keep its "
                             "layout); make the change by hand", path=SHOWN)
        table = doc["vllm"][i]
        for key, value in values.items():
            if table.get(key) != value or type(table.get(key)) is not type(value):
                table[key] = value
        out = doc.as_string()
    except TOMLKitError as e:  # TOML tomllib reads but tomlkit does not (e.g. nested over 100 levels)
        raise InputError(f"cannot edit this file: {e}", path=SHOWN) from None
    want = copy.deepcopy(data)
    want["vllm"][i].update(values)
    return tomlfile.verified(out, want, SHOWN, f"set {', '.join(values)} of line {quote(line)}")


def _blocks(text: str, data: dict) -> tuple[list[str], list[tuple[int, int]]]:
    """The lines of text, and for each [[vllm]] table in file order its (start, end) line indices."""
    lines = tomlfile.split_lines(text, keepends=True)
    layout = tomlfile.scan(text)
    headers = sorted([b.line - 1 for b in layout.tables.values()]
                     + [b.line - 1 for blocks in layout.arrays.values() for b in blocks])
    if len(layout.arrays.get("vllm", [])) != len(data.get("vllm", [])):  # e.g. `vllm = [{...}]`
        raise InputError("vline adds and removes lines written as [[vllm]] tables; this file declares them "
                         "another way: make the change by hand", path=SHOWN, line=layout.root.keys.get("vllm", 1))

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
    data = _data(text)
    i = _index(data, line)
    lines, blocks = _blocks(text, data)
    start, end = blocks[i]
    rest = lines[:start] + lines[end:]
    if end == len(lines):  # the last table: drop the blank lines it leaves at the end
        while rest and not rest[-1].strip():
            rest.pop()
    want = copy.deepcopy(data)
    del want["vllm"][i]
    if not want["vllm"]:
        del want["vllm"]
    return tomlfile.verified("".join(rest), want, SHOWN, f"remove line {quote(line)}")


def render_table(fields: dict[str, object], comment: list[str]) -> str:
    body = "".join(f"{k} = {tomlkit.item(v).as_string()}\n" for k, v in fields.items())
    # a comment is one line whatever it says
    return "".join(f"# {' '.join(c.split())}\n" if c else "#\n" for c in comment) + "[[vllm]]\n" + body


def insert_line(text: str, fields: dict[str, object], comment: list[str], before: str | None) -> str:
    """Insert a new [[vllm]] table (with its comment) before line `before`'s block, or at the end."""
    data = _data(text)
    table = render_table(fields, comment)
    want = copy.deepcopy(data)
    if not isinstance(want.get("vllm", []), list):
        raise InputError("vllm must be an array of [[vllm]] tables", path=SHOWN)
    lines, blocks = _blocks(text, data)
    if before is None:
        want.setdefault("vllm", []).append(fields)
        if text and not text.endswith("\n"):
            text += "\n"
        out = text + ("\n" if text.strip() else "") + table
    else:
        i = _index(data, before)
        want["vllm"].insert(i, fields)
        start = blocks[i][0]
        head = "".join(lines[:start])
        sep = "\n" if head and not head.endswith("\n\n") else ""
        out = head + sep + table + "\n" + "".join(lines[start:])
    return tomlfile.verified(out, want, SHOWN, f"add line {quote(fields.get('line'))}")
