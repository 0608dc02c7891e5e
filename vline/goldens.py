"""Golden captures on disk: staging, hashing, the content-addressed cache, and trace validation."""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import uuid
from pathlib import Path

from . import trace
from .compat import Compat
from .errors import InputError
from .fsio import atomic_write, cache_dir, cache_root, locked, scratch_dir, under
from .manifest import HEX64, SAFE_PART

STAGING = Path(".vline") / "goldens"
CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hash a file in constant memory (hashlib reads it in chunks)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _name(sha256: str) -> str:
    if not HEX64.match(sha256):
        raise InputError(f"sha256 {sha256!r} is not 64 lowercase hex characters")
    return f"{sha256}.jsonl.gz"


def cached_path(sha256: str) -> Path:
    return under(cache_root() / "goldens" / "sha256", _name(sha256), what="cache entry")


def cached_names() -> set[str]:
    """The file names in the content-addressed cache, listed once (`golden list` asks for every golden)."""
    try:
        return set(os.listdir(cache_root() / "goldens" / "sha256"))
    except OSError:  # no cache yet, or none usable: nothing is cached
        return set()


def _stamp_path(path: Path) -> Path:
    """The record of a cached file's check, beside the content-addressed folder (which holds content only)."""
    return cache_dir("goldens", "checked") / path.name


def _fingerprint(path: Path) -> str:
    """What changes when anything writes or touches the file: size, mtime, ctime and inode."""
    st = os.stat(path)
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}\n"


def admit(tmp: Path, sha256: str) -> Path:
    """Move bytes whose sha256 was checked into the cache, read-only, with the record of what was checked."""
    cache_dir("goldens", "sha256")
    final = cached_path(sha256)
    os.chmod(tmp, 0o444)
    os.replace(tmp, final)
    atomic_write(_stamp_path(final), _fingerprint(final).encode())
    return final


def cache_entry(sha256: str) -> tuple[Path | None, bool]:
    """(the cached file, altered): a cached file is trusted while its size, mtime, ctime and inode are
    those recorded when its sha256 was checked; otherwise it is hashed again, and removed if it no
    longer matches its name."""
    path = cached_path(sha256)
    if not path.exists():
        return None, False
    stamp = _stamp_path(path)
    try:
        if stamp.read_text() == _fingerprint(path):
            return path, False
    except OSError:
        pass
    if sha256_file(path) == sha256:
        atomic_write(stamp, _fingerprint(path).encode())
        return path, False
    path.unlink(missing_ok=True)
    stamp.unlink(missing_ok=True)
    return None, True


def tmp_dir() -> Path:
    """Where downloads land before their sha256 is checked (same filesystem as the cache: rename is atomic);
    this process's own folder, so what a killed run left is removed and never mistaken for a download."""
    return scratch_dir("goldens", "tmp")


def staged_path(compat: Compat, sha256: str) -> Path:
    return under(compat.root, str(STAGING), _name(sha256), what="staged golden")


class _Hashing:
    """A write-only file that hashes what passes through it."""

    def __init__(self, f) -> None:
        self.f, self.h = f, hashlib.sha256()

    def write(self, b) -> int:
        self.h.update(b)
        return self.f.write(b)

    def flush(self) -> None:
        self.f.flush()


def stage(compat: Compat, source: Path) -> tuple[Path, str]:
    """Keep the archive of `source` in .vline/goldens/<sha256>.jsonl.gz; returns (path, sha256).

    Plain JSONL is gzipped deterministically (no file name, mtime 0) as a stream: memory stays flat
    however large the capture.
    """
    with open(source, "rb") as f:
        is_gz = f.read(2) == trace.GZIP_MAGIC
    dest_dir = under(compat.root, str(STAGING), what="staging folder")
    dest_dir.mkdir(parents=True, exist_ok=True)
    with locked(dest_dir):
        for stale in dest_dir.glob(".*.tmp"):  # left by a killed `golden add`
            stale.unlink(missing_ok=True)
        return _stage(source, is_gz, dest_dir)


def _stage(source: Path, is_gz: bool, dest_dir: Path) -> tuple[Path, str]:
    tmp = dest_dir / f".{uuid.uuid4().hex}.tmp"
    try:
        if is_gz:
            shutil.copyfile(source, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            sha = sha256_file(tmp)
        else:
            with open(source, "rb") as src, open(tmp, "wb") as raw:
                out = _Hashing(raw)
                with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=out, mtime=0) as gz:
                    shutil.copyfileobj(src, gz, CHUNK)
                raw.flush()
                os.fsync(raw.fileno())
                sha = out.h.hexdigest()
        dest = dest_dir / f"{sha}.jsonl.gz"
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest, sha


def bucket_path(tag: str, gpu: str, model: str, workload: str) -> str:
    """conformance/<tag>/<gpu>/<model>/<workload>.jsonl.gz; the model keeps its '/'."""
    for name, value in (("gpu", gpu), ("workload", workload)):
        if not SAFE_PART.match(value):
            raise InputError(f"{name} {value!r} cannot be a path part (letters, digits, . _ + -)")
    parts = model.split("/")
    if not model or not all(SAFE_PART.match(p) for p in parts):
        raise InputError(f"model {model!r} cannot be a path (parts of letters, digits, . _ + - joined by /)")
    return f"conformance/{tag}/{gpu}/{model}/{workload}.jsonl.gz"


def provenance_problems(compat: Compat, line: str, meta: dict, config_hash: str | None = None) -> list[str]:
    """A trace's meta against the line it is a golden of (SPEC §3 matching; nightly accepts any)."""
    problems = []
    if config_hash is None:
        if not isinstance(meta.get("config_hash"), str):
            problems.append("meta has no config_hash")
    elif meta.get("config_hash") != config_hash:
        problems.append(f"meta config_hash {str(meta.get('config_hash'))[:16]}… is not the manifest's "
                        f"{config_hash[:16]}…")
    if line != "nightly":
        reported = meta.get("vllm_version")
        if not isinstance(reported, str):
            problems.append("meta has no vllm_version")
        else:
            try:
                found = compat.line_for_version(reported)
            except ValueError:
                found = None
            if found is None or found.line != line:
                where = f"line {found.line}" if found else "no line of the window"
                problems.append(f"meta vllm_version {reported} is on {where}, not {line}")
    return problems
