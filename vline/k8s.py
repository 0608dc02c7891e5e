"""Golden captures as Kubernetes Jobs for Kueue: one batch/v1 Job per capture target, one workload per pod
lifetime. The engine, the recording tap and the frontend run as native sidecars (init containers with
restartPolicy Always); the load generator is the main container, so the Job ends when it does.

Pure data: the dicts here are what `capture render` prints and what `capture submit` sends.
"""
from __future__ import annotations

import hashlib
import json

from . import capture
from .capture import Target
from .extras import need

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
SPEC_ANNOTATION = "vline/spec-sha256"  # what submit compares: the Job as rendered, suspend aside
GPU_RESOURCE = "nvidia.com/gpu"
TAP_COMMAND = ["/usr/local/bin/vllm-vcr", "record"]
FRONTEND_COMMAND = ["/usr/local/bin/vllm-rs", "serve"]
MODEL_DIR = "/models"
SCRIPTS_DIR = "/scripts"


def _env(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs.items()]


def _resources(cpu: tuple[str, str], memory: tuple[str, str], gpus: int = 0) -> dict:
    requests = {"cpu": cpu[0], "memory": memory[0]}
    limits = {"cpu": cpu[1], "memory": memory[1]}
    if gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(gpus)
    return {"requests": requests, "limits": limits}


def _pull_policy(image: str) -> str:
    # A floating tag (:vllm<line>) may be cached stale on a node; a digest never changes.
    ref = capture.parse_image(image)
    return "IfNotPresent" if ref is not None and ref.pinned else "Always"


def job(t: Target) -> dict:
    """The Job for a renderable target (Matrix.select returns only those)."""
    v = t.values
    eng = capture.engine(t)
    digest = capture.config_hash(t)
    assert t.images is not None and t.line is not None and t.scenario is not None
    engine_image, tap_image = t.images.engine_image, t.images.tap_image
    labels = {"vline/capture": t.name, "vline/line": t.line.line, "vline/scenario": t.scenario.name}
    sidecar = {"restartPolicy": "Always"}
    doc = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": t.job_name,
            "namespace": v["namespace"],
            "labels": {QUEUE_LABEL: v["queue"], "app.kubernetes.io/managed-by": "vline",
                       "app.kubernetes.io/component": "golden-capture", **labels},
            "annotations": {"vline/config-hash": digest, "vline/engine-config": eng.engine_config,
                            "vline/vllm-tag": v["vllm_tag"], "vline/gpu": v["gpu"],
                            "vline/workload": capture.workload(t)},
        },
        "spec": {
            # Created suspended, as Kueue expects: it unsuspends the Job when the queue admits it.
            "suspend": True,
            "backoffLimit": 0,  # a failed capture is looked at, never silently retried on the GPU
            "activeDeadlineSeconds": v["active_deadline_seconds"],  # counted from admission
            "ttlSecondsAfterFinished": v["ttl_seconds_after_finished"],
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "initContainers": [
                        {"name": "engine", "image": engine_image, **sidecar,
                         "command": ["vllm", "serve"], "args": eng.args,
                         "env": _env({"HF_HUB_CACHE": MODEL_DIR}),
                         "resources": _resources((v["engine_cpu_request"], v["engine_cpu_limit"]),
                                                 (v["engine_memory_request"], v["engine_memory_limit"]),
                                                 gpus=v["tp"]),
                         "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"},
                                          {"name": "model-cache", "mountPath": MODEL_DIR}]},
                        {"name": "tap", "image": tap_image, **sidecar, "imagePullPolicy": _pull_policy(tap_image),
                         "command": TAP_COMMAND, "args": capture.tap_args(t),
                         "env": _env({"RUST_LOG": "info"}),
                         "resources": _resources(("1", "2"), ("1Gi", "2Gi")),
                         "volumeMounts": [{"name": "trace", "mountPath": capture.TRACE_DIR}]},
                        {"name": "frontend", "image": tap_image, **sidecar,
                         "imagePullPolicy": _pull_policy(tap_image),
                         "command": FRONTEND_COMMAND, "args": capture.frontend_args(t),
                         # the engine may first download its model: wait for it rather than fail
                         "env": _env({"VLLM_ENGINE_READY_TIMEOUT_S": "3600"}),
                         "resources": _resources(("2", "4"), ("4Gi", "8Gi"))},
                    ],
                    "containers": [
                        {"name": "loadgen", "image": v["loadgen_image"],
                         "command": ["bash", f"{SCRIPTS_DIR}/runner.sh"],
                         "env": _env(capture.loadgen_env(t)),
                         "resources": _resources(("1", "2"), ("1Gi", "2Gi")),
                         "volumeMounts": [{"name": "scripts", "mountPath": SCRIPTS_DIR},
                                          {"name": "trace", "mountPath": capture.TRACE_DIR}]},
                    ],
                    "volumes": [
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}},
                        {"name": "model-cache", "emptyDir": {"sizeLimit": v["model_cache_size"]}},
                        {"name": "trace", "emptyDir": {}},
                        {"name": "scripts", "configMap": {"name": v["scripts_configmap"]}},
                    ],
                },
            },
        },
    }
    doc["metadata"]["annotations"][SPEC_ANNOTATION] = spec_digest(doc)
    return doc


def spec_digest(doc: dict) -> str:
    """sha256 of the Job as rendered, without `suspend` (Kueue flips it) and without this digest itself."""
    bare = json.loads(json.dumps(doc))
    bare["spec"].pop("suspend", None)
    bare["metadata"].get("annotations", {}).pop(SPEC_ANNOTATION, None)
    return hashlib.sha256(json.dumps(bare, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def to_yaml(docs: list[dict]) -> str:
    """Multi-document YAML, deterministic: keys in the order built, no line folding."""
    need("yaml", "capture")
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, explicit_start=True,
                              width=1 << 20, allow_unicode=True)
