"""`vline promote [LINE...]`: flip fidelity_validated where the gate's evidence allows (SPEC §5)."""
from __future__ import annotations

from pathlib import Path

from .. import compat as compat_mod
from .. import evidence, ui
from ..edits import compat_edit
from ..errors import Refused
from ..fsio import atomic_write, locked
from . import golden


def run(compat_path: str | None, lines: list[str], evidence_dir: Path | None, dry_run: bool) -> None:
    compat = compat_mod.load(compat_path, writable=True)
    manifest = golden.manifest_of(compat)
    ev_dir = evidence.directory(compat, evidence_dir)
    if lines:
        targets = [compat.get(name) for name in lines]
    else:
        targets = [ln for ln in compat.ordered() if (ev_dir / f"{ln.line}.json").exists()]
    refused = {}
    for ln in targets:
        why = evidence.refusals(evidence.load(ev_dir / f"{ln.line}.json"), ln, manifest.for_line(ln.line))
        if why:
            refused[ln.line] = why
    if refused:
        for name, why in refused.items():
            for reason in why:
                ui.note(f"vline: promote {name}: refused: {reason}")
        first = next(iter(refused))
        raise Refused(f"promotion of {', '.join(refused)} refused: {refused[first][0]}; nothing written")
    flips = [ln.line for ln in targets if not ln.fidelity_validated]
    if flips and not dry_run:
        with locked(compat.root):
            text = compat.path.read_text(encoding="utf-8")
            for name in flips:
                text = compat_edit.set_values(text, name, {"fidelity_validated": True})
            atomic_write(compat.path, text.encode())
    ui.result(f"changed={'true' if flips and not dry_run else 'false'}\npromoted={','.join(flips)}"
              + ("\ndry_run=true" if dry_run else ""))
