"""`vline promote [LINE...]`: flip fidelity_validated where the gate's evidence allows (SPEC §5).

Named lines are all or nothing: one refused line refuses the command (exit 1) and nothing is written.
With no line named, every line with evidence is considered: those it allows are promoted, the rest
are reported, and the command succeeds.
"""
from __future__ import annotations

from pathlib import Path

from .. import compat as compat_mod
from .. import emit, evidence, tomlfile, ui
from ..errors import Refused, VlineError
from ..fsio import atomic_write, locked
from . import golden


def run(compat_path: str | None, lines: list[str], evidence_dir: Path | None, dry_run: bool) -> None:
    compat = compat_mod.load(compat_path, project=True)
    manifest = golden.manifest_of(compat)
    ev_dir = evidence.directory(compat, evidence_dir)
    named = bool(lines)
    found: dict[str, Path] = {}  # evidence files already listed (bare promote): not looked up again
    if named:
        targets = list({compat.get(name).line: compat.get(name) for name in lines}.values())
    else:
        found = evidence.present(ev_dir, [ln.line for ln in compat.ordered()])
        targets = [ln for ln in compat.ordered() if ln.line in found]
        if not targets:
            ui.note(f"vline: promote: no evidence in {ev_dir}: run 'vline gate LINE -- CMD' first")
    refused: dict[str, list[str]] = {}
    for ln in targets:
        try:
            ev = evidence.load(found.get(ln.line) or evidence.file_for(ev_dir, ln.line))
        except VlineError as e:
            if named and not isinstance(e, Refused):
                raise
            refused[ln.line] = [e.message]
            continue
        why = evidence.refusals(ev, ln, manifest.for_line(ln.line))
        if why:
            refused[ln.line] = why
    for name, why in refused.items():
        for reason in why:
            ui.note(f"vline: promote {name}: refused: {reason}")
    if named and refused:
        first = next(iter(refused))
        raise Refused(f"promotion of {', '.join(refused)} refused: {refused[first][0]}; nothing written")
    flips = [ln.line for ln in targets if ln.line not in refused and not ln.fidelity_validated]
    if flips and not dry_run:
        from ..edits import compat_edit  # tomlkit: only when there is something to write

        with locked(compat.root):
            text = tomlfile.read_text(compat.path, compat.shown)
            for name in flips:
                text = compat_edit.set_values(text, name, {"fidelity_validated": True})
            atomic_write(compat.path, text.encode())
    emit.kv({"changed": bool(flips) and not dry_run, "promoted": ",".join(flips),
             "refused": ",".join(refused), **({"dry_run": True} if dry_run else {})})
