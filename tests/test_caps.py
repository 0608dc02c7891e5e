"""Capability cfgs per line: [[capability]] in compat.toml, `vline caps`, and the generated table a build.rs
includes, proven with real cargo builds of the git fixtures (0.23 adds EngineCoreRequest.priority)."""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import snapshot, vline

CAPS = textwrap.dedent("""\

    [[capability]]
    name = "vllm_priority"
    since = "0.23"
    description = "EngineCoreRequest has a priority field"

    [[capability]]
    name = "vllm_future"
    since = "nightly"
    """)

MAIN = textwrap.dedent("""\
    use vllm_engine_core_client::{EngineCoreRequest, WIRE};

    #[cfg(vllm_priority)]
    fn priority(r: &EngineCoreRequest) -> i32 { r.priority }
    #[cfg(not(vllm_priority))]
    fn priority(_r: &EngineCoreRequest) -> i32 { -1 }

    fn main() {
        let future = if cfg!(vllm_future) { "future" } else { "now" };
        println!("{} {} {} {}", WIRE, priority(&EngineCoreRequest::default()), future, env!("VLLM_TARGET_VERSION"));
    }
    """)

BUILD_RS = 'include!("../vline_caps.rs");\nfn main() { vline_caps::emit(); }\n'


@pytest.fixture
def capsws(workspace: Path) -> Path:
    with (workspace / "compat.toml").open("a") as f:
        f.write(CAPS)
    (workspace / "sim" / "src" / "main.rs").write_text(MAIN)
    (workspace / "sim" / "build.rs").write_text(BUILD_RS)
    return workspace


def cargo_run(ws: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "VLLM_TARGET_VERSION"}
    full.update(env or {})
    return subprocess.run(["cargo", "run", "-q", "-p", "sim"], cwd=ws, env=full, capture_output=True, text=True)


def test_caps_per_line_in_every_format(capsws):
    assert vline("caps", cwd=capsws, check_code=0).stdout == "vllm_priority\n"  # the default line, 0.23
    assert vline("caps", "0.22", cwd=capsws, check_code=0).stdout == ""
    assert vline("caps", "nightly", cwd=capsws, check_code=0).stdout == "vllm_priority\nvllm_future\n"
    assert vline("caps", "0.22", "--format", "cargo", cwd=capsws, check_code=0).stdout == (
        "cargo::rustc-check-cfg=cfg(vllm_priority)\ncargo::rustc-check-cfg=cfg(vllm_future)\n")
    assert vline("caps", "0.23", "--format", "cargo", cwd=capsws, check_code=0).stdout.endswith(
        "cargo::rustc-cfg=vllm_priority\n")
    doc = json.loads(vline("caps", "0.22", "--json", cwd=capsws, check_code=0).stdout)
    assert doc == {"line": "0.22", "tag": "v0.22.1", "on": [], "off": ["vllm_priority", "vllm_future"]}
    res = vline("caps", "0.99", cwd=capsws, check_code=2)
    assert "unknown line" in res.stderr


@pytest.mark.cargo
def test_a_gated_function_builds_on_the_lines_that_have_it_and_only_there(capsws):
    # declared but not generated: check says what to run, and nothing builds without the table
    res = vline("check", cwd=capsws, check_code=1)
    assert "vline_caps.rs:1: error: missing" in res.stdout and "vline caps --write" in res.stdout
    out = vline("caps", "--write", cwd=capsws, check_code=0).stdout
    assert out == "changed=true\nfile=vline_caps.rs\n"
    assert vline("caps", "--write", cwd=capsws, check_code=0).stdout.startswith("changed=false")
    vline("check", cwd=capsws, check_code=0)
    seen = {}
    for line, tag in (("0.23", "v0.23.0"), ("0.22", "v0.22.1"), ("nightly", "nightly")):
        vline("pin", line, cwd=capsws, check_code=0)
        res = cargo_run(capsws, {"VLLM_TARGET_VERSION": tag})  # what `vline pin` exports in CI
        assert res.returncode == 0, res.stderr
        seen[line] = res.stdout.strip()
    assert seen == {"0.23": "v0.23.0 0 now v0.23.0", "0.22": "v0.22.1+backport -1 now v0.22.1",
                    "nightly": "main 0 future nightly"}
    # without the variable the build takes the default line: the committed pin and its cfgs agree
    vline("pin", "0.23", cwd=capsws, check_code=0)
    assert cargo_run(capsws).stdout.strip() == "v0.23.0 0 now v0.23.0"
    # the cfg is what makes 0.22 build: told it has 0.23's capability, its crate has no such field
    vline("pin", "0.22", cwd=capsws, check_code=0)
    res = cargo_run(capsws, {"VLLM_TARGET_VERSION": "v0.23.0"})
    assert res.returncode != 0 and "priority" in res.stderr


@pytest.mark.cargo
def test_a_misspelled_cfg_warns_through_check_cfg(capsws):
    vline("caps", "--write", cwd=capsws, check_code=0)
    main = capsws / "sim" / "src" / "main.rs"
    main.write_text(main.read_text().replace("#[cfg(not(vllm_priority))]", "#[cfg(not(vllm_prority))]")
                    .replace("#[cfg(vllm_priority)]\nfn priority(r: &EngineCoreRequest) -> i32 { r.priority }\n", ""))
    res = cargo_run(capsws, {"VLLM_TARGET_VERSION": "v0.23.0"})
    assert res.returncode == 0, res.stderr
    assert "unexpected `cfg` condition name: `vllm_prority`" in res.stderr


def test_editing_since_without_regenerating_is_a_check_error(capsws):
    vline("caps", "--write", cwd=capsws, check_code=0)
    compat = capsws / "compat.toml"
    compat.write_text(compat.read_text().replace('since = "0.23"', 'since = "0.22"'))
    res = vline("check", cwd=capsws, check_code=1)
    assert "vline_caps.rs:" in res.stdout and "stale" in res.stdout and "vline caps --write" in res.stdout
    assert vline("caps", "0.22", cwd=capsws, check_code=0).stdout == "vllm_priority\n"
    vline("caps", "--write", cwd=capsws, check_code=0)
    vline("check", cwd=capsws, check_code=0)


@pytest.mark.cargo
def test_roll_keeps_the_table_current(capsws, world):
    """The table holds the default line's tag: a roll that moves the default rewrites it in the same command."""
    vline("caps", "--write", cwd=capsws, check_code=0)
    assert 'DEFAULT_TAG: &str = "v0.23.0"' in (capsws / "vline_caps.rs").read_text()
    res = vline("roll", "v0.24.0", "--rev", world.revs["main"], cwd=capsws, check_code=0)
    assert "vline_caps.rs" in res.stderr  # named among the files it wrote
    assert 'DEFAULT_TAG: &str = "v0.24.0"' in (capsws / "vline_caps.rs").read_text()
    vline("check", cwd=capsws, check_code=0)
    assert cargo_run(capsws).stdout.strip() == "main 0 now v0.24.0"


@pytest.mark.parametrize("body,words", [
    ('name = "vllm-priority"\nsince = "0.23"', "not a cfg name"),
    ('name = "x"\nsince = "v0.23"', "neither a line X.Y nor 'nightly'"),
    ('name = "x"', "missing required key 'since'"),
    ('name = "x"\nsince = "0.23"\n\n[[capability]]\nname = "x"\nsince = "0.22"', "duplicate capability"),
    ('name = "x"\nsince = 23', "expected a one-line string"),
])
def test_bad_capabilities_are_named_with_their_line(capsws, body, words):
    compat = capsws / "compat.toml"
    text = compat.read_text().split("\n[[capability]]")[0] + "\n[[capability]]\n" + body + "\n"
    compat.write_text(text)
    before = snapshot(capsws)
    res = vline("check", cwd=capsws, check_code=1)
    hits = [ln for ln in res.stdout.splitlines() if words in ln]
    assert hits and hits[0].startswith("compat.toml:"), res.stdout
    vline("caps", "--write", cwd=capsws, check_code=2)
    assert snapshot(capsws) == before
