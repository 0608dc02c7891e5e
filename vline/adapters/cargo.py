"""cargo: refresh the lock after a pin, and refuse a fork patch Cargo does not use."""
from __future__ import annotations

import re
from pathlib import Path

from .. import proc
from ..errors import EnvironmentFailure, InputError

_UNUSED = re.compile(r"Patch `([^`]+)` was not used in the crate graph")


def lock_path(manifest: Path) -> Path:
    return manifest.parent / "Cargo.lock"


def _unused_in_lock(lock: Path, crate: str) -> bool:
    """Cargo records a patch it could not apply under [[patch.unused]] in the lock."""
    from ..tomlfile import tomllib

    try:
        data = tomllib.loads(lock.read_text())
    except (OSError, ValueError):
        return False
    unused = data.get("patch", {}).get("unused", [])
    return any(isinstance(p, dict) and p.get("name") == crate for p in unused)


def _unreadable_lock(lock: Path) -> None:
    """A lock cargo cannot parse is an invalid input file (exit 2), named with its line."""
    import os

    from ..tomlfile import read

    shown = os.path.relpath(lock)
    advice = "cargo cannot parse this lock file: restore it from version control (or delete it)"
    try:
        read(lock, shown)
    except InputError as e:
        raise InputError(f"{e.message}; {advice}", path=shown, line=e.line) from None
    raise InputError(advice, path=shown)


def update(manifest: Path, crate: str, shown: str) -> None:
    """`cargo update -p <crate>` (or generate the lock when there is none); an unused fork patch is refused."""
    lock = lock_path(manifest)
    if lock.exists() and lock.stat().st_size:
        args = ["cargo", "update", "-p", crate, "--manifest-path", str(manifest)]
    else:  # none, or an empty one (cut short by a kill): nothing to keep, cargo makes it anew
        args = ["cargo", "generate-lockfile", "--manifest-path", str(manifest)]
    res = proc.run(args)
    if not res.ok and "failed to parse lock file" in res.stderr:
        _unreadable_lock(lock)
    if not res.ok:
        raise EnvironmentFailure(f"{' '.join(args[:3])} failed: {res.last_error_line()}", path=shown)
    m = _UNUSED.search(res.stderr)
    if m or _unused_in_lock(lock, crate):
        what = m.group(1) if m else crate
        raise InputError(f"the fork patch {what} was not used by Cargo (the fork's crate does not match the "
                         "dependency): fix patch_repo/patch_rev in compat.toml", path=shown)
