"""Pinning a Cargo manifest to a line (SPEC §2) with its lock refreshed: the domain operation behind
`vline pin`, per-line checkouts and release day."""
from __future__ import annotations

import os
from pathlib import Path

from . import compat as compat_mod
from . import tomlfile
from .adapters import cargo
from .errors import InputError, VlineError
from .fsio import atomic_write, locked


def pin_manifest(compat: compat_mod.Compat, line: compat_mod.Line, rev: str | None = None,
                 update: bool = True, manifest: Path | None = None, lock_cache: Path | None = None) -> bool:
    """Pin `manifest` (default: the one compat.toml names) to `line`; True when the file changed.

    On any failure the manifest and lock are put back as they were. With `lock_cache`, the refreshed
    lock is remembered by the bytes it was computed from (pinned manifest, previous lock), and a later
    pin from the same bytes reuses it instead of running cargo (per-line checkouts re-pin on every run).
    """
    manifest = manifest or compat.manifest_path()
    shown = os.path.relpath(manifest)
    rev = compat_mod.checked_rev(rev) if rev else line.protocol_rev
    fork = (line.patch_repo, line.patch_rev) if line.patch_repo and line.patch_rev else None
    with locked(manifest.parent if manifest.parent.exists() else Path(".")):
        try:
            old = manifest.read_bytes()
        except FileNotFoundError:
            raise InputError("file not found (set [vline].manifest in compat.toml)", path=shown) from None
        text = tomlfile.decode(old, shown)
        new = text if _pinned_already(text, compat.settings.crate, rev, fork, shown) else \
            _pin_text(text, compat.settings.crate, rev, fork, shown)
        lock = cargo.lock_path(manifest)
        old_lock = lock.read_bytes() if lock.exists() else None
        remembered = None
        if lock_cache is not None:
            import hashlib

            key = hashlib.sha256(new.encode() + b"\0" + (old_lock or b"")).hexdigest()
            remembered = lock_cache / f"{key}.lock"
        changed = new != text
        if changed:
            atomic_write(manifest, new.encode())
        if update and remembered is not None and remembered.exists():
            atomic_write(lock, remembered.read_bytes())
        elif update:
            try:
                cargo.update(manifest, compat.settings.crate, shown)
            except VlineError:
                if changed:
                    atomic_write(manifest, old)
                if old_lock is None:
                    lock.unlink(missing_ok=True)
                elif lock.read_bytes() != old_lock:
                    atomic_write(lock, old_lock)
                raise
            if remembered is not None and lock.exists():
                remembered.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(remembered, lock.read_bytes())
    return changed


def _pinned_already(text: str, crate: str, rev: str, fork: tuple[str, str] | None, shown: str) -> bool:
    """Whether the manifest already says what pinning would write (read with tomllib: a CI leg that pins
    the committed default line never loads tomlkit)."""
    from .cargo_toml import current

    tf = tomlfile.parse_text(text, Path(shown), shown)
    pin = current(tf.data, crate, shown, tf.layout)
    return pin.rev == rev and (pin.patch_repo, pin.patch_rev) == (fork or (None, None))


def _pin_text(*args) -> str:
    from .edits.pin import pin_text

    return pin_text(*args)


def derived(compat: compat_mod.Compat) -> list[tuple[Path, str, str]]:
    """(path, text now, text wanted) of each file derived from the default line that exists or is due:
    the project's Dockerfile (its ARG defaults) and the capability table a build.rs includes."""
    from . import caps
    from .edits.dockerfile import rewrite_args

    out = []
    docker = compat.dockerfile_path()
    if docker.is_file():
        before = tomlfile.read_text(docker, os.path.relpath(docker))  # not UTF-8: exit 2 naming it
        out.append((docker, before, rewrite_args(before, compat.default.build_env(compat.settings))))
    table = caps.generated_path(compat)
    if compat.capabilities or table.is_file():
        before = tomlfile.read_text(table, os.path.relpath(table)) if table.is_file() else ""
        out.append((table, before, caps.generated_rs(compat)))
    return out


def sync_derived(compat: compat_mod.Compat) -> list[Path]:
    """Rewrite the derived files that differ from what the default line wants; the ones written."""
    written = []
    for path, before, want in derived(compat):
        if before != want:
            atomic_write(path, want.encode())
            written.append(path)
    return written


# --- Python consumers ------------------------------------------------------------------------------

def python_texts(compat: compat_mod.Compat, line: compat_mod.Line, files: list[Path]) -> list[tuple[Path, str, str]]:
    """(path, text now, text pinned to `line`) of each file's vLLM requirement. The default line restores
    the file's committed bytes (its declared range, say) when git has them; any other line gets its exact
    requirement. A file without a requirement on vLLM, or with a hash-pinned one, is refused (exit 2)."""
    from . import python_reqs
    from .edits.python_pin import pin_pyproject, pin_requirements, retarget_to

    want = line.pip_spec(compat.settings)
    out = []
    for path in files:
        shown = os.path.relpath(path)
        text = tomlfile.read_text(path, shown)
        found = python_reqs.find(path, shown, text)
        if not found:
            raise InputError("no requirement on vllm here (pin --python rewrites an existing one)", path=shown)
        if hashed := next((f for f in found if f.hashed), None):
            raise InputError("the vllm requirement is hash-pinned: a new version needs new hashes "
                             "(regenerate the file with its lock tool)", path=shown, line=hashed.line)
        committed = _committed(compat, path) if line.default else None
        if committed is not None and python_reqs.find_text(committed, path, shown):
            new = committed
        elif path.name == "pyproject.toml":
            new = pin_pyproject(text, lambda r: retarget_to(r, want))[0]
        else:
            new = pin_requirements(text, lambda r: retarget_to(r, want))[0]
        out.append((path, text, new))
    return out


def _committed(compat: compat_mod.Compat, path: Path) -> str | None:
    """The file as HEAD has it (None: not in a git repository, or not committed)."""
    from . import proc

    try:
        rel = path.resolve().relative_to(compat.root.resolve())
    except ValueError:
        return None
    try:
        res = proc.run(["git", "-C", str(compat.root), "show", f"HEAD:./{rel.as_posix()}"])
    except VlineError:  # no git on PATH
        return None
    return res.stdout if res.ok else None


def pin_python(compat: compat_mod.Compat, line: compat_mod.Line, files: list[Path]) -> list[Path]:
    """Pin every file's vLLM requirement to `line`, all or nothing; the files that changed."""
    return write_python(compat, python_texts(compat, line, files))


def write_python(compat: compat_mod.Compat, planned: list[tuple[Path, str, str]]) -> list[Path]:
    """Write python_texts' plan, every file checked before any is written: a file edited since the plan
    was made is refused, never overwritten."""
    with locked(compat.root):
        for path, old, _ in planned:
            shown = os.path.relpath(path)
            if tomlfile.read_text(path, shown) != old:
                raise InputError("changed while vline was pinning it; run the command again", path=shown)
        changed = [(p, new) for p, old, new in planned if new != old]
        for path, new in changed:
            atomic_write(path, new.encode())
    return [p for p, _ in changed]
