"""GitHub Actions command files and annotations are written so no value can inject another."""
from __future__ import annotations

import re

from conftest import clean_env, vline

from vline import emit as github


def test_single_line_values_are_plain(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    assert github.set_outputs({"a": "1", "b": "x=y"})
    assert out.read_text() == "a=1\nb=x=y\n"


def test_multiline_values_use_a_random_heredoc_delimiter(tmp_path, monkeypatch):
    env = tmp_path / "env"
    monkeypatch.setenv("GITHUB_ENV", str(env))
    hostile = "v1\nEVIL=1\nghadelimiter_x"
    github.set_env({"TAG": hostile})
    github.set_env({"TAG": hostile})
    text = env.read_text()
    heads = re.findall(r"^TAG<<(ghadelimiter_[0-9a-f]{32})$", text, re.M)
    assert len(heads) == 2 and heads[0] != heads[1]
    for d in heads:
        assert f"TAG<<{d}\n{hostile}\n{d}\n" in text
    assert not re.search(r"^EVIL=1$", text.replace("\nEVIL=1\n", "\n"), re.M)


def test_not_under_actions_writes_nothing(monkeypatch):
    for var in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(var, raising=False)
    assert not github.set_outputs({"a": "1"})
    assert not github.set_env({"a": "1"})
    assert not github.summary_table("t", ["a"], [["1"]])


def test_annotation_escaping():
    line = github.annotation("error", "50% bad\nsecond line", file="a,b:c.toml", line=7)
    assert line == "::error file=a%2Cb%3Ac.toml,line=7::50%25 bad%0Asecond line"
    assert "\n" not in line


def test_summary_table_escapes_cells(tmp_path, monkeypatch):
    s = tmp_path / "summary"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(s))
    github.summary_table("t", ["a", "b"], [["x|y", "line\nbreak"]])
    assert "| x\\|y | line break |" in s.read_text()


def test_check_annotates_and_summarises_under_actions(workspace, world, tmp_path):
    text = world.compat_text().replace(world.revs["main"], "abc")
    (workspace / "compat.toml").write_text(text)
    summary = tmp_path / "summary"
    env = clean_env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    res = vline("check", cwd=workspace, env=env, check_code=1)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if '"abc"' in ln)
    assert f"::error file=compat.toml,line={line}::" in res.stderr
    assert not res.stdout.startswith("::")  # annotations never mix into the result
    assert "| compat.toml |" in summary.read_text()
    res = vline("matrix", cwd=workspace, env=env, check_code=2)
    assert f"::error file=compat.toml,line={line}::" in res.stderr
