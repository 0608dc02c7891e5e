"""Bad compat.toml input: a clear `file:line: error:` naming the field, the spec's exit code, no traceback,
and nothing written by any command."""
from __future__ import annotations

import re

import pytest
from conftest import REPO, error_lines, snapshot, vline

R = "0decac0d96c42b49572498019f0a0e3600f50398"


def _sub(old: str, new: str, count: int = 1):
    def mutate(text: str, world) -> str:
        o = old.format(**world.revs, fork_url=world.fork_url, upstream=world.upstream_url)
        n = new.format(**world.revs, fork_url=world.fork_url, upstream=world.upstream_url)
        assert o in text, o
        return text.replace(o, n, count)
    return mutate


def _append(extra: str):
    return lambda text, world: text + extra.format(**world.revs)


# id, mutation, check's exit code, text of the line the error must point at (None: line 1), words in the message
CASES = [
    ("syntax", _sub('line = "0.22"', 'line = "0.22'), 2, 'line = "0.22', ["invalid TOML"]),
    ("duplicate-key", _sub('tag = "v0.22.1"', 'tag = "v0.22.1"\ntag = "v0.22.2"'), 2, 'tag = "v0.22.2"',
     ["invalid TOML"]),
    ("bool-as-string", _sub("default = true", 'default = "yes"'), 1, 'default = "yes"', ["default", "boolean"]),
    ("line-as-float", _sub('line = "0.22"', "line = 0.22"), 1, "line = 0.22", ["line", "string"]),
    ("short-rev", _sub('protocol_rev = "{main}"', 'protocol_rev = "abc123"'), 1, 'protocol_rev = "abc123"',
     ["protocol_rev", "40 lowercase hex"]),
    ("non-hex-rev", _sub('protocol_rev = "{main}"', f'protocol_rev = "{"g" * 40}"'), 1, "g" * 40,
     ["protocol_rev", "hex"]),
    ("uppercase-rev", _sub('patch_rev = "{fork}"', f'patch_rev = "{R.upper()}"'), 1, R.upper(), ["patch_rev"]),
    ("duplicate-line", _sub('line = "0.21"', 'line = "0.22"'), 1, None, ["duplicate line", "0.22"]),
    ("two-defaults", _sub('tag = "v0.22.1"', 'tag = "v0.22.1"\ndefault = true'), 1, None, ["default", "second"]),
    ("no-default", _sub("default = true", "default = false"), 1, None, ["default = true"]),
    ("default-not-newest", lambda t, w: t.replace("default = true\n", "").replace(
        'tag = "v0.22.1"', 'tag = "v0.22.1"\ndefault = true'), 1, None, ["newest", "0.23"]),
    ("half-patch", _sub('patch_rev = "{fork}"\n', ""), 1, 'patch_repo = "{fork_url}"', ["patch_rev", "missing"]),
    ("line-tag-mismatch", _sub('tag = "v0.22.1"', 'tag = "v0.23.0"  # moved'), 1, "# moved", ["tag", "line 0.23"]),
    ("tag-without-v", _sub('tag = "v0.22.1"', 'tag = "0.22.1"'), 1, 'tag = "0.22.1"', ["tag", "'v'"]),
    ("tag-not-pep440", _sub('tag = "v0.22.1"', 'tag = "v0.22.x"'), 1, 'tag = "v0.22.x"', ["tag", "PEP 440"]),
    ("stable-rc-tag", _sub('tag = "v0.22.1"', 'tag = "v0.22.2rc1"'), 1, 'tag = "v0.22.2rc1"', ["pre-release"]),
    ("injected-newline", _sub('tag = "v0.22.1"', r'tag = "v0.22.1\nEVIL=1"'), 1, r'EVIL=1"',
     ["tag", "control character"]),
    ("shell-in-line", _sub('line = "0.21"', 'line = "0.21; rm -rf /"'), 1, "rm -rf", ["line", "X.Y"]),
    ("shell-in-url", _sub('patch_repo = "{fork_url}"', 'patch_repo = "https://x.example/$(reboot)"'), 1,
     "$(reboot)", ["patch_repo", "git URL"]),
    ("bad-target-env", _sub('[vline]', '[vline]\ntarget_env = "A B=1"'), 1, 'target_env = "A B=1"',
     ["target_env", "environment variable"]),
    ("bad-max-stable", _sub('[vline]', '[vline]\nmax_stable = "3"'), 1, 'max_stable = "3"', ["max_stable"]),
    ("nightly-tag", _sub('tag = "nightly"', 'tag = "v0.24.0"'), 1, 'tag = "v0.24.0"', ["nightly", "literal"]),
    ("tracker-default", _sub('tag = "nightly"', 'tag = "nightly"\ndefault = true'), 1, None,
     ["tracker", "default"]),
    ("rc-not-candidate", _append('\n[[vllm]]\nline = "rc"\ntag = "v0.24.0"\nprotocol_rev = "{main}"\n'), 1,
     'tag = "v0.24.0"', ["release candidate"]),
    ("missing-tag", _sub('tag = "v0.21.0"\n', ""), 1, ('line = "0.21"', -1), ["missing", "tag"]),  # its header
    ("not-an-array", lambda t, w: 'vllm = 1\n' + t.replace("[[vllm]]", "[[other]]"), 1, "vllm = 1",
     ["array"]),
    ("empty", lambda t, w: "", 1, None, ["at least one line"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_compat(case, workspace, world):
    name, mutate, check_code, locator, words = case
    bad = mutate(world.compat_text(), world)
    (workspace / "compat.toml").write_text(bad)
    before = snapshot(workspace)
    expected_line = 1
    if locator:
        loc, offset = locator if isinstance(locator, tuple) else (locator, 0)
        loc = loc.format(**world.revs, fork_url=world.fork_url)
        expected_line = next(i for i, ln in enumerate(bad.splitlines(), 1) if loc in ln) + offset

    res = vline("check", cwd=workspace, check_code=check_code)
    out = res.stdout if check_code == 1 else res.stderr
    errors = [m for m in map(re.compile(r"^compat\.toml:(\d+): error: (.+)$").match, out.splitlines()) if m]
    assert errors, (res.stdout, res.stderr)
    hit = [m for m in errors if all(w in m.group(2) for w in words)]
    assert hit, errors[0].group(0)
    if locator:
        assert int(hit[0].group(1)) == expected_line, hit[0].group(0)

    for args in (["pin", "0.23"], ["pin", "0.22", "--no-update"], ["matrix"], ["env", "0.23"], ["show"]):
        res = vline(*args, cwd=workspace, check_code=2)
        errs = error_lines(res.stderr)
        assert all(m["file"] == "compat.toml" for m in errs)
        assert res.stdout == ""
    assert snapshot(workspace) == before  # no command wrote anything


def test_non_utf8(workspace):
    (workspace / "compat.toml").write_bytes(b"# ok\n# caf\xe9\n" + (workspace / "compat.toml").read_bytes())
    before = snapshot(workspace)
    for args in (["check"], ["pin", "0.22"], ["matrix"]):
        res = vline(*args, cwd=workspace, check_code=2)
        (err,) = error_lines(res.stderr)
        assert (err["line"], err["msg"]) == ("2", "not valid UTF-8 (byte 0xe9)")
    assert snapshot(workspace) == before


def test_missing_and_directory_compat(tmp_path):
    res = vline("--compat", str(tmp_path / "nope.toml"), "matrix", check_code=2)
    assert res.stderr.strip() == f"{tmp_path / 'nope.toml'}: error: file not found"
    res = vline("--compat", str(tmp_path), "check", check_code=2)
    assert "is a directory" in res.stderr


def test_warnings_do_not_fail(workspace, world):
    text = world.compat_text().replace('[vline]', '[vline]\nfuture_knob = 1').replace(
        'line = "0.22"', 'line = "0.22"\nnotes = "x"') + \
        f'\n[[vllm]]\nline = "rc"\ntag = "v0.23.0rc1"\nprotocol_rev = "{world.revs["main"]}"\n'
    (workspace / "compat.toml").write_text(text)
    res = vline("check", cwd=workspace, check_code=0)
    warnings = res.stdout.splitlines()
    assert len(warnings) == 3 and all(": warning: " in w for w in warnings)
    assert any("future_knob" in w for w in warnings) and any("'notes'" in w for w in warnings)
    assert any("stale" in w for w in warnings)
    vline("matrix", cwd=workspace, check_code=0)  # warnings never block


def test_every_error_is_reported_at_once(workspace, world):
    text = world.compat_text().replace(world.revs["main"], "abc").replace('tag = "v0.21.0"', 'tag = "v0.21"x')
    (workspace / "compat.toml").write_text(text.replace('"x', '"'))
    res = vline("check", cwd=workspace, check_code=1)
    assert len([ln for ln in res.stdout.splitlines() if ": error: " in ln]) == 1  # v0.21 is a valid tag
    text = world.compat_text().replace(world.revs["main"], "abc").replace('line = "0.21"', 'line = "0.2x"')
    (workspace / "compat.toml").write_text(text)
    res = vline("check", cwd=workspace, check_code=1)
    assert len([ln for ln in res.stdout.splitlines() if ": error: " in ln]) == 2
    res = vline("matrix", cwd=workspace, check_code=2)
    assert len(error_lines(res.stderr)) == 2


# --- defects the malformed-input corpus and the fuzz test found (tests/test_corpus.py, tests/test_fuzz.py) ---

def test_a_value_quoted_in_a_message_is_bounded_and_never_fails():
    from vline.errors import one_line, quote

    assert quote(10 ** 5000) == "<an integer of 16610 bits>"  # repr() would raise ValueError
    assert len(quote("x" * 100_000)) < 100 and quote([[[[[1]]]]]) == "[[[[...]]]]"
    assert one_line("a\nb\x1b[2J\u2028c\u202e") == "a\\nb\\x1b[2J\\u2028c\\u202e"


def test_integers_beyond_64_bits_are_invalid_toml(project):
    """TOML integers are 64-bit; tomllib took 10**5000 to a ValueError (exit 3) and a 4000-digit hex to every repr."""
    text = (project / "compat.toml").read_text()
    for value in ("9" * 5000, "0x" + "f" * 4000, "9223372036854775808"):
        (project / "compat.toml").write_text(text.replace("max_stable = 3", f"max_stable = {value}"))
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("max_stable"))
        for args in (["check"], ["show", "--json"], ["matrix"]):
            (err,) = error_lines(vline(*args, cwd=project, check_code=2).stderr)
            assert (err["line"], err["msg"]) == (str(line), "invalid TOML: integer out of range (TOML integers are 64-bit)")


def test_a_version_part_of_5000_digits_is_a_tag_error(project):
    text = (project / "compat.toml").read_text().replace('tag = "v0.22.1"', 'tag = "v0.22.' + "1" * 5000 + '"')
    (project / "compat.toml").write_text(text)
    res = vline("check", cwd=project, check_code=1)
    assert "is not a PEP 440 version" in res.stdout and len(res.stdout) < 1000


def test_github_urls_are_one_source_whatever_their_case(project):
    """Cargo lowercases github.com paths (CanonicalUrl): a fork that differs from upstream in case only is upstream."""
    text = (project / "compat.toml").read_text().replace(
        'patch_repo = "https://github.com/wseaton/vllm.git"', 'patch_repo = "http://GitHub.com/VLLM-Project/vLLM/"')
    (project / "compat.toml").write_text(text)
    res = vline("check", cwd=project, check_code=1)
    assert "patch_repo is the upstream URL" in res.stdout


def test_a_rev_with_a_trailing_newline_is_refused(workspace):
    """`$` matches before a final newline: every validating pattern ends in \\Z instead."""
    before = snapshot(workspace)
    res = vline("pin", "0.22", "--no-update", "--rev", "a" * 40 + "\n", cwd=workspace, check_code=2)
    assert "--rev" in res.stderr and "40 lowercase hex" in res.stderr
    assert snapshot(workspace) == before


def test_line_numbers_count_newlines_only(project):
    """str.splitlines also breaks at U+2028 and U+0085, which a TOML comment may hold: messages were a line off."""
    text = (project / "compat.toml").read_text()
    text = text.replace("# vline's own window", "# vline's\u2028own\x85window").replace(
        'tag = "v0.22.1"', 'tag = "v0.22.x"')
    (project / "compat.toml").write_text(text)
    line = next(i for i, ln in enumerate(text.split("\n"), 1) if "v0.22.x" in ln)
    res = vline("check", cwd=project, check_code=1)
    assert f"compat.toml:{line}: error:" in res.stdout


def test_a_placeholder_spanning_lines_is_checked_like_the_others(project):
    """render substitutes across lines; check read line by line, so `{{\\nbogus\\n}}` was a KeyError (exit 3)."""
    (project / "Dockerfile.template").write_text("FROM scratch\nLABEL a={{\nbogus\n}}\n")
    res = vline("render", "0.22", cwd=project, check_code=2)
    (err,) = error_lines(res.stderr)
    assert err["line"] == "2" and "unknown placeholder" in err["msg"]


def test_edits_refuse_a_layout_they_would_damage(project, tmp_path):
    """[[vllm]] written as one inline array: roll and watch edit by blocks of lines, and refuse, writing nothing."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "corpus"))
    import generate

    (project / "compat.toml").write_text(generate.compat()["ok-inline-array-of-lines.toml"])
    tags = tmp_path / "tags.txt"
    tags.write_text(f"{R}\trefs/tags/v0.24.0\n{R}\trefs/tags/v0.25.0rc1\n")
    before = snapshot(project)
    for args in (["roll", "v0.24.0", "--tags-file", str(tags)], ["watch", "rc", "--tags-file", str(tags)]):
        (err,) = error_lines(vline(*args, cwd=project, check_code=2).stderr)
        assert err["file"] == "compat.toml" and "[[vllm]] tables" in err["msg"]
    assert snapshot(project) == before


def test_matrix_rows_are_counted_before_they_are_built(project):
    """Three axes of 100 entries: 4 million rows were built before the 256 limit was checked."""
    (project / "matrix").mkdir()
    (project / "matrix" / "big.toml").write_text("".join(
        f'[[axes.{a}]]\n{a} = "{i}"\n' for a in "abc" for i in range(100)))
    (err,) = error_lines(vline("matrix", "big", cwd=project, check_code=1).stderr)
    assert err["file"] == "matrix/big.toml" and "4000000 rows" in err["msg"]


def test_pinning_back_restores_a_manifest_with_tables_after_its_patches():
    """tomlkit does not keep the bytes of [patch.crates-io], [[bin]], then vline's block: pinning back to the
    default left a blank line behind. vline's own block is now removed as text before tomlkit reads the file."""
    from vline.edits.pin import pin_text

    crate, fork = "vllm-engine-core-client", ("https://github.com/wseaton/vllm.git", "b" * 40)
    text = (f'[package]\nname = "p"\n\n[dependencies]\n{crate} = {{ git = "https://github.com/vllm-project/vllm.git", '
            f'rev = "{R}" }}\n\n[patch.crates-io]\nserde = {{ path = "s" }}\n\n[[bin]]\nname = "x"\n')
    forked = pin_text(text, crate, "a" * 40, fork)
    assert pin_text(forked, crate, "a" * 40, fork) == forked
    assert pin_text(forked, crate, R, None) == text
