"""`vline env LINE`: the line's build variables as sh, json or $GITHUB_ENV lines."""
from __future__ import annotations

from .. import compat as compat_mod
from .. import emit, ui


def run(compat_path: str | None, line_name: str, fmt: str) -> None:
    compat = compat_mod.load(compat_path)
    values = compat.get(line_name).build_env(compat.settings)
    if fmt == "json":
        ui.result_json(values)
    elif fmt == "github":
        ui.result(emit.env_file_text(values))
    else:
        ui.result(emit.sh_exports(values))
