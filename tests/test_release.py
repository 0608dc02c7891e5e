"""Release day on real git remotes: watch rc|stable, roll, bump nightly (SPEC §3, §5)."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from conftest import clean_env, snapshot, vline, write_golden
from gitworld import CRATE, _crate_files, commit, git

# tag -> (annotated?) in the order they are made; real vLLM shapes: post releases, 4-part releases, rcN
SHAPES = [("v0.8.5", True), ("v0.8.5.post1", False), ("v0.9.0", True), ("v0.9.0.1", False), ("v0.9.1rc1", True),
          ("v0.9.1", True), ("v0.10.0", False), ("v0.10.1", True), ("v0.10.1.1", True), ("v0.11.0rc1", False),
          ("v0.11.0rc2", True)]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """An upstream whose tags have real-world shapes; returns (repo, tag -> commit)."""
    repo = tmp_path_factory.mktemp("shapes") / "vllm"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    revs = {}
    for tag, annotated in SHAPES:
        revs[tag] = commit(repo, {"VERSION": tag + "\n"}, tag)
        git(repo, "tag", *(["-a", "-m", tag] if annotated else []), tag)
    git(repo, "tag", "nightly-marker")  # not a release tag: ignored
    revs["main"] = commit(repo, {"VERSION": "main\n"}, "main")
    return repo, revs


def window(revs: dict[str, str], upstream: str) -> str:
    """A window whose file order is NOT newest-first; 0.9 builds against a rev that is not its tag's commit."""
    return textwrap.dedent(f"""\
        [vline]
        upstream = "{upstream}"

        # the oldest line, first in the file
        [[vllm]]
        line = "0.8"
        tag = "v0.8.5"
        protocol_rev = "{revs['v0.8.5']}"
        fidelity_validated = true

        # tracks main
        [[vllm]]
        line = "nightly"
        tag = "nightly"
        protocol_rev = "{revs['v0.10.0']}"

        [[vllm]]
        line = "0.10"
        tag = "v0.10.1"
        protocol_rev = "{revs['v0.10.1']}"
        default = true

        # borrows 0.10's crate
        [[vllm]]
        line = "0.9"
        tag = "v0.9.0"
        protocol_rev = "{revs['v0.10.0']}"
        """)


@pytest.fixture
def proj(tmp_path, shapes) -> Path:
    repo, revs = shapes
    d = tmp_path / "proj"
    d.mkdir()
    (d / "compat.toml").write_text(window(revs, repo.as_uri()))
    return d


def summary(res) -> dict[str, str]:
    return dict(ln.split("=", 1) for ln in res.stdout.splitlines())


def lines_of(proj: Path) -> dict[str, dict]:
    return {e["line"]: e for e in tomllib.loads((proj / "compat.toml").read_text())["vllm"]}


def test_watch_stable_moves_each_line_to_its_newest_release(proj, shapes):
    _, revs = shapes
    res = vline("watch", "stable", cwd=proj, check_code=0)
    s = summary(res)
    assert s["changed"] == "true" and set(s["lines"].split(",")) == {"0.8", "0.9", "0.10"}
    ln = lines_of(proj)
    assert (ln["0.8"]["tag"], ln["0.8"]["protocol_rev"]) == ("v0.8.5.post1", revs["v0.8.5.post1"])  # post > final
    assert ln["0.8"]["fidelity_validated"] is False  # a moved line must be validated again
    assert (ln["0.10"]["tag"], ln["0.10"]["protocol_rev"]) == ("v0.10.1.1", revs["v0.10.1.1"])  # peeled commit
    assert ln["0.9"]["tag"] == "v0.9.1"  # not v0.9.1rc1, not v0.9.0.1
    assert ln["0.9"]["protocol_rev"] == revs["v0.10.0"]  # it borrows another rev: kept, and said so
    assert "0.9: protocol_rev kept" in res.stderr
    assert ln["nightly"]["protocol_rev"] == revs["v0.10.0"]  # trackers untouched
    text = (proj / "compat.toml").read_text()
    assert "# the oldest line, first in the file\n[[vllm]]\nline = \"0.8\"" in text  # comments stay with their line
    vline("check", cwd=proj, check_code=0)

    before = snapshot(proj)
    again = vline("watch", "stable", cwd=proj, check_code=0)
    assert again.stdout == "changed=false\n"
    assert snapshot(proj) == before  # idempotent: nothing written


def test_watch_rc_adds_after_nightly_then_removes_when_stale(proj, shapes, tmp_path):
    repo, revs = shapes
    out = tmp_path / "gh_out"
    env = clean_env(GITHUB_OUTPUT=str(out))
    res = vline("watch", "rc", cwd=proj, env=env, check_code=0)
    s = summary(res)
    assert (s["line"], s["tag"], s["rev"], s["is_default"]) == ("rc", "v0.11.0rc2", revs["v0.11.0rc2"], "false")
    assert "changed=true\n" in out.read_text() and "tag=v0.11.0rc2\n" in out.read_text()
    data = tomllib.loads((proj / "compat.toml").read_text())["vllm"]
    assert [e["line"] for e in data] == ["0.8", "nightly", "rc", "0.10", "0.9"]  # right after nightly
    assert vline("watch", "rc", cwd=proj, check_code=0).stdout == "changed=false\n"

    # a dump where v0.11.0 is released: the rc is stale and leaves
    dump = subprocess.run(["git", "ls-remote", repo.as_uri()], capture_output=True, text=True, check=True).stdout
    dump += f"{revs['main']}\trefs/tags/v0.11.0\n"
    (tmp_path / "tags.txt").write_text(dump)
    res = vline("watch", "rc", "--tags-file", str(tmp_path / "tags.txt"), cwd=proj, check_code=0)
    assert summary(res)["removed"] == "rc" and "stale" in res.stderr
    assert "rc" not in lines_of(proj)
    vline("check", cwd=proj, check_code=0)


def test_watch_stable_rolls_in_a_newer_minor_and_trims_by_version(proj, shapes, tmp_path):
    repo, revs = shapes
    write_golden(proj, "0.8", "v0.8.5")
    dump = subprocess.run(["git", "ls-remote", repo.as_uri()], capture_output=True, text=True, check=True).stdout
    (tmp_path / "tags.txt").write_text(dump + f"{revs['main']}\trefs/tags/v0.11.0\n")
    res = vline("watch", "stable", "--tags-file", str(tmp_path / "tags.txt"), cwd=proj, check_code=0)
    s = summary(res)
    assert (s["line"], s["tag"], s["is_default"]) == ("0.11", "v0.11.0", "true")
    assert s["removed"] == "0.8" and s["orphaned_goldens"] == "0.8"
    assert "golden prune" in res.stderr
    ln = lines_of(proj)
    # 0.8 was first in the file but oldest by version: it is the one that left
    assert sorted(ln) == ["0.10", "0.11", "0.9", "nightly"]
    assert ln["0.11"]["default"] is True and ln["0.10"]["default"] is False
    assert ln["0.11"]["fidelity_validated"] is False
    assert "Rolled in by `vline roll v0.11.0`" in (proj / "compat.toml").read_text()
    vline("check", cwd=proj, check_code=0)


def test_roll_refusals_write_nothing(proj, shapes):
    _, revs = shapes
    before = snapshot(proj)
    for args, words in [
        (["roll", "v0.11.0rc2"], "pre-release"),
        (["roll", "v0.7.0", "--rev", revs["main"]], "older than the default"),
        (["roll", "v0.12.0"], "not a release tag"),
        (["roll", "v0.10.0", "--rev", revs["main"]], "older than line 0.10's current tag"),
        (["roll", "v0.12.0", "--rev", "xyz"], "--rev"),
        (["roll", "0.12.0", "--rev", revs["main"]], "must start with 'v'"),
    ]:
        res = vline(*args, cwd=proj, check_code=2)
        assert words in res.stderr and res.stdout == "", (args, res.stderr)
    assert snapshot(proj) == before


def test_roll_with_rev_and_max_stable(proj, shapes):
    _, revs = shapes
    text = (proj / "compat.toml").read_text().replace("[vline]\n", "[vline]\nmax_stable = 2\n")
    (proj / "compat.toml").write_text(text)
    res = vline("roll", "v0.12.0", "--rev", revs["main"], cwd=proj, check_code=0)
    s = summary(res)
    assert s["lines"] == "0.12,0.10,0.9,0.8" and s["removed"] == "0.9,0.8"
    assert sorted(lines_of(proj)) == ["0.10", "0.12", "nightly"]
    assert vline("roll", "v0.12.0", "--rev", revs["main"], cwd=proj, check_code=0).stdout == "changed=false\n"


def test_bump_nightly(proj, shapes):
    repo, revs = shapes
    res = vline("bump", "nightly", cwd=proj, check_code=0)
    assert summary(res)["rev"] == revs["main"] == git(repo, "rev-parse", "HEAD")
    assert lines_of(proj)["nightly"]["protocol_rev"] == revs["main"]
    assert vline("bump", "nightly", cwd=proj, check_code=0).stdout == "changed=false\n"
    res = vline("bump", "nightly", "--rev", revs["v0.9.0"], cwd=proj, check_code=0)
    assert summary(res)["rev"] == revs["v0.9.0"]


def test_unreachable_remote_is_exit_3(proj, tmp_path):
    before = snapshot(proj)
    res = vline("watch", "stable", "--remote", (tmp_path / "nowhere").as_uri(), cwd=proj, check_code=3)
    assert "git ls-remote" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert snapshot(proj) == before


def released_v0_24(world, tmp_path: Path) -> tuple[Path, str]:
    """An upstream clone that has just tagged v0.24.0 (a new crate), and a workspace pointing at it."""
    upstream = tmp_path / "upstream"
    git(tmp_path, "clone", "-q", str(world.upstream), str(upstream))
    git(upstream, "checkout", "-q", "main")
    rev = commit(upstream, _crate_files("0.4.0", "v0.24.0", True), "v0.24.0")
    git(upstream, "tag", "-a", "v0.24.0", "-m", "v0.24.0")
    ws = world.new_workspace(tmp_path / "ws")
    for name in ("Cargo.toml", "compat.toml"):
        p = ws / name
        p.write_text(p.read_text().replace(world.upstream_url, upstream.as_uri()))
    subprocess.run(["cargo", "generate-lockfile", "-q"], cwd=ws, check=True)
    return ws, rev


@pytest.mark.cargo
def test_roll_repins_cargo_and_dockerfile_and_builds(world, tmp_path):
    """A real release: the upstream tags v0.24.0; roll re-pins Cargo.toml and the lock, rewrites the
    template's ARG defaults, and the workspace builds --locked against the new crate."""
    ws, rev = released_v0_24(world, tmp_path)
    (ws / "Dockerfile.template").write_text(textwrap.dedent(f"""\
        # syntax=docker/dockerfile:1
        ARG VLLM_TARGET_VERSION=v0.23.0
        ARG FRONTEND_REF={world.revs['v0.23.0']}   # the crate rev
        ARG LINE={{{{ line }}}}
        FROM scratch
        """))
    res = vline("roll", "v0.24.0", cwd=ws, check_code=0)
    s = summary(res)
    assert (s["line"], s["tag"], s["rev"], s["is_default"]) == ("0.24", "v0.24.0", rev, "true")
    assert s["removed"] == "0.21"
    cargo = (ws / "Cargo.toml").read_text()
    assert f'rev = "{rev}"' in cargo and "[patch" not in cargo
    docker = (ws / "Dockerfile.template").read_text()
    assert "ARG VLLM_TARGET_VERSION=v0.24.0\n" in docker
    assert f"ARG FRONTEND_REF={rev}   # the crate rev\n" in docker
    assert "ARG LINE={{ line }}\n" in docker  # placeholders are render's business
    vline("check", cwd=ws, check_code=0)  # compat, manifest pin and lock consistent
    subprocess.run(["cargo", "build", "--locked", "-q"], cwd=ws, check=True, capture_output=True)
    out = subprocess.run([str(ws / "target" / "debug" / "sim")], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "v0.24.0"
    assert CRATE in cargo


# --- a roll killed part-way: check says so, the rerun finishes it -------------------------------------

_KILL_AT = """\
import os, signal, sys
import vline.commands.release as release
def killed(*args, **kwargs):  # SIGKILL, the moment release calls this function
    os.kill(os.getpid(), signal.SIGKILL)
setattr(release, sys.argv[1], killed)
sys.argv = ["vline", *sys.argv[2:]]
from vline.entry import main
main()
"""


def _killed_at(function: str, ws: Path, *args: str) -> None:
    res = subprocess.run([sys.executable, "-c", _KILL_AT, function, *args], cwd=ws, env=clean_env(),
                         capture_output=True, text=True)
    assert res.returncode == -signal.SIGKILL and res.stdout == "", (res.returncode, res.stdout, res.stderr)


@pytest.mark.cargo
def test_roll_killed_between_compat_and_cargo_is_reported_and_finished_by_its_rerun(world, tmp_path):
    ws, rev = released_v0_24(world, tmp_path)
    (ws / "Dockerfile.template").write_text("ARG VLLM_TARGET_VERSION=v0.23.0\nFROM scratch\n")
    committed = snapshot(ws)

    _killed_at("pin_manifest", ws, "roll", "v0.24.0")  # after compat.toml is written, before Cargo.toml is
    assert lines_of(ws)["0.24"]["default"] is True  # compat.toml moved on...
    assert snapshot(ws)["Cargo.toml"] == committed["Cargo.toml"]  # ...Cargo.toml did not
    res = vline("check", cwd=ws, check_code=1)
    errors = [ln for ln in res.stdout.splitlines() if ": error: " in ln]
    assert errors[0] == (".vline/pending.json:1: error: 'vline roll v0.24.0' was interrupted before it finished: "
                         "compat.toml, Cargo.toml, Cargo.lock, Dockerfile.template may disagree; "
                         "rerun 'vline roll v0.24.0' to finish it")
    assert any(ln.startswith("Cargo.toml:") and "is not the default line 0.24's protocol_rev" in ln for ln in errors)

    _killed_at("_report", ws, "roll", "v0.24.0")  # the rerun finished the files, then died before saying so
    assert f'rev = "{rev}"' in (ws / "Cargo.toml").read_text()
    assert (ws / ".vline" / "pending.json").exists()  # so the journal stays: the next run says what the job did
    res = vline("roll", "v0.24.0", cwd=ws, check_code=0)
    s = summary(res)
    assert (s["changed"], s["line"], s["tag"], s["rev"], s["is_default"]) == ("true", "0.24", "v0.24.0", rev, "true")
    assert "finished the interrupted 'vline roll v0.24.0'" in res.stderr
    assert f'rev = "{rev}"' in (ws / "Cargo.toml").read_text()
    assert (ws / "Dockerfile.template").read_text() == "ARG VLLM_TARGET_VERSION=v0.24.0\nFROM scratch\n"
    assert not (ws / ".vline").exists()
    vline("check", cwd=ws, check_code=0)
    subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1", "-q"], cwd=ws,
                   check=True, capture_output=True)
    assert vline("roll", "v0.24.0", cwd=ws, check_code=0).stdout == "changed=false\n"  # the job is done
