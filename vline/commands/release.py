"""Release day: `watch rc|stable`, `roll TAG`, `bump nightly`. Each computes a plan (vline.window), applies
it to compat.toml, and keeps the derived copies (Cargo.toml and lock, Dockerfile.template ARG defaults)
on the default line. All or nothing; a no-op writes nothing and prints `changed=false`.
"""
from __future__ import annotations

from pathlib import Path

from .. import compat as compat_mod
from .. import manifest as manifest_mod
from .. import emit, tomlfile, ui, window
from ..adapters import git
from ..edits import compat_edit
from ..edits.dockerfile import rewrite_args
from ..errors import InputError, VlineError
from ..fsio import atomic_write, locked
from ..pinning import pin_manifest

TEMPLATE = "Dockerfile.template"


def _remote(compat: compat_mod.Compat, url: str | None, tags_file: Path | None) -> git.Remote:
    if tags_file is not None:
        return git.read_dump(tags_file)
    return git.ls_remote(url or compat.settings.upstream)


def apply_text(text: str, plan: window.Plan) -> str:
    for ch in plan.changes:
        if ch.op == "remove":
            text = compat_edit.remove_line(text, ch.line)
        elif ch.op == "add":
            text = compat_edit.insert_line(text, ch.values, list(ch.comment), ch.before)
        else:
            text = compat_edit.set_values(text, ch.line, ch.values)
    return text


def _primary(plan: window.Plan) -> window.Change:
    adds = [c for c in plan.changes if c.op == "add"]
    if adds:
        return adds[-1]
    moves = [c for c in plan.changes if c.op == "move" and set(c.values) != {"default"}]
    return (moves or plan.changes)[0]


def _fork(ln: compat_mod.Line) -> tuple:
    return ln.tag, ln.protocol_rev, ln.patch_repo, ln.patch_rev


def run_plan(compat: compat_mod.Compat, plan: window.Plan) -> None:
    if not plan.changes:
        _report({"changed": "false"}, [], plan.notes)
        return
    old_text = compat.path.read_text(encoding="utf-8")
    new_text = apply_text(old_text, plan)
    new = compat_mod.parse(tomlfile.parse_text(new_text, compat.path, compat.shown))
    if new.errors:  # never write a window that check would reject
        first = new.errors[0]
        raise InputError(f"the updated window would be invalid: {first.message}", path=compat.shown)
    default_moved = (new.default.line, *_fork(new.default)) != (compat.default.line, *_fork(compat.default))
    written: list[str] = [compat.shown]
    with locked(compat.root):
        atomic_write(compat.path, new_text.encode())
        try:
            if default_moved and new.manifest_path().is_file():
                pin_manifest(new, new.default)
                written.append(new.settings.manifest)
        except VlineError:
            atomic_write(compat.path, old_text.encode())
            raise
        template = compat.root / TEMPLATE
        if template.is_file():
            before = template.read_text(encoding="utf-8")
            after = rewrite_args(before, new.default.build_env(new.settings))
            if after != before:
                atomic_write(template, after.encode())
                written.append(TEMPLATE)

    primary = _primary(plan)
    line = next((ln for ln in new.lines if ln.line == primary.line), None)
    removed = [c.line for c in plan.changes if c.op == "remove"]
    summary = {
        "changed": "true",
        "line": primary.line,
        "tag": line.tag if line else "",
        "rev": line.protocol_rev if line else "",
        "is_default": "true" if line and line.default else "false",
        "lines": ",".join(dict.fromkeys(c.line for c in plan.changes)),
        "removed": ",".join(removed),
    }
    notes = list(plan.notes)
    goldens = manifest_mod.load(compat.path, strict=False)
    orphaned = [ln for ln in removed if goldens and goldens.for_line(ln)]
    if orphaned:
        summary["orphaned_goldens"] = ",".join(orphaned)
        notes.append(f"goldens of {', '.join(orphaned)} are no longer in the window: 'vline golden prune' removes them")
    notes.append(f"wrote {', '.join(written)}")
    _report(summary, plan.changes, notes)


def _report(summary: dict[str, str], changes: list[window.Change], notes: list[str]) -> None:
    emit.kv(summary)
    for n in notes:
        ui.note(f"vline: {n}")
    emit.set_outputs(summary)
    if changes:
        emit.summary_table("vline: window updated", ["change", "line", "values"],
                             [[c.op, c.line, ", ".join(f"{k}={v}" for k, v in c.values.items())] for c in changes])


def watch(compat_path: str | None, what: str, url: str | None, tags_file: Path | None) -> None:
    compat = compat_mod.load(compat_path, project=True)
    remote = _remote(compat, url, tags_file)
    plan = window.watch_rc(compat, remote) if what == "rc" else window.watch_stable(compat, remote)
    run_plan(compat, plan)


def roll(compat_path: str | None, tag: str, rev: str | None, url: str | None, tags_file: Path | None) -> None:
    compat = compat_mod.load(compat_path, project=True)
    if rev is None:
        remote = _remote(compat, url, tags_file)
        if tag not in remote.tags:
            raise InputError(f"tag {tag} is not a release tag of {remote.source}")
        rev = remote.tags[tag]
    else:
        compat_mod.checked_rev(rev)
    run_plan(compat, window.roll(compat, tag, rev))


def bump_nightly(compat_path: str | None, rev: str | None, url: str | None, tags_file: Path | None) -> None:
    compat = compat_mod.load(compat_path, project=True)
    if rev is None:
        remote = _remote(compat, url, tags_file)
        if remote.head is None:
            raise InputError(f"{remote.source} names no HEAD: pass --rev or a dump with a HEAD line")
        rev = remote.head
    else:
        compat_mod.checked_rev(rev)
    run_plan(compat, window.bump_nightly(compat, rev))

