"""`vline show`: the window as a table, newest first."""
from __future__ import annotations

from .. import compat as compat_mod
from .. import manifest as manifest_mod
from .. import ui


def run(compat_path: str | None, as_json: bool) -> None:
    compat = compat_mod.load(compat_path)
    manifest = manifest_mod.load(compat.path)
    goldens = {ln.line: len(manifest.for_line(ln.line)) if manifest else 0 for ln in compat.lines}
    lines = compat.ordered()
    if as_json:
        ui.result_json({"compat": compat.shown, "settings": {**compat.settings._asdict(),
                                                             "trackers": list(compat.settings.trackers)},
                        "lines": [{"line": ln.line, "tag": ln.tag, "protocol_rev": ln.protocol_rev,
                                   "patch_repo": ln.patch_repo or "", "patch_rev": ln.patch_rev or "",
                                   "default": ln.default, "fidelity_validated": ln.fidelity_validated,
                                   "tracker": ln.tracker, "goldens": goldens[ln.line]} for ln in lines]})
        return
    rows = []
    for ln in lines:
        fork = f"{ln.patch_repo} @ {ln.patch_rev[:12]}" if ln.patch_repo and ln.patch_rev else ""
        kind = "tracker" if ln.tracker else ("default" if ln.default else "stable")
        rows.append([ln.line, ln.tag, kind, ln.protocol_rev[:12], fork,
                     "yes" if ln.fidelity_validated else "no", str(goldens[ln.line])])
    ui.table(f"{compat.shown}: {compat.settings.crate}", ["line", "tag", "kind", "protocol_rev", "fork",
                                                         "validated", "goldens"], rows)
