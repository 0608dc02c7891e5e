"""`vline init [--github]`: a commented compat.toml for an existing project, from its Cargo manifest's
vLLM git dependency and the upstream's tags; with --github, the caller workflows too. Never overwrites."""
from __future__ import annotations

import os
from pathlib import Path

from .. import compat as compat_mod
from .. import emit, tomlfile, ui, window
from ..adapters import git
from ..cargo_toml import current
from ..errors import InputError
from ..fsio import atomic_write, locked

HEADER = """\
# compat.toml: the vLLM lines this project builds and tests against (written by `vline init`).
#
# vline derives everything else from this file: the pinned {manifest} (`vline pin`), the CI matrix
# (`vline matrix`), each line's build variables (`vline env`), images, goldens and promotions.
#   - protocol_rev is the {crate} rev a line builds against (here: its tag's commit).
#   - patch_repo/patch_rev (both or neither) point the crate at a fork through [patch].
#   - Exactly one line is the default: the newest stable line, the one {manifest} is pinned to.
#   - A line enters with fidelity_validated = false; `vline promote` flips it once its gate passed.
#   - nightly (vLLM main) and rc (the newest release candidate) ride ahead of the window;
#     `vline bump nightly`, `vline watch rc` and `vline watch stable` keep them and the window current.
"""

SETTINGS = """\
[vline]
crate = {crate}          # the git dependency pinned per line
manifest = {manifest}    # the Cargo manifest that declares it
upstream = {upstream}    # where tags and revs come from
max_stable = {max_stable}  # stable lines the window keeps (N, N-1, ...)
"""

COMMENTS = {
    "nightly": ["vLLM main: `vline bump nightly` moves protocol_rev to upstream's HEAD."],
    "rc": ["The newest release candidate: `vline watch rc` follows it and drops it once released."],
}


def _q(value: str) -> str:
    import tomlkit

    return tomlkit.string(value).as_string()


def find_dependency(data: dict, shown: str, crate: str | None) -> str:
    """The git dependency on a vLLM repository: --crate, else the one whose URL names a `vllm` repository."""
    tables = []
    ws = data.get("workspace")
    if isinstance(ws, dict) and isinstance(ws.get("dependencies"), dict):
        tables.append(ws["dependencies"])
    if isinstance(data.get("dependencies"), dict):
        tables.append(data["dependencies"])
    if crate:
        return crate
    found = []
    for deps in tables:
        for name, dep in deps.items():
            if isinstance(dep, dict) and isinstance(dep.get("git"), str):
                repo = dep["git"].rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]
                if repo.lower() == "vllm" and name not in found:
                    found.append(name)
    if not found:
        raise InputError("no git dependency on a vllm repository in [workspace.dependencies] or [dependencies]: "
                         "pass --crate NAME", path=shown)
    if len(found) > 1:
        raise InputError(f"several git dependencies on vllm repositories ({', '.join(found)}): pass --crate NAME",
                         path=shown)
    return found[0]


def run(manifest_arg: Path | None, crate_arg: str | None, remote_url: str | None, tags_file: Path | None,
        max_stable: int, github: bool, as_json: bool) -> None:
    root = Path.cwd()
    target = root / compat_mod.FILENAME
    manifest_path = manifest_arg or root / "Cargo.toml"
    try:
        manifest_rel = Path(os.path.relpath(manifest_path.resolve(), root.resolve())).as_posix()
    except ValueError:
        manifest_rel = str(manifest_path)
    if problem := compat_mod.manifest_problem(manifest_rel):
        raise InputError(f"the Cargo manifest must sit in or below this folder: {manifest_rel!r} {problem}")
    tf = tomlfile.read(manifest_path, manifest_rel)
    crate = find_dependency(tf.data, tf.shown, crate_arg)
    pin = current(tf.data, crate, tf.shown, tf.layout)
    if not pin.rev:
        raise InputError(f"[{pin.section}].{crate} has no rev: pin it by rev (git + rev) first", path=tf.shown)

    workflows = _workflow_targets(root) if github else []
    existing = [p for p in [target, *[dest for _, dest in workflows]] if p.exists()]
    if existing:  # never overwrite anything: refuse before writing
        first = existing[0]
        raise InputError("already exists; vline init never overwrites (remove it or edit it by hand)",
                         path=os.path.relpath(first))

    upstream = remote_url or pin.git
    remote = git.read_dump(tags_file) if tags_file is not None else git.ls_remote(upstream)
    plan = window.initial(remote, max_stable)
    notes = list(plan.notes)
    lines = plan.lines
    match = next((ln for ln in lines if ln["protocol_rev"] == pin.rev), None)
    default = next(ln for ln in lines if ln.get("default"))
    if match is None:
        notes.append(f"{tf.shown} pins {crate} at {pin.rev[:12]}, which is no line's commit: `vline check` reports the "
                     f"drift until `vline pin` moves it to the default line {default['line']} "
                     f"({default['protocol_rev'][:12]}), or you set that line's protocol_rev by hand")
    else:
        if pin.patch_repo and pin.patch_rev:
            match["patch_repo"], match["patch_rev"] = pin.patch_repo, pin.patch_rev
        if match is not default:
            notes.append(f"{tf.shown} is pinned to line {match['line']}, not the default {default['line']}: run "
                         "`vline pin` to move it (the default is always the newest stable line)")
    if pin.patch_repo and (match is None or "patch_repo" not in match):
        notes.append(f"the fork patch {pin.patch_repo} @ {str(pin.patch_rev)[:12]} matched no line and was not "
                     "carried over")

    text = _render(crate, manifest_rel, upstream, max_stable, lines, match)
    parsed = compat_mod.parse(tomlfile.parse_text(text, target, compat_mod.FILENAME))
    if parsed.errors:  # the plan and the rules disagree: a bug, but never a broken file on disk
        raise InputError(f"the compat.toml vline would write is invalid: {parsed.errors[0].message}")

    written = [compat_mod.FILENAME]
    with locked(root):
        atomic_write(target, text.encode())
        for src, dest in workflows:
            dest.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(dest, src.read_bytes())
            written.append(os.path.relpath(dest))
    summary = {"crate": crate, "upstream": upstream, "lines": ",".join(ln["line"] for ln in lines),
               "default": default["line"], "pinned_line": match["line"] if match else "",
               "written": ",".join(written)}
    if as_json:
        ui.result_json({**summary, "lines": [ln["line"] for ln in lines], "written": written, "notes": notes})
    else:
        emit.kv(summary)
    for n in notes:
        ui.note(f"vline: {n}")
    ui.note(f"vline: wrote {', '.join(written)}; next: `vline check`")


def _workflow_targets(root: Path) -> list[tuple[Path, Path]]:
    from .. import resources

    folder = resources.workflows_dir()
    files = sorted(folder.glob("*.yml")) if folder.is_dir() else []
    if not files:
        raise InputError("this vline has no caller workflows to write (its resources/workflows folder is empty)")
    return [(f, root / ".github" / "workflows" / f.name) for f in files]


def _render(crate: str, manifest: str, upstream: str, max_stable: int, lines: list[dict],
            pinned: dict | None) -> str:
    from ..edits.compat_edit import render_table

    out = [HEADER.format(manifest=manifest, crate=crate), "",
           SETTINGS.format(crate=_q(crate), manifest=_q(manifest), upstream=_q(upstream), max_stable=max_stable)]
    for ln in lines:
        comment = COMMENTS.get(ln["line"], [])
        if ln.get("default"):
            comment = ["The newest stable line: the default."]
        elif ln["line"] not in COMMENTS:
            comment = ["A stable line: `vline watch stable` moves it to its newest release."]
        if ln is pinned:
            comment = comment + ["The manifest was pinned to this line when `vline init` ran."]
        out.append(render_table(ln, comment))
    return "\n".join(out)
