"""`vline pin [LINE]`: pin the manifest to a line, refresh the lock, hand the line's tag to the build."""
from __future__ import annotations

import os
from pathlib import Path

from .. import compat as compat_mod
from .. import emit, journal, ui, versions
from ..adapters import cargo
from ..errors import InputError, VlineError
from ..fsio import locked
from ..pinning import pin_manifest


def split_args(args: list[str], python: bool) -> tuple[str | None, list[str]]:
    """[LINE] [FILE...]: a line name never has a file's shape (X.Y or a lowercase word), so the first
    argument is the line unless it names a file."""
    if args and (versions.STABLE_LINE.match(args[0]) or compat_mod.TRACKER.match(args[0])):
        line, files = args[0], args[1:]
    else:
        line, files = None, args
    if files and not python:
        raise InputError(f"unexpected argument {files[0]!r}: files are for --python")
    return line, files


def run(compat_path: str | None, line_name: str | None, rev: str | None, update: bool, python: bool = False,
        files: list[str] | None = None) -> None:
    compat = compat_mod.load(compat_path, project=True)
    finished = journal.finish(compat)  # a killed release command or pin left its job: finish it first
    if finished is not None:
        journal.end(compat.root, only=finished)
        compat = compat_mod.load(compat_path, project=True)
    line = compat.get(line_name) if line_name else compat.default
    if rev:
        compat_mod.checked_rev(rev)
    planned = []
    if python:
        from ..pinning import python_texts

        planned = python_texts(compat, line, _python_files(compat, files or []))  # refused: nothing written
    if python and not compat.manifest_path().is_file():
        changed = None  # a Python project: no Cargo manifest to pin
    elif update:
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
    values = {compat.settings.target_env: line.tag}
    if python:
        from ..pinning import write_python

        written = write_python(compat, planned)
        values["VLLM_PIP_SPEC"] = line.pip_spec(compat.settings)
        for p, _, _ in planned:
            ui.note(f"vline: {os.path.relpath(p)} {'pinned to' if p in written else 'already at'} line {line.line}")
    emit.kv(values)
    if emit.set_env(values):
        ui.note(f"vline: {', '.join(values)} appended to $GITHUB_ENV")
    if changed is not None:
        ui.note(f"vline: {compat.settings.manifest} {'pinned to' if changed else 'already at'} line {line.line} "
                f"({(rev or line.protocol_rev)[:12]}{', fork ' + line.patch_rev[:12] if line.patch_rev else ''})")


def _python_files(compat: compat_mod.Compat, named: list[str]) -> list[Path]:
    from ..fsio import under
    from ..python_reqs import default_files

    if not named:
        files = default_files(compat.root)
        if not files:
            raise InputError("no pyproject.toml or requirements*.txt beside compat.toml: name the files",
                             path=compat.shown)
        return files
    out = []
    for name in named:
        path = Path(name)
        if not path.is_file():
            raise InputError("file not found", path=name)
        out.append(under(compat.root, os.path.relpath(path.resolve(), compat.root.resolve()), what="Python file"))
    return out
