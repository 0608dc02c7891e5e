"""`vline caps [LINE] [--format cargo|json|list] [--write]`: the capability cfgs on for a line."""
from __future__ import annotations

from .. import caps, ui
from .. import compat as compat_mod


def run(compat_path: str | None, line_name: str | None, fmt: str, write: bool) -> None:
    compat = compat_mod.load(compat_path, project=write)
    if write:
        from ..fsio import atomic_write

        path = caps.generated_path(compat)
        text = caps.generated_rs(compat)
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        if changed:
            atomic_write(path, text.encode())
        ui.note(f"vline: {compat.settings.caps_file} {'written' if changed else 'already current'}")
        return
    line = compat.get(line_name) if line_name else compat.default
    on = caps.enabled(compat, line)
    if fmt == "cargo":
        ui.result(caps.cargo_directives(compat, line))  # never empty: check-cfg for every capability
    elif fmt == "json":
        ui.result_json({"line": line.line, "tag": line.tag, "on": [c.name for c in on],
                        "off": [c.name for c in compat.capabilities if c not in on]})
    elif on:
        ui.result("".join(f"{c.name}\n" for c in on))
