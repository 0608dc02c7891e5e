"""`vline fingerprint` (SPEC §4) and reading the stamp of a trace."""
from __future__ import annotations

import gzip
import json

import pytest
from conftest import CHECK_FLAGS as FLAGS
from conftest import vline

CHECK = "f90fef94f6f258004f146d70c8a3aafe5aeb8dfb634ddf292cad3d355c808457"
CONFIG = ("block_size=16;enable_prefix_caching=true;enforce_eager=false;gpu_memory_utilization=0.85;"
          "max_model_len=2048;max_num_seqs=64;model=facebook/opt-125m;speculative=none;tensor_parallel=1")
def test_spec_check_value_from_flags(tmp_path):
    assert vline("fingerprint", *FLAGS, cwd=tmp_path, check_code=0).stdout == CHECK + "\n"


def test_spec_check_value_from_engine_config(tmp_path):
    res = vline("fingerprint", "--gpu", "A100", "--vllm-tag", "v0.22.1", "--engine-config", CONFIG,
                cwd=tmp_path, check_code=0)
    assert res.stdout == CHECK + "\n"
    shuffled = ";".join(reversed(CONFIG.split(";")))  # key order given does not matter
    res = vline("fingerprint", "--gpu", "A100", "--vllm-tag", "v0.22.1", "--engine-config", shuffled, "--json",
                cwd=tmp_path, check_code=0)
    assert json.loads(res.stdout) == {"config_hash": CHECK, "scheme": "config-fingerprint-v3", "gpu": "A100",
                                      "vllm_tag": "v0.22.1", "engine_config": CONFIG}


def test_values_render_as_python_str(tmp_path):
    """0.90 → 0.9: the same deployment hashes the same however the number was typed."""
    a = vline("fingerprint", *[("0.90" if f == "0.85" else f) for f in FLAGS], cwd=tmp_path, check_code=0)
    b = vline("fingerprint", *[("0.9" if f == "0.85" else f) for f in FLAGS], cwd=tmp_path, check_code=0)
    assert a.stdout == b.stdout != CHECK + "\n"
    js = json.loads(vline("fingerprint", *FLAGS, "--json", cwd=tmp_path, check_code=0).stdout)
    assert "gpu_memory_utilization=0.85;" in js["engine_config"] and "speculative=none" in js["engine_config"]
    spec = vline("fingerprint", *FLAGS, "--speculative", "ngram:4", cwd=tmp_path, check_code=0).stdout
    assert spec != CHECK + "\n"


@pytest.mark.parametrize("args", [
    ["--model", "facebook/opt;125m"],
    ["--model", "facebook/opt\n125m"],
    ["--gpu", "A100\nvllm_tag=v9"],
    ["--speculative", "a;b"],
])
def test_newline_or_semicolon_is_exit_2(tmp_path, args):
    flags = list(FLAGS) + ["--speculative", "none"]
    i = flags.index(args[0])
    flags[i + 1] = args[1]
    res = vline("fingerprint", *flags, cwd=tmp_path, check_code=2)
    assert "newline or ';'" in res.stderr and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("config,words", [
    (CONFIG.replace("block_size=16;", ""), "missing keys block_size"),
    (CONFIG + ";colour=red", "unknown keys colour"),
    (CONFIG + ";block_size=32", "given twice"),
    (CONFIG.replace("block_size=16", "block_size"), "not key=value"),
    (CONFIG.replace("model=facebook/opt-125m", "model=a\nb"), "newline"),
])
def test_bad_engine_config(tmp_path, config, words):
    res = vline("fingerprint", "--gpu", "A100", "--vllm-tag", "v0.22.1", "--engine-config", config,
                cwd=tmp_path, check_code=2)
    assert words in res.stderr


def test_missing_flags_are_named(tmp_path):
    res = vline("fingerprint", "--gpu", "A100", "--vllm-tag", "v0.22.1", "--model", "m", cwd=tmp_path,
                check_code=2)
    for flag in ("--tp", "--max-model-len", "--block-size", "--enforce-eager/--no-enforce-eager"):
        assert flag in res.stderr
    res = vline("fingerprint", "--engine-config", CONFIG, cwd=tmp_path, check_code=2)
    assert "--gpu" in res.stderr and "--vllm-tag" in res.stderr


def _meta():
    return {"model": "facebook/opt-125m", "gpu": "A100", "tp": 1, "config_hash": CHECK, "vllm_version": "0.22.1",
            "extra": {"k": [1, 2]}}


def test_trace_stamp_plain_and_multi_member_gzip(tmp_path):
    lines = [json.dumps({"meta": _meta()}), json.dumps({"prompt_tokens": 5, "output_tokens": 7, "ttft_ms": 1.5})]
    plain = tmp_path / "t.jsonl"
    plain.write_text("\n" + "\n".join(lines) + "\n")  # a blank line before meta is allowed
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress((lines[0] + "\n").encode()) + gzip.compress((lines[1] + "\n").encode()))
    for path in (plain, gz):
        out = vline("fingerprint", "--trace", str(path), cwd=tmp_path, check_code=0).stdout
        assert out.splitlines() == [f"config_hash={CHECK}", "model=facebook/opt-125m", "gpu=A100", "tp=1",
                                    "vllm_version=0.22.1", 'extra={"k":[1,2]}']
        assert json.loads(vline("fingerprint", "--trace", str(path), "--json", cwd=tmp_path,
                                check_code=0).stdout) == _meta()


@pytest.mark.parametrize("content,words", [
    (b"", "no meta"),
    (b'{"prompt_tokens": 1}\n', "meta"),
    (b"not json\n", "not JSON"),
    (b'{"meta": {"gpu": "A100"}}\n', "not stamped"),
    (b"\x1f\x8b\x08garbage", "unreadable"),
])
def test_bad_traces(tmp_path, content, words):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    res = vline("fingerprint", "--trace", str(p), cwd=tmp_path, check_code=2)
    assert words in res.stderr and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1
