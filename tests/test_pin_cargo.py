"""`vline pin` on a real workspace: real git remotes over file://, real cargo builds."""
from __future__ import annotations

import json
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


# --- Cargo.lock must lock the crate where the manifest pins it ----------------------------------------

def _line_with(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def test_check_flags_a_lock_that_does_not_match_the_manifest(workspace, world):
    committed = snapshot(workspace)
    vline("pin", "0.22", cwd=workspace, check_code=0)
    res = vline("check", cwd=workspace, check_code=1)
    assert not [ln for ln in res.stdout.splitlines() if ln.startswith("Cargo.lock")]  # the lock follows the fork
    (workspace / "Cargo.toml").write_bytes(committed["Cargo.toml"])  # the manifest back, the lock left behind
    res = vline("check", cwd=workspace, check_code=1)
    lock = workspace / "Cargo.lock"
    (finding,) = res.stdout.splitlines()
    assert finding == (f"Cargo.lock:{_line_with(lock, 'source = ')}: error: {CRATE} is locked to "
                       f"'git+{world.fork_url}?rev={world.revs['fork']}#{world.revs['fork']}', but Cargo.toml pins "
                       f"it to {world.upstream_url}?rev={world.revs['v0.23.0']}; run 'vline pin' to refresh it")
    vline("pin", cwd=workspace, check_code=0)
    vline("check", cwd=workspace, check_code=0)
    assert snapshot(workspace) == committed


def test_an_unparseable_lock_is_named_with_its_line(workspace):
    lock = workspace / "Cargo.lock"
    whole = lock.read_bytes()
    lock.write_bytes(whole[:whole.index(b"source = ") + 20])  # cut inside a string, as a killed write leaves it
    line = len(lock.read_text().splitlines())
    res = vline("check", cwd=workspace, check_code=1)
    (finding,) = res.stdout.splitlines()
    assert finding.startswith(f"Cargo.lock:{line}: error: invalid TOML") and "'vline pin'" in finding
    before = snapshot(workspace)
    res = vline("pin", cwd=workspace, check_code=2)
    (err,) = error_lines(res.stderr)
    assert (err["file"], err["line"]) == ("Cargo.lock", str(line)) and "restore it" in err["msg"]
    assert snapshot(workspace) == before


def test_an_empty_lock_is_an_error_that_pin_repairs_and_a_missing_one_is_not(workspace):
    lock = workspace / "Cargo.lock"
    committed = lock.read_bytes()
    lock.write_bytes(b"")
    res = vline("check", cwd=workspace, check_code=1)
    assert res.stdout.startswith("Cargo.lock:1: error: locks no packages") and "'vline pin'" in res.stdout
    vline("pin", cwd=workspace, check_code=0)
    assert lock.read_bytes() == committed
    lock.unlink()
    vline("check", cwd=workspace, check_code=0)


def test_the_lock_rule_follows_a_renamed_package_and_the_fork_patch(tmp_path):
    from vline import cargo_lock
    from vline.cargo_toml import Pin

    up, fork, rev, frev = "https://example.com/vllm.git", "https://example.com/fork.git", "a" * 40, "b" * 40
    lock = tmp_path / "Cargo.lock"
    lock.write_text(f'version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\n\n[[package]]\n'
                    f'name = "vllm-engine-core-client"\nversion = "0.1.0"\n'
                    f'source = "git+{fork}?rev={frev}#{frev}"\n')
    renamed = Pin("workspace.dependencies", up, rev, fork, frev, package="vllm-engine-core-client")
    assert cargo_lock.check(lock, "Cargo.lock", renamed, "Cargo.toml") == []
    (bad,) = cargo_lock.check(lock, "Cargo.lock", renamed._replace(patch_repo=None, patch_rev=None), "Cargo.toml")
    assert bad.line == 10 and f"pins it to {up}?rev={rev}" in bad.message
    (missing,) = cargo_lock.check(lock, "Cargo.lock", renamed._replace(package="wire"), "Cargo.toml")
    assert missing.line == 1 and "locks no wire package" in missing.message


@pytest.mark.parametrize("journal", [
    '{"vline_journal": 1, "kind": "rel',  # cut short
    json.dumps({"vline_journal": 1, "kind": "pin", "key": "pin", "command": "vline pin", "lock": None,  # hostile
                "before": {"../outside": None}, "after_sha256": {}, "summary": {}, "notes": [], "rows": []}),
])
def test_an_unreadable_journal_is_reported_and_pin_finishes_it(workspace, journal, tmp_path):
    committed = snapshot(workspace)
    (tmp_path / "outside").write_text("not vline's")
    vline("pin", "0.22", "--no-update", cwd=workspace, check_code=0)
    (workspace / ".vline").mkdir()
    (workspace / ".vline" / "pending.json").write_text(journal)
    res = vline("check", cwd=workspace, check_code=1)
    assert res.stdout.startswith(".vline/pending.json:1: error: a vline command was interrupted") and \
        "run 'vline pin'" in res.stdout.splitlines()[0]
    res = vline("pin", cwd=workspace, check_code=0)
    assert "finished the interrupted command (.vline/pending.json)" in res.stderr
    vline("check", cwd=workspace, check_code=0)
    assert snapshot(workspace) == committed and not (workspace / ".vline").exists()
    assert (tmp_path / "outside").read_text() == "not vline's"
