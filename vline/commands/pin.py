"""`vline pin [LINE]`: pin the manifest to a line, refresh the lock, hand the line's tag to the build."""
from __future__ import annotations

from .. import compat as compat_mod
from .. import emit, ui
from ..pinning import pin_manifest


def run(compat_path: str | None, line_name: str | None, rev: str | None, update: bool) -> None:
    compat = compat_mod.load(compat_path, project=True)
    line = compat.get(line_name) if line_name else compat.default
    changed = pin_manifest(compat, line, rev, update)
    name = compat.settings.target_env
    emit.kv({name: line.tag})
    if emit.set_env({name: line.tag}):
        ui.note(f"vline: {name}={line.tag} appended to $GITHUB_ENV")
    ui.note(f"vline: {compat.settings.manifest} {'pinned to' if changed else 'already at'} line {line.line} "
            f"({(rev or line.protocol_rev)[:12]}{', fork ' + line.patch_rev[:12] if line.patch_rev else ''})")
