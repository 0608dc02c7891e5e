"""`vline pin [LINE]`: pin the manifest to a line, refresh the lock, hand the line's tag to the build."""
from __future__ import annotations

from .. import compat as compat_mod
from .. import emit, journal, ui
from ..adapters import cargo
from ..errors import VlineError
from ..fsio import locked
from ..pinning import pin_manifest


def run(compat_path: str | None, line_name: str | None, rev: str | None, update: bool) -> None:
    compat = compat_mod.load(compat_path, project=True)
    finished = journal.finish(compat)  # a killed release command or pin left its job: finish it first
    if finished is not None:
        journal.end(compat.root, only=finished)
        compat = compat_mod.load(compat_path, project=True)
    line = compat.get(line_name) if line_name else compat.default
    if rev:
        compat_mod.checked_rev(rev)
    if update:
        # cargo rewrites the lock in place: journal its bytes, so a kill inside cargo can be finished
        manifest = compat.manifest_path()
        with locked(compat.root):
            journal.begin(compat.root, kind="pin", key=f"pin {line.line}", files=[manifest, cargo.lock_path(manifest)],
                          lock=cargo.lock_path(manifest), pin={"line": line.line, "rev": rev, "update": True})
            try:
                changed = pin_manifest(compat, line, rev, update)
            except VlineError:
                journal.end(compat.root)  # pin_manifest put the manifest and lock back
                raise
            journal.end(compat.root)
    else:
        changed = pin_manifest(compat, line, rev, update)
    name = compat.settings.target_env
    emit.kv({name: line.tag})
    if emit.set_env({name: line.tag}):
        ui.note(f"vline: {name}={line.tag} appended to $GITHUB_ENV")
    ui.note(f"vline: {compat.settings.manifest} {'pinned to' if changed else 'already at'} line {line.line} "
            f"({(rev or line.protocol_rev)[:12]}{', fork ' + line.patch_rev[:12] if line.patch_rev else ''})")
