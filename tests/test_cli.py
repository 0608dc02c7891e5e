"""The command line as a whole: help, unknown commands, global options before the command."""
from __future__ import annotations

from conftest import REPO, vline


def test_help_lists_every_command(tmp_path):
    out = vline("-h", cwd=tmp_path, check_code=0).stdout
    for name in ("check", "show", "pin", "env", "matrix", "fingerprint", "watch", "roll", "bump", "golden", "gate",
                 "promote"):
        assert f" {name} " in out, name


def test_global_option_before_the_command(tmp_path):
    res = vline("--compat", str(REPO / "compat.toml"), "env", "0.23", cwd=tmp_path, check_code=0)
    assert "TAG=v0.23.0\n" in res.stdout and "embedded" not in res.stderr


def test_unknown_command_and_missing_argument_are_exit_2(tmp_path):
    res = vline("bogus", cwd=tmp_path, check_code=2)
    assert "No such command" in res.stderr
    vline("env", cwd=tmp_path, check_code=2)
    vline("golden", "bogus", cwd=tmp_path, check_code=2)


def test_version(tmp_path):
    from vline import __version__

    assert vline("--version", cwd=tmp_path, check_code=0).stdout == f"vline {__version__}\n"
