"""Per-line checkouts against real git repositories over file://: exactly HEAD plus the user's uncommitted
work, submodules from local objects, never a write through a link, never vline's own files."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import clean_env, snapshot, vline
from gitworld import git

FILE_OK = ("-c", "protocol.file.allow=always")  # git refuses file:// submodules without it


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return clean_env(VLINE_CACHE=str(tmp_path / "cache"))


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(world, tmp_path) -> Path:
    """A user's project: compat.toml (no Cargo manifest, so no cargo), a .gitignore, a few files."""
    ws = tmp_path / "user"
    ws.mkdir()
    (ws / "compat.toml").write_text(world.compat_text())
    (ws / ".gitignore").write_text("out.log\n*.secret\n")
    (ws / "README.md").write_text("committed\n")
    (ws / "gone.txt").write_text("deleted by the user\n")
    git(ws, "init", "-q", "-b", "main")
    commit_all(ws, "project")
    return ws


def each(repo: Path, env: dict, *cmd: str, committed: bool = False, code: int = 0) -> tuple[dict, str]:
    """`vline each 0.23 --json -- CMD`: the line's result row and its log."""
    res = vline("each", "0.23", "--json", *(["--committed"] if committed else []), "--", *cmd, cwd=repo, env=env,
                check_code=code)
    row = json.loads(res.stdout)[0]
    return row, Path(row["log"]).read_text() if row["log"] else ""


def tree(root: Path) -> dict[str, str]:
    """Every entry under root, links as 'link:TARGET' (never followed), files by content."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            out[rel] = f"link:{os.readlink(p)}" if p.is_symlink() else "dir" if p.is_dir() else p.read_text()
    return out


# --- links ---------------------------------------------------------------------------------------

def test_a_committed_link_the_user_replaced_is_never_written_through(repo, env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("outside\n")
    (outside / "conf.txt").write_text("outside conf\n")
    os.symlink(outside, repo / "data")
    os.symlink(outside / "conf.txt", repo / "conf.txt")
    commit_all(repo, "links")
    before = tree(outside)
    # the user turns the folder link into a real folder with new work, and the file link into a file
    (repo / "data").unlink()
    (repo / "data").mkdir()
    (repo / "data" / "keep.txt").write_text("mine\n")
    (repo / "data" / "new.txt").write_text("new\n")
    (repo / "conf.txt").unlink()
    (repo / "conf.txt").write_text("my conf\n")

    row, log = each(repo, env, "cat", "data/keep.txt", "data/new.txt", "conf.txt")
    assert log == "mine\nnew\nmy conf\n"
    assert tree(outside) == before
    co = Path(row["checkout"])
    assert not (co / "data").is_symlink() and (co / "data" / "new.txt").read_text() == "new\n"
    assert not (co / "conf.txt").is_symlink() and (co / "conf.txt").read_text() == "my conf\n"

    # --committed is HEAD again (the links), then the user's folder replaces the link once more
    row, log = each(repo, env, "readlink", "data", committed=True)
    assert log == f"{outside}\n"
    each(repo, env, "test", "!", "-L", "data", "-a", "-f", "data/new.txt")
    assert tree(outside) == before


def test_an_untracked_link_is_copied_as_a_link_never_followed(repo, env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the checkout\n")
    os.symlink(outside / "secret.txt", repo / "peek")
    os.symlink(outside, repo / "dirlink")
    os.symlink("README.md", repo / "readme-link")
    before = tree(outside)

    row, log = each(repo, env, "cat", "readme-link")
    assert log == "committed\n"
    co = Path(row["checkout"])
    assert os.readlink(co / "peek") == str(outside / "secret.txt")  # the link itself, not the bytes
    assert os.readlink(co / "dirlink") == str(outside)
    assert os.readlink(co / "readme-link") == "README.md"
    # a later run where the user's link became a folder and a file: the old links are not written through
    (repo / "dirlink").unlink()
    (repo / "dirlink").mkdir()
    (repo / "dirlink" / "secret.txt").write_text("mine\n")
    (repo / "peek").unlink()
    (repo / "peek").write_text("mine too\n")
    each(repo, env, "cat", "dirlink/secret.txt", "peek")
    assert tree(outside) == before
    assert not (co / "dirlink").is_symlink() and (co / "dirlink" / "secret.txt").read_text() == "mine\n"


def test_the_compat_folder_may_not_lead_outside_the_checkout(repo, env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, repo / "proj")
    commit_all(repo, "proj is a link")
    (repo / "proj").unlink()
    (repo / "proj").mkdir()
    shutil.copy(repo / "compat.toml", repo / "proj" / "compat.toml")

    row, _ = each(repo / "proj", env, "touch", "ran-here", committed=True, code=1)
    assert row["status"] == "failed" and "leads outside" in row["error"], row
    assert list(outside.iterdir()) == []
    row, _ = each(repo / "proj", env, "touch", "ran-here")  # with the user's folder it is a real folder
    assert Path(row["checkout"], "proj", "ran-here").is_file() and list(outside.iterdir()) == []


# --- exactly HEAD plus the user's work --------------------------------------------------------------

def test_ignored_files_an_earlier_run_wrote_are_gone(repo, env):
    (repo / "api.secret").write_text("the user's ignored file\n")
    each(repo, env, "sh", "-c", "echo stale > out.log && mkdir -p build && echo x > build/out.log")
    each(repo, env, "test", "!", "-e", "out.log", "-a", "!", "-e", "build/out.log")
    for committed in (False, True):
        each(repo, env, "sh", "-c", "echo stale > out.log", committed=committed)
        each(repo, env, "test", "!", "-e", "out.log", "-a", "!", "-e", "api.secret", committed=committed)


def test_uncommitted_work_is_mirrored_and_the_users_checkout_only_read(repo, env):
    (repo / "README.md").write_text("modified\n")
    (repo / "gone.txt").unlink()
    (repo / "notes").mkdir()
    (repo / "notes" / "new.txt").write_text("untracked\n")
    later = (repo / "compat.toml").stat().st_mtime + 100
    os.utime(repo / "compat.toml", (later, later))  # same bytes, stale stat data: `git diff` rewrites the index
    before = snapshot(repo)

    row, log = each(repo, env, "sh", "-c", "cat README.md notes/new.txt; test ! -e gone.txt")
    assert log == "modified\nuntracked\n"
    assert snapshot(repo) == before  # .git included: nothing written, not even the index
    _, log = each(repo, env, "sh", "-c", "cat README.md gone.txt; test ! -e notes", committed=True)
    assert log == "committed\ndeleted by the user\n"
    assert snapshot(repo) == before


def test_vlines_own_files_are_never_copied(repo, env):
    for rel in (".vline/evidence/0.23.json", ".vline/goldens/.abc.tmp", ".vline/gate/0.23/run.log",
                "sub/.vline/x", ".compat.toml.k2j3.vline-tmp", "sub/.data.json.x.vline-tmp"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("vline's own\n")
    (repo / "sub" / "kept.txt").write_text("the user's\n")

    row, log = each(repo, env, "sh", "-c", "ls -A . sub")
    co = Path(row["checkout"])
    assert (co / "sub" / "kept.txt").read_text() == "the user's\n"
    assert not (co / ".vline").exists() and not (co / "sub" / ".vline").exists()
    assert ".vline-tmp" not in log and ".vline" not in log.split(), log


# --- submodules ----------------------------------------------------------------------------------

@pytest.fixture
def superproject(world, tmp_path) -> dict[str, Path]:
    """Upstream repos: `nested` inside `sub` (relative URL ../nested) inside `super` (relative ../sub)."""
    up = tmp_path / "remotes"
    repos = {name: up / name for name in ("nested", "sub", "super")}
    for r in repos.values():
        r.mkdir(parents=True)
        git(r, "init", "-q", "-b", "main")
    (repos["nested"] / "n.txt").write_text("nested v1\n")
    commit_all(repos["nested"], "n1")
    (repos["sub"] / "file").write_text("sub v1\n")
    git(repos["sub"], *FILE_OK, "submodule", "add", "-q", "../nested", "deep")
    commit_all(repos["sub"], "s1")
    (repos["super"] / "compat.toml").write_text(world.compat_text())
    git(repos["super"], *FILE_OK, "submodule", "add", "-q", "../sub", "sub")
    commit_all(repos["super"], "p1")
    # upstream moves on after the recorded commits
    (repos["sub"] / "file").write_text("sub v2, not recorded\n")
    commit_all(repos["sub"], "s2")
    return repos


def test_submodules_come_from_the_users_objects_without_network(superproject, env, tmp_path):
    user = tmp_path / "user"
    git(tmp_path, *FILE_OK, "clone", "-q", "--recurse-submodules", str(superproject["super"]), str(user))
    for r in superproject.values():  # the remotes are gone: only local objects can serve
        r.rename(r.with_name(r.name + "-moved"))
    before = snapshot(user)

    row, log = each(user, env, "cat", "sub/file", "sub/deep/n.txt")
    assert log == "sub v1\nnested v1\n"
    assert snapshot(user) == before

    # the user records a new submodule commit made locally: still no network
    (user / "sub" / "file").write_text("sub v3, local\n")
    commit_all(user / "sub", "s3")
    commit_all(user, "p2")
    (user / "sub" / "file").write_text("uncommitted in the submodule\n")
    _, log = each(user, env, "sh", "-c", "cat sub/file sub/deep/n.txt; git -C sub status --porcelain")
    assert log == "sub v3, local\nnested v1\n"  # the recorded commit, clean


def test_submodules_the_user_never_initialised_come_from_their_urls(superproject, env, tmp_path):
    user = tmp_path / "user"
    git(tmp_path, "clone", "-q", str(superproject["super"]), str(user))  # no --recurse-submodules
    assert list((user / "sub").iterdir()) == []
    before = snapshot(user)

    row, log = each(user, env, "sh", "-c", "cat sub/file sub/deep/n.txt && echo x > sub/deep/junk")
    assert log == "sub v1\nnested v1\n"
    assert snapshot(user) == before
    _, log = each(user, env, "sh", "-c", "cat sub/file; test ! -e sub/deep/junk", committed=True)
    assert log == "sub v1\n"

    # initialised later, with a commit only the user has: fetched from their checkout, remotes gone
    git(user, *FILE_OK, "submodule", "update", "-q", "--init", "--recursive")
    (user / "sub" / "file").write_text("sub v3, local\n")
    commit_all(user / "sub", "s3")
    commit_all(user, "p2")
    for r in superproject.values():
        r.rename(r.with_name(r.name + "-moved"))
    _, log = each(user, env, "cat", "sub/file", "sub/deep/n.txt")
    assert log == "sub v3, local\nnested v1\n"


def test_a_submodule_out_of_reach_fails_its_line_in_one_line(superproject, env, tmp_path):
    user = tmp_path / "user"
    git(tmp_path, "clone", "-q", str(superproject["super"]), str(user))
    superproject["sub"].rename(tmp_path / "sub-moved")

    row, _ = each(user, env, "true", code=1)
    assert row["status"] == "failed" and row["error"].startswith("checkout: submodule sub: "), row
    assert "\n" not in row["error"]


def test_a_submodule_dropped_from_head_is_gone(superproject, env, tmp_path):
    user = tmp_path / "user"
    git(tmp_path, *FILE_OK, "clone", "-q", "--recurse-submodules", str(superproject["super"]), str(user))
    each(user, env, "test", "-f", "sub/deep/n.txt")
    git(user, "rm", "-q", "sub")
    commit_all(user, "no more sub")
    each(user, env, "test", "!", "-e", "sub")
