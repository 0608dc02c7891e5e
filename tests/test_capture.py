"""Golden captures as Kubernetes Jobs (Kueue): the capture matrix in the format teams keep (the reference
project's models.toml, read unchanged), its rules, the Jobs (validated against the Kubernetes schemas), the
one computation behind engine flags and config_hash, engine images resolved in a real registry (Debian's
docker-registry with a multi-arch OCI index pushed through its HTTP API), and `submit` against a replayed
API conversation (no Kubernetes API server can be had on this machine)."""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import kubernetes_validate  # the capture extra's test dependency: a missing one fails loudly, never skips
import pytest
import yaml
from conftest import REPO, clean_env, vline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from s3world import free_port

from vline import capture, compat as compat_mod, k8s, tomlfile

FIXTURES = Path(__file__).parent / "fixtures" / "capture"
VCR_COMPAT = FIXTURES / "vcr" / "compat.toml"
VCR_MODELS = FIXTURES / "vcr" / "models.toml"
CLEAN = FIXTURES / "capture.toml"
API = json.loads((FIXTURES / "k8s-api.json").read_text())


@pytest.fixture
def project(tmp_path) -> Path:
    """The reference project's layout: compat.toml at the root, the matrix at deploy/trace-capture/models.toml."""
    shutil.copy(VCR_COMPAT, tmp_path / "compat.toml")
    (tmp_path / "deploy" / "trace-capture").mkdir(parents=True)
    shutil.copy(VCR_MODELS, tmp_path / "deploy" / "trace-capture" / "models.toml")
    shutil.copy(CLEAN, tmp_path / "capture.toml")
    return tmp_path


def run(*args, cwd, code=0, env=None):
    return vline(*args, cwd=cwd, env=env or clean_env(), check_code=code)


def matrix_of(text: str, tmp_path: Path) -> capture.Matrix:
    path = tmp_path / "capture.toml"
    path.write_text(text)
    return capture.parse(tomlfile.read(path, "capture.toml"), compat_mod.load(VCR_COMPAT))


def findings(m: capture.Matrix) -> list[tuple[int, str, str]]:
    return [(f.line, f.severity, f.message) for f in m.findings]


# --- the capture matrix and its rules ---------------------------------------------------------------

def test_reference_models_toml_is_read_unchanged_and_its_drift_is_reported(monkeypatch):
    """The reference project's real file: its stale lines (v0.23.0, v0.24.0) and the nightly engine pinned by
    tag are errors at their lines; every capture of the window lines is renderable."""
    monkeypatch.setenv("VLINE_CAPTURE", str(VCR_MODELS))
    everything = capture.check_findings(compat_mod.load(VCR_COMPAT))
    assert all(f.path == str(VCR_MODELS) for f in everything)
    [warning] = [f for f in everything if f.severity == "warning"]
    assert warning.line == 28 and "post-merge build of 8dd1b702f27e" in warning.message  # nightly moved on
    found = [f for f in everything if f.severity == "error"]
    by_line = {f.line: f.message for f in found}
    assert "v0.23.0" in by_line[23] and "not the tag of a line in the window" in by_line[23]
    assert "v0.24.0" in by_line[47] and "line 0.24" not in by_line[47]
    assert "nightly" in by_line[28] and "not pinned by digest" in by_line[28]
    # every [[capture]] of v0.23.0 (7) and v0.24.0 (3), at its vllm_tag line
    stale = [ln for ln, msg in by_line.items() if msg.startswith("[[capture]]") and "vllm_tag" in msg]
    assert len(stale) == 10 and len(found) == 13
    m = capture.load(compat_mod.load(VCR_COMPAT), VCR_MODELS)
    ok = sorted(t.name for t in m.targets if t.ok)
    assert ok == sorted(f"v0{n}-qwen3-8b-{w}" for n in (25, 26, 27) for w in ("mt-s7", "mt-s13", "nocache-s7"))
    # the nightly captures are blocked by the unpinned image, reported once at its key
    nightly = [t for t in m.targets if t.values["vllm_tag"] == "nightly"]
    assert nightly and all(t.problems and t.problems[0].line == 28 for t in nightly)


def test_clean_matrix_has_no_findings_and_missing_default_file_none(tmp_path, monkeypatch):
    monkeypatch.delenv("VLINE_CAPTURE", raising=False)
    monkeypatch.setenv("VLINE_CAPTURE", str(CLEAN))
    assert capture.check_findings(compat_mod.load(VCR_COMPAT)) == []
    monkeypatch.delenv("VLINE_CAPTURE")
    shutil.copy(VCR_COMPAT, tmp_path / "compat.toml")
    assert capture.check_findings(compat_mod.load(tmp_path / "compat.toml")) == []  # no capture.toml: nothing
    monkeypatch.setenv("VLINE_CAPTURE", str(tmp_path / "nope.toml"))  # asked for: missing is an error
    [f] = capture.check_findings(compat_mod.load(tmp_path / "compat.toml"))
    assert f.severity == "error" and "no capture matrix" in f.message
    (tmp_path / "bad.toml").write_text("[defaults]\nnamespace = \n")
    monkeypatch.setenv("VLINE_CAPTURE", str(tmp_path / "bad.toml"))
    [f] = capture.check_findings(compat_mod.load(tmp_path / "compat.toml"))
    assert (f.line, f.severity) == (2, "error") and "invalid TOML" in f.message


RULES = """\
[defaults]
namespace = "ns"
queue = "q"
gpu = "H200"
gpu_memory_utilization = 0.9
tp = 1
block_size = 16
max_num_seqs = 64
max_model_len = 4096
engine_cpu_request = "8"
engine_cpu_limit = "16"
engine_memory_request = "64Gi"
engine_memory_limit = "lots"
model_cache_size = "100Gi"

[lines."v0.24.0"]
engine_image = "docker.io/vllm/vllm-openai:v0.24.0@sha256:251eba5cc7c12fed0b75da22a9240e582b1c9e39f6fbc064f86781b963bd814f"
tap_image = "ghcr.io/x/tap:vllm0.24"

[lines."v0.27.1"]
engine_image = "docker.io/vllm/vllm-openai:v0.27.1"
tap_image = "ghcr.io/x/tap:vllm0.27"

[lines."v0.26.0"]
tap_image = "ghcr.io/x/tap:vllm0.26"

[[capture]]
name = "a"
model = "m/m"
vllm_tag = "v0.27.0"
scenario = "baseline"
phases = "multiturn"

[[capture]]
name = "b"
model = "m/m"
vllm_tag = "v0.26.0"
scenario = "baseline"
phases = "multiturn"
mt_seed = "7"
engine_memory_limit = "96Gi"

[[capture]]
name = "b"
model = "m/m"
vllm_tag = "v0.26.0"
scenario = "specdecode"
phases = "multiturn"
mt_seed = "7"
engine_memory_limit = "96Gi"

[[capture]]
name = "c"
model = "m/m"
vllm_tag = "v0.25.1"
scenario = "turbo"
phases = "multiturn"
speculative = "ngram-k2"
flavour = "x"
"""


def test_every_rule_is_reported_at_its_line(tmp_path):
    got = findings(matrix_of(RULES, tmp_path))
    expect = [
        (13, "error", "[defaults] engine_memory_limit: 'lots' is not a Kubernetes quantity"),
        (16, "error", '[lines."v0.24.0"]: \'v0.24.0\' is not the tag of a line in the window'),
        (21, "error", '[lines."v0.27.1"]: engine_image \'docker.io/vllm/vllm-openai:v0.27.1\' is not pinned by digest'),
        (24, "error", '[lines."v0.26.0"]: no engine_image, and line 0.26 has 2 captures'),
        (30, "error", "[[capture]] 'a': vllm_tag 'v0.27.0' is not the tag of a line in the window"),
        (34, "error", "[[capture]] 'b': line 0.26's fidelity gate rests on a single seed: its 2 fidelity captures all run seed 7"),
        (43, "error", "[[capture]] 'b': duplicate name (first at line 34)"),
        (43, "error", "[[capture]] 'b': scenario 'specdecode' deploys speculative decoding: set speculative"),
        (52, "error", "[[capture]] 'c': line 0.25's fidelity gate rests on a single seed: its only fidelity capture runs "
                      "the load generator's default seed"),
        (55, "error", "[[capture]] 'c': no [lines.\"v0.25.1\"] table"),
        (56, "error", "[[capture]] 'c': scenario 'turbo' is not one of baseline, multimodal, nocache, specdecode"),
        (59, "warning", "[[capture]] 'c': unknown key 'flavour' (ignored)"),
    ]
    for line, severity, fragment in expect:
        assert any(ln == line and sev == severity and fragment in msg for ln, sev, msg in got), (line, fragment, got)
    assert len(got) == len(expect)
    assert "line 0.27 is at v0.27.1 now" in next(msg for ln, _, msg in got if ln == 30)
    # 'c' inherits an invalid engine_memory_limit: no second finding, but it cannot be rendered
    m = matrix_of(RULES, tmp_path)
    c = next(t for t in m.targets if t.name == "c")
    assert any(f.line == 13 for f in c.problems)


def test_inherited_invalid_default_blocks_but_is_reported_once(tmp_path):
    m = matrix_of(RULES, tmp_path)
    assert sum(1 for f in m.findings if "engine_memory_limit" in f.message and f.line == 13) == 1
    b = [t for t in m.targets if t.name == "b"][0]
    assert b.values["engine_memory_limit"] == "96Gi"  # its own value wins over [defaults]


def test_user_scenarios_and_speculative_methods_are_data(tmp_path):
    text = CLEAN.read_text() + """
[scenarios.eager-nocache]
description = "prefix caching off"
enable_prefix_caching = false

[speculative.suffix]
suffix_max_tree_depth = 24

[[capture]]
name = "v026-suffix"
model = "Qwen/Qwen3-8B"
vllm_tag = "v0.26.0"
scenario = "specdecode"
speculative = "suffix-k5"
phases = "multiturn"
mt_seed = "21"

[[capture]]
name = "v026-custom"
model = "Qwen/Qwen3-8B"
vllm_tag = "v0.26.0"
scenario = "eager-nocache"
phases = "multiturn"
mt_seed = "21"
"""
    m = matrix_of(text, tmp_path)
    assert m.findings == []
    suffix = capture.engine(next(t for t in m.targets if t.name == "v026-suffix"))
    assert suffix.args[-2:] == ["--speculative-config", '{"method": "suffix", "num_speculative_tokens": 5, '
                                                        '"suffix_max_tree_depth": 24}']
    assert "speculative=suffix-k5" in suffix.engine_config
    custom = capture.engine(next(t for t in m.targets if t.name == "v026-custom"))
    assert "--no-enable-prefix-caching" in custom.args and "enable_prefix_caching=false" in custom.engine_config
    bad = matrix_of(CLEAN.read_text() + '\n[scenarios.raw]\nengine_args = ["--foo"]\n', tmp_path)
    assert [f.severity for f in bad.findings] == ["error"] and "unknown key 'engine_args'" in bad.findings[0].message


def test_engine_image_tag_must_be_its_lines_tag(tmp_path):
    text = CLEAN.read_text().replace("vllm-openai:v0.26.0@", "vllm-openai:v0.26.1@")
    [f] = matrix_of(text, tmp_path).findings
    assert (f.line, f.severity) == (29, "error")
    assert "engine_image is tagged v0.26.1, not the line's v0.26.0" in f.message


def test_image_references_as_docker_reads_them():
    ref = capture.parse_image("docker.io/vllm/vllm-openai:v0.27.1@sha256:" + "a" * 64)
    assert ref == ("docker.io", "vllm/vllm-openai", "v0.27.1", "sha256:" + "a" * 64) and ref.pinned
    assert capture.parse_image("vllm/vllm-openai:v1") == ("docker.io", "vllm/vllm-openai", "v1", None)
    assert capture.parse_image("python:3.12-slim") == ("docker.io", "library/python", "3.12-slim", None)
    assert capture.parse_image("127.0.0.1:5000/a/b@sha256:" + "b" * 64).registry == "127.0.0.1:5000"
    assert capture.parse_image("localhost/x").registry == "localhost"
    for bad in ("", "UPPER/case", "a b", "x:tag@md5", "-x"):
        assert capture.parse_image(bad) is None, bad


# --- Jobs -------------------------------------------------------------------------------------------

def rendered(project: Path, *args: str) -> tuple[str, list[dict]]:
    out = run("capture", "render", *args, cwd=project).stdout
    return out, list(yaml.safe_load_all(out))


def test_every_job_is_valid_against_the_kubernetes_schemas(project):
    text, docs = rendered(project, "--all")
    assert len(docs) == 9 and text.startswith("---\n") and text.count("\n---\n") == 8
    for doc in docs:
        for version in ("1.29.0", "1.37.0"):  # native sidecars are on by default from 1.29
            kubernetes_validate.validate(doc, version, strict=True)
    # the check is real: 1.27 has no restartPolicy on containers, and a stray field fails strict validation
    with pytest.raises(kubernetes_validate.ValidationError, match="restartPolicy"):
        kubernetes_validate.validate(docs[0], "1.27.0", strict=True)
    broken = json.loads(json.dumps(docs[0]))
    broken["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37.0", strict=True)


def containers(doc: dict) -> dict[str, dict]:
    pod = doc["spec"]["template"]["spec"]
    return {c["name"]: c for c in pod["initContainers"] + pod["containers"]}


ENGINE_COMMON = ["--headless", "--data-parallel-address=127.0.0.1", "--data-parallel-rpc-port=5580",
                 "--data-parallel-size=1"]


@pytest.mark.parametrize("name, engine_tail, loadgen, gpus", [
    ("v027-qwen3-8b-mt-s7",
     ["--tensor-parallel-size=1", "--gpu-memory-utilization=0.9", "--max-model-len=16384", "--max-num-seqs=256",
      "--block-size=16", "--enforce-eager", "--enable-prefix-caching"],
     {"PHASES": "multiturn", "MODEL": "Qwen/Qwen3-8B", "MT_SEED": "7"}, "1"),
    ("v027-qwen3-8b-nocache-s7",
     ["--tensor-parallel-size=1", "--gpu-memory-utilization=0.9", "--max-model-len=16384", "--max-num-seqs=256",
      "--block-size=16", "--enforce-eager", "--no-enable-prefix-caching"],
     {"PHASES": "multiturn", "MODEL": "Qwen/Qwen3-8B", "MT_SEED": "7"}, "1"),
    ("v027-qwen3-8b-specdecode",
     ["--tensor-parallel-size=1", "--gpu-memory-utilization=0.9", "--max-model-len=16384", "--max-num-seqs=256",
      "--block-size=16", "--enforce-eager", "--enable-prefix-caching", "--speculative-config",
      '{"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 4, "prompt_lookup_min": 2}'],
     {"PHASES": "multiturn", "MODEL": "Qwen/Qwen3-8B"}, "1"),
    ("v027-qwen2-5-vl-7b",
     ["--tensor-parallel-size=2", "--gpu-memory-utilization=0.9", "--max-model-len=32768", "--max-num-seqs=256",
      "--block-size=16", "--enforce-eager", "--enable-prefix-caching"],
     {"PHASES": "multimodal", "MODEL": "Qwen/Qwen2.5-VL-7B-Instruct"}, "2"),
    ("nightly-qwen3-8b-mt-s7",
     ["--tensor-parallel-size=1", "--gpu-memory-utilization=0.9", "--max-model-len=16384", "--max-num-seqs=256",
      "--block-size=16", "--enable-prefix-caching"],
     {"PHASES": "multiturn", "MODEL": "Qwen/Qwen3-8B", "MT_SEED": "7", "MT_RATE": "0.5"}, "1"),
    ("nightly-qwen3-8b-mt-s13",
     ["--tensor-parallel-size=1", "--gpu-memory-utilization=0.9", "--max-model-len=16384", "--max-num-seqs=256",
      "--block-size=16", "--enforce-eager", "--enable-prefix-caching"],
     {"PHASES": "sweep multiturn", "MODEL": "Qwen/Qwen3-8B", "MT_SEED": "13", "SWEEP_WORDS": "64 512",
      "SWEEP_CONC": "1 16"}, "1"),
])
def test_job_is_what_the_scenario_implies(project, name, engine_tail, loadgen, gpus):
    _, [doc] = rendered(project, name)
    meta, spec = doc["metadata"], doc["spec"]
    assert (doc["apiVersion"], doc["kind"], meta["name"], meta["namespace"]) == \
        ("batch/v1", "Job", f"trace-{name}", "inference-sim")
    assert meta["labels"]["kueue.x-k8s.io/queue-name"] == "conformance-queue"
    assert spec["suspend"] is True and spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 86400 and spec["activeDeadlineSeconds"] == 14400
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert [c["name"] for c in pod["initContainers"]] == ["engine", "tap", "frontend"]
    assert all(c["restartPolicy"] == "Always" for c in pod["initContainers"])  # native sidecars
    assert [c["name"] for c in pod["containers"]] == ["loadgen"]
    c = containers(doc)
    model = loadgen["MODEL"]
    assert c["engine"]["command"] == ["vllm", "serve"]
    assert c["engine"]["args"] == [model, *ENGINE_COMMON, *engine_tail]  # exactly the scenario's flags
    assert c["engine"]["resources"]["requests"]["nvidia.com/gpu"] == gpus == c["engine"]["resources"]["limits"]["nvidia.com/gpu"]
    assert {e["name"]: e["value"] for e in c["loadgen"]["env"]} == loadgen
    tap = c["tap"]["args"]
    line_tag = "nightly" if name.startswith("nightly") else "v0.27.1"
    for flag in (f"--vllm-version={line_tag}", "--gpu=H200", f"--model={model}", f"--tp={gpus}", "--block-size=16",
                 "--max-num-seqs=256", "--record-tokens", "--step-stats-out=/trace/step-stats.jsonl"):
        assert flag in tap, flag
    [cfg] = [a.split("=", 1)[1] for a in tap if a.startswith("--engine-config=")]
    assert cfg == meta["annotations"]["vline/engine-config"]
    # the trace lives in an emptyDir the tap writes and the load generator reads
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["trace"] == {"name": "trace", "emptyDir": {}}
    assert {"name": "trace", "mountPath": "/trace"} in c["tap"]["volumeMounts"]
    assert {"name": "trace", "mountPath": "/trace"} in c["loadgen"]["volumeMounts"]
    assert c["engine"]["image"].split("@")[1].startswith("sha256:")


def test_render_is_deterministic_and_equals_the_model(project):
    first, docs = rendered(project, "--all")
    second, _ = rendered(project, "--all")
    assert first == second
    compat = compat_mod.load(project / "compat.toml")
    m = capture.load(compat, project / "capture.toml")
    assert docs == [k8s.job(t) for t in m.targets]
    # the spec digest submit compares ignores suspend (Kueue flips it) and changes with anything else
    doc = docs[0]
    digest = doc["metadata"]["annotations"][k8s.SPEC_ANNOTATION]
    assert k8s.spec_digest(doc) == digest
    doc["spec"]["suspend"] = False
    assert k8s.spec_digest(doc) == digest
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = "python:3.13-slim"
    assert k8s.spec_digest(doc) != digest


def test_render_selects_by_line_and_refuses_targets_with_errors(project):
    _, docs = rendered(project, "--line", "0.26")
    assert [d["metadata"]["name"] for d in docs] == ["trace-v026-qwen3-8b-mt-s7", "trace-v026-qwen3-8b-mt-s13"]
    models = "deploy/trace-capture/models.toml"
    _, docs = rendered(project, "--capture", models, "v027-qwen3-8b-mt-s7", "v025-qwen3-8b-nocache-s7")
    assert len(docs) == 2
    res = run("capture", "render", "--capture", models, "v027-qwen3-8b-mt-s7", "qwen3-8b", cwd=project, code=2)
    assert res.stdout == ""
    assert res.stderr.startswith(f"{models}:78: error: [[capture]] 'qwen3-8b': vllm_tag 'v0.23.0'")
    res = run("capture", "render", "--capture", models, "no-such", cwd=project, code=2)
    assert "unknown capture target 'no-such'" in res.stderr and res.stdout == ""
    res = run("capture", "render", cwd=project, code=2)
    assert "--all" in res.stderr


# --- one computation: engine flags, engine_config, config_hash ----------------------------------------

def vllm_reads(args: list[str]) -> dict[str, object]:
    """What the engine deploys, read from its arguments as vLLM's argparse reads them (defaults for what is
    absent), independently of vline: the behavioral settings of config-fingerprint-v3."""
    p = argparse.ArgumentParser(exit_on_error=False, add_help=False)
    p.add_argument("model")
    p.add_argument("--headless", action="store_true")
    p.add_argument("--data-parallel-address")
    p.add_argument("--data-parallel-rpc-port", type=int)
    p.add_argument("--data-parallel-size", type=int, default=1)
    p.add_argument("--tensor-parallel-size", type=int, default=1)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--max-num-seqs", type=int)
    p.add_argument("--block-size", type=int)
    p.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--speculative-config", type=json.loads)
    ns = p.parse_args(args)
    spec = ns.speculative_config
    return {"block_size": ns.block_size or 16, "enable_prefix_caching": ns.enable_prefix_caching is not False,
            "enforce_eager": ns.enforce_eager, "gpu_memory_utilization": ns.gpu_memory_utilization,
            "max_model_len": ns.max_model_len, "max_num_seqs": ns.max_num_seqs, "model": ns.model,
            "speculative": f"{spec['method']}-k{spec['num_speculative_tokens']}" if spec else "none",
            "tensor_parallel": ns.tensor_parallel_size}


def canonical(flags: dict[str, object]) -> str:
    def r(v):
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    return ";".join(f"{k}={r(flags[k])}" for k in sorted(flags))


def test_engine_flags_and_config_hash_cannot_disagree(project):
    """For every target: the engine_config the engine's own arguments imply (read as vLLM reads them) is the
    one the tap stamps and the Job records, and `vline fingerprint` of those values is list --json's hash."""
    _, docs = rendered(project, "--all")
    listed = {r["job"]: r for r in json.loads(run("capture", "list", "--json", cwd=project).stdout)}
    assert len(listed) == len(docs) == 9
    for doc in docs:
        c = containers(doc)
        deployed = vllm_reads(c["engine"]["args"])
        [stamped] = [a.split("=", 1)[1] for a in c["tap"]["args"] if a.startswith("--engine-config=")]
        assert canonical(deployed) == stamped == doc["metadata"]["annotations"]["vline/engine-config"]
        row = listed[doc["metadata"]["name"]]
        assert row["engine_config"] == stamped and row["engine_args"] == c["engine"]["args"]
        tag = next(a.split("=", 1)[1] for a in c["tap"]["args"] if a.startswith("--vllm-version="))
        flags = ["--gpu", "H200", "--vllm-tag", tag, "--model", str(deployed["model"]),
                 "--tp", str(deployed["tensor_parallel"]),
                 "--gpu-memory-utilization", str(deployed["gpu_memory_utilization"]),
                 "--max-model-len", str(deployed["max_model_len"]), "--max-num-seqs", str(deployed["max_num_seqs"]),
                 "--block-size", str(deployed["block_size"]),
                 "--enforce-eager" if deployed["enforce_eager"] else "--no-enforce-eager",
                 "--prefix-caching" if deployed["enable_prefix_caching"] else "--no-prefix-caching",
                 "--speculative", str(deployed["speculative"])]
        fp = run("fingerprint", *flags, cwd=project).stdout.strip()
        assert fp == row["config_hash"] == doc["metadata"]["annotations"]["vline/config-hash"]


def test_reference_goldens_keep_their_config_hash(project):
    """The engine_config of the reference project's targets is the string its tap already stamps (so goldens
    captured before vline keep matching): spot values written out by hand."""
    m = capture.load(compat_mod.load(project / "compat.toml"), project / "deploy/trace-capture/models.toml")
    t = {t.name: t for t in m.targets}
    assert capture.engine(t["v027-qwen3-8b-nocache-s7"]).engine_config == (
        "block_size=16;enable_prefix_caching=false;enforce_eager=true;gpu_memory_utilization=0.9;"
        "max_model_len=16384;max_num_seqs=256;model=Qwen/Qwen3-8B;speculative=none;tensor_parallel=1")
    assert capture.engine(t["qwen3-8b-specdecode"]).engine_config == (
        "block_size=16;enable_prefix_caching=true;enforce_eager=true;gpu_memory_utilization=0.9;"
        "max_model_len=16384;max_num_seqs=256;model=Qwen/Qwen3-8B;speculative=ngram-k3;tensor_parallel=1")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tp=st.integers(1, 8), gmu=st.sampled_from([0.5, 0.85, 0.9, 0.95, 1]), mml=st.integers(256, 131072),
       seqs=st.integers(1, 1024), block=st.sampled_from([8, 16, 32, 64]), eager=st.booleans(),
       scenario=st.sampled_from(["baseline", "nocache", "specdecode", "multimodal"]), k=st.integers(1, 9))
def test_flags_and_fingerprint_agree_for_any_values(tmp_path, tp, gmu, mml, seqs, block, eager, scenario, k):
    spec = f'speculative = "ngram-k{k}"\n' if scenario == "specdecode" else ""
    text = CLEAN.read_text() + f"""
[[capture]]
name = "prop"
model = "org/model-x"
vllm_tag = "v0.26.0"
scenario = "{scenario}"
phases = "multiturn"
tp = {tp}
gpu_memory_utilization = {gmu}
max_model_len = {mml}
max_num_seqs = {seqs}
block_size = {block}
enforce_eager = {"true" if eager else "false"}
{spec}"""
    m = matrix_of(text, tmp_path)
    [t] = [t for t in m.targets if t.name == "prop"]
    assert t.ok, t.problems
    eng = capture.engine(t)
    assert canonical(vllm_reads(eng.args)) == eng.engine_config
    assert f"--engine-config={eng.engine_config}" in capture.tap_args(t)


# --- list ------------------------------------------------------------------------------------------------

def test_list_json_and_table(project):
    rows = json.loads(run("capture", "list", "--json", "--capture", "deploy/trace-capture/models.toml",
                          cwd=project).stdout)
    assert len(rows) == 22
    row = next(r for r in rows if r["name"] == "v027-qwen3-8b-mt-s7")
    assert (row["line"], row["vllm_tag"], row["scenario"], row["workload"], row["ok"]) == \
        ("0.27", "v0.27.1", "baseline", "multiturn-s7", True)
    stale = next(r for r in rows if r["name"] == "qwen3-8b")
    assert stale["line"] is None and not stale["ok"] and "models.toml:78: error:" in stale["problems"][0]
    assert stale["config_hash"] is not None  # the fingerprint does not depend on the window
    res = run("capture", "list", cwd=project)
    assert res.stdout == "" and "9 capture targets" in res.stderr


def test_capture_model_and_check_path_stay_light():
    """`check` calls capture.check_findings: importing the model pulls in no yaml, kubernetes or rich."""
    code = ("import sys, vline.capture, vline.commands.check; "
            "print(sorted(m for m in ('yaml', 'kubernetes', 'rich', 'urllib3', 'vline.k8s') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- verify-images: a real registry with a real multi-arch index -------------------------------------

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _push_blob(base: str, repo: str, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.urlopen(urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", method="POST"))
    assert start.status == 202
    url = urllib.parse.urljoin(base, start.headers["Location"])
    url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
    done = urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT",
                                                         headers={"Content-Type": "application/octet-stream"}))
    assert done.status == 201
    return {"digest": digest, "size": len(data)}


def _push_manifest(base: str, repo: str, ref: str, doc: dict, media: str) -> dict:
    raw = json.dumps(doc).encode()
    resp = urllib.request.urlopen(urllib.request.Request(f"{base}/v2/{repo}/manifests/{ref}", data=raw,
                                                         method="PUT", headers={"Content-Type": media}))
    assert resp.status == 201
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert resp.headers["Docker-Content-Digest"] == digest
    return {"mediaType": media, "digest": digest, "size": len(raw)}


def _platform_image(base: str, repo: str, arch: str) -> dict:
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        data = f"engine for {arch}\n".encode()
        info = tarfile.TarInfo("etc/arch")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
    config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes.getvalue()).hexdigest()]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_push_blob(base, repo, config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            **_push_blob(base, repo, layer)}]}
    return manifest


@pytest.fixture(scope="module")
def images(registry):
    """vllm/vllm-openai:v0.27.1 as an OCI image index of linux/amd64 and linux/arm64 (pushed by digest), and
    v0.26.0 as a single-platform image."""
    base, repo = f"http://{registry}", "vllm/vllm-openai"
    children = {}
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        m = _platform_image(base, repo, arch)
        desc = _push_manifest(base, repo, "sha256:" + hashlib.sha256(json.dumps(m).encode()).hexdigest(), m,
                              OCI_MANIFEST)
        desc["platform"] = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
        children[arch] = desc
    index = _push_manifest(base, repo, "v0.27.1", {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                   "manifests": list(children.values())}, OCI_INDEX)
    single = _push_manifest(base, repo, "v0.26.0", _platform_image(base, repo, "amd64"), OCI_MANIFEST)
    return {"registry": registry, "index": index["digest"], "amd64": children["amd64"]["digest"],
            "arm64": children["arm64"]["digest"], "single": single["digest"]}


def images_project(tmp_path: Path, images: dict, v27: str, v26: str | None = None) -> Path:
    shutil.copy(VCR_COMPAT, tmp_path / "compat.toml")
    host = images["registry"]
    text = CLEAN.read_text()
    text = text.replace("docker.io/vllm/vllm-openai:v0.27.1@sha256:0a51ea5b4ae2dc5d81890e5173f54203d2a3ae0cfffe51b8fd2afd4391bfd967",
                        f"{host}/vllm/vllm-openai:v0.27.1{v27}")
    text = text.replace("docker.io/vllm/vllm-openai:v0.26.0@sha256:ffb2d59b1c059a5bd8d781320c9f5189de8293693b7d95da54befddaa54abf52",
                        f"{host}/vllm/vllm-openai:v0.26.0{v26 or '@' + images['single']}")
    (tmp_path / "capture.toml").write_text(text)
    return tmp_path


def records(stdout: str) -> dict[str, dict]:
    out = {}
    for ln in stdout.splitlines():
        rec = dict(part.split("=", 1) for part in ln.split(" "))
        out[rec["tag"]] = rec
    return out


def test_verify_images_refuses_a_platform_child_of_a_multi_arch_index(tmp_path, images):
    proj = images_project(tmp_path, images, "@" + images["arm64"])
    res = run("capture", "verify-images", "0.27", "v0.26.0", cwd=proj, code=1)
    recs = records(res.stdout)
    host = images["registry"]
    assert recs["v0.27.1"]["status"] == "refused" and recs["v0.27.1"]["kind"] == "manifest"
    assert recs["v0.27.1"]["use"] == f"{host}/vllm/vllm-openai:v0.27.1@{images['index']}"
    assert recs["v0.26.0"]["status"] == "ok" and recs["v0.26.0"]["kind"] == "manifest"
    [err] = [ln for ln in res.stderr.splitlines() if ": error: " in ln]
    line = (proj / "capture.toml").read_text().splitlines().index(
        next(ln for ln in (proj / "capture.toml").read_text().splitlines() if "v0.27.1" in ln and "engine_image" in ln)) + 1
    assert err.startswith(f"capture.toml:{line}: error: [lines.\"v0.27.1\"]: engine_image: {images['arm64']} is "
                          "the linux/arm64/v8 manifest of the multi-arch index")
    assert images["index"] in err
    # the amd64 child is refused as well: the pin must be the index, whatever the nodes are today
    (tmp_path / "amd").mkdir()
    res = run("capture", "verify-images", "0.27", cwd=images_project(tmp_path / "amd", images, "@" + images["amd64"]),
              code=1)
    assert "linux/amd64 manifest" in res.stderr


def test_verify_images_accepts_the_index_digest(tmp_path, images):
    proj = images_project(tmp_path, images, "@" + images["index"])
    res = run("capture", "verify-images", "0.27", "0.26", "--json", cwd=proj)
    rows = {r["tag"]: r for r in json.loads(res.stdout)}
    assert rows["v0.27.1"]["status"] == "ok" and rows["v0.27.1"]["kind"] == "index"
    assert rows["v0.27.1"]["use"].endswith("@" + images["index"])
    assert "multi-arch index of 2 platform(s)" in res.stderr


def test_verify_images_unpinned_missing_and_unreachable(tmp_path, images):
    proj = images_project(tmp_path, images, "", "@sha256:" + "0" * 64)  # v0.27.1 by tag only; v0.26.0 unknown digest
    res = run("capture", "verify-images", "0.27", "0.26", cwd=proj, code=1)
    recs = records(res.stdout)
    assert recs["v0.27.1"]["status"] == "refused" and recs["v0.27.1"]["use"].endswith("@" + images["index"])
    assert recs["v0.26.0"]["status"] == "refused" and recs["v0.26.0"]["kind"] == "missing"
    assert "not pinned by digest: pin" in res.stderr and "is not in the registry" in res.stderr
    dead = tmp_path / "dead"
    dead.mkdir()
    proj = images_project(dead, {**images, "registry": f"127.0.0.1:{free_port()}"}, "@" + images["index"])
    res = run("capture", "verify-images", "0.27", cwd=proj, code=3)
    assert "unreachable after 3 attempts" in res.stderr and "Traceback" not in res.stderr


# --- submit: the Kubernetes API, as a replayed conversation -----------------------------------------------

def _fill(obj, **values):
    text = json.dumps(obj)
    for k, v in values.items():
        text = text.replace("{" + k + "}", v)
    return json.loads(text)


def server_copy(doc: dict, uid: str, admitted: bool = True) -> dict:
    """The Job as the API server stores it after a create (defaults, controller labels), and as Kueue leaves it
    after admission (unsuspended, flavor's nodeSelector), built from the shapes in k8s-api.json."""
    name = doc["metadata"]["name"]
    job = json.loads(json.dumps(doc))
    job["metadata"].update(_fill(API["server_metadata"], uid=uid))
    job["spec"].update(_fill(API["server_spec"], uid=uid))
    tmpl = job["spec"]["template"]
    tmpl["metadata"]["labels"].update(_fill(API["server_template_labels"], uid=uid, name=name))
    tmpl["spec"].update(API["server_pod_spec"])
    for c in tmpl["spec"]["initContainers"] + tmpl["spec"]["containers"]:
        c.update(API["server_container"])
        c.setdefault("imagePullPolicy", "IfNotPresent")
    if admitted:
        job["spec"]["suspend"] = False
        tmpl["spec"]["nodeSelector"] = API["kueue_admission"]["nodeSelector"]
        job["metadata"]["annotations"].update(_fill(API["kueue_admission"]["annotations"], name=name))
        job["status"] = API["server_status"]
    return job


class Conversation:
    """A loopback HTTP server that answers a fixed sequence of exchanges and records every request; a request
    out of sequence is answered 500 and fails the test."""

    def __init__(self, exchanges: list[tuple[str, str, int, object]]) -> None:
        self.exchanges = list(exchanges)
        self.requests: list[dict] = []
        conv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                conv.requests.append({"method": self.command, "path": url.path,
                                      "query": dict(urllib.parse.parse_qsl(url.query)),
                                      "headers": {k.lower(): v for k, v in self.headers.items()}, "body": json.loads(body) if body else None})
                if not conv.exchanges:
                    status, payload = 500, {"unexpected": f"{self.command} {url.path}"}
                else:
                    method, path, status, payload = conv.exchanges.pop(0)
                    if (method, path) != (self.command, url.path):
                        status, payload = 500, {"expected": f"{method} {path}", "got": f"{self.command} {url.path}"}
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(tmp_path):
    made = []

    def start(exchanges):
        conv = Conversation(exchanges)
        made.append(conv)
        kubeconfig = tmp_path / f"kubeconfig-{len(made)}"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": f"http://127.0.0.1:{conv.port}"}}],
            "users": [{"name": "test", "user": {"token": "t0ken"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}))
        return conv, clean_env(KUBECONFIG=str(kubeconfig))

    yield start
    for conv in made:
        conv.close()


JOBS = "/apis/batch/v1/namespaces/inference-sim/jobs"


def job_doc(project: Path, name: str) -> dict:
    return rendered(project, name)[1][0]


def test_submit_creates_a_missing_job_with_exactly_the_rendered_spec(project, api):
    name = "v027-qwen3-8b-mt-s7"
    doc = job_doc(project, name)
    job = f"trace-{name}"
    conv, env = api([("GET", f"{JOBS}/{job}", 404, _fill(API["not_found"], name=job)),
                     ("POST", JOBS, 201, server_copy(doc, "u-1", admitted=False))])
    res = run("capture", "submit", name, cwd=project, env=env)
    assert res.stdout.split() == [f"job={job}", "namespace=inference-sim", "action=created",
                                  f"config_hash={doc['metadata']['annotations']['vline/config-hash']}"]
    assert not conv.exchanges and len(conv.requests) == 2
    get, post = conv.requests
    assert get["headers"]["authorization"] == "Bearer t0ken" == post["headers"]["authorization"]
    assert post["headers"]["content-type"].startswith("application/json")
    assert post["body"] == doc  # every field as rendered: suspend, sidecars, the Kueue label


def test_submit_leaves_an_identical_job_even_after_kueue_admitted_it(project, api):
    name = "v027-qwen3-8b-nocache-s7"
    doc = job_doc(project, name)
    conv, env = api([("GET", f"{JOBS}/trace-{name}", 200, server_copy(doc, "u-2"))])
    res = run("capture", "submit", name, "--json", cwd=project, env=env)
    assert json.loads(res.stdout)[0]["action"] == "unchanged"
    assert [r["method"] for r in conv.requests] == ["GET"]


def test_submit_refuses_a_different_job_and_writes_nothing(project, api):
    a, b = "v026-qwen3-8b-mt-s7", "v026-qwen3-8b-mt-s13"
    old = job_doc(project, b)
    old["metadata"]["annotations"][k8s.SPEC_ANNOTATION] = "0" * 64  # rendered from another matrix
    conv, env = api([("GET", f"{JOBS}/trace-{a}", 404, _fill(API["not_found"], name=f"trace-{a}")),
                     ("GET", f"{JOBS}/trace-{b}", 200, server_copy(old, "u-3"))])
    res = run("capture", "submit", a, b, cwd=project, env=env, code=1)
    assert [r["method"] for r in conv.requests] == ["GET", "GET"]  # nothing created, not even the missing one
    line = CLEAN.read_text().splitlines().index('name = "v026-qwen3-8b-mt-s13"')  # its [[capture]] header
    assert res.stderr.startswith(f"capture.toml:{line}: error: [[capture]] '{b}': Job inference-sim/trace-{b} "
                                 "already exists and has a different spec; pass --replace")
    foreign = json.loads(json.dumps(old))
    del foreign["metadata"]["annotations"][k8s.SPEC_ANNOTATION]
    conv, env = api([("GET", f"{JOBS}/trace-{b}", 200, server_copy(foreign, "u-4"))])
    res = run("capture", "submit", b, cwd=project, env=env, code=1)
    assert "was not made by vline" in res.stderr


def test_submit_replace_deletes_waits_and_creates(project, api):
    name = "v027-qwen2-5-vl-7b"
    doc = job_doc(project, name)
    old = json.loads(json.dumps(doc))
    old["metadata"]["annotations"][k8s.SPEC_ANNOTATION] = "1" * 64
    job = f"trace-{name}"
    conv, env = api([("GET", f"{JOBS}/{job}", 200, server_copy(old, "u-5")),
                     ("DELETE", f"{JOBS}/{job}", 200, _fill(API["deleted"], name=job, uid="u-5")),
                     ("GET", f"{JOBS}/{job}", 404, _fill(API["not_found"], name=job)),
                     ("POST", JOBS, 201, server_copy(doc, "u-6", admitted=False))])
    res = run("capture", "submit", name, "--replace", cwd=project, env=env)
    assert "action=replaced" in res.stdout and not conv.exchanges
    delete = conv.requests[1]
    assert delete["query"].get("propagationPolicy") == "Background" or \
        (delete["body"] or {}).get("propagationPolicy") == "Background"
    assert conv.requests[3]["body"] == doc


def test_submit_environment_failures_are_exit_3(project, api):
    name = "v026-qwen3-8b-mt-s7"
    job = f"trace-{name}"
    conv, env = api([("GET", f"{JOBS}/{job}", 404, _fill(API["not_found"], name=job)),
                     ("POST", JOBS, 403, _fill(API["forbidden"], namespace="inference-sim"))])
    res = run("capture", "submit", name, cwd=project, env=env, code=3)
    assert "answered 403 Forbidden: jobs.batch is forbidden" in res.stderr
    conv.close()
    res = run("capture", "submit", name, cwd=project, env=env, code=3)  # nothing listening any more
    assert "unreachable" in res.stderr
    res = run("capture", "submit", name, cwd=project, env=clean_env(KUBECONFIG=str(project / "none"),
                                                                    HOME=str(project)), code=3)
    assert "no Kubernetes credentials" in res.stderr
