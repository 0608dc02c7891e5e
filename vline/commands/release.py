"""Release day: `watch rc|stable`, `roll TAG`, `bump nightly`. Each computes a plan (vline.window), applies
it to compat.toml, and keeps the derived copies (Cargo.toml and lock, Dockerfile.template ARG defaults)
on the default line. All or nothing; a no-op writes nothing and prints `changed=false`. A command that
writes several files journals the job first (vline.journal), so that its rerun after a kill finishes it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import compat as compat_mod
from .. import manifest as manifest_mod
from .. import emit, journal, tomlfile, ui, window
from ..adapters import cargo, git
from ..edits import compat_edit
from ..errors import InputError, VlineError, one_line
from ..fsio import atomic_write, locked
from ..pinning import derived, pin_manifest


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


def _start(compat_path: str | None, key: str) -> tuple[compat_mod.Compat, dict | None]:
    """Load the window, first finishing any job a killed command left (its journal). The journal of this
    very command is kept until its summary is out (run_plan); another command's goes now."""
    compat = compat_mod.load(compat_path, project=True)
    finished = journal.finish(compat)
    if finished is not None:
        if finished.get("kind") != "release" or finished.get("key") != key:
            journal.end(compat.root, only=finished)
            finished = None
        compat = compat_mod.load(compat_path, project=True)
    return compat, finished


def _rows(changes: list[window.Change]) -> list[list[str]]:
    return [[c.op, c.line, ", ".join(f"{k}={v}" for k, v in c.values.items())] for c in changes]


def run_plan(compat: compat_mod.Compat, plan: window.Plan, key: str = "", finished: dict | None = None) -> None:
    if not plan.changes:
        if finished and journal.holds_what_it_wrote(finished, compat.root, compat.path):
            # this very command was killed and its rerun finished the job: say what the job did
            _report(finished["summary"], finished["rows"], [one_line(n) for n in finished["notes"]])
        else:
            _report({"changed": "false"}, [], plan.notes)
        if finished:  # out before the journal goes: a kill in between says it again, never loses it
            emit.flush()
            sys.stdout.flush()
            journal.end(compat.root, only=finished)
        return
    old_text = tomlfile.read_text(compat.path, compat.shown)
    new_text = apply_text(old_text, plan)
    new = compat_mod.parse(tomlfile.parse_text(new_text, compat.path, compat.shown))
    if new.errors:  # never write a window that check would reject
        first = new.errors[0]
        raise InputError(f"the updated window would be invalid: {first.message}", path=compat.shown)
    default_moved = (new.default.line, *_fork(new.default)) != (compat.default.line, *_fork(compat.default))
    manifest = new.manifest_path()
    pins = default_moved and manifest.is_file()

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
    rows = _rows(plan.changes)

    with locked(compat.root):
        due = [(path, want) for path, before, want in derived(new) if before != want]
        files = [compat.path]
        written = [compat.shown]
        if pins:
            files += [manifest, cargo.lock_path(manifest)]
            written.append(new.settings.manifest)
        for path, _ in due:
            files.append(path)
            written.append(path.relative_to(new.root).as_posix())
        notes.append(f"wrote {', '.join(written)}")
        several = len(written) > 1
        if several:  # killed between two of these writes, the rerun must be able to finish the job
            journal.begin(compat.root, kind="release", key=key, files=files,
                          lock=cargo.lock_path(manifest) if pins else None, after={compat.path: new_text.encode()},
                          summary=summary, notes=notes, rows=rows)
        atomic_write(compat.path, new_text.encode())
        try:
            if pins:
                pin_manifest(new, new.default)
        except VlineError:
            atomic_write(compat.path, old_text.encode())
            if several:
                journal.end(compat.root)
            raise
        for path, want in due:
            atomic_write(path, want.encode())
        _report(summary, rows, notes)
        if several or finished:  # the summary is out before the journal goes: a kill in between reprints it
            emit.flush()
            sys.stdout.flush()
            journal.end(compat.root)


def _report(summary: dict[str, str], rows: list[list[str]], notes: list[str]) -> None:
    emit.kv(summary)
    for n in notes:
        ui.note(f"vline: {n}")
    emit.set_outputs(summary)
    if rows:
        emit.summary_table("vline: window updated", ["change", "line", "values"], rows)


def watch(compat_path: str | None, what: str, url: str | None, tags_file: Path | None) -> None:
    compat, finished = _start(compat_path, f"watch {what}")
    remote = _remote(compat, url, tags_file)
    plan = window.watch_rc(compat, remote) if what == "rc" else window.watch_stable(compat, remote)
    run_plan(compat, plan, f"watch {what}", finished)


def roll(compat_path: str | None, tag: str, rev: str | None, url: str | None, tags_file: Path | None) -> None:
    compat, finished = _start(compat_path, f"roll {tag}")
    if rev is None:
        remote = _remote(compat, url, tags_file)
        if tag not in remote.tags:
            raise InputError(f"tag {tag} is not a release tag there", path=remote.source)
        rev = remote.tags[tag]
    else:
        compat_mod.checked_rev(rev)
    run_plan(compat, window.roll(compat, tag, rev), f"roll {tag}", finished)


def bump_nightly(compat_path: str | None, rev: str | None, url: str | None, tags_file: Path | None) -> None:
    compat, finished = _start(compat_path, "bump nightly")
    if rev is None:
        remote = _remote(compat, url, tags_file)
        if remote.head is None:
            raise InputError(f"{remote.source} names no HEAD: pass --rev or a dump with a HEAD line")
        rev = remote.head
    else:
        compat_mod.checked_rev(rev)
    run_plan(compat, window.bump_nightly(compat, rev), "bump nightly", finished)

