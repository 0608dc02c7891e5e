"""`vline matrix` and `vline env`: rows and variables derived from compat.toml."""
from __future__ import annotations

import json
import shlex
import subprocess
import textwrap

import pytest
from conftest import clean_env, error_lines, vline, write_golden

ROW_KEYS = ["line", "tag", "protocol_rev", "patch_repo", "patch_rev", "default", "fidelity_validated",
            "tracker", "has_goldens", "image_tag"]


def matrix(project, *args):
    res = vline("matrix", *args, cwd=project, check_code=0)
    assert res.stdout.count("\n") == 1 and " " not in res.stdout  # compact, one line
    return json.loads(res.stdout)["include"]


def test_ci_rows_newest_first_with_every_field(project):
    rows = matrix(project)
    assert [r["line"] for r in rows] == ["nightly", "0.23", "0.22", "0.21"]
    assert all(list(r) == ROW_KEYS for r in rows)
    by = {r["line"]: r for r in rows}
    assert by["0.23"]["default"] is True and by["nightly"]["tracker"] is True
    assert by["0.22"]["patch_repo"] == "https://github.com/wseaton/vllm.git"
    assert by["0.23"]["patch_repo"] == "" and by["0.23"]["patch_rev"] == ""
    assert by["0.21"]["protocol_rev"] == by["0.22"]["protocol_rev"]
    assert by["0.21"]["image_tag"] == "vllm0.21" and by["nightly"]["image_tag"] == "vllmnightly"
    assert not any(r["has_goldens"] for r in rows)


def test_order_follows_versions_not_file_position(project):
    text = (project / "compat.toml").read_text()
    blocks = text.split("\n[[vllm]]")
    (project / "compat.toml").write_text(blocks[0] + "".join("\n[[vllm]]" + b for b in reversed(blocks[1:])))
    assert [r["line"] for r in matrix(project)] == ["nightly", "0.23", "0.22", "0.21"]


def test_release_is_stable_lines_times_platforms(project):
    rows = matrix(project, "release")
    assert len(rows) == 3 * 3
    assert {r["line"] for r in rows} == {"0.23", "0.22", "0.21"}
    assert {(r["runner"], r["target"], r["os"]) for r in rows} == {
        ("ubuntu-latest", "x86_64-unknown-linux-musl", "linux"),
        ("ubuntu-24.04-arm", "aarch64-unknown-linux-musl", "linux"),
        ("macos-14", "aarch64-apple-darwin", "macos")}
    assert "tracker" not in rows[0]


def test_docker_rows_carry_the_frontend_source(project):
    by = {r["line"]: r for r in matrix(project, "docker")}
    assert (by["0.22"]["frontend_repo"], by["0.22"]["frontend_ref"]) == (
        "https://github.com/wseaton/vllm.git", "b48f2434d7f523840a74e9f4b96b4499c1323a8f")
    assert (by["0.23"]["frontend_repo"], by["0.23"]["frontend_ref"]) == (
        "https://github.com/vllm-project/vllm.git", "17bc1445562435b608041d434e9738440954159c")


def test_only(project):
    assert [r["line"] for r in matrix(project, "--only", "0.21", "--only", "nightly")] == ["nightly", "0.21"]
    res = vline("matrix", "--only", "0.19", cwd=project, check_code=2)
    assert "unknown line '0.19'" in res.stderr and res.stdout == ""
    res = vline("matrix", "release", "--only", "nightly", cwd=project, check_code=1)
    assert "no rows" in res.stderr and res.stdout == ""


def test_unknown_kind(project):
    res = vline("matrix", "nope", cwd=project, check_code=2)
    assert "unknown matrix kind 'nope'" in res.stderr and "ci, docker, gate, python, release" in res.stderr


def test_user_kinds_add_and_override(project):
    (project / "matrix").mkdir()
    (project / "matrix" / "bench.toml").write_text(textwrap.dedent("""\
        description = "benchmarks on two GPUs, trackers only"
        lines = "trackers"
        fields = ["line", "tag"]
        [[axes.gpu]]
        gpu = "A100"
        [[axes.gpu]]
        gpu = "H100"
        """))
    (project / "matrix" / "ci.toml").write_text('lines = "stable"\nfields = ["line"]\n')
    assert matrix(project, "bench") == [{"line": "nightly", "tag": "nightly", "gpu": "A100"},
                                        {"line": "nightly", "tag": "nightly", "gpu": "H100"}]
    assert matrix(project) == [{"line": "0.23"}, {"line": "0.22"}, {"line": "0.21"}]
    listed = json.loads(vline("matrix", "--list", "--json", cwd=project, check_code=0).stdout)
    assert [k["kind"] for k in listed] == ["bench", "ci", "docker", "gate", "python", "release"]


def test_more_than_256_rows_is_refused(project):
    (project / "matrix").mkdir()
    axis = "".join(f'[[axes.shard]]\nshard = {i}\n' for i in range(65))
    (project / "matrix" / "big.toml").write_text('fields = ["line"]\n' + axis)
    res = vline("matrix", "big", cwd=project, check_code=1)
    assert "260 rows" in res.stderr and "256" in res.stderr and res.stdout == ""


@pytest.mark.parametrize("body,line,words", [
    ('lines = "some"\n', 1, "'some'"),
    ('description = "x"\nfields = ["line", "colour"]\n', 2, "unknown field 'colour'"),
    ('fields = ["line"]\n[[axes.p]]\nline = "x"\n', 2, "also a line field"),
    ('lines = "all\n', 1, "invalid TOML"),
])
def test_invalid_kind_file(project, body, line, words):
    (project / "matrix").mkdir()
    (project / "matrix" / "bad.toml").write_text(body)
    res = vline("matrix", "bad", cwd=project, check_code=2)
    (err,) = error_lines(res.stderr)
    assert err["file"] == "matrix/bad.toml" and err["line"] == str(line) and words in err["msg"]


def test_has_goldens_reads_the_manifest(project):
    write_golden(project, "0.22", "v0.22.1")
    by = {r["line"]: r["has_goldens"] for r in matrix(project)}
    assert by == {"nightly": False, "0.23": False, "0.22": True, "0.21": False}


def test_github_output(project, tmp_path):
    out = tmp_path / "out"
    summary = tmp_path / "summary"
    env = clean_env(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(out), GITHUB_STEP_SUMMARY=str(summary))
    res = vline("matrix", "--github-output", "matrix", cwd=project, env=env, check_code=0)
    name, _, value = out.read_text().partition("=")
    assert name == "matrix" and value == res.stdout  # single line: no heredoc needed
    assert "| nightly |" in summary.read_text()
    res = vline("matrix", "--github-output", "matrix", cwd=project, check_code=2)
    assert "GITHUB_OUTPUT" in res.stderr


def test_env_formats(project):
    sh = vline("env", "0.22", cwd=project, check_code=0).stdout
    assert all(ln.startswith("export ") for ln in sh.splitlines())  # eval'd, a build started later sees them
    values = dict(ln.removeprefix("export ").split("=", 1) for ln in sh.splitlines())
    assert values == {
        "LINE": "0.22", "TAG": "v0.22.1", "VLLM_TARGET_VERSION": "v0.22.1",
        "PROTOCOL_REV": "0decac0d96c42b49572498019f0a0e3600f50398",
        "PATCH_REPO": "https://github.com/wseaton/vllm.git", "PATCH_REV": "b48f2434d7f523840a74e9f4b96b4499c1323a8f",
        "FRONTEND_REPO": "https://github.com/wseaton/vllm.git",
        "FRONTEND_REF": "b48f2434d7f523840a74e9f4b96b4499c1323a8f", "IMAGE_TAG": "vllm0.22",
        "VLLM_PIP_SPEC": "vllm==0.22.1"}
    js = json.loads(vline("env", "0.23", "--format", "json", cwd=project, check_code=0).stdout)
    assert js["FRONTEND_REPO"] == "https://github.com/vllm-project/vllm.git"
    assert js["FRONTEND_REF"] == js["PROTOCOL_REV"] and js["PATCH_REPO"] == ""
    assert json.loads(vline("env", "0.23", "--json", cwd=project, check_code=0).stdout) == js
    gh = vline("env", "nightly", "--format", "github", cwd=project, check_code=0).stdout
    assert "VLLM_TARGET_VERSION=nightly\n" in gh and "IMAGE_TAG=vllmnightly\n" in gh


def test_env_sh_output_is_safe_to_eval(project):
    """`eval "$(vline env LINE)"` sets exactly the printed values in a real shell."""
    sh = vline("env", "0.21", cwd=project, check_code=0).stdout
    script = sh + 'printf "%s|%s|%s" "$LINE" "$VLLM_TARGET_VERSION" "$PATCH_REPO"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "0.21|v0.21.0|https://github.com/wseaton/vllm.git"
    assert all(shlex.split(ln) for ln in sh.splitlines())


def test_env_target_env_name_comes_from_settings(project):
    text = (project / "compat.toml").read_text().replace('"VLLM_TARGET_VERSION"', '"SIM_VLLM_TAG"')
    (project / "compat.toml").write_text(text)
    out = vline("env", "0.23", cwd=project, check_code=0).stdout
    assert "SIM_VLLM_TAG=v0.23.0\n" in out and "VLLM_TARGET_VERSION" not in out
    assert vline("env", "0.9", cwd=project, check_code=2).stdout == ""


def test_matrix_shapes_users_already_have(project):
    import tomllib

    from conftest import write_golden

    bare = json.loads(vline("matrix", "--rows", cwd=project, check_code=0).stdout)
    full = json.loads(vline("matrix", cwd=project, check_code=0).stdout)
    assert bare == full["include"]  # `include: ${{ fromJSON(...) }}`
    # a kind selects rows by field: the built-in gate kind takes the lines with goldens only
    res = vline("matrix", "gate", cwd=project, check_code=1)
    assert "no rows" in res.stderr and "has_goldens = true" in res.stderr
    write_golden(project, "0.22", "v0.22.1")
    gate = json.loads(vline("matrix", "gate", cwd=project, check_code=0).stdout)["include"]
    assert [r["line"] for r in gate] == ["0.22"] and gate[0]["has_goldens"] is True
    (project / "matrix").mkdir()
    (project / "matrix" / "validated.toml").write_text('lines = "stable"\nwhere = { default = true }\n'
                                                       'fields = ["line", "vllm_pip_spec"]\n')
    rows = json.loads(vline("matrix", "validated", "--rows", cwd=project, check_code=0).stdout)
    lines = tomllib.loads((project / "compat.toml").read_text())["vllm"]
    want = [{"line": ln["line"], "vllm_pip_spec": f"vllm=={ln['tag'][1:]}"} for ln in lines if ln.get("default")]
    assert want and rows == want
    (project / "matrix" / "validated.toml").write_text('where = { fidelity = true }\n')
    res = vline("matrix", "validated", cwd=project, check_code=2)
    assert "validated.toml:1: error: where: unknown field 'fidelity'" in res.stderr


def test_unknown_lines_get_a_suggestion(project):
    res = vline("env", "v0.22.1", cwd=project, check_code=2)
    assert "did you mean 0.22 (tag v0.22.1)?" in res.stderr
    res = vline("pin", "nightyl", cwd=project, check_code=2)
    assert "did you mean nightly?" in res.stderr
