"""A project's own Dockerfile, as it is: [vline].dockerfile and [vline.build_args] map its ARG names to
vline's build variables (the reference project's real Dockerfile and compat.toml)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import snapshot, vline

FIXTURES = Path(__file__).parent / "fixtures"
MAPPING = """
[vline]
dockerfile = "Dockerfile"

[vline.build_args]
VLLM_REPO = "frontend_repo"
VLLM_REF = "frontend_ref"
VLLM_TARGET_VERSION = "tag"
"""
REV = "1" * 40


@pytest.fixture
def vcr(tmp_path: Path) -> Path:
    d = tmp_path / "vcr"
    d.mkdir()
    (d / "compat.toml").write_text((FIXTURES / "capture" / "vcr" / "compat.toml").read_text() + MAPPING)
    (d / "Dockerfile").write_bytes((FIXTURES / "vcr" / "Dockerfile").read_bytes())
    return d


def differing(a: str, b: str) -> dict[int, tuple[str, str]]:
    la, lb = a.splitlines(), b.splitlines()
    assert len(la) == len(lb)
    return {i: (x, y) for i, (x, y) in enumerate(zip(la, lb), 1) if x != y}


def test_env_and_render_speak_the_projects_arg_names(vcr):
    env = json.loads(vline("env", "0.26", "--format", "json", cwd=vcr, check_code=0).stdout)
    assert env["VLLM_REPO"] == "https://github.com/vllm-project/vllm.git"
    assert env["VLLM_REF"] == "568afb3a13806beb53bb2e6bd518269357b237c0"
    assert env["VLLM_TARGET_VERSION"] == "v0.26.0"
    original = (vcr / "Dockerfile").read_text()
    rendered = vline("render", "0.26", cwd=vcr, check_code=0).stdout
    assert differing(original, rendered) == {
        17: ("ARG VLLM_REF=6e448d0ea9bf3d88d898b65449ca6dc2aec170ac",
             "ARG VLLM_REF=568afb3a13806beb53bb2e6bd518269357b237c0"),
        22: ("ARG VLLM_TARGET_VERSION=v0.27.1", "ARG VLLM_TARGET_VERSION=v0.26.0"),
    }
    vline("check", cwd=vcr, check_code=0)  # its defaults are the default line's (0.27)


def test_check_reports_an_arg_default_that_drifted(vcr):
    path = vcr / "Dockerfile"
    path.write_text(path.read_text().replace("ARG VLLM_TARGET_VERSION=v0.27.1", "ARG VLLM_TARGET_VERSION=v0.26.0"))
    res = vline("check", cwd=vcr, check_code=1)
    assert "Dockerfile:22: error: ARG VLLM_TARGET_VERSION defaults to v0.26.0, the default line 0.27 has v0.27.1" \
        in res.stdout


def test_roll_moves_the_literal_arg_defaults_and_nothing_else(vcr):
    original = (vcr / "Dockerfile").read_text()
    res = vline("roll", "v0.28.0", "--rev", REV, cwd=vcr, check_code=0)
    assert "Dockerfile" in res.stderr
    now = (vcr / "Dockerfile").read_text()
    assert differing(original, now) == {
        17: ("ARG VLLM_REF=6e448d0ea9bf3d88d898b65449ca6dc2aec170ac", f"ARG VLLM_REF={REV}"),
        22: ("ARG VLLM_TARGET_VERSION=v0.27.1", "ARG VLLM_TARGET_VERSION=v0.28.0"),
    }
    vline("check", cwd=vcr, check_code=0)


def test_a_plain_dockerfile_is_found_without_the_setting(vcr):
    compat = vcr / "compat.toml"
    compat.write_text(compat.read_text().replace('dockerfile = "Dockerfile"\n', ""))
    rendered = vline("render", "0.25", cwd=vcr, check_code=0).stdout
    assert "ARG VLLM_TARGET_VERSION=v0.25.1\n" in rendered


@pytest.mark.parametrize("entry,words", [
    ('VLLM_REF = "frontend_rev"', "is not a build variable"),
    ('"VLLM REF" = "frontend_ref"', "is not an ARG name"),
    ('VLLM_REF = 5', "is not a build variable"),
])
def test_bad_build_args_are_named_with_their_line(vcr, entry, words):
    compat = vcr / "compat.toml"
    compat.write_text(compat.read_text().replace('VLLM_REF = "frontend_ref"', entry))
    before = snapshot(vcr)
    res = vline("check", cwd=vcr, check_code=1)
    line = next(i for i, ln in enumerate(compat.read_text().splitlines(), 1) if ln == entry)
    assert f"compat.toml:{line}: error: [vline.build_args]" in res.stdout and words in res.stdout
    vline("roll", "v0.28.0", "--rev", REV, cwd=vcr, check_code=2)
    assert snapshot(vcr) == before


@pytest.mark.parametrize("value,words", [("../Dockerfile", "inside"), ("/etc/passwd", "relative")])
def test_the_dockerfile_setting_stays_in_the_project(vcr, value, words):
    compat = vcr / "compat.toml"
    compat.write_text(compat.read_text().replace('dockerfile = "Dockerfile"', f'dockerfile = "{value}"'))
    res = vline("check", cwd=vcr, check_code=1)
    assert "error: [vline] dockerfile:" in res.stdout and words in res.stdout
