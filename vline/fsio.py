"""Atomic writes under a directory lock: a reader sees the old file or the new one, never half."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


_held: dict[str, int] = {}  # directories this process holds, so a command may nest locked() calls


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise vline writers of one directory; flock on the directory leaves no lock file behind.

    Re-entrant within a process: a second flock on a new descriptor of the same directory would wait
    for ourselves.
    """
    key = os.path.realpath(directory)
    if fcntl is None or key in _held:
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held[key] = 1
        yield
    finally:
        _held.pop(key, None)
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same directory, fsync, rename."""
    import tempfile

    path = Path(path)
    mode = None
    with contextlib.suppress(FileNotFoundError):
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".vline-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def cache_root() -> Path:
    """Where vline keeps what it can rebuild: $VLINE_CACHE, else $XDG_CACHE_HOME/vline, else ~/.cache/vline."""
    if os.environ.get("VLINE_CACHE"):
        return Path(os.environ["VLINE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vline"


def append_line(path: str | Path, text: str) -> None:
    """One O_APPEND write: how GitHub's command files ($GITHUB_ENV, $GITHUB_OUTPUT) are fed."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
