"""`vline render LINE` and `vline build [LINE...]`: per-line images from Dockerfile.template, each built
in the line's own pinned checkout by the Docker engine."""
from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import checkouts, emit, template, ui
from .. import compat as compat_mod
from ..adapters.git import origin_url
from ..errors import InputError, Refused, VlineError
from ..fsio import atomic_write
from ..tomlfile import tomllib
from .each import select

TEMPLATE = "Dockerfile.template"
RENDERED = "Dockerfile.vline"  # written into each line's checkout, never into the user's


def _template(compat: compat_mod.Compat, given: Path | None) -> tuple[str, str]:
    path = given or compat.root / TEMPLATE
    try:
        return path.read_text(encoding="utf-8"), os.path.relpath(path)
    except FileNotFoundError:
        raise InputError("file not found (pass --template PATH)", path=os.path.relpath(path)) from None


def render_cmd(compat_path: str | None, line: str, template_path: Path | None, image: str | None) -> None:
    compat = compat_mod.load(compat_path)
    text, shown = _template(compat, template_path)
    ui.result(template.render(text, compat, compat.get(line), shown, image))


def package_version(manifest: Path) -> str | None:
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for table in (data.get("workspace", {}).get("package", {}), data.get("package", {})):
        if isinstance(table.get("version"), str):
            return table["version"]
    return None


def image_tags(image: str, line: compat_mod.Line, version: str | None) -> list[str]:
    tags = [f"{image}:{line.image_tag}"]
    if version:
        tags.append(f"{image}:{version}-{line.image_tag}")
    if line.default:
        tags.append(f"{image}:latest")
    return tags


def labels(co: checkouts.Checkout, version: str | None, source: str) -> dict[str, str]:
    ln = co.line
    out = {"org.opencontainers.image.revision": co.head, "org.opencontainers.image.source": source,
           "vline.line": ln.line, "vline.tag": ln.tag, "vline.protocol_rev": ln.protocol_rev,
           "vline.patch_rev": ln.patch_rev or ""}
    if version:
        out["org.opencontainers.image.version"] = version
    return out


def bake_target(name: str) -> str:
    return "vllm" + "".join(c if c.isalnum() or c in "_-" else "-" for c in name)


def run(compat_path: str | None, names: list[str], image: str | None, template_path: Path | None, push: bool,
        report: Path | None, bake: Path | None, jobs: int, committed_only: bool) -> None:
    compat = compat_mod.load(compat_path, project=True)
    image = image or compat.settings.image
    if not image:
        raise InputError("no image repository: set [vline].image in compat.toml or pass --image")
    if not compat_mod.IMAGE.match(image):
        raise InputError(f"--image {image!r} is not an image repository (lowercase, no tag)")
    text, shown = _template(compat, template_path)
    template.check(text, shown)
    lines = select(compat, names)
    source = origin_url(compat.root) or str(compat.root)
    engine = None
    if bake is None:
        from ..adapters.docker import Engine

        engine = Engine()  # exit 3 when no engine answers, before any checkout work
    out_lock = threading.Lock()
    results: dict[str, dict] = {}

    def log(line: str, msg: str) -> None:
        with out_lock:
            print(f"[{line}] {msg}", file=sys.stderr, flush=True)

    def one(ln: compat_mod.Line) -> None:
        entry = {"line": ln.line, "tag": ln.tag, "image": image, "tags": [], "image_id": "", "digest": "",
                 "error": ""}
        results[ln.line] = entry
        try:
            co = checkouts.prepare(compat, ln, committed_only=committed_only)
            atomic_write(co.compat_dir / RENDERED, template.render(text, compat, ln, shown, image).encode())
            version = package_version(co.manifest)
            entry["tags"] = image_tags(image, ln, version)
            entry["labels"] = labels(co, version, source)
            entry["context"] = str(co.compat_dir)
            if engine is None:
                return
            with emit.log_group(f"build {ln.line}") if jobs == 1 else contextlib.nullcontext():
                entry["image_id"] = engine.build(co.compat_dir, RENDERED, entry["tags"][0], entry["labels"],
                                                 lambda m: log(ln.line, m))
                for ref in entry["tags"][1:]:
                    engine.tag(entry["image_id"], ref)
                if push:
                    digests = {engine.push(ref, lambda m: log(ln.line, m)) for ref in entry["tags"]}
                    entry["digest"] = sorted(digests)[0]
                    if len(digests) > 1:
                        raise VlineError(f"the registry gave different digests for one image: {sorted(digests)}")
        except VlineError as e:
            entry["error"] = e.message
        except Exception as e:  # noqa: BLE001 - a failing line never stops the others
            entry["error"] = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if entry["error"]:
            log(ln.line, f"FAILED: {entry['error']}")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, lines))
    ordered = [results[ln.line] for ln in lines]
    failed = [r for r in ordered if r["error"]]

    if bake is not None:
        doc = {"group": {"default": {"targets": [bake_target(r["line"]) for r in ordered if not r["error"]]}},
               "target": {bake_target(r["line"]): {
                   "context": r["context"], "dockerfile": RENDERED, "tags": r["tags"], "labels": r["labels"],
                   "args": compat.get(r["line"]).build_env(compat.settings),
                   "cache-from": [f"type=gha,scope={bake_target(r['line'])}"],
                   "cache-to": [f"type=gha,mode=max,scope={bake_target(r['line'])}"]}
                   for r in ordered if not r["error"]}}
        atomic_write(bake, (json.dumps(doc, indent=2) + "\n").encode())
        ui.note(f"vline: wrote {bake} ({len(doc['target'])} targets); run: docker buildx bake -f {bake}")
    public = [{k: r[k] for k in ("line", "tag", "image", "tags", "image_id", "digest")} for r in ordered]
    if report is not None:
        atomic_write(report, (json.dumps(public, indent=2) + "\n").encode())
    for r in ordered:
        emit.record({"line": r["line"], "image": r["tags"][0] if r["tags"] else "", "image_id": r["image_id"],
                     "digest": r["digest"], "status": "failed" if r["error"] else "ok"})
    emit.summary_table("vline build", ["line", "tags", "image id", "digest", "status"],
                         [[r["line"], " ".join(r["tags"]), r["image_id"][:19], r["digest"][:19],
                           "failed: " + r["error"] if r["error"] else "ok"] for r in ordered])
    if failed:
        raise Refused(f"build failed for {', '.join(r['line'] for r in failed)}: {failed[0]['error']}")
