"""`vline pin` on a real workspace: real git remotes over file://, real cargo builds."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import clean_env, error_lines, snapshot, vline
from gitworld import CRATE

pytestmark = pytest.mark.cargo


def build_and_run(ws: Path) -> str:
    """cargo build --locked, then run the simulator, which prints the wire crate it was built against."""
    subprocess.run(["cargo", "build", "--locked", "-q"], cwd=ws, check=True, capture_output=True)
    return subprocess.run([str(ws / "target" / "debug" / "sim")], check=True, capture_output=True,
                          text=True).stdout.split()[0]


WIRE = {"nightly": "main", "0.23": "v0.23.0", "0.22": "v0.22.1+backport", "0.21": "v0.22.1+backport"}
TAGS = {"nightly": "nightly", "0.23": "v0.23.0", "0.22": "v0.22.1", "0.21": "v0.21.0"}


def test_every_line_pins_and_builds_locked(workspace):
    original = snapshot(workspace)
    for line in ("0.22", "nightly", "0.21", "0.23"):
        res = vline("pin", line, cwd=workspace, check_code=0)
        assert res.stdout == f"VLLM_TARGET_VERSION={TAGS[line]}\n"
        assert build_and_run(workspace) == WIRE[line], line
    # back on the default line: manifest and lock are byte for byte what was committed
    after = snapshot(workspace)
    assert after["Cargo.toml"] == original["Cargo.toml"]
    assert after["Cargo.lock"] == original["Cargo.lock"]


def test_pin_without_line_restores_committed_bytes(workspace):
    original = snapshot(workspace)
    vline("pin", "0.22", cwd=workspace, check_code=0)
    assert (workspace / "Cargo.toml").read_bytes() != original["Cargo.toml"]
    vline("pin", "nightly", cwd=workspace, check_code=0)
    res = vline("pin", cwd=workspace, check_code=0)
    assert res.stdout == "VLLM_TARGET_VERSION=v0.23.0\n"
    assert snapshot(workspace) == original


def test_pin_is_idempotent_and_touches_only_the_rev_and_patch(workspace, world):
    vline("pin", "0.22", cwd=workspace, check_code=0)
    once = snapshot(workspace)
    vline("pin", "0.22", cwd=workspace, check_code=0)
    assert snapshot(workspace) == once
    text = (workspace / "Cargo.toml").read_text()
    expected = world.cargo_toml().replace(world.revs["v0.23.0"], world.revs["v0.22.1"]) + (
        f'\n[patch."{world.upstream_url}"]\n'
        f'{CRATE} = {{ git = "{world.fork_url}", rev = "{world.revs["fork"]}" }}\n')
    assert text == expected  # comments, the odd spacing and key order all kept


def test_pin_appends_the_tag_to_github_env(workspace, tmp_path):
    env_file = tmp_path / "github_env"
    env_file.write_text("EXISTING=1\n")
    res = vline("pin", "0.21", cwd=workspace, env=clean_env(GITHUB_ENV=str(env_file)), check_code=0)
    assert res.stdout == "VLLM_TARGET_VERSION=v0.21.0\n"
    assert env_file.read_text() == "EXISTING=1\nVLLM_TARGET_VERSION=v0.21.0\n"


def test_pin_rev_override_and_no_update(workspace, world):
    lock = (workspace / "Cargo.lock").read_bytes()
    vline("pin", "0.23", "--rev", world.revs["main"], "--no-update", cwd=workspace, check_code=0)
    assert world.revs["main"] in (workspace / "Cargo.toml").read_text()
    assert (workspace / "Cargo.lock").read_bytes() == lock  # --no-update leaves the lock alone
    vline("pin", "0.23", "--rev", world.revs["main"], cwd=workspace, check_code=0)
    assert build_and_run(workspace) == "main"


@pytest.mark.parametrize("rev", ["abc123", "G" * 40, "A" * 40])
def test_pin_rejects_a_bad_rev(workspace, rev):
    before = snapshot(workspace)
    res = vline("pin", "0.22", "--rev", rev, cwd=workspace, check_code=2)
    assert "--rev" in res.stderr
    assert snapshot(workspace) == before


def test_unknown_line_is_exit_2_and_writes_nothing(workspace):
    before = snapshot(workspace)
    res = vline("pin", "0.19", cwd=workspace, check_code=2)
    assert "unknown line '0.19'" in res.stderr
    assert snapshot(workspace) == before


def test_same_source_fork_is_refused_by_check_and_pin(workspace, world):
    """compat.toml names the upstream as the fork: check flags the line, pin refuses, nothing is written."""
    compat = workspace / "compat.toml"
    compat.write_text(world.compat_text(fork_url=world.upstream_url + "/"))
    before = snapshot(workspace)
    res = vline("pin", "0.22", cwd=workspace, check_code=2)
    (err,) = error_lines(res.stderr)[:1]
    assert err["file"] == "compat.toml" and "same source" in err["msg"] and "patch_repo" in err["msg"]
    assert int(err["line"]) == compat.read_text().splitlines().index(
        f'patch_repo = "{world.upstream_url}/"') + 1
    assert snapshot(workspace) == before
    res = vline("check", cwd=workspace, check_code=1)
    assert "same source" in res.stdout


def test_fork_equal_to_the_dependency_source_is_refused(workspace, world):
    """[vline].upstream differs from the URL the manifest declares; pin still refuses the same-source patch."""
    text = world.compat_text(fork_url=world.upstream_url).replace(
        f'upstream = "{world.upstream_url}"', 'upstream = "https://github.com/vllm-project/vllm.git"')
    (workspace / "compat.toml").write_text(text)
    before = snapshot(workspace)
    res = vline("pin", "0.22", cwd=workspace, check_code=2)
    assert res.stderr.startswith("Cargo.toml: error:") and "same source" in res.stderr
    assert snapshot(workspace) == before


def test_unused_fork_patch_is_an_error_and_restores_manifest_and_lock(workspace, world):
    # the dependency carries a version requirement the fork's pre-release crate cannot meet
    manifest = workspace / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(f'rev = "{world.revs["v0.23.0"]}"',
                                                     f'version = ">=0.1", rev = "{world.revs["v0.23.0"]}"'))
    subprocess.run(["cargo", "generate-lockfile", "-q"], cwd=workspace, check=True)
    (workspace / "compat.toml").write_text(world.compat_text().replace(world.revs["fork"],
                                                                       world.revs["fork_broken"], 1))
    before = snapshot(workspace)
    res = vline("pin", "0.22", cwd=workspace, check_code=2)
    assert "was not used by Cargo" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert snapshot(workspace) == before


def test_missing_cargo_is_exit_3_and_restores(workspace, tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with git and python but no cargo
    bin_dir.mkdir()
    for tool in ("git",):
        os.symlink(shutil.which(tool), bin_dir / tool)
    before = snapshot(workspace)
    res = vline("pin", "0.22", cwd=workspace, env=clean_env(PATH=str(bin_dir)), check_code=3)
    assert "'cargo' was not found" in res.stderr
    assert snapshot(workspace) == before


def test_check_reports_drift_of_the_committed_manifest(workspace):
    vline("check", cwd=workspace, check_code=0)
    vline("pin", "0.22", "--no-update", cwd=workspace, check_code=0)
    res = vline("check", cwd=workspace, check_code=1)
    findings = [ln for ln in res.stdout.splitlines() if ln.startswith("Cargo.toml:")]
    assert len(findings) == 2  # the rev and the fork patch
    rev_line = next(i for i, ln in enumerate((workspace / "Cargo.toml").read_text().splitlines(), 1)
                    if "rev =" in ln and CRATE in ln)
    assert findings[0].startswith(f"Cargo.toml:{rev_line}: error: {CRATE} rev ")
    assert "vline pin" in findings[0]
    vline("pin", "--no-update", cwd=workspace, check_code=0)
    vline("check", cwd=workspace, check_code=0)


def test_pin_refuses_the_embedded_default(tmp_path):
    res = vline("pin", cwd=tmp_path, check_code=2)
    assert "no compat.toml" in res.stderr
    assert list(tmp_path.iterdir()) == []
