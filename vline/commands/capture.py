"""`vline capture list|render|verify-images|submit`: golden captures as Kubernetes Jobs (Kueue), from the
capture matrix checked against compat.toml."""
from __future__ import annotations

import json

from .. import capture, emit, ui
from .. import compat as compat_mod
from ..errors import EnvironmentFailure, InputError, Refused, quote
from ..findings import Finding


def _load(compat_path: str | None, capture_path: str | None) -> tuple[compat_mod.Compat, capture.Matrix]:
    compat = compat_mod.load(compat_path)
    return compat, capture.load(compat, capture_path)


def _refuse(problems: list[Finding], cls: type = Refused) -> None:
    first, *rest = problems
    raise cls(first.message, path=first.path, line=first.line, extra=[f.render() for f in rest])


def _row(t: capture.Target) -> dict:
    try:
        eng = capture.engine(t)
        cfg, digest, args = eng.engine_config, capture.config_hash(t), eng.args
    except (KeyError, AttributeError, InputError):  # a target with invalid values has no fingerprint
        cfg = digest = args = None
    v = t.values
    return {"name": t.name, "job": t.job_name, "namespace": v.get("namespace"), "queue": v.get("queue"),
            "line": t.line.line if t.line else None, "vllm_tag": v.get("vllm_tag"), "model": v.get("model"),
            "scenario": v.get("scenario"), "phases": v.get("phases"), "gpu": v.get("gpu"),
            "workload": capture.workload(t), "role": v.get("role", "fidelity"),
            "engine_config": cfg, "config_hash": digest, "engine_args": args,
            "ok": t.ok, "problems": [f.render() for f in t.problems]}


def list_cmd(compat_path: str | None, capture_path: str | None, as_json: bool) -> None:
    _, matrix = _load(compat_path, capture_path)
    rows = [_row(t) for t in matrix.targets]
    if as_json:
        ui.result_json(rows)
        return
    ui.table(f"{matrix.shown}: {len(rows)} capture targets",
             ["name", "line", "scenario", "model", "phases", "config_hash", "ok"],
             [[r["name"], r["line"] or f"{r['vllm_tag']} (not in window)", str(r["scenario"]), str(r["model"]),
               str(r["phases"]), (r["config_hash"] or "-")[:12], "yes" if r["ok"] else "no"] for r in rows])
    bad = sum(not r["ok"] for r in rows)
    if bad:
        ui.note(f"vline: {bad} target{'s' if bad > 1 else ''} cannot be rendered; 'vline check' says why")


def _jobs(matrix: capture.Matrix, names: list[str], everything: bool,
          lines: list[str]) -> list[tuple[capture.Target, dict]]:
    from .. import k8s

    return [(t, k8s.job(t)) for t in matrix.select(names, everything, lines)]


def render(compat_path: str | None, capture_path: str | None, names: list[str], everything: bool,
           lines: list[str]) -> None:
    _, matrix = _load(compat_path, capture_path)
    jobs = _jobs(matrix, names, everything, lines)
    from .. import k8s

    try:
        text = k8s.to_yaml([doc for _, doc in jobs])
    except ImportError:
        raise EnvironmentFailure("PyYAML is not installed: pip install 'vline[capture]'") from None
    ui.result(text)


def verify_images(compat_path: str | None, capture_path: str | None, lines: list[str]) -> int | None:
    compat, matrix = _load(compat_path, capture_path)
    from ..adapters import registry

    entries = [matrix.lines[ln.tag] for ln in compat.ordered() if ln.tag in matrix.lines]
    if lines:
        known = {e.line.line for e in entries} | {e.tag for e in entries}  # type: ignore[union-attr]
        unknown = [x for x in lines if x not in known]
        if unknown:
            raise InputError(f"no [lines] table of a window line for {', '.join(unknown)}", path=matrix.shown)
        entries = [e for e in entries if e.tag in lines or e.line.line in lines]  # type: ignore[union-attr]
    entries = [e for e in entries if e.engine_image is not None]
    if not entries:
        raise InputError("no engine image of a window line to verify", path=matrix.shown)
    clients: dict[str, registry.Registry] = {}
    problems = []
    for e in entries:
        ref = capture.parse_image(e.engine_image)  # type: ignore[arg-type]
        assert ref is not None
        client = clients.setdefault(ref.registry, registry.Registry(ref.registry))
        verdict = registry.verify(ref, client)
        line = e.line.line  # type: ignore[union-attr]
        emit.record({"line": line, "tag": e.tag, "status": "ok" if verdict.ok else "refused",
                     "kind": verdict.kind, "image": e.engine_image, "use": verdict.use})
        if verdict.ok:
            ui.note(f"vline: {e.tag}: {verdict.message}")
        else:
            problems.append(Finding(matrix.shown, e.engine_pos, "error",
                                    f"[lines.{json.dumps(e.tag)}]: engine_image: {verdict.message}"))
    if problems:
        _refuse(problems)
    return None


def submit(compat_path: str | None, capture_path: str | None, names: list[str], everything: bool,
           lines: list[str], replace: bool, kubeconfig: str | None, context: str | None) -> int | None:
    _, matrix = _load(compat_path, capture_path)
    jobs = _jobs(matrix, names, everything, lines)
    from ..adapters.k8s import Cluster
    from ..k8s import SPEC_ANNOTATION

    cluster = Cluster(kubeconfig, context)
    plan, conflicts = [], []
    for t, doc in jobs:  # every Job is read first: a refusal changes nothing in the cluster
        ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
        have = cluster.get(ns, name)
        want = doc["metadata"]["annotations"][SPEC_ANNOTATION]
        if have is None:
            plan.append((t, doc, "created", None))
        elif have.digest == want:
            plan.append((t, doc, "unchanged", None))
        elif replace:
            plan.append((t, doc, "replaced", have))
        else:
            why = "was not made by vline" if have.digest is None else "has a different spec"
            conflicts.append(Finding(matrix.shown, t.pos, "error",
                                     f"[[capture]] {quote(t.name)}: Job {ns}/{name} already exists and {why}; "
                                     "pass --replace to delete it (and its pod) and create it anew"))
    if conflicts:
        _refuse(conflicts)
    for t, doc, action, have in plan:
        ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
        if action == "replaced":
            cluster.delete(ns, name, have.uid)
        if action != "unchanged":
            cluster.create(doc)
        emit.record({"job": name, "namespace": ns, "action": action,
                     "config_hash": doc["metadata"]["annotations"]["vline/config-hash"]})
    return None
