"""What people expect of a command line: completion, -V, --json wherever a command has results."""
from __future__ import annotations

import json

from conftest import clean_env, vline


def test_version_short_and_long(tmp_path):
    from vline import __version__

    assert vline("-V", cwd=tmp_path, check_code=0).stdout == f"vline {__version__}\n"
    assert vline("--version", cwd=tmp_path, check_code=0).stdout == f"vline {__version__}\n"


def test_shell_completion(tmp_path):
    # the script `--show-completion` prints (which detects the shell from the caller's process tree)
    script = vline(cwd=tmp_path, env=clean_env(_VLINE_COMPLETE="source_bash"), check_code=0).stdout
    assert "_VLINE_COMPLETE=complete_bash" in script and "complete " in script
    env = clean_env(_VLINE_COMPLETE="complete_bash", COMP_WORDS="vline ma", COMP_CWORD="1")
    assert vline(cwd=tmp_path, env=env, check_code=0).stdout.split() == ["matrix"]
    env = clean_env(_VLINE_COMPLETE="complete_bash", COMP_WORDS="vline matrix --on", COMP_CWORD="2")
    assert vline(cwd=tmp_path, env=env, check_code=0).stdout.split() == ["--only"]
    env = clean_env(_VLINE_COMPLETE="complete_bash", COMP_WORDS="vline golden ve", COMP_CWORD="2")
    assert vline(cwd=tmp_path, env=env, check_code=0).stdout.split() == ["verify"]


def test_json_on_pin(workspace):
    res = vline("pin", "0.22", "--no-update", "--json", cwd=workspace, check_code=0)
    assert json.loads(res.stdout) == {"VLLM_TARGET_VERSION": "v0.22.1"}


def test_json_on_promote_and_golden_add(project):
    from conftest import write_golden

    write_golden(project, "0.22", "v0.22.1")
    res = vline("promote", "--json", cwd=project, check_code=0)
    assert json.loads(res.stdout) == {"changed": False, "promoted": "", "refused": ""}
    trace = project / "t.jsonl"
    trace.write_text(json.dumps({"meta": {"config_hash": "b" * 64, "vllm_version": "0.22.1", "gpu": "A100",
                                          "model": "m"}}) + "\n")
    res = vline("golden", "add", "t.jsonl", "--line", "0.22", "--json", cwd=project, check_code=0)
    (row,) = json.loads(res.stdout)
    assert row["workload"] == "t" and row["line"] == "0.22" and len(row["sha256"]) == 64


def test_json_on_roll(workspace, world, tmp_path):
    dump = tmp_path / "tags"
    dump.write_text(f"{world.revs['main']}\trefs/tags/v0.24.0\n")
    res = vline("roll", "v0.24.0", "--tags-file", str(dump), "--json", cwd=workspace)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["changed"] == "true" and doc["line"] == "0.24" and doc["removed"] == "0.21"


def test_json_on_a_refused_command_still_prints_what_it_found(project, tmp_path):
    """Results gathered before a refusal are printed as JSON, then the error on stderr and its exit code."""
    from conftest import write_golden

    write_golden(project, "0.22", "v0.22.1")
    res = vline("golden", "verify", "--json", cwd=project, check_code=3,
                env=clean_env(CONFORMANCE_BUCKET="s3://b", AWS_ENDPOINT_URL="http://127.0.0.1:9",
                              AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1",
                              VLINE_CACHE=str(tmp_path / "c")))
    (row,) = json.loads(res.stdout)
    assert row["status"] == "unreachable"
