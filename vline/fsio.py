"""Where vline may touch files, and how it writes them.

Every path built from a value of an input file goes through `under()` (resolved and compared with
its root), the cache through `cache_dir()`; every write is `atomic_write()`: a temp file beside the
target, fsync, rename, under a lock on the directory. A reader sees the old file or the new one,
never half, and a temp file left by a killed writer is removed by the next write of that file.
"""
from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from .errors import EnvironmentFailure, InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


_local = threading.local()  # directories this thread holds, so a command may nest locked() calls


def _held() -> dict[str, int]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise vline writers of one directory; flock on the directory leaves no lock file behind.

    Re-entrant within a thread (a second flock on a new descriptor of the same directory would wait for
    ourselves); other threads and processes wait, since each flock is on its own open file description.
    """
    key = os.path.realpath(directory)
    held = _held()
    if fcntl is None or key in held:
        held[key] = held.get(key, 0) + 1
        try:
            yield
        finally:
            held[key] -= 1
            if not held[key]:
                del held[key]
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held[key] = 1
        _clean_stale(directory)  # every writer holds this lock while its temp file exists: any left is dead
        yield
    finally:
        held.pop(key, None)
        os.close(fd)


TMP_SUFFIX = ".vline-tmp"


def under(root: str | Path, *parts: str, what: str = "path") -> Path:
    """`root/parts...`, refused unless it resolves inside `root` (symlinks followed on both sides).

    The one guard for paths made from input values: `..`, absolute parts and links that leave
    `root` are all caught by comparing resolved paths, not by inspecting the values.
    """
    base = Path(root).resolve()
    real = base.joinpath(*parts).resolve()
    if real != base and base not in real.parents:
        raise InputError(f"{what} {'/'.join(str(p) for p in parts)!r} leads outside {root}")
    return real


def cache_dir(*parts: str) -> Path:
    """A folder of vline's cache, created on demand; an unusable cache is an environment failure (exit 3)."""
    root = cache_root()
    path = under(root, *parts, what="cache path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EnvironmentFailure(f"cannot use vline's cache {root} ($VLINE_CACHE, $XDG_CACHE_HOME or ~/.cache): "
                                 f"{describe(e)}") from None
    return path


def describe(e: OSError) -> str:
    """An OSError as people say it: 'disk full (No space left on device)' rather than errno soup."""
    plain = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
             errno.EACCES: "permission denied", errno.EPERM: "permission denied"}
    text = e.strerror or str(e)
    head = plain.get(e.errno or 0)
    where = f" at {e.filename}" if getattr(e, "filename", None) else ""
    return f"{head} ({text}){where}" if head else f"{text}{where}"


LOCAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                          errno.EISDIR, errno.EFBIG, errno.EIO, errno.ENAMETOOLONG})


def is_local_failure(e: BaseException) -> bool:
    """An error of this machine's file system (disk full, read-only...), not of the network."""
    return isinstance(e, OSError) and e.errno in LOCAL_ERRNOS


def _clean_stale(directory: Path) -> None:
    """Remove the temp files killed writers left in `directory` (the caller holds its lock)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same directory, fsync, rename, under the directory's lock.

    A symlink at `path` is replaced, never written through.
    """
    path = Path(path)
    try:
        with locked(path.parent):
            _atomic_write(path, data)
    except OSError as e:
        raise EnvironmentFailure(f"cannot write {path}: {describe(e)}") from None


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile

    mode = None
    with contextlib.suppress(FileNotFoundError):
        st = path.lstat()
        if not os.path.islink(path):
            mode = st.st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
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


_scratch: dict[str, Path] = {}


def scratch_dir(*parts: str) -> Path:
    """A folder of the cache for this process alone, locked while it lives; the folders of processes
    that died (killed mid-download, say) are removed the next time any process asks for one."""
    import shutil
    import uuid

    key = "/".join(parts)
    if key in _scratch:
        return _scratch[key]
    base = cache_dir(*parts)
    for entry in base.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            fd = os.open(entry, os.O_RDONLY)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(entry, ignore_errors=True)
            except BlockingIOError:
                pass  # a live process's
            finally:
                os.close(fd)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    import atexit

    mine = base / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    mine.mkdir()
    fd = os.open(mine, os.O_RDONLY)  # held open (and locked) until the process exits
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    atexit.register(shutil.rmtree, mine, True)
    _scratch[key] = mine
    return mine
