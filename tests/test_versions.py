"""Versions and lines (SPEC §3) on real-world vLLM tag shapes."""
from __future__ import annotations

import pytest
from conftest import REPO

from vline import compat, versions


@pytest.mark.parametrize("lower,higher", [
    ("v0.26.1rc0", "v0.26.1"), ("v0.26.1rc1", "v0.26.1rc2"), ("v0.8.5", "v0.8.5.post1"),
    ("v0.10.1", "v0.10.1.1"), ("v0.9.2", "v0.10.0"), ("v0.9.0.1", "v0.9.1"),
])
def test_order(lower, higher):
    assert versions.parse_tag(lower) < versions.parse_tag(higher)


@pytest.mark.parametrize("tag,line", [("v0.22.1", "0.22"), ("v0.10.1.1", "0.10"), ("v0.8.5.post1", "0.8"),
                                      ("v0.26.1rc0", "0.26"), ("v1.0.0", "1.0")])
def test_line_of_tag(tag, line):
    assert versions.line_of_tag(tag) == line


@pytest.mark.parametrize("tag", ["0.22.1", "v0.22", "vv0.22.1", "v0.23.0.dev1", "v0.22.1+local", "v1!0.2.0",
                                 "v0.22.x", "v1", "nightly"])
def test_rejected_tags(tag):
    if tag == "v0.22":  # a two-part release is a release
        assert versions.line_of_tag(tag) == "0.22"
        return
    with pytest.raises(versions.TagError):
        versions.parse_tag(tag)


def test_engine_versions_map_to_lines():
    c = compat.load(REPO / "compat.toml")
    assert c.line_for_version("0.22.1").line == "0.22"
    assert c.line_for_version("0.21.0").line == "0.21"
    assert c.line_for_version("0.23.0.dev1+g16e9").line == "0.23"  # a dev build of the default's minor
    assert c.line_for_version("0.21.3").line == "0.21"  # no exact tag: by major.minor
    assert c.line_for_version("0.19.0") is None


def test_exact_tag_beats_minor(tmp_path):
    text = (REPO / "compat.toml").read_text() + (
        '\n[[vllm]]\nline = "rc"\ntag = "v0.23.1rc0"\nprotocol_rev = "' + "1" * 40 + '"\n')
    p = tmp_path / "compat.toml"
    p.write_text(text)
    c = compat.load(p)
    assert c.line_for_version("0.23.1rc0").line == "rc"  # exact tag
    assert c.line_for_version("0.23.1rc1").line == "0.23"  # same minor: the stable line first
    assert [ln.line for ln in c.ordered()] == ["nightly", "rc", "0.23", "0.22", "0.21"]
