"""Goldens against a real S3 server (moto's standalone server over HTTP on loopback): capture → register
→ upload → fetch → verify → gate → promote, and every refusal on the way."""
from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
import uuid
from pathlib import Path

import boto3
import pytest
from conftest import REPO, clean_env, snapshot, vline
from s3world import FaultProxy

CONFIG = "f90fef94f6f258004f146d70c8a3aafe5aeb8dfb634ddf292cad3d355c808457"


@pytest.fixture(scope="module")
def proxy(moto):
    p = FaultProxy(moto.port)
    yield p
    p.close()


@pytest.fixture
def s3(moto, proxy, tmp_path):
    """A fresh bucket, and the environment a CI job would have (endpoint through the fault proxy)."""
    proxy.reset_counts()
    bucket = f"goldens-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    client.create_bucket(Bucket=bucket)
    env = clean_env(AWS_ENDPOINT_URL=proxy.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                    AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                    VLINE_CACHE=str(tmp_path / "cache"), CONFORMANCE_BUCKET=f"s3://{bucket}/ci")
    return {"env": env, "client": client, "bucket": bucket, "proxy": proxy, "cache": tmp_path / "cache"}


@pytest.fixture(params=["direct", "botocore"])
def transport(request, tmp_path) -> dict[str, str]:
    """What sends the GETs: the standard library's (credentials and endpoint in the environment, as in CI)
    or botocore (the same plus an AWS config file, as on a developer's machine)."""
    if request.param == "direct":
        return {}
    cfg = tmp_path / "aws-config"
    cfg.write_text("[default]\nregion = us-east-1\n")
    return {"AWS_CONFIG_FILE": str(cfg)}


@pytest.fixture
def proj(tmp_path) -> Path:
    d = tmp_path / "proj"
    (d / "conformance").mkdir(parents=True)
    (d / "compat.toml").write_bytes((REPO / "compat.toml").read_bytes())
    (d / "conformance" / "manifest.toml").write_text("# goldens of this project\n# (kept by hand above)\n")
    return d


def make_trace(path: Path, *, gz: bool = False, records: int = 5, **meta) -> Path:
    m = {"model": "facebook/opt-125m", "gpu": "A100", "tp": 1, "config_hash": CONFIG, "vllm_version": "0.22.1",
         "source": "tap", **meta}
    m = {k: v for k, v in m.items() if v is not None}
    lines = [json.dumps({"meta": m})] + [
        json.dumps({"prompt_tokens": 10 + i, "output_tokens": 20 + i, "ttft_ms": 1.5 + i, "itl_ms": [3.0, 3.1]})
        for i in range(records)]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def manifest_entries(proj: Path) -> list[dict]:
    return tomllib.loads((proj / "conformance" / "manifest.toml").read_text()).get("golden", [])


def add_two(proj: Path, env: dict, line: str = "0.22", version: str = "0.22.1") -> None:
    make_trace(proj / "chat.jsonl", vllm_version=version)
    make_trace(proj / "code.jsonl.gz", gz=True, records=7, vllm_version=version)
    vline("golden", "add", "chat.jsonl", "code.jsonl.gz", "--line", line, cwd=proj, env=env, check_code=0)


def kv(text: str) -> list[dict[str, str]]:
    return [dict(p.split("=", 1) for p in ln.split()) for ln in text.splitlines()]


def test_capture_to_promotion(proj, s3):
    env = s3["env"]
    add_two(proj, env)
    entries = manifest_entries(proj)
    assert [(e["workload"], e["role"]) for e in entries] == [("chat", "fidelity"), ("code", "fidelity")]
    assert entries[0]["bucket_path"] == "conformance/v0.22.1/A100/facebook/opt-125m/chat.jsonl.gz"
    text = (proj / "conformance" / "manifest.toml").read_text()
    assert text.startswith("# goldens of this project\n# (kept by hand above)\n\n# BEGIN 0.22 GOLDENS\n")
    assert text.rstrip().endswith("# END 0.22 GOLDENS")

    up = kv(vline("golden", "upload", cwd=proj, env=env, check_code=0).stdout)
    assert [r["status"] for r in up] == ["uploaded", "uploaded"]
    body = s3["client"].get_object(Bucket=s3["bucket"], Key="ci/" + entries[1]["bucket_path"])["Body"].read()
    assert body == (proj / "code.jsonl.gz").read_bytes()  # gzip input is stored as given
    again = kv(vline("golden", "upload", cwd=proj, env=env, check_code=0).stdout)
    assert [r["status"] for r in again] == ["identical", "identical"]

    res = vline("golden", "verify", "--line", "0.22", cwd=proj, env=env, check_code=0)
    assert [r["status"] for r in kv(res.stdout)] == ["ok", "ok"] and "2 downloaded" in res.stderr
    for e in entries:
        assert (s3["cache"] / "goldens" / "sha256" / f"{e['sha256']}.jsonl.gz").exists()

    check = ("import os, tomllib, pathlib; m = tomllib.loads(pathlib.Path(os.environ['CONFORMANCE_MANIFEST'])"
             ".read_text()); g = m['golden']; assert len(g) == 2; "
             "assert all(pathlib.Path(x['bucket_path']).is_absolute() and pathlib.Path(x['bucket_path']).exists() "
             "for x in g); assert os.environ['VLLM_TARGET_VERSION'] == 'v0.22.1'; "
             "assert sorted(os.listdir(os.environ['CONFORMANCE_GOLDENS'])) == ['chat.jsonl.gz', 'code.jsonl.gz']")
    res = vline("gate", "0.22", "--", sys.executable, "-c", check, cwd=proj, env=env, check_code=0)
    assert "passed=true" in res.stdout
    ev = json.loads((proj / ".vline" / "evidence" / "0.22.json").read_text())
    assert ev["passed"] is True and ev["exit_code"] == 0 and ev["tag"] == "v0.22.1"
    assert ev["patch_rev"] == "b48f2434d7f523840a74e9f4b96b4499c1323a8f" and len(ev["goldens"]) == 2
    assert ev["command"][0] == sys.executable and ev["vline_version"] and ev["time"]

    compat_before = (proj / "compat.toml").read_text()
    res = vline("promote", cwd=proj, env=env, check_code=0)
    assert "promoted=0.22" in res.stdout
    after = (proj / "compat.toml").read_text()
    lines = {ln["line"]: ln for ln in tomllib.loads(after)["vllm"]}
    assert lines["0.22"]["fidelity_validated"] is True and lines["0.21"]["fidelity_validated"] is False
    # only that value changed: every comment and the order stay
    assert after == compat_before.replace(
        'patch_rev = "b48f2434d7f523840a74e9f4b96b4499c1323a8f"\nfidelity_validated = false\n\n# The crate',
        'patch_rev = "b48f2434d7f523840a74e9f4b96b4499c1323a8f"\nfidelity_validated = true\n\n# The crate')
    assert vline("promote", "0.22", cwd=proj, env=env, check_code=0).stdout.startswith("changed=false")
    vline("check", cwd=proj, env=env, check_code=0)


@pytest.mark.parametrize("meta,words", [
    ({"config_hash": None}, "no config_hash"),
    ({"vllm_version": "0.23.0"}, "is on line 0.23, not 0.22"),
    ({"vllm_version": None}, "no vllm_version"),
])
def test_add_refusals_leave_the_manifest_untouched(proj, s3, meta, words):
    make_trace(proj / "t.jsonl", **meta)
    before = snapshot(proj)
    res = vline("golden", "add", "t.jsonl", "--line", "0.22", "--workload", "chat", cwd=proj, env=s3["env"],
                check_code=1)
    assert words in res.stderr and res.stdout == ""
    assert snapshot(proj) == before  # nothing staged, nothing written


def test_add_refuses_a_duplicate_workload_and_accepts_any_version_on_nightly(proj, s3):
    env = s3["env"]
    make_trace(proj / "a.jsonl")
    vline("golden", "add", "a.jsonl", "--line", "0.22", "--workload", "chat", cwd=proj, env=env, check_code=0)
    before = snapshot(proj)
    # the same trace again (a rerun after an interrupted add, say): already there, nothing changes
    vline("golden", "add", "a.jsonl", "--line", "0.22", "--workload", "chat", cwd=proj, env=env, check_code=0)
    assert snapshot(proj) == before
    make_trace(proj / "b.jsonl", records=7)  # other bytes, same workload name
    before = snapshot(proj)
    res = vline("golden", "add", "b.jsonl", "--line", "0.22", "--workload", "chat", cwd=proj, env=env, check_code=1)
    assert "already has workload 'chat'" in res.stderr
    assert snapshot(proj) == before  # nothing staged either
    make_trace(proj / "n.jsonl", vllm_version="0.24.0.dev12+gabc")
    vline("golden", "add", "n.jsonl", "--line", "nightly", cwd=proj, env=env, check_code=0)
    assert {(e["line"], e["workload"]) for e in manifest_entries(proj)} == {("0.22", "chat"), ("nightly", "n")}
    text = (proj / "conformance" / "manifest.toml").read_text()
    assert "# BEGIN NIGHTLY GOLDENS" in text and text.count("# BEGIN 0.22 GOLDENS") == 1


def test_plain_jsonl_archives_are_deterministic(proj, s3, tmp_path):
    make_trace(proj / "t.jsonl")
    vline("golden", "add", "t.jsonl", "--line", "0.22", cwd=proj, env=s3["env"], check_code=0)
    sha = manifest_entries(proj)[0]["sha256"]
    staged = proj / ".vline" / "goldens" / f"{sha}.jsonl.gz"
    assert gzip.decompress(staged.read_bytes()) == (proj / "t.jsonl").read_bytes()
    other = tmp_path / "other"
    (other / "conformance").mkdir(parents=True)
    (other / "compat.toml").write_bytes((REPO / "compat.toml").read_bytes())
    (other / "t.jsonl").write_bytes((proj / "t.jsonl").read_bytes())
    vline("golden", "add", "t.jsonl", "--line", "0.22", cwd=other, env=s3["env"], check_code=0)
    assert manifest_entries(other)[0]["sha256"] == sha


def test_bad_trace_and_bad_arguments(proj, s3):
    (proj / "bad.jsonl").write_text('{"meta": {"config_hash": "x"}}\n{"prompt_tokens": 1}\n')
    res = vline("golden", "add", "bad.jsonl", "--line", "0.22", cwd=proj, env=s3["env"], check_code=2)
    assert "record has no output_tokens" in res.stderr
    make_trace(proj / "a.jsonl")
    make_trace(proj / "b.jsonl")
    res = vline("golden", "add", "a.jsonl", "b.jsonl", "--line", "0.22", "--workload", "w", cwd=proj, env=s3["env"],
                check_code=2)
    assert "--workload names one trace" in res.stderr
    vline("golden", "add", "a.jsonl", "--line", "0.9", cwd=proj, env=s3["env"], check_code=2)


def test_upload_never_overwrites_different_bytes(proj, s3):
    env = s3["env"]
    make_trace(proj / "chat.jsonl")
    vline("golden", "add", "chat.jsonl", "--line", "0.22", cwd=proj, env=env, check_code=0)
    key = "ci/" + manifest_entries(proj)[0]["bucket_path"]
    s3["client"].put_object(Bucket=s3["bucket"], Key=key, Body=b"someone else's bytes")
    res = vline("golden", "upload", cwd=proj, env=env, check_code=1)
    assert "never overwritten without --force" in res.stderr
    assert s3["client"].get_object(Bucket=s3["bucket"], Key=key)["Body"].read() == b"someone else's bytes"
    vline("golden", "upload", "--force", cwd=proj, env=env, check_code=0)
    stored = s3["client"].get_object(Bucket=s3["bucket"], Key=key)["Body"].read()
    assert gzip.decompress(stored) == (proj / "chat.jsonl").read_bytes()


def _uploaded(proj, s3) -> list[dict]:
    add_two(proj, s3["env"])
    vline("golden", "upload", cwd=proj, env=s3["env"], check_code=0)
    return manifest_entries(proj)


@pytest.mark.parametrize("damage", ["tampered", "truncated"])
def test_bad_objects_fail_verify_and_are_never_cached(proj, s3, damage):
    entries = _uploaded(proj, s3)
    key = "ci/" + entries[1]["bucket_path"]
    good = s3["client"].get_object(Bucket=s3["bucket"], Key=key)["Body"].read()
    bad = good[: len(good) // 2] if damage == "truncated" else good[:-1] + bytes([good[-1] ^ 1])
    s3["client"].put_object(Bucket=s3["bucket"], Key=key, Body=bad)
    res = vline("golden", "verify", cwd=proj, env=s3["env"], check_code=1)
    assert [r["status"] for r in kv(res.stdout)] == ["ok", "failed"]
    err = [ln for ln in res.stderr.splitlines() if ": error: " in ln]
    assert len(err) == 1 and "golden 0.22/code: sha256 mismatch" in err[0]
    assert err[0].startswith("conformance/manifest.toml:")
    cached = {p.name for p in (s3["cache"] / "goldens" / "sha256").iterdir()}
    assert cached == {f"{entries[0]['sha256']}.jsonl.gz"}  # the bad bytes never entered the cache
    assert not list((s3["cache"] / "goldens" / "tmp").iterdir())


def test_provenance_and_record_failures_are_named(proj, s3):
    entries = _uploaded(proj, s3)
    path = proj / "conformance" / "manifest.toml"
    text = path.read_text().replace(entries[0]["config_hash"], "c" * 64, 1)  # the manifest disagrees with chat's meta
    path.write_text(text)
    # a golden registered by hand on the wrong line: 0.23's engine version under 0.21
    wrong = make_trace(proj / "wrong.jsonl.gz", gz=True, vllm_version="0.23.0")
    broken = proj / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"meta": {"config_hash": "' + CONFIG.encode()
                                     + b'", "vllm_version": "0.21.0"}}\n{"prompt_tokens": "7", "output_tokens": 1, '
                                       b'"ttft_ms": 1}\n'))
    import hashlib
    for name, f in (("wrong", wrong), ("broken", broken)):
        sha = hashlib.sha256(f.read_bytes()).hexdigest()
        s3["client"].put_object(Bucket=s3["bucket"], Key=f"ci/x/{name}.jsonl.gz", Body=f.read_bytes())
        path.write_text(path.read_text() + textwrap.dedent(f"""
            [[golden]]
            line = "0.21"
            bucket_path = "x/{name}.jsonl.gz"
            sha256 = "{sha}"
            config_hash = "{CONFIG}"
            workload = "{name}"
            role = "schema"
            """))
    res = vline("golden", "verify", cwd=proj, env=s3["env"], check_code=1)
    errors = "\n".join(ln for ln in res.stderr.splitlines() if ": error: " in ln)
    assert "golden 0.22/chat: meta config_hash" in errors
    assert "golden 0.21/wrong: meta vllm_version 0.23.0 is on line 0.23, not 0.21" in errors
    # a trace's own error names the trace's file and line first
    assert re.search(r"/[0-9a-f]{64}\.jsonl\.gz:2: error: golden 0\.21/broken \(conformance/manifest\.toml:\d+\): "
                     r"prompt_tokens is not an integer \('7'\)", errors), errors
    assert [r["status"] for r in kv(res.stdout)] == ["failed", "ok", "failed", "failed"]


def test_warm_cache_needs_no_server_and_cold_cache_is_exit_3(proj, s3, tmp_path, transport):
    _uploaded(proj, s3)
    vline("golden", "fetch", cwd=proj, env={**s3["env"], **transport}, check_code=0)
    down = {**s3["env"], **transport, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens on the discard port
    s3["proxy"].reset_counts()
    res = vline("golden", "verify", cwd=proj, env=down, check_code=0)
    assert "0 S3 requests" in res.stderr and s3["proxy"].connections == 0
    cold = {**down, "VLINE_CACHE": str(tmp_path / "cold")}
    res = vline("golden", "verify", cwd=proj, env=cold, check_code=3)
    assert "unreachable" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "cold" / "goldens" / "sha256").exists()


@pytest.mark.parametrize("fault", ["503", "reset"])
def test_transient_faults_are_retried(proj, s3, fault, transport):
    _uploaded(proj, s3)
    s3["proxy"].reset_counts()
    s3["proxy"].inject(fault, times=2)
    res = vline("golden", "verify", cwd=proj, env={**s3["env"], **transport}, check_code=0)
    assert [r["status"] for r in kv(res.stdout)] == ["ok", "ok"]
    assert s3["proxy"].connections >= 3  # the faults really happened and were retried


def test_persistent_resets_are_exit_3_and_nothing_cached(proj, s3, transport):
    _uploaded(proj, s3)
    s3["proxy"].reset_counts()
    s3["proxy"].always = "reset"
    try:
        res = vline("golden", "verify", cwd=proj, env={**s3["env"], **transport}, check_code=3)
    finally:
        s3["proxy"].always = None
    assert "unreachable after retries" in res.stderr
    assert not list(s3["cache"].glob("goldens/sha256/*"))  # nothing entered the cache
    assert not list(s3["cache"].glob("goldens/tmp/*"))  # and no partial download was left behind


def test_line_without_goldens_verifies_clean(proj, s3):
    res = vline("golden", "verify", "--line", "0.23", cwd=proj, env=s3["env"], check_code=0)
    assert res.stdout == ""
    vline("golden", "verify", "--line", "0.5", cwd=proj, env=s3["env"], check_code=2)


def test_failing_gate_refuses_promotion(proj, s3):
    _uploaded(proj, s3)
    res = vline("gate", "0.22", "--", sys.executable, "-c", "raise SystemExit(4)", cwd=proj, env=s3["env"],
                check_code=1)
    assert "passed=false" in res.stdout and "exit_code=4" in res.stdout
    before = snapshot(proj)
    res = vline("promote", "0.22", cwd=proj, env=s3["env"], check_code=1)
    assert "the gate did not pass (exit code 4)" in res.stderr
    assert snapshot(proj) == before


def test_gate_fails_on_bad_goldens_without_running_the_command(proj, s3, tmp_path):
    entries = _uploaded(proj, s3)
    s3["client"].put_object(Bucket=s3["bucket"], Key="ci/" + entries[0]["bucket_path"], Body=b"x")
    marker = tmp_path / "ran"
    res = vline("gate", "0.22", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')", cwd=proj, env=s3["env"],
                check_code=1)
    assert not marker.exists() and "passed=false" in res.stdout
    assert json.loads((proj / ".vline" / "evidence" / "0.22.json").read_text())["exit_code"] is None


def test_stale_evidence_after_the_rev_moves(proj, s3):
    _uploaded(proj, s3)
    vline("gate", "0.22", "--", sys.executable, "-c", "pass", cwd=proj, env=s3["env"], check_code=0)
    compat = proj / "compat.toml"
    compat.write_text(compat.read_text().replace("0decac0d96c42b49572498019f0a0e3600f50398",
                                                 "1111111111111111111111111111111111111111", 1))
    before = snapshot(proj)
    res = vline("promote", "0.22", cwd=proj, env=s3["env"], check_code=1)
    assert "stale evidence: it was for protocol_rev 0decac0d" in res.stderr
    assert snapshot(proj) == before


def test_single_seed_is_never_enough(proj, s3):
    env = s3["env"]
    make_trace(proj / "chat.jsonl")
    make_trace(proj / "shape.jsonl")
    vline("golden", "add", "chat.jsonl", "--line", "0.22", cwd=proj, env=env, check_code=0)
    vline("golden", "add", "shape.jsonl", "--line", "0.22", "--role", "schema", cwd=proj, env=env, check_code=0)
    vline("golden", "upload", cwd=proj, env=env, check_code=0)
    vline("gate", "0.22", "--", sys.executable, "-c", "pass", cwd=proj, env=env, check_code=0)
    res = vline("promote", "0.22", "--dry-run", cwd=proj, env=env, check_code=1)
    assert "at least two fidelity goldens with different workloads (has 1)" in res.stderr
    res = vline("promote", "nightly", cwd=proj, env=env, check_code=1)  # no evidence for it at all: the answer is no
    assert "no evidence" in res.stderr


def test_list_and_prune(proj, s3):
    env = s3["env"]
    add_two(proj, env, line="0.21", version="0.21.0")
    listed = json.loads(vline("golden", "list", "--json", cwd=proj, env=env, check_code=0).stdout)
    assert [(g["line"], g["workload"], g["in_window"]) for g in listed] == [("0.21", "chat", True),
                                                                           ("0.21", "code", True)]
    assert vline("golden", "prune", cwd=proj, env=env, check_code=0).stdout == "changed=false\n"
    compat = proj / "compat.toml"
    text = compat.read_text()
    compat.write_text(text[: text.index("# The crate did not exist")])  # 0.21 leaves the window
    res = vline("golden", "prune", cwd=proj, env=env, check_code=0)
    assert res.stdout == "changed=true\nremoved=0.21\n"
    assert "removed golden 0.21/chat" in res.stderr
    assert (proj / "conformance" / "manifest.toml").read_text() == "# goldens of this project\n# (kept by hand above)\n"


def test_a_cache_entry_altered_on_disk_is_caught_and_dropped(proj, s3):
    entries = _uploaded(proj, s3)
    listed = json.loads(vline("golden", "list", "--json", cwd=proj, env=s3["env"], check_code=0).stdout)
    assert [g["cached"] for g in listed] == [False] * len(entries)
    vline("golden", "fetch", cwd=proj, env=s3["env"], check_code=0)
    listed = json.loads(vline("golden", "list", "--json", cwd=proj, env=s3["env"], check_code=0).stdout)
    assert [g["cached"] for g in listed] == [True] * len(entries)
    cached = s3["cache"] / "goldens" / "sha256" / f"{entries[0]['sha256']}.jsonl.gz"
    cached.write_bytes(b"bit rot")
    res = vline("golden", "verify", cwd=proj, env=s3["env"], check_code=1)
    assert "golden 0.22/chat: the cached copy no longer matches its sha256" in res.stderr
    assert not cached.exists()
    vline("golden", "verify", cwd=proj, env=s3["env"], check_code=0)  # fetched again, verified


# --- trust: one object per golden, a cache that is checked, the disk is not the network ------------

def test_two_goldens_resolving_to_one_object_are_refused_before_any_upload(proj, s3):
    """A key and an s3:// URL can name one object: upload refuses before uploading anything."""
    add_two(proj, s3["env"])
    path = proj / "conformance" / "manifest.toml"
    entries = manifest_entries(proj)
    text = path.read_text().replace(f'bucket_path = "{entries[1]["bucket_path"]}"',
                                    f'bucket_path = "s3://{s3["bucket"]}/ci/{entries[0]["bucket_path"]}"')
    path.write_text(text)
    vline("check", cwd=proj, env=s3["env"], check_code=0)  # different strings: only upload can see they meet
    res = vline("golden", "upload", cwd=proj, env=s3["env"], check_code=2)
    assert "both resolve to" in res.stderr and "conformance/manifest.toml:" in res.stderr
    assert s3["client"].list_objects_v2(Bucket=s3["bucket"]).get("KeyCount", 0) == 0


def test_goldens_with_identical_bytes_get_their_own_files_in_the_gate(proj, s3):
    make_trace(proj / "chat.jsonl")
    (proj / "again.jsonl").write_bytes((proj / "chat.jsonl").read_bytes())
    vline("golden", "add", "chat.jsonl", "again.jsonl", "--line", "0.22", cwd=proj, env=s3["env"], check_code=0)
    entries = manifest_entries(proj)
    assert entries[0]["sha256"] == entries[1]["sha256"]
    vline("golden", "upload", cwd=proj, env=s3["env"], check_code=0)
    check = ("import os, tomllib, pathlib; g = tomllib.loads(pathlib.Path(os.environ['CONFORMANCE_MANIFEST'])"
             ".read_text())['golden']; paths = [x['bucket_path'] for x in g]; "
             "assert [pathlib.Path(p).name for p in paths] == ['chat.jsonl.gz', 'again.jsonl.gz'], paths; "
             "assert all(pathlib.Path(p).read_bytes() == pathlib.Path(paths[0]).read_bytes() for p in paths)")
    vline("gate", "0.22", "--", sys.executable, "-c", check, cwd=proj, env=s3["env"], check_code=0)


def test_fetch_never_reports_an_altered_cache_entry_as_ok(proj, s3):
    entries = _uploaded(proj, s3)
    vline("golden", "fetch", cwd=proj, env=s3["env"], check_code=0)
    cached = s3["cache"] / "goldens" / "sha256" / f"{entries[0]['sha256']}.jsonl.gz"
    assert cached.stat().st_mode & 0o222 == 0  # read-only: a replay command cannot alter it by accident
    os.chmod(cached, 0o644)
    data = bytearray(cached.read_bytes())
    data[-1] ^= 1
    st = cached.stat()
    cached.write_bytes(bytes(data))
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only the bytes changed
    res = vline("golden", "fetch", cwd=proj, env=s3["env"], check_code=1)
    assert [r["status"] for r in kv(res.stdout)] == ["failed", "ok"]
    assert "golden 0.22/chat: the cached copy no longer matches its sha256" in res.stderr
    res = vline("golden", "fetch", cwd=proj, env=s3["env"], check_code=0)  # fetched again, checked
    assert "1 downloaded" in res.stderr


def test_a_touched_cache_entry_is_hashed_again_not_refetched(proj, s3):
    entries = _uploaded(proj, s3)
    vline("golden", "fetch", cwd=proj, env=s3["env"], check_code=0)
    cached = s3["cache"] / "goldens" / "sha256" / f"{entries[0]['sha256']}.jsonl.gz"
    os.utime(cached, (1, 1))
    s3["proxy"].reset_counts()
    res = vline("golden", "verify", cwd=proj, env=s3["env"], check_code=0)
    assert "0 downloaded" in res.stderr and s3["proxy"].connections == 0


def test_disk_full_is_reported_as_disk_full(proj, s3, tmp_path):
    make_trace(proj / "big.jsonl", records=60000)  # a few MiB, more than the cache's file system holds
    vline("golden", "add", "big.jsonl", "--line", "0.22", cwd=proj, env=s3["env"], check_code=0)
    vline("golden", "upload", cwd=proj, env=s3["env"], check_code=0)
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        env = {**s3["env"], "VLINE_CACHE": str(small / "cache")}
        res = vline("golden", "fetch", cwd=proj, env=env, check_code=3)
        assert "disk full" in res.stderr and "unreachable" not in res.stderr, res.stderr
        assert not list((small / "cache" / "goldens").glob("sha256/*"))
    finally:
        subprocess.run(["umount", str(small)], check=True)


# --- downloads: ranged parts written in place, hashed once as they arrive ---------------------------

class CuttingProxy(FaultProxy):
    """A FaultProxy whose 'cut' fault relays the request and the first `cut_after` bytes of the answer, then
    cuts the connection: a stream that dies mid-body, after the headers were read."""

    def __init__(self, target_port: int, cut_after: int = 300_000) -> None:
        super().__init__(target_port)
        self.cut_after = cut_after
        self.cuts = 0

    def _handle(self, conn, fault):
        if fault != "cut":
            return super()._handle(conn, fault)
        import contextlib
        import socket
        import struct
        import threading

        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=self._pipe, args=(conn, upstream), daemon=True).start()
        sent = 0
        try:
            while sent < self.cut_after:
                data = upstream.recv(min(1 << 16, self.cut_after - sent))
                if not data:
                    break
                conn.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.cuts += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for s in (conn, upstream):  # shutdown first: a close alone waits for the other thread's recv
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def plan(self, *faults: str) -> None:
        """Faults for the next connections in turn ('pass' for none)."""
        with self.lock:
            self.faults[:] = list(faults)


@pytest.fixture
def cutter(moto):
    p = CuttingProxy(moto.port)
    yield p
    p.close()


def vline_parts(*args: str, part: int, cwd: Path, env: dict, check_code: int) -> subprocess.CompletedProcess:
    """The real CLI with a small part size, so that a few MiB come as several ranged GETs."""
    code = ("import runpy, sys, vline.adapters.s3 as s; s.PART_SIZE = int(sys.argv[1]); "
            "sys.argv = ['vline', *sys.argv[2:]]; runpy.run_module('vline', run_name='__main__')")
    res = subprocess.run([sys.executable, "-c", code, str(part), *args], cwd=cwd, env=env, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == check_code, (res.returncode, res.stdout, res.stderr)
    return res


def put_blob(proj: Path, s3: dict, name: str, body: bytes, sha: str | None = None) -> str:
    """An object of raw bytes registered by hand (fetch checks bytes, not trace content)."""
    import hashlib

    sha = sha or hashlib.sha256(body).hexdigest()
    s3["client"].put_object(Bucket=s3["bucket"], Key=f"ci/blobs/{name}", Body=body)
    path = proj / "conformance" / "manifest.toml"
    path.write_text(path.read_text() + textwrap.dedent(f"""
        [[golden]]
        line = "0.22"
        bucket_path = "blobs/{name}"
        sha256 = "{sha}"
        config_hash = "{CONFIG}"
        workload = "{name}"
        role = "schema"
        """))
    return sha


def test_a_part_cut_mid_body_is_fetched_again_from_where_it_stopped_and_verified(proj, s3, cutter, transport):
    body = os.urandom(4 << 20)  # four parts of 1 MiB: whichever is cut, it is cut mid-body
    sha = put_blob(proj, s3, "big", body)
    cutter.plan("pass", "cut")  # the first GET learns the size; one of the parts it queues is cut
    env = {**s3["env"], **transport, "AWS_ENDPOINT_URL": cutter.url}
    res = vline_parts("golden", "fetch", part=1 << 20, cwd=proj, env=env, check_code=0)
    assert "1 downloaded" in res.stderr and cutter.cuts == 1
    assert "5 S3 requests" in res.stderr  # 4 parts and the cut one's remainder: nothing fetched twice in full
    cached = s3["cache"] / "goldens" / "sha256" / f"{sha}.jsonl.gz"
    assert cached.read_bytes() == body
    assert not list((s3["cache"] / "goldens" / "tmp").glob("*/*"))


def test_a_truncated_large_object_is_refused_and_never_cached(proj, s3, transport):
    body = os.urandom((3 << 20) + 7)
    import hashlib

    put_blob(proj, s3, "big", body[: 2 << 20], sha=hashlib.sha256(body).hexdigest())  # the store lost a MiB
    res = vline_parts("golden", "fetch", part=1 << 20, cwd=proj, env={**s3["env"], **transport}, check_code=1)
    assert "golden 0.22/big: sha256 mismatch" in res.stderr
    assert not list(s3["cache"].glob("goldens/sha256/*"))
    assert not list(s3["cache"].glob("goldens/tmp/*/*"))


def test_streams_cut_every_time_are_exit_3_and_nothing_cached(proj, s3, cutter, transport):
    put_blob(proj, s3, "big", os.urandom(3 << 20))
    cutter.always = "cut"
    env = {**s3["env"], **transport, "AWS_ENDPOINT_URL": cutter.url}
    res = vline_parts("golden", "fetch", part=1 << 20, cwd=proj, env=env, check_code=3)
    assert "unreachable after retries" in res.stderr and cutter.cuts >= 5
    assert not list(s3["cache"].glob("goldens/sha256/*"))
    assert not list(s3["cache"].glob("goldens/tmp/*/*"))


def test_download_hashes_parts_in_order_within_a_small_memory_budget(s3, tmp_path, monkeypatch, transport):
    """In process, against the real server: many small parts racing ahead of the hash, held at most
    AHEAD bytes; an empty object; and hashing without writing (upload's check of remote bytes)."""
    import hashlib
    import time

    from vline.adapters import s3 as s3mod

    for k, v in {**s3["env"], **transport}.items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    monkeypatch.setattr(s3mod, "CHUNK", 16 << 10)
    monkeypatch.setattr(s3mod, "AHEAD", 64 << 10)
    held = []
    feed = s3mod._Download._feed

    def spy(self, o, pos, data):
        held.append(self.ahead)
        return feed(self, o, pos, data)

    monkeypatch.setattr(s3mod._Download, "_feed", spy)
    sized = s3mod._Download._sized

    def slow_front(self, o, first_end, total):  # the first part stalls once it queued the others: they run ahead
        end = sized(self, o, first_end, total)
        time.sleep(0.3)
        return end

    monkeypatch.setattr(s3mod._Download, "_sized", slow_front)
    blobs = {"a": os.urandom((2 << 20) + 1), "b": os.urandom(300_000), "empty": b""}
    for name, body in blobs.items():
        s3["client"].put_object(Bucket=s3["bucket"], Key=name, Body=body)
    client = s3mod.S3(concurrency=6, part_size=256 << 10)
    jobs = [(s3mod.Location(s3["bucket"], name), tmp_path / name) for name in blobs]
    jobs.append((s3mod.Location(s3["bucket"], "a"), None))
    jobs.append((s3mod.Location(s3["bucket"], "missing"), tmp_path / "missing"))
    got = client.download(jobs)
    for i, name in enumerate(blobs):
        assert got[i] == s3mod.Fetched(hashlib.sha256(blobs[name]).hexdigest(), len(blobs[name])), name
        assert (tmp_path / name).read_bytes() == blobs[name]
    assert got[3] == got[0]
    assert isinstance(got[4], s3mod.Missing) and not (tmp_path / "missing").exists()
    assert max(held) <= 64 << 10 and max(held) > 0  # parts did run ahead, and were held back
    assert bool(client._direct) == (not transport)  # the GETs went the way the environment says


FETCH_THEN_SAY_IF_BOTOCORE = ("import runpy, sys\nsys.argv = ['vline', 'golden', 'fetch']\ntry:\n"
                              "    runpy.run_module('vline', run_name='__main__')\nfinally:\n"
                              "    print('botocore' in sys.modules, file=sys.stderr)\n")


def test_fetch_imports_botocore_only_when_the_environment_needs_it(proj, s3, transport):
    _uploaded(proj, s3)
    res = subprocess.run([sys.executable, "-c", FETCH_THEN_SAY_IF_BOTOCORE], cwd=proj, env={**s3["env"], **transport},
                         capture_output=True, text=True)
    assert res.returncode == 0 and "2 downloaded" in res.stderr, res.stderr
    assert res.stderr.splitlines()[-1] == str(bool(transport))
