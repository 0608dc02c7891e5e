"""The commands every CI job runs stay light: no boto3, docker or git on their import path."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import CHECK_FLAGS, clean_env

HEAVY = {"boto3", "botocore", "docker", "git", "s3transfer"}
# also kept off the read-only commands: only people's tables need rich, only edits need tomlkit
READ_ONLY_EXTRA = {"rich", "tomlkit", "pydantic"}


def imported(args, cwd, **env: str) -> set[str]:
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "vline", *args], cwd=cwd, env=clean_env(**env),
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    mods = set()
    for ln in res.stderr.splitlines():
        if ln.startswith("import time:") and "|" in ln:
            mods.add(ln.rsplit("|", 1)[1].strip().split(".")[0])
    assert "vline" in mods
    return mods


@pytest.mark.parametrize("args", [["matrix"], ["matrix", "release"], ["env", "0.22"], ["check"],
                                  ["fingerprint", *CHECK_FLAGS]])
def test_read_commands_import_nothing_heavy(project, args):
    mods = imported(args, project)
    assert not mods & (HEAVY | READ_ONLY_EXTRA), sorted(mods & (HEAVY | READ_ONLY_EXTRA))


def test_pin_imports_nothing_heavy(workspace):
    mods = imported(["pin", "0.22", "--no-update"], workspace)
    assert "tomlkit" in mods  # it edits
    assert not mods & HEAVY, sorted(mods & HEAVY)


def test_files_of_vline_shape_are_read_without_tomllib(project):
    """compat.toml, the built-in matrix kinds and the manifest as vline writes them are read in one pass,
    without importing tomllib (~4 ms of every CI call); a file of another shape still gets tomllib."""
    assert not {"tomli", "tomllib"} & imported(["matrix"], project)
    assert not {"tomli", "tomllib"} & imported(["env", "0.22"], project)
    assert {"tomli", "tomllib"} & imported(["matrix", "release"], project)  # [[axes.platform]]: a dotted header


def test_each_off_a_terminal_imports_no_rich(world, tmp_path):
    """Its live table is for people at a terminal; piped, `each` prints plain lines and skips rich (~20 ms)."""
    repo = tmp_path / "user"
    repo.mkdir()
    (repo / "compat.toml").write_text(world.compat_text())
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit",
                                                               "-qm", "project"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    mods = imported(["each", "0.23", "--", "true"], repo, VLINE_CACHE=str(tmp_path / "cache"))
    assert "rich" not in mods


THREADS_IMPORT_TOMLLIB = """
import threading
from vline import tomlfile
seen = []
def read():
    seen.append(hasattr(tomlfile._tomllib(), "TOMLDecodeError"))
threads = [threading.Thread(target=read) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(all(seen) and len(seen) == 8)
"""


def test_tomllib_imported_lazily_by_several_threads_is_whole_in_each():
    """`each -j 2` reads files in threads: mypyc's tomli imported by two at once was seen half made (the
    lazy import without its lock failed most of these fresh interpreters)."""
    for _ in range(8):
        res = subprocess.run([sys.executable, "-c", THREADS_IMPORT_TOMLLIB], capture_output=True, text=True)
        assert res.stdout.strip() == "True", res.stderr[-2000:]
