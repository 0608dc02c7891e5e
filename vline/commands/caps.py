"""`vline caps [LINE] [--format list|cargo|json] [--write]`: the capability cfgs on for a line."""
from __future__ import annotations

import os

from .. import caps, emit, tomlfile, ui
from .. import compat as compat_mod


def run(compat_path: str | None, line_name: str | None, fmt: str, write: bool) -> None:
    compat = compat_mod.load(compat_path, project=write)
    if write:
        from ..fsio import atomic_write, locked

        path = caps.generated_path(compat)
        text = caps.generated_rs(compat)
        with locked(compat.root):
            changed = not path.is_file() or tomlfile.read_text(path, os.path.relpath(path)) != text
            if changed:
                atomic_write(path, text.encode())
        emit.kv({"changed": changed, "file": os.path.relpath(path)})
        return
    line = compat.get(line_name) if line_name else compat.default
    on = caps.enabled(compat, line)
    if fmt == "cargo":
        ui.result(caps.cargo_directives(compat, line))
    elif fmt == "json":
        ui.result_json({"line": line.line, "tag": line.tag, "on": [c.name for c in on],
                        "off": [c.name for c in compat.capabilities if c not in on]})
    elif on:
        ui.result("".join(f"{c.name}\n" for c in on))
