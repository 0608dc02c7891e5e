"""The repo's own files: the README's commands, .ci/run and the workflow stay in step and valid."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import REPO, clean_env, vline


def readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return [b.strip() for b in blocks[:2]]


def test_ci_runs_the_readme_test_command():
    _, test_cmd = readme_commands()
    assert "pytest" in test_cmd
    assert test_cmd in (REPO / ".ci" / "run").read_text()


def test_readme_main_job_works_on_the_repo_compat(tmp_path):
    """The main job minus the install: on the repo's compat.toml, and as the embedded default elsewhere."""
    main_cmd, _ = readme_commands()
    steps = [s.strip() for s in main_cmd.split("&&")]
    assert steps[0] == "pip install ."
    for cwd in (REPO, tmp_path):
        for step in steps[1:]:
            args = step.split()[1:]
            assert step.split()[0] == "vline"
            res = vline(*args, cwd=cwd, check_code=0)
        rows = __import__("json").loads(res.stdout)["include"]
        assert [r["line"] for r in rows] == ["nightly", "0.23", "0.22", "0.21"]


def test_embedded_default_is_the_repo_compat():
    from vline import resources

    assert resources.default_compat().read_bytes() == (REPO / "compat.toml").read_bytes()
    assert sorted(p.name for p in resources.matrix_dir().glob("*.toml")) == ["ci.toml", "docker.toml", "gate.toml", "python.toml",
                                                                          "release.toml"]


def test_workflow_is_clean_under_actionlint():
    exe = shutil.which("actionlint")
    if exe is None:
        pytest.fail("actionlint is not installed: pip install -e '.[test]'")
    res = subprocess.run([exe, str(REPO / ".github" / "workflows" / "ci.yml")], capture_output=True, text=True,
                         env=clean_env())
    assert res.returncode == 0, res.stdout + res.stderr


def test_workflow_uses_vline_matrix_output():
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    assert "vline matrix ci --github-output matrix" in text
    assert "fromJSON(needs.matrix.outputs.matrix)" in text


def test_readme_main_command_in_a_fresh_venv(tmp_path):
    """`pip install .` into a new virtualenv, then the main job, run away from the repo: the wheel must carry
    the embedded compat.toml and matrix kinds."""
    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    main_cmd, _ = readme_commands()
    work = tmp_path / "elsewhere"
    work.mkdir()
    script = f'. "{venv}/bin/activate" && cd "{REPO}" && pip install -q "{REPO}" && cd "{work}" && ' + \
        main_cmd.split("&&", 1)[1]
    env = clean_env()
    env.pop("PYTHONPATH", None)
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = __import__("json").loads(res.stdout.strip().splitlines()[-1])["include"]
    assert [r["line"] for r in rows] == ["nightly", "0.23", "0.22", "0.21"]
    assert "embedded default" in res.stderr
    site = next(venv.glob("lib/python*/site-packages"))
    assert (site / "vline" / "_bundled" / "compat.toml").read_bytes() == (REPO / "compat.toml").read_bytes()
