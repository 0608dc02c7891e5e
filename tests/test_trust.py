"""Holes an attack found (the trust issue), each closed at its root: paths from input values stay inside
their roots, machine-read entries cannot be forged, bad input is one clear line, a project without a
compat.toml is never served vline's own window. Tests that need S3 live in test_goldens.py."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, clean_env, error_lines, snapshot, vline, write_golden

from vline import emit
from vline.errors import InputError
from vline.fsio import under

CONFIG = "f90fef94f6f258004f146d70c8a3aafe5aeb8dfb634ddf292cad3d355c808457"


def run(*args, cwd, code, env=None):
    res = vline(*args, cwd=cwd, env=env, check_code=code)
    assert "internal error" not in res.stderr, res.stderr
    return res


def golden_block(**over) -> str:
    entry = {"line": "0.22", "bucket_path": f"conformance/v0.22.1/A100/m/{over.get('workload', 'chat')}.jsonl.gz",
             "sha256": "a" * 64, "config_hash": "b" * 64, "workload": "chat", "role": "fidelity", **over}
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items())
    return f"[[golden]]\n{body}"


# --- 1. paths built from input values ------------------------------------------------------------

def test_under_refuses_every_way_out(tmp_path):
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    (root / "inner-link").symlink_to(root / "in")
    assert under(root, "in", "x.json") == (root / "in" / "x.json").resolve()
    assert under(root, "inner-link", "x") == (root / "in" / "x").resolve()  # links that stay inside are fine
    for parts in (("..", "x"), ("/etc/passwd",), ("in", "..", "..", "x"), ("link", "x"), ("link",)):
        with pytest.raises(InputError):
            under(root, *parts)


@pytest.mark.parametrize("field,value", [
    ("workload", "/tmp/x/data"), ("workload", "../escape"), ("workload", ""), ("workload", "/"),
    ("workload", ".."), ("workload", "a/b"), ("bucket_path", "../../etc/x.jsonl.gz"), ("bucket_path", "/abs/key"),
    ("bucket_path", "a//b"), ("bucket_path", "s3://bucket/../x"), ("bucket_path", "s3://B_/k"),
    ("bucket_path", ""), ("line", "../0.22"), ("line", "/0.22"),
])
def test_path_values_in_the_manifest_are_check_errors(project, field, value):
    (project / "conformance").mkdir()
    text = golden_block(**{field: value})
    (project / "conformance" / "manifest.toml").write_text(text)
    res = run("check", cwd=project, code=1)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(f"{field} ="))
    assert f"conformance/manifest.toml:{line}: error: [[golden]] #1: {field}:" in res.stdout, res.stdout
    for args in (["golden", "verify", "--line", "0.22"], ["golden", "list"], ["gate", "0.22", "--", "true"]):
        res = run(*args, cwd=project, code=2, env=clean_env(CONFORMANCE_BUCKET="s3://b"))
        assert error_lines(res.stderr)[0]["file"] == "conformance/manifest.toml"


def test_gate_never_touches_a_path_a_workload_names(project, tmp_path):
    """The attack: workload = "/tmp/x/data" made gate delete and replace /tmp/x/data.jsonl.gz."""
    victim = tmp_path / "x" / "data.jsonl.gz"
    victim.parent.mkdir()
    victim.write_bytes(b"precious")
    (project / "conformance").mkdir()
    (project / "conformance" / "manifest.toml").write_text(golden_block(workload=str(victim)[:-9]))
    run("gate", "0.22", "--", "true", cwd=project, code=2, env=clean_env(CONFORMANCE_BUCKET="s3://b"))
    assert victim.read_bytes() == b"precious"
    assert not (project / ".vline").exists()


@pytest.mark.parametrize("value,words", [("../Cargo.toml", "inside"), ("/etc/Cargo.toml", "relative"),
                                          (".", "inside"), ("", "relative"), ("sub/Cargo.lock", "Cargo.toml"),
                                          ("a\\\\Cargo.toml", "relative")])
def test_manifest_setting_stays_in_the_project(workspace, value, words):
    text = (workspace / "compat.toml").read_text().replace("[vline]", f'[vline]\nmanifest = "{value}"')
    (workspace / "compat.toml").write_text(text)
    before = snapshot(workspace)
    res = run("check", cwd=workspace, code=1)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("manifest ="))
    assert f"compat.toml:{line}: error: [vline] manifest:" in res.stdout and words in res.stdout
    run("pin", "0.22", cwd=workspace, code=2)
    assert snapshot(workspace) == before


def test_a_manifest_behind_a_link_out_of_the_project_is_refused(workspace, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Cargo.toml").write_bytes((workspace / "Cargo.toml").read_bytes())
    (workspace / "sub").symlink_to(outside)
    text = (workspace / "compat.toml").read_text().replace("[vline]", '[vline]\nmanifest = "sub/Cargo.toml"')
    (workspace / "compat.toml").write_text(text)
    before = (outside / "Cargo.toml").read_bytes()
    res = run("pin", "0.22", "--no-update", cwd=workspace, code=2)
    assert "leads outside" in res.stderr
    assert (outside / "Cargo.toml").read_bytes() == before


# --- 3. one object per golden ---------------------------------------------------------------------

def test_two_goldens_with_one_bucket_key_are_a_check_error(project):
    (project / "conformance").mkdir()
    text = golden_block() + "\n" + golden_block(workload="code", sha256="c" * 64,
                                                      bucket_path="conformance/v0.22.1/A100/m/chat.jsonl.gz")
    (project / "conformance" / "manifest.toml").write_text(text)
    res = run("check", cwd=project, code=1)
    second = [i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("bucket_path")][1]
    assert f"conformance/manifest.toml:{second}: error:" in res.stdout and "share one object" in res.stdout


# --- 4. entries machines read ---------------------------------------------------------------------

def _trace(path: Path, meta: dict) -> Path:
    path.write_text(json.dumps({"meta": meta}) + "\n" + json.dumps({"prompt_tokens": 1, "output_tokens": 2,
                                                                    "ttft_ms": 3.0}) + "\n")
    return path


def test_fingerprint_trace_keys_cannot_forge_lines(tmp_path):
    t = _trace(tmp_path / "t.jsonl", {"config_hash": CONFIG, "x\nconfig_hash": "0" * 64})
    res = run("fingerprint", "--trace", str(t), cwd=tmp_path, code=2)
    assert res.stdout == "" and f"{t}:1: error: meta key" in res.stderr
    meta = json.loads(run("fingerprint", "--trace", str(t), "--json", cwd=tmp_path, code=0).stdout)
    assert meta["x\nconfig_hash"] == "0" * 64  # JSON carries any key safely
    t = _trace(tmp_path / "v.jsonl", {"config_hash": CONFIG, "model": "m\nconfig_hash=" + "0" * 64, "note": "a b"})
    out = run("fingerprint", "--trace", str(t), cwd=tmp_path, code=0).stdout
    pairs = [ln.split("=", 1) for ln in out.splitlines()]
    assert [k for k, _ in pairs] == ["config_hash", "model", "note"]  # one line per key, config_hash once
    assert dict(pairs)["config_hash"] == CONFIG
    assert json.loads(dict(pairs)["model"]) == "m\nconfig_hash=" + "0" * 64 and json.loads(dict(pairs)["note"]) == "a b"


@pytest.mark.parametrize("name", ["x<<EOF", "a=b", "a\nb", "", "1x", "a b"])
def test_github_output_names_are_checked_before_anything_is_written(project, tmp_path, name):
    out = tmp_path / "out"
    out.write_text("")
    res = run("matrix", "--github-output", name, cwd=project, code=2,
              env=clean_env(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(out)))
    assert "--github-output" in res.stderr and res.stdout == ""
    assert out.read_text() == ""


def test_values_are_encoded_names_refused():
    assert emit.kv_text({"a": "plain", "b": "two words", "c": "x\ny=1", "d": True, "e": None}) == \
        'a=plain\nb="two words"\nc="x\\ny=1"\nd=true\ne=\n'
    for bad in ("a=b", "x\ny", "", "a b", "1a"):
        with pytest.raises(InputError):
            emit.kv_text({bad: "v"})
        with pytest.raises(InputError):
            emit.env_file_text({bad: "v"})
    assert emit.cell("<img src=x>|y\nz") == "&lt;img src=x&gt;\\|y z"
    assert emit.cell(True) == "true"


@pytest.mark.parametrize("name", ["LD_PRELOAD", "PATH", "BASH_ENV", "NODE_OPTIONS", "GITHUB_TOKEN", "RUSTC_WRAPPER"])
def test_target_env_cannot_name_a_variable_that_runs_things(project, name):
    text = (project / "compat.toml").read_text().replace('target_env = "VLLM_TARGET_VERSION"', f'target_env = "{name}"')
    assert name in text
    (project / "compat.toml").write_text(text)
    res = run("check", cwd=project, code=1)
    assert "target_env" in res.stdout and "never sets" in res.stdout
    run("env", "0.22", cwd=project, code=2)


# --- 7, 8. bad input is one clear line ----------------------------------------------------------

def test_deep_nesting_is_an_input_error(project, tmp_path):
    (project / "compat.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    res = run("check", cwd=project, code=2)
    assert "nested too deeply" in res.stderr and error_lines(res.stderr)[0]["line"] == "1"
    t = tmp_path / "deep.jsonl"
    t.write_text('{"meta": ' + "[" * 100000 + "]" * 100000 + "}\n")
    res = run("fingerprint", "--trace", str(t), cwd=tmp_path, code=2)
    assert f"{t}:1: error:" in res.stderr and "nested too deeply" in res.stderr


def test_huge_integer_in_a_trace(tmp_path):
    t = _trace(tmp_path / "t.jsonl", {"config_hash": CONFIG})
    t.write_text(t.read_text().replace('"ttft_ms": 3.0', '"ttft_ms": ' + "9" * 5000))
    res = run("golden", "add", str(t), "--line", "0.22", cwd=REPO, code=2, env=clean_env(VLINE_COMPAT=str(tmp_path / "c")))
    assert "file not found" in res.stderr  # compat first; now with a project:
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "compat.toml").write_bytes((REPO / "compat.toml").read_bytes())
    res = run("golden", "add", str(t), "--line", "0.22", cwd=proj, code=2)
    assert f"{t}:2: error:" in res.stderr and "digits" in res.stderr
    assert not (proj / "conformance").exists() and not (proj / ".vline" / "goldens").exists() or \
        not any((proj / ".vline" / "goldens").glob("*.jsonl.gz"))


@pytest.mark.parametrize("dep,words", [
    ('{ git = "URL", rev = 5 }', "rev must be a string"),
    ('{ git = "URL", rev = ["x"] }', "rev must be a string"),
])
def test_odd_cargo_values_are_input_errors(workspace, world, dep, words):
    text = (workspace / "Cargo.toml").read_text()
    start = text.index("vllm-engine-core-client = {")
    end = text.index("\n", start)
    text = text[:start] + "vllm-engine-core-client = " + dep.replace("URL", world.upstream_url) + text[end:]
    (workspace / "Cargo.toml").write_text(text)
    before = snapshot(workspace)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("vllm-engine-core-client"))
    res = run("check", cwd=workspace, code=1)
    assert f"Cargo.toml:{line}: error:" in res.stdout and words in res.stdout
    res = run("pin", "0.22", "--no-update", cwd=workspace, code=2)
    assert f"Cargo.toml:{line}: error:" in res.stderr and words in res.stderr
    assert snapshot(workspace) == before


def test_a_patch_source_that_is_not_a_table(workspace, world):
    text = (workspace / "Cargo.toml").read_text() + f'\n[patch]\n"{world.upstream_url}" = "x"\n'
    (workspace / "Cargo.toml").write_text(text)
    before = snapshot(workspace)
    res = run("pin", "0.22", "--no-update", cwd=workspace, code=2)
    assert "Cargo.toml:" in res.stderr and "must be a table" in res.stderr
    res = run("check", cwd=workspace, code=1)
    assert "must be a table" in res.stdout
    assert snapshot(workspace) == before


def test_bom_is_named(project, tmp_path):
    (project / "compat.toml").write_bytes(b"\xef\xbb\xbf" + (project / "compat.toml").read_bytes())
    res = run("check", cwd=project, code=2)
    assert "compat.toml:1: error:" in res.stderr and "BOM" in res.stderr
    t = _trace(tmp_path / "t.jsonl", {"config_hash": CONFIG})
    t.write_bytes(b"\xef\xbb\xbf" + t.read_bytes())
    res = run("fingerprint", "--trace", str(t), cwd=tmp_path, code=2)
    assert f"{t}:1: error:" in res.stderr and "BOM" in res.stderr


def test_trace_errors_name_file_and_line(project):
    t = project / "chat.jsonl"
    t.write_text(json.dumps({"meta": {"config_hash": CONFIG, "vllm_version": "0.22.1", "gpu": "A100",
                                      "model": "m"}}) + "\n\n" + json.dumps({"prompt_tokens": 1}) + "\n")
    res = run("golden", "add", "chat.jsonl", "--line", "0.22", cwd=project, code=2)
    assert res.stderr.startswith("chat.jsonl:3: error: record has no output_tokens"), res.stderr


def test_a_marker_inside_a_multiline_string_is_not_a_marker(project):
    (project / "conformance").mkdir()
    head = 'notes = """\n# BEGIN 0.22 GOLDENS\nsee the wiki\n# END 0.22 GOLDENS\n"""\n'
    (project / "conformance" / "manifest.toml").write_text(head)
    res = run("check", cwd=project, code=0)
    assert "GOLDENS" not in res.stdout
    _trace(project / "chat.jsonl", {"config_hash": CONFIG, "vllm_version": "0.22.1", "gpu": "A100", "model": "m"})
    run("golden", "add", "chat.jsonl", "--line", "0.22", cwd=project, code=0)
    text = (project / "conformance" / "manifest.toml").read_text()
    assert text.startswith(head)  # the string is untouched; the entry went into a real block after it
    import tomllib

    data = tomllib.loads(text)
    assert data["notes"] == "# BEGIN 0.22 GOLDENS\nsee the wiki\n# END 0.22 GOLDENS\n"
    assert [g["workload"] for g in data["golden"]] == ["chat"]


def test_unusable_cache_is_exit_3_with_a_clear_message(project, tmp_path):
    write_golden(project, "0.22", "v0.22.1")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = run("golden", "fetch", cwd=project, code=3,
              env=clean_env(VLINE_CACHE=str(blocker / "cache"), CONFORMANCE_BUCKET="s3://b"))
    assert "cannot use vline's cache" in res.stderr and "Not a directory" in res.stderr


def test_read_only_cache_is_exit_3_with_a_clear_message(project, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only file system here (needs root)")
    try:
        write_golden(project, "0.22", "v0.22.1")
        res = run("golden", "fetch", cwd=project, code=3,
                  env=clean_env(VLINE_CACHE=str(ro / "cache"), CONFORMANCE_BUCKET="s3://b"))
        assert "read-only file system" in res.stderr
    finally:
        subprocess.run(["umount", str(ro)], check=True)


# --- 12. help ---------------------------------------------------------------------------------------

def _commands() -> list[list[str]]:
    from vline.cli import app, golden_app

    names = [[c.name or c.callback.__name__.replace("_", "-")] for c in app.registered_commands]
    names += [["golden", c.name] for c in golden_app.registered_commands]
    return [[], ["golden"], *names]


@pytest.mark.parametrize("args", _commands(), ids=lambda a: " ".join(a) or "vline")
def test_help_of_every_command(args, tmp_path):
    res = run(*args, "--help", cwd=tmp_path, code=0)
    assert res.stdout.startswith("Usage:") and "Error" not in res.stdout + res.stderr


# --- 13. no project's compat.toml: never vline's own window --------------------------------------

@pytest.mark.parametrize("marker", ["git", "cargo"])
def test_a_project_without_compat_toml_is_told_so(tmp_path, marker):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    if marker == "git":
        subprocess.run(["git", "init", "-q", str(proj)], check=True)
    else:
        (proj / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
    for args in (["check"], ["matrix"], ["show"], ["env", "0.22"], ["each", "--", "true"], ["gate", "0.22", "--", "true"]):
        res = run(*args, cwd=proj / "src", code=2)
        assert "no compat.toml in this project" in res.stderr and "looked in" in res.stderr, res.stderr
        assert "create one" in res.stderr
        assert res.stdout == ""


def test_embedded_default_serves_read_commands_only_outside_projects(tmp_path):
    res = run("matrix", cwd=tmp_path, code=0)
    assert "embedded default" in res.stderr
    for args in (["each", "--", "true"], ["build"], ["gate", "0.22", "--", "true"], ["pin"]):
        res = run(*args, cwd=tmp_path, code=2)
        assert "no compat.toml" in res.stderr


# --- 14. env exports ------------------------------------------------------------------------------

def test_eval_env_exports_to_child_processes(project):
    script = 'eval "$(python -m vline env 0.22)" && sh -c \'printf "%s|%s" "$VLLM_TARGET_VERSION" "$FRONTEND_REF"\''
    out = subprocess.run(["bash", "-c", script], cwd=project, capture_output=True, text=True,
                         env=clean_env(PYTHONPATH=str(REPO)), check=True).stdout
    assert out == "v0.22.1|b48f2434d7f523840a74e9f4b96b4499c1323a8f"


# --- 16. --compat anywhere; promote what can be promoted ------------------------------------------

def test_compat_option_after_the_command_name(project, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    c = str(project / "compat.toml")
    for args in (["check", "--compat", c], ["matrix", "--compat", c], ["env", "0.22", "--compat", c],
                 ["show", "--compat", c], ["golden", "list", "--compat", c], ["--compat", c, "matrix"]):
        res = run(*args, cwd=other, code=0)
        assert "embedded default" not in res.stderr


def _evidence_for(project: Path, line: str, passed: bool) -> None:
    from vline import compat as compat_mod
    from vline import evidence, manifest

    compat = compat_mod.load(project / "compat.toml")
    goldens = manifest.load(compat.path).for_line(line)
    ev = evidence.record(compat.get(line), goldens, ["replay"], 0 if passed else 1, passed)
    d = project / ".vline" / "evidence"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{line}.json").write_text(json.dumps(ev))


def test_bare_promote_promotes_what_it_can(project):
    for line, tag in (("0.22", "v0.22.1"), ("0.21", "v0.21.0")):
        write_golden(project, line, tag, "chat")
        write_golden(project, line, tag, "code")
    _evidence_for(project, "0.22", passed=True)
    _evidence_for(project, "0.21", passed=False)
    before = (project / "compat.toml").read_text()
    res = run("promote", "0.22", "0.21", cwd=project, code=1)  # named lines: all or nothing
    assert (project / "compat.toml").read_text() == before and "0.21" in res.stderr
    res = run("promote", cwd=project, code=0)
    assert "changed=true\npromoted=0.22\nrefused=0.21\n" == res.stdout
    assert "promote 0.21: refused: the gate did not pass" in res.stderr
    from vline import compat as compat_mod

    lines = {ln.line: ln for ln in compat_mod.load(project / "compat.toml").lines}
    assert lines["0.22"].fidelity_validated and not lines["0.21"].fidelity_validated
    res = run("promote", "0.23", cwd=project, code=1)  # no evidence: the answer is no
    assert "no evidence" in res.stderr
    (project / ".vline" / "evidence" / "0.22.json").unlink()
    (project / ".vline" / "evidence" / "0.21.json").unlink()
    assert run("promote", cwd=project, code=0).stdout.startswith("changed=false")


def test_bare_promote_follows_evidence_links_only_inside_the_folder(project, tmp_path):
    """promote lists the evidence folder once (not a resolved path per line); a link is still followed only
    where it stays inside the folder."""
    for workload in ("chat", "code"):
        write_golden(project, "0.22", "v0.22.1", workload)
    _evidence_for(project, "0.22", passed=True)
    d = project / ".vline" / "evidence"
    (d / "0.22.json").rename(d / "kept.json")
    (d / "0.22.json").symlink_to("kept.json")  # inside: followed
    assert run("promote", "--dry-run", cwd=project, code=0).stdout.startswith("changed=false\npromoted=0.22\n")
    outside = tmp_path / "elsewhere.json"
    outside.write_text((d / "kept.json").read_text())
    (d / "0.21.json").symlink_to(outside)  # out of the folder: refused, and nothing written
    before = (project / "compat.toml").read_bytes()
    res = run("promote", cwd=project, code=2)
    assert "leads outside" in res.stderr and (project / "compat.toml").read_bytes() == before


# --- 6. what a killed writer left is cleaned by the next run ---------------------------------------

def test_stale_temp_files_are_cleaned_by_the_next_write(workspace):
    stale = workspace / ".Cargo.toml.k1ll3d.vline-tmp"
    stale.write_text("half a manifest")
    other = workspace / ".Cargo.lock.x.vline-tmp"
    other.write_text("half a lock")
    run("pin", "0.22", "--no-update", cwd=workspace, code=0)
    assert not stale.exists()  # the write of Cargo.toml removed its own leftover
    run("pin", "0.22", cwd=workspace, code=0)
    assert not other.exists()


def test_a_killed_golden_add_leaves_nothing_the_next_one_keeps(project):
    staging = project / ".vline" / "goldens"
    staging.mkdir(parents=True)
    (staging / ".0123abcd.tmp").write_bytes(b"partial gzip")
    _trace(project / "chat.jsonl", {"config_hash": CONFIG, "vllm_version": "0.22.1", "gpu": "A100", "model": "m"})
    run("golden", "add", "chat.jsonl", "--line", "0.22", cwd=project, code=0)
    assert [p.name for p in staging.iterdir() if p.name.startswith(".")] == []
