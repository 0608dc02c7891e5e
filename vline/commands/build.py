"""`vline render LINE` and `vline build [LINE...]`: per-line images from Dockerfile.template, each built
in the line's own pinned checkout with BuildKit (through the docker CLI), or a bake file for CI builders."""
from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import cargo_toml, checkouts, emit, template, tomlfile, ui
from .. import compat as compat_mod
from ..adapters.git import origin_url
from ..errors import InputError, Refused, VlineError
from ..fsio import atomic_write
from ..tomlfile import tomllib
from .each import select

RENDERED = "Dockerfile.vline"  # written into each line's checkout, never into the user's


def _template(compat: compat_mod.Compat, given: Path | None) -> tuple[str, str]:
    path = given or compat.dockerfile_path()
    shown = os.path.relpath(path)
    if not path.exists():
        raise InputError("file not found (set [vline].dockerfile in compat.toml or pass --template PATH)",
                         path=shown)
    return tomlfile.read_text(path, shown, "a Dockerfile"), shown


def render_cmd(compat_path: str | None, line: str, template_path: Path | None, image: str | None) -> None:
    compat = compat_mod.load(compat_path)
    text, shown = _template(compat, template_path)
    ui.result(template.render(text, compat, compat.get(line), shown, image))


def package_version(manifest: Path) -> str | None:
    """The checkout's package version for an image tag; None when it cannot be read (the tag is then omitted)."""
    try:
        return cargo_toml.package_version(tomllib.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def image_tags(image: str, line: compat_mod.Line, version: str | None) -> list[str]:
    tags = [f"{image}:{line.image_tag}"]
    if version:
        tags.append(f"{image}:{version}-{line.image_tag}")
    if line.default:
        tags.append(f"{image}:latest")
    return tags


def source_url(remote: str) -> str | None:
    """The origin remote as a web URL for `org.opencontainers.image.source`, or None when it is a local path
    (meaningless off this machine). Credentials are dropped; ssh remotes become https, where the web page is."""
    from urllib.parse import urlsplit

    url = remote.strip()
    if "://" in url:
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return None
        if not host or parts.scheme not in ("https", "http", "ssh", "git", "git+ssh"):
            return None  # file:// and the like are local
        web = parts.scheme if parts.scheme in ("https", "http") else "https"
        netloc = f"{host}:{port}" if port and web == parts.scheme else host
        path = parts.path
    else:
        scp = re.match(r"^(?:[^@/:]+@)?([^@/:]{2,}):(?!/)(.+)$", url)  # user@host:path; `C:` is a drive
        if not scp:
            return None
        web, netloc, path = "https", scp.group(1), "/" + scp.group(2)
    path = path.rstrip("/").removesuffix(".git")
    return f"{web}://{netloc}{path}" if path.strip("/") else None


def labels(co: checkouts.Checkout, version: str | None, source: str | None) -> dict[str, str]:
    ln = co.line
    dirty = bool(co.uncommitted)  # the image holds work no commit has: HEAD alone does not describe it
    out = {"org.opencontainers.image.revision": co.head + ("-dirty" if dirty else ""),
           "vline.line": ln.line, "vline.tag": ln.tag, "vline.protocol_rev": ln.protocol_rev,
           "vline.patch_rev": ln.patch_rev or "", "vline.dirty": "true" if dirty else "false"}
    if source:
        out["org.opencontainers.image.source"] = source
    if version:
        out["org.opencontainers.image.version"] = version
    return out


CACHES = ("gha", "registry", "local", "none")
LOCAL_CACHE = ".buildx-cache"  # beside the bake file, one folder per target


def bake_cache(kind: str, target: str, image: str, line: compat_mod.Line) -> dict[str, list[str]]:
    if kind == "gha":
        return {"cache-from": [f"type=gha,scope={target}"], "cache-to": [f"type=gha,mode=max,scope={target}"]}
    if kind == "registry":
        ref = f"{image}:buildcache-{line.image_tag}"
        return {"cache-from": [f"type=registry,ref={ref}"], "cache-to": [f"type=registry,ref={ref},mode=max"]}
    if kind == "local":
        folder = f"{LOCAL_CACHE}/{target}"
        return {"cache-from": [f"type=local,src={folder}"], "cache-to": [f"type=local,dest={folder},mode=max"]}
    return {}


def check_secrets(given: list[str], relative_to: Path | None) -> list[str]:
    """`id=ID[,src=PATH|,env=VAR]` as docker takes them. A src is made absolute for a build (which runs in the
    line's checkout), or relative to the bake file's folder for a bake file (whose secret need not exist yet)."""
    out = []
    for spec in given:
        fields = dict(f.partition("=")[::2] for f in spec.split(","))
        if not fields.get("id") or any(not k for k in fields):
            raise InputError(f"--secret {spec!r}: expected id=ID[,src=PATH|,env=VAR]")
        for key in ("src", "source"):
            if key in fields:
                path = Path(fields[key]).expanduser().resolve()
                if relative_to is None and not path.is_file():
                    raise InputError(f"--secret {spec!r}: no such file {fields[key]!r}")
                fields[key] = os.path.relpath(path, relative_to) if relative_to else str(path)
        out.append(",".join(f"{k}={v}" for k, v in fields.items()))
    return out


def bake_target(name: str) -> str:
    return "vllm" + "".join(c if c.isalnum() or c in "_-" else "-" for c in name)


def run(compat_path: str | None, names: list[str], image: str | None, template_path: Path | None, push: bool,
        report: Path | None, bake: Path | None, jobs: int, committed_only: bool, docker: str | None = None,
        cache: str | None = None, secrets: list[str] | None = None, target: str | None = None) -> None:
    compat = compat_mod.load(compat_path, project=True)
    image = image or compat.settings.image
    if not image:
        raise InputError("no image repository: set [vline].image in compat.toml or pass --image")
    if not compat_mod.IMAGE.match(image):
        raise InputError(f"--image {image!r} is not an image repository (lowercase, no tag)")
    if cache is not None and bake is None:
        raise InputError("--cache applies to --bake (a build here uses the engine's own BuildKit cache)")
    if cache is None:
        cache = "gha" if emit.active() else "none"  # the gha backend exists only inside GitHub Actions
    if cache not in CACHES:
        raise InputError(f"--cache {cache!r}: expected one of {', '.join(CACHES)}")
    if target is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", target):
        raise InputError(f"--target {target!r} is not a build stage name")
    bake_dir = bake.absolute().parent.resolve() if bake is not None else None
    secrets = check_secrets(secrets or [], bake_dir)
    text, shown = _template(compat, template_path)
    template.check(text, shown)
    lines = select(compat, names)
    source = source_url(origin_url(compat.root))
    engine = None
    if bake is None:
        from ..adapters.docker import Engine

        engine = Engine(docker)  # exit 3 when no engine or no BuildKit builder, before any checkout work
        ui.note(f"vline: building with BuildKit: {engine.builder.describe()}")
    src = checkouts.source(compat, committed_only)  # the user's tree is read once per run, not per line
    out_lock = threading.Lock()
    results: dict[str, dict] = {}

    def log(line: str, msg: str) -> None:
        if not msg.strip():
            return
        with out_lock:
            print(f"[{line}] {msg}", file=sys.stderr, flush=True)

    def one(ln: compat_mod.Line) -> None:
        entry = {"line": ln.line, "tag": ln.tag, "image": image, "tags": [], "image_id": "", "digest": "",
                 "error": ""}
        results[ln.line] = entry
        try:
            co = checkouts.prepare(compat, ln, committed_only=committed_only, src=src)
            atomic_write(co.compat_dir / RENDERED, template.render(text, compat, ln, shown, image).encode())
            version = package_version(co.manifest)
            entry["tags"] = image_tags(image, ln, version)
            entry["labels"] = labels(co, version, source)
            entry["context"] = co.compat_dir
            if engine is None:
                return
            with emit.log_group(f"build {ln.line}") if jobs == 1 else contextlib.nullcontext():
                entry["image_id"] = engine.build(co.compat_dir, RENDERED, entry["tags"], entry["labels"],
                                                 ln.build_env(compat.settings), lambda m: log(ln.line, m),
                                                 target=target, secrets=secrets)
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
        assert bake_dir is not None
        atomic_write(bake, (json.dumps(bake_file(ordered, compat, image, bake_dir, cache, push, secrets, target),
                                       indent=2) + "\n").encode())
        shown_bake = os.path.relpath(bake)
        ui.note(f"vline: wrote {shown_bake} ({len(ordered) - len(failed)} targets, cache {cache}); its contexts are "
                f"relative to it: run (cd {os.path.relpath(bake_dir)} && docker buildx bake -f {bake.name})")
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


def bake_file(ordered: list[dict], compat: compat_mod.Compat, image: str, bake_dir: Path, cache: str, push: bool,
              secrets: list[str], target: str | None) -> dict:
    """One target per line. Paths are relative to the bake file's folder, so the file does not name this
    machine's absolute layout; bake resolves them from where it runs, hence `cd` there first."""
    targets = {}
    for r in ordered:
        if r["error"]:
            continue
        name = bake_target(r["line"])
        line = compat.get(r["line"])
        t = {"context": os.path.relpath(Path(r["context"]).resolve(), bake_dir), "dockerfile": RENDERED,
             "tags": r["tags"], "labels": r["labels"], "args": line.build_env(compat.settings),
             **bake_cache(cache, name, image, line)}
        if target:
            t["target"] = target
        if secrets:
            t["secret"] = secrets
        if push:
            t["output"] = ["type=registry"]
        targets[name] = t
    return {"group": {"default": {"targets": list(targets)}}, "target": targets}
