"""Atomic writes under a lock: a reader sees the old file or the new one, never half, never a leftover."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time

from vline.fsio import atomic_write, locked


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    p = tmp_path / "Cargo.toml"
    p.write_text("old\n")
    os.chmod(p, 0o640)
    atomic_write(p, b"new\n")
    assert p.read_bytes() == b"new\n"
    assert p.stat().st_mode & 0o777 == 0o640
    assert [x.name for x in tmp_path.iterdir()] == ["Cargo.toml"]


def test_killed_writer_leaves_old_or_new(tmp_path):
    """SIGKILL a process that rewrites a file in a loop: the file is always whole."""
    p = tmp_path / "f"
    big_a, big_b = b"a" * 4_000_000, b"b" * 4_000_000
    p.write_bytes(big_a)
    code = textwrap.dedent(f"""
        from pathlib import Path
        from vline.fsio import atomic_write
        p = Path({str(p)!r})
        while True:
            atomic_write(p, b"b" * 4_000_000)
            atomic_write(p, b"a" * 4_000_000)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 1.0
    seen = set()
    while time.monotonic() < deadline:
        data = p.read_bytes()
        assert data in (big_a, big_b)
        seen.add(data[:1])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert p.read_bytes() in (big_a, big_b)
    assert seen == {b"a", b"b"}  # the writer really was writing while we read


def _hold(directory, started, release):
    with locked(directory):
        started.set()
        release.wait(5)


def test_lock_serialises_writers(tmp_path):
    ctx = mp.get_context("spawn")
    started, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(tmp_path, started, release))
    holder.start()
    assert started.wait(10)
    t0 = time.monotonic()
    threading_release = ctx.Process(target=_sleep_then_set, args=(release, 0.3))
    threading_release.start()
    with locked(tmp_path):
        waited = time.monotonic() - t0
    holder.join()
    threading_release.join()
    assert waited >= 0.25  # we could not take the lock while the other process held it
    assert list(tmp_path.iterdir()) == []  # and no lock file was left behind


def _sleep_then_set(event, seconds):
    time.sleep(seconds)
    event.set()
