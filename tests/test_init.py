"""`vline init`: a compat.toml for an existing project, from its Cargo manifest and the upstream's real tags."""
from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import snapshot, vline
from gitworld import CRATE, git


@pytest.fixture
def adopter(world, tmp_path) -> tuple[Path, str]:
    """A project with no compat.toml whose Cargo.toml depends on a repository named vllm (a bare clone of
    the test upstream, with its tags), pinned at v0.23.0."""
    vllm = tmp_path / "vllm.git"
    git(tmp_path, "clone", "-q", "--bare", str(world.upstream), str(vllm))
    proj = world.new_workspace(tmp_path / "proj")
    (proj / "compat.toml").unlink()
    text = (proj / "Cargo.toml").read_text().replace(world.upstream_url, vllm.as_uri())
    (proj / "Cargo.toml").write_text(text)
    subprocess.run(["cargo", "generate-lockfile", "--manifest-path", str(proj / "Cargo.toml")], check=True,
                   capture_output=True)
    return proj, vllm.as_uri()


def kv(text: str) -> dict[str, str]:
    return dict(ln.split("=", 1) for ln in text.splitlines())


@pytest.mark.cargo
def test_init_writes_a_window_check_accepts(adopter, world):
    proj, url = adopter
    res = vline("init", cwd=proj, check_code=0)
    out = kv(res.stdout)
    assert out == {"crate": CRATE, "upstream": url, "lines": "nightly,0.23,0.22,0.21", "default": "0.23",
                   "pinned_line": "0.23", "written": "compat.toml"}
    data = tomllib.loads((proj / "compat.toml").read_text())
    assert data["vline"]["upstream"] == url and data["vline"]["crate"] == CRATE
    lines = {ln["line"]: ln for ln in data["vllm"]}
    assert lines["nightly"]["protocol_rev"] == world.revs["main"]
    assert lines["0.23"] == {"line": "0.23", "tag": "v0.23.0", "protocol_rev": world.revs["v0.23.0"],
                             "fidelity_validated": False, "default": True}
    assert lines["0.21"]["protocol_rev"] == world.revs["v0.21.0"] and not lines["0.21"]["default"]
    text = (proj / "compat.toml").read_text()
    assert text.startswith("# compat.toml:") and "# The newest stable line: the default." in text
    vline("check", cwd=proj, check_code=0)  # the pin, the lock and the window agree
    rows = vline("matrix", cwd=proj, check_code=0).stdout
    assert '"line":"0.22"' in rows


def test_init_never_overwrites(adopter):
    proj, _ = adopter
    (proj / "compat.toml").write_text("# mine\n")
    before = snapshot(proj)
    res = vline("init", cwd=proj, check_code=2)
    assert res.stderr.startswith("compat.toml: error: already exists")
    assert snapshot(proj) == before


def test_init_github_refuses_before_writing_anything(adopter):
    proj, _ = adopter
    from vline import resources

    names = sorted(p.name for p in resources.workflows_dir().glob("*.yml"))
    if not names:
        pytest.skip("no caller workflows shipped yet")
    dest = proj / ".github" / "workflows" / names[0]
    dest.parent.mkdir(parents=True)
    dest.write_text("# mine\n")
    before = snapshot(proj)
    res = vline("init", "--github", cwd=proj, check_code=2)
    assert f".github/workflows/{names[0]}: error: already exists" in res.stderr
    assert snapshot(proj) == before


def test_init_with_a_dump_rc_and_an_older_pin(adopter, world, tmp_path):
    proj, url = adopter
    dump = tmp_path / "tags.txt"
    r = world.revs
    dump.write_text(f"{r['main']}\tHEAD\n{r['v0.22.1']}\trefs/tags/v0.22.1\n{r['v0.23.0']}\trefs/tags/v0.23.0\n"
                    f"{r['main']}\trefs/tags/v0.24.0rc1\n{r['v0.21.0']}\trefs/tags/v0.21.0\n")
    text = (proj / "Cargo.toml").read_text().replace(r["v0.23.0"], r["v0.22.1"])
    (proj / "Cargo.toml").write_text(text)
    res = vline("init", "--tags-file", str(dump), "--max-stable", "2", cwd=proj, check_code=0)
    out = kv(res.stdout)
    assert out["lines"] == "nightly,rc,0.23,0.22" and out["pinned_line"] == "0.22"
    assert "pinned to line 0.22, not the default 0.23" in res.stderr
    lines = {ln["line"]: ln for ln in tomllib.loads((proj / "compat.toml").read_text())["vllm"]}
    assert lines["rc"]["tag"] == "v0.24.0rc1" and "0.21" not in lines
    assert vline("check", cwd=proj).returncode == 1  # the drift is reported until `vline pin`


def test_init_without_a_vllm_dependency(tmp_path):
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n\n[dependencies]\nserde = "1"\n')
    res = vline("init", "--tags-file", "/dev/null", cwd=tmp_path, check_code=2)
    assert "no git dependency on a vllm repository" in res.stderr and "--crate" in res.stderr
    assert not (tmp_path / "compat.toml").exists()
