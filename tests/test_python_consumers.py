"""Python consumers: a plugin that pins `vllm` in pyproject.toml or requirements files, and a Rust crate
embedding vLLM's Python (PyO3) that needs both pins. Real wheels, real pip installs from a local
find-links folder (no index reachable), real git for the committed bytes."""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

import wheels
from conftest import clean_env, snapshot, vline
from gitworld import git

VERSIONS = ["0.21.0", "0.22.1", "0.23.0", "0.10.1.1", "0.8.5.post1", "0.26.1rc0", "0.24.0.dev5"]
REV = "0decac0d96c42b49572498019f0a0e3600f50398"

COMPAT = textwrap.dedent(f"""\
    [vline]
    upstream = "https://github.com/vllm-project/vllm.git"

    [[vllm]]
    line = "nightly"
    tag = "nightly"
    protocol_rev = "{"1" * 40}"
    python_requirement = "vllm==0.24.0.dev5"   # the nightly wheel the project tests against

    [[vllm]]
    line = "rc"
    tag = "v0.26.1rc0"
    protocol_rev = "{"2" * 40}"

    [[vllm]]
    line = "0.23"
    tag = "v0.23.0"
    protocol_rev = "{"3" * 40}"
    default = true

    [[vllm]]
    line = "0.22"
    tag = "v0.22.1"
    protocol_rev = "{REV}"

    [[vllm]]
    line = "0.10"
    tag = "v0.10.1.1"
    protocol_rev = "{"4" * 40}"

    [[vllm]]
    line = "0.8"
    tag = "v0.8.5.post1"
    protocol_rev = "{"5" * 40}"
    """)
PYPROJECT = textwrap.dedent("""\
    [project]
    name = "vllm-plugin-example"   # a plugin that imports vllm
    version = "0.1.0"
    dependencies = [
        "numpy>=1",
        'vllm[audio] >=0.8, <0.27 ; python_version >= "3.9"',  # documented and now enforced
    ]

    [dependency-groups]
    dev = ["pytest"]
    """)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse")
    for v in VERSIONS:
        wheels.build(folder, v)
    return folder


def pip_env(wheelhouse: Path, **extra: str) -> dict[str, str]:
    return clean_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_DISABLE_PIP_VERSION_CHECK="1",
                     VLINE_INSTALLER="pip", **extra)


def commit_all(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the plugin")


@pytest.fixture
def plugin(tmp_path) -> Path:
    repo = tmp_path / "plugin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "compat.toml").write_text(COMPAT)
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / "requirements-test.txt").write_text("pytest>=8\nvllm==0.23.0  # the default line\n")
    commit_all(repo)
    return repo


@pytest.mark.cargo  # slower: real installs (one environment per line, reused)
def test_each_python_runs_every_line_with_its_vllm(plugin, wheelhouse, tmp_path):
    env = pip_env(wheelhouse, VLINE_CACHE=str(tmp_path / "cache"))
    cmd = ["each", "--python", "--json", "--", "python", "-c", "import vllm, sys; print(vllm.__version__, sys.prefix)"]
    res = vline(*cmd, cwd=plugin, env=env, check_code=0)
    rows = {r["line"]: r for r in json.loads(res.stdout)}  # --json: one object per line
    want = {"nightly": "0.24.0.dev5", "rc": "0.26.1rc0", "0.23": "0.23.0", "0.22": "0.22.1", "0.10": "0.10.1.1",
            "0.8": "0.8.5.post1"}
    prefixes = set()
    for line, version in want.items():
        out = Path(rows[line]["log"]).read_text().strip().splitlines()[-1]
        got, prefix = out.split(" ", 1)
        assert got == version, (line, out)
        prefixes.add(prefix)
    assert len(prefixes) == len(want)  # each line its own environment
    # inside each checkout the plugin's own files ask for that line's vllm (pip install . agrees)
    pyproject = Path(rows["0.22"]["checkout"]) / "pyproject.toml"
    assert "'vllm[audio]==0.22.1 ; python_version >= \"3.9\"'" in pyproject.read_text()
    # reused: a second run installs nothing (the environments are keyed by requirement and interpreter)
    (tmp_path / "empty").mkdir()
    env_no_wheels = pip_env(tmp_path / "empty", VLINE_CACHE=str(tmp_path / "cache"))
    again = {r["line"]: r for r in json.loads(vline(*cmd, cwd=plugin, env=env_no_wheels, check_code=0).stdout)}
    assert all(Path(again[ln]["log"]).read_text().split()[-2] == v for ln, v in want.items())
    # a line whose vllm cannot be installed fails alone, with the installer's reason
    (plugin / "compat.toml").write_text(COMPAT.replace("vllm==0.24.0.dev5", "vllm==0.24.0.dev6"))
    res = vline("each", "--python", "nightly", "0.22", "--json", "--", "true", cwd=plugin, env=env, check_code=1)
    rows = {r["line"]: r for r in json.loads(res.stdout)}
    assert rows["0.22"]["status"] == "passed" and rows["nightly"]["status"] == "failed"
    assert "could not install vllm==0.24.0.dev6" in rows["nightly"]["error"]


def test_pin_python_rewrites_only_the_requirement_and_restores_the_committed_bytes(plugin):
    committed = {p: (plugin / p).read_bytes() for p in ("pyproject.toml", "requirements-test.txt")}
    res = vline("pin", "0.22", "--python", cwd=plugin, check_code=0)
    assert res.stdout == "VLLM_TARGET_VERSION=v0.22.1\nVLLM_PIP_SPEC=vllm==0.22.1\n"
    text = (plugin / "pyproject.toml").read_text()
    assert text == PYPROJECT.replace("'vllm[audio] >=0.8, <0.27 ; python_version >= \"3.9\"'",
                                     "'vllm[audio]==0.22.1 ; python_version >= \"3.9\"'")
    assert (plugin / "requirements-test.txt").read_text() == "pytest>=8\nvllm==0.22.1  # the default line\n"
    vline("pin", "nightly", "--python", "requirements-test.txt", cwd=plugin, check_code=0)
    assert (plugin / "requirements-test.txt").read_text() == "pytest>=8\nvllm==0.24.0.dev5  # the default line\n"
    vline("pin", "--python", cwd=plugin, check_code=0)  # back to the default line: the committed bytes
    assert {p: (plugin / p).read_bytes() for p in committed} == committed
    vline("check", cwd=plugin, check_code=0)


def test_pin_python_refuses_what_it_cannot_pin_and_writes_nothing(plugin):
    (plugin / "requirements-lock.txt").write_text("vllm==0.23.0 \\\n    --hash=sha256:" + "a" * 64 + "\n")
    (plugin / "requirements-docs.txt").write_text("mkdocs\n")
    before = snapshot(plugin)
    res = vline("pin", "0.22", "--python", cwd=plugin, check_code=2)
    assert "requirements-docs.txt: error: no requirement on vllm" in res.stderr
    assert snapshot(plugin) == before
    res = vline("pin", "0.22", "--python", "pyproject.toml", "requirements-lock.txt", cwd=plugin, check_code=2)
    assert "requirements-lock.txt:1: error:" in res.stderr and "hash-pinned" in res.stderr
    assert snapshot(plugin) == before
    res = vline("pin", "0.22", "requirements-lock.txt", cwd=plugin, check_code=2)
    assert "--python" in res.stderr


def test_check_names_a_range_that_excludes_lines_and_an_exact_pin_that_drifted(plugin):
    (plugin / "pyproject.toml").write_text(PYPROJECT.replace(">=0.8, <0.27", ">=0.10,<0.22"))
    (plugin / "requirements-test.txt").write_text("pytest>=8\nvllm==0.22.1\n")
    res = vline("check", cwd=plugin, check_code=1)
    line = next(i for i, ln in enumerate(PYPROJECT.splitlines(), 1) if "vllm[audio]" in ln)
    assert (f"pyproject.toml:{line}: error: vllm[audio] >=0.10,<0.22 ; python_version >= \"3.9\" excludes lines of "
            "the window: rc (0.26.1rc0), 0.23 (0.23.0), 0.22 (0.22.1), 0.8 (0.8.5.post1)") in res.stdout
    assert "requirements-test.txt:2: error: vllm==0.22.1 pins vllm 0.22.1, the default line 0.23 is 0.23.0" in res.stdout


@pytest.mark.cargo
def test_a_rust_crate_embedding_vllm_python_pins_both(world, tmp_path, wheelhouse):
    ws = world.new_workspace(tmp_path / "pyo3")
    (ws / "pyproject.toml").write_text('[project]\nname = "sim-py"\nversion = "0.4.2"\n'
                                       'dependencies = ["vllm==0.23.0"]\n')
    git(ws, "init", "-q", "-b", "main")
    commit_all(ws)
    vline("check", cwd=ws, check_code=0)
    res = vline("pin", "0.22", "--python", cwd=ws, check_code=0)
    assert res.stdout == "VLLM_TARGET_VERSION=v0.22.1\nVLLM_PIP_SPEC=vllm==0.22.1\n"
    assert "vllm==0.22.1" in (ws / "pyproject.toml").read_text()
    assert world.revs["fork"] in (ws / "Cargo.toml").read_text()
    subprocess.run(["cargo", "build", "--locked", "-q"], cwd=ws, check=True, capture_output=True)
    vline("pin", "--python", cwd=ws, check_code=0)
    vline("check", cwd=ws, check_code=0)
    env = pip_env(wheelhouse, VLINE_CACHE=str(tmp_path / "cache"))
    res = vline("each", "--python", "0.23", "0.22", "--json", "--", "sh", "-c",
                'cargo run -q -p sim && python -c "import vllm; print(vllm.__version__)"', cwd=ws, env=env,
                check_code=0)
    outs = {r["line"]: Path(r["log"]).read_text().split() for r in json.loads(res.stdout)}
    assert outs["0.23"][-3:] == ["v0.23.0", "0", "0.23.0"]
    assert outs["0.22"][-3:] == ["v0.22.1+backport", "0", "0.22.1"]


@pytest.mark.parametrize("value,words", [("numpy==1", "must require vllm"), ("vllm===", "is not a pip requirement")])
def test_a_bad_python_requirement_is_named_with_its_line(plugin, value, words):
    (plugin / "compat.toml").write_text(COMPAT.replace("vllm==0.24.0.dev5", value))
    res = vline("check", cwd=plugin, check_code=1)
    line = next(i for i, ln in enumerate(COMPAT.splitlines(), 1) if ln.startswith("python_requirement"))
    assert f"compat.toml:{line}: error: [[vllm]] line 'nightly': python_requirement:" in res.stdout and words in res.stdout


def test_nightly_from_a_wheel_index(plugin):
    text = COMPAT.replace('upstream = "https://github.com/vllm-project/vllm.git"',
                          'upstream = "https://github.com/vllm-project/vllm.git"\n'
                          'python_index = "https://wheels.vllm.ai/nightly"')
    (plugin / "compat.toml").write_text(text.replace('python_requirement = "vllm==0.24.0.dev5"', ""))
    env = json.loads(vline("env", "nightly", "--format", "json", cwd=plugin, check_code=0).stdout)
    assert env["VLLM_PIP_SPEC"] == "vllm"
    from vline.venvs import _steps

    install = _steps("pip", "python3", Path("/v"), "vllm", "https://wheels.vllm.ai/nightly")[-1]
    assert install[-4:] == ["--pre", "--extra-index-url", "https://wheels.vllm.ai/nightly", "vllm"]
    (plugin / "compat.toml").write_text(COMPAT.replace('python_requirement = "vllm==0.24.0.dev5"', ""))
    env = json.loads(vline("env", "nightly", "--format", "json", cwd=plugin, check_code=0).stdout)
    assert env["VLLM_PIP_SPEC"] == f"vllm @ git+https://github.com/vllm-project/vllm.git@{'1' * 40}"


def test_each_python_with_uv(plugin, wheelhouse, tmp_path):
    """uv when it is on PATH (here from the test extra): the same environments, its own index settings."""
    import shutil

    uv = shutil.which("uv")
    assert uv, "uv is a test dependency (pyproject's test extra)"
    env = clean_env(UV_OFFLINE="1", UV_FIND_LINKS=str(wheelhouse), UV_CACHE_DIR=str(tmp_path / "uv-cache"),
                    VLINE_CACHE=str(tmp_path / "cache"), VLINE_INSTALLER="uv")
    res = vline("each", "--python", "0.23", "0.10", "--json", "--", "python", "-c",
                "import vllm; print(vllm.__version__)", cwd=plugin, env=env, check_code=0)
    got = {r["line"]: Path(r["log"]).read_text().split()[-1] for r in json.loads(res.stdout)}
    assert got == {"0.23": "0.23.0", "0.10": "0.10.1.1"}
    assert any("uv pip install" in Path(r["log"]).read_text() for r in json.loads(res.stdout))
