"""The fast path accepts exactly what the typer definition accepts, with the same parameters, and hands
everything else to typer: one definition of the command line."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vline import _cli_spec, fastpath, invoke
from vline.fastpath import FAST_COMMANDS

EXAMPLES = int(os.environ.get("VLINE_FUZZ_EXAMPLES", "400"))


def test_the_table_is_derived_from_the_typer_definitions():
    """Regenerate with `python -m vline.fastpath --write` when cli.py changes."""
    assert Path(_cli_spec.__file__).read_text() == fastpath.generate()


@pytest.mark.parametrize("change", ["range", "envvar", "case-blind choice", "checked path", "callback"])
def test_a_parameter_the_table_cannot_hold_stops_the_generator(change, monkeypatch):
    """The table would otherwise be byte-identical while typer parses differently (an IntRange, an envvar...)."""
    import click
    import typer.main

    real = typer.main.get_command

    def changed(app):
        group = real(app)
        params = {p.name: p for p in group.commands["fingerprint"].params}
        if change == "range":
            params["tp"].type = click.IntRange(min=1)
        elif change == "envvar":
            params["gpu"].envvar = "VLINE_GPU"
        elif change == "case-blind choice":
            params = {p.name: p for p in group.commands["env"].params}
            params["fmt"].type.case_sensitive = False
        elif change == "checked path":
            params["trace"].type.exists = True
        else:
            params["model"].callback = lambda ctx, param, value: value
        return group

    monkeypatch.setattr(typer.main, "get_command", changed)
    with pytest.raises(SystemExit, match="means more than the fast path's table holds"):
        fastpath.generate()


def typer_parse(argv: list[str], monkeypatch) -> tuple[str, dict, str | None] | None:
    """What typer hands the command for argv, or None when typer refuses it (or answers it itself)."""
    from vline import cli

    seen: dict = {}
    for name in FAST_COMMANDS:
        attr = name.replace(" ", "_")  # "golden fetch" runs invoke.golden_fetch
        monkeypatch.setattr(invoke, attr, lambda _n=attr, **kw: seen.update(command=_n, params=kw))
    monkeypatch.setattr(invoke, "root", lambda compat, version: seen.update(compat=compat))
    try:
        cli.run_typer(list(argv))
    except SystemExit as e:
        if e.code not in (0, None) or "command" not in seen:
            return None
    return seen["command"], seen["params"], seen.get("compat")


def same(a: dict, b: dict) -> bool:
    return a == b and all(type(a[k]) is type(b[k]) for k in a)


COMMON = [
    ["matrix"], ["matrix", "ci"], ["matrix", "docker", "--only", "0.22"], ["matrix", "--github-output", "matrix"],
    ["matrix", "--list", "--json"], ["matrix", "-l"], ["--compat", "c.toml", "matrix", "release"],
    ["matrix", "--compat=c.toml", "--only=0.22", "--only", "nightly"],
    ["env", "0.22"], ["env", "nightly", "--format", "github"], ["env", "0.22", "--json"], ["env", "--format=sh", "0.21"],
    ["pin"], ["pin", "0.22"], ["pin", "0.22", "--no-update"], ["pin", "--rev", "a" * 40, "nightly"],
    ["check"], ["check", "--json"], ["check", "--compat", "x/compat.toml"],
    ["fingerprint", "--gpu", "A100", "--vllm-tag", "v0.22.1", "--model", "facebook/opt-125m", "--tp", "1",
     "--gpu-memory-utilization", "0.85", "--max-model-len", "2048", "--max-num-seqs", "64", "--block-size", "16",
     "--no-enforce-eager", "--prefix-caching"],
    ["fingerprint", "--trace", "golden.jsonl.gz", "--json"], ["fingerprint", "--gpu", "A100", "--engine-config", "a=1"],
    ["env", "--", "0.22"], ["matrix", "-"],
    ["golden", "fetch"], ["golden", "fetch", "--line", "0.22", "--bucket", "s3://b/p"], ["golden", "verify", "--json"],
    ["--compat", "c.toml", "golden", "verify", "--bucket=s3://b", "--line=nightly"],
    ["gate", "0.22", "--", "cargo", "test", "--release"], ["gate", "nightly"], ["gate", "0.22", "--json", "--", "true"],
    ["gate", "0.22", "--bucket", "s3://b/p", "--evidence", "ev", "--", "sh", "-c", "exit 0"],
    ["gate", "0.22", "--", "--json"], ["gate", "0.22", "replay", "--json"],
]


@pytest.mark.parametrize("argv", COMMON, ids=" ".join)
def test_what_ci_legs_run_takes_the_fast_path_and_means_the_same(argv, monkeypatch):
    fast = fastpath.parse(argv)
    assert fast is not None, argv
    slow = typer_parse(argv, monkeypatch)
    assert slow is not None
    assert (fast.command, fast.compat) == (slow[0], slow[2]) and same(fast.params, slow[1]), (fast, slow)


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["-h"], ["--version"], ["-V"], ["matrix", "--help"], ["env", "-h"], ["env"],
    ["matrix", "--nope"], ["pin", "--update=yes"], ["fingerprint", "--tp", "one"], ["env", "0.22", "--format", "xml"],
    ["matrix", "a", "b"], ["show"], ["each", "--", "true"], ["golden", "list"], ["--compat"], ["matrix", "--only"],
    ["check", "-lj"], ["golden"], ["golden", "fetch", "--help"], ["golden fetch"],
    ["golden", "--help", "fetch"], ["golden", "fetch", "extra"], ["golden", "upload"], ["golden", "golden", "fetch"],
    ["gate"], ["gate", "--help"], ["gate", "0.22", "cargo", "--release"], ["gate", "0.22", "--evidence"],
])
def test_everything_else_goes_to_typer(argv):
    assert fastpath.parse(argv) is None


def test_completion_goes_to_typer(monkeypatch):
    monkeypatch.setenv("_VLINE_COMPLETE", "bash_complete")
    assert fastpath.parse(["matrix"]) is None


# Argument lists built from each command's own table, mostly well-formed, with values of every shape and
# some noise: what the fast path accepts must be what typer accepts.
VALUES = ["0.22", "nightly", "ci", "docker", "1", "-1", "0x10", "1_000", " 7 ", "1e3", "nan", "", "-", "--",
          "sh", "json", "github", "SH", "x=y", "a" * 40, "--json", "-l", "--only", "ü", "0.85", "+3", "٣"]


@st.composite
def argvs(draw):
    cmd = draw(st.sampled_from(list(FAST_COMMANDS)))
    spec = _cli_spec.SPEC[cmd]
    out = draw(st.lists(st.sampled_from([["--compat", "c.toml"], ["--compat=x"], ["--compat"]]), max_size=2))
    argv = [t for pre in out for t in pre] + cmd.split(" ")
    opts = sorted(spec["options"])
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["opt", "opt", "opt", "eq", "pos", "noise"]))
        if kind == "pos":
            argv.append(draw(st.sampled_from(VALUES)))
        elif kind == "noise":
            argv.append(draw(st.one_of(st.text(max_size=5), st.sampled_from(["--", "-h", "--nope", "-lx"]))))
        else:
            opt = draw(st.sampled_from(opts))
            action = spec["options"][opt][2]
            value = draw(st.sampled_from(VALUES))
            if action in ("true", "false"):
                argv.append(opt if kind == "opt" else f"{opt}={value}")
            elif kind == "eq":
                argv.append(f"{opt}={value}")
            else:
                argv += [opt, value]
    return argv


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=argvs())
def test_fast_path_never_accepts_what_typer_would_not(argv, monkeypatch):
    fast = fastpath.parse(argv)
    if fast is None:
        return  # typer answers: nothing to compare
    slow = typer_parse(argv, monkeypatch)
    assert slow is not None, f"fast path accepted {argv!r}, typer refuses it"
    assert (fast.command, fast.compat) == (slow[0], slow[2]) and same(fast.params, slow[1]), (argv, fast, slow)
