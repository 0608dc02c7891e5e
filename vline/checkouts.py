"""Per-line isolated checkouts: each line builds in its own copy of the repository, pinned to the line,
with its own CARGO_TARGET_DIR, all under vline's cache and reused across runs. The user's checkout is
only ever read.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from .adapters import cargo, git
from .compat import Compat, Line
from .fsio import cache_root, locked, under


class Checkout(NamedTuple):
    line: Line
    path: Path  # the checkout's top
    compat_dir: Path  # where compat.toml sits inside it
    manifest: Path
    target_dir: Path
    log: Path  # where a command's output for this line goes
    head: str
    uncommitted: list[str]

    def env(self, compat: Compat) -> dict[str, str]:
        """The line's command environment plus its checkout and its own CARGO_TARGET_DIR."""
        return {**self.line.command_env(compat.settings), "VLINE_CHECKOUT": str(self.path),
                "CARGO_TARGET_DIR": str(self.target_dir)}


class Source(NamedTuple):
    """What every line's checkout of one run is made from: read once per run, not once per line."""
    top: Path
    head: str
    changes: list[str] | None  # the user's uncommitted paths; None: HEAD alone


def source(compat: Compat, committed_only: bool = False) -> Source:
    top = git.toplevel(compat.root)
    return Source(top, git.head(top), None if committed_only else git.user_changes(top))


def base(top: Path) -> Path:
    digest = hashlib.sha256(str(top.resolve()).encode()).hexdigest()[:12]
    return cache_root() / "checkouts" / f"{top.name}-{digest}"


def prepare(compat: Compat, line: Line, *, committed_only: bool = False, src: Source | None = None,
            shared_target: bool = False) -> Checkout:
    """The line's checkout at the user's HEAD (+ uncommitted work unless committed_only), pinned as by pin.
    `shared_target`: one CARGO_TARGET_DIR for every line (lines run one after another reuse every
    dependency they share; Cargo's lock on the folder would serialize parallel lines)."""
    from .pinning import pin_manifest

    src = src or source(compat, committed_only)
    top, sha = src.top, src.head
    root = base(top)
    dest = root / "lines" / line.line
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock_dir = root / "locks" / line.line
    lock_dir.mkdir(parents=True, exist_ok=True)
    with locked(lock_dir):  # one writer per line's checkout; different lines go side by side
        copied = git.sync_checkout(top, dest, sha, uncommitted=src.changes is not None, changes=src.changes)
        # a link committed or copied into the checkout must not take vline's writes outside it
        rel = os.path.relpath(Path(compat.root).resolve(), top.resolve())
        compat_dir = under(dest, rel, what="compat.toml's folder")
        manifest = under(compat_dir, *compat.settings.manifest.split("/"), what="[vline].manifest")
        under(dest, str(cargo.lock_path(manifest)), what="Cargo.lock")
        if manifest.is_file():
            pin_manifest(compat, line, manifest=manifest, lock_cache=root / "locks-by-input" / line.line)
    (root / "logs").mkdir(exist_ok=True)
    target = root / "targets" / ("shared" if shared_target else line.line)
    return Checkout(line, dest, compat_dir, manifest, target, root / "logs" / f"{line.line}.log", sha, copied)
