"""`vline matrix [KIND]`: `{"include": [rows]}` for a GitHub Actions matrix."""
from __future__ import annotations

import json
import os

from .. import compat as compat_mod
from .. import manifest as manifest_mod
from .. import matrix, ui
from ..errors import InputError


def run(compat_path: str | None, kind_name: str, only: list[str], output: str | None, bare: bool = False) -> None:
    if output is not None:
        from .. import emit

        emit.check_name(output, "--github-output")
    compat = compat_mod.load(compat_path)
    kind = matrix.load_kind(compat, kind_name)
    manifest = manifest_mod.load(compat.path)
    rows = matrix.rows(compat, kind, only, manifest.lines() if manifest else set())
    text = json.dumps(rows if bare else {"include": rows}, separators=(",", ":"))
    if output is None and "GITHUB_ACTIONS" not in os.environ:
        ui.result(text)
        return
    from .. import emit  # only under Actions: keeps the common path light

    if output is not None:
        if not emit.set_outputs({output: text}):
            raise InputError("--github-output needs $GITHUB_OUTPUT (set by GitHub Actions)")
    ui.result(text)
    if emit.active():
        cols = list(rows[0])
        emit.summary_table(f"vline matrix {kind.name}: {len(rows)} jobs", cols,
                             [[r[c] for c in cols] for r in rows])


def list_kinds(compat_path: str | None, as_json: bool) -> None:
    compat = compat_mod.load(compat_path)
    kinds = [matrix.load_kind(compat, name) for name in sorted(matrix.kind_files(compat))]
    if as_json:
        ui.result_json([{"kind": k.name, "description": k.description, "lines": k.lines,
                         "fields": list(k.fields), "axes": [a for a, _ in k.axes], "source": str(k.source)}
                        for k in kinds])
    else:
        ui.table("matrix kinds", ["kind", "lines", "axes", "description"],
                 [[k.name, k.lines, ", ".join(a for a, _ in k.axes), k.description] for k in kinds])
