"""`vline golden add|upload|fetch|verify|list|prune`: the golden captures of the manifest, in S3.

An object enters the cache only after its sha256 matched, by atomic rename: bad bytes are never
cached, and a cached object is served with no request at all.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from .. import compat as compat_mod
from .. import goldens as gmod
from .. import manifest as manifest_mod
from .. import emit, tomlfile, trace, ui
from ..adapters import s3 as s3mod
from ..errors import ENVIRONMENT, NO, OK, EnvironmentFailure, InputError, Refused, VlineError
from ..fsio import atomic_write, locked, under
from ..manifest import Golden

def manifest_of(compat: compat_mod.Compat) -> manifest_mod.Manifest:
    m = manifest_mod.load(compat.path)
    if m is None:
        path = manifest_mod.path_beside(compat.path)
        return manifest_mod.Manifest(path, os.path.relpath(path), [], [])
    return m


def _select(compat: compat_mod.Compat, manifest: manifest_mod.Manifest, line: str | None) -> list[Golden]:
    if line is None:
        return list(manifest.goldens)
    if line not in manifest.lines() and line not in {ln.line for ln in compat.lines}:
        compat.get(line)  # unknown line: exit 2 naming the known ones
    return manifest.for_line(line)


def _label(g: Golden) -> str:
    return f"{g.line}/{g.workload}"


# --- add -----------------------------------------------------------------------------------------

def add(compat_path: str | None, traces: list[Path], line: str, workload: str | None, role: str) -> None:
    from ..edits import manifest_edit  # tomlkit: only the commands that edit the manifest import it

    compat = compat_mod.load(compat_path, project=True)
    ln = compat.get(line)
    if workload and len(traces) > 1:
        raise InputError("--workload names one trace; omit it to name each golden after its file")
    manifest = manifest_of(compat)
    have = {(g.line, g.workload): g for g in manifest.goldens}
    names: set[str] = set()
    prepared = []
    for path in traces:
        name = workload or path.name.removesuffix(".gz").removesuffix(".jsonl")
        meta, problem = trace.check(path)
        if problem:
            raise problem.error(path)
        refusals = gmod.provenance_problems(compat, ln.line, meta)
        if name in names:
            refusals.append(f"two traces would both be workload {name!r} of line {ln.line}")
        if refusals:
            raise Refused(f"refused: {'; '.join(refusals)}", path=str(path))
        names.add(name)
        try:
            for key in ("gpu", "model"):
                if not isinstance(meta.get(key), str):
                    raise InputError(f"meta has no {key}, which names the golden's bucket path")
            where = gmod.bucket_path(ln.tag, meta["gpu"], meta["model"], name)
        except InputError as e:  # a value from the trace: name the trace and its meta line
            raise InputError(e.message, path=str(path), line=trace.meta_line(path)) from None
        prepared.append((path, {"line": ln.line, "bucket_path": where, "config_hash": meta["config_hash"],
                                "workload": name, "role": role}))
    staged: list[Path] = []  # archives this run brought into the staging folder
    written = False
    try:
        with locked(compat.root):
            text = tomlfile.read_text(manifest.path, manifest.shown) if manifest.path.exists() else ""
            folder = under(compat.root, str(gmod.STAGING), what="staging folder")
            existing = set(folder.glob("*.jsonl.gz")) if folder.is_dir() else set()
            added = []
            for path, entry in prepared:
                dest, entry["sha256"] = gmod.stage(compat, path)
                if dest not in existing:
                    staged.append(dest)
                old = have.get((ln.line, entry["workload"]))
                if old is None:
                    text = manifest_edit.add_entry(text, entry)
                    added.append(entry)
                elif any(getattr(old, k) != entry[k] for k in ("sha256", "config_hash", "role", "bucket_path")):
                    raise Refused(f"refused: line {ln.line} already has workload {entry['workload']!r}", path=str(path))
                # else: added before (a rerun, say after an interrupted add): nothing to change
            if added:
                check = manifest_mod.parse(tomlfile.parse_text(text, manifest.path, manifest.shown))
                if check.errors:
                    raise InputError(f"the manifest would be invalid: {check.errors[0].message}", path=manifest.shown)
                manifest.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(manifest.path, text.encode())
            written = True
    finally:
        if not written:  # refused: take back what this run staged
            for dest in staged:
                dest.unlink(missing_ok=True)
    for _, e in prepared:
        emit.record({k: e[k] for k in ("line", "workload", "role", "sha256", "bucket_path")})


# --- fetch / verify (shared with gate) ----------------------------------------------------------

class Outcome:
    def __init__(self) -> None:
        self.failures: dict[Golden, str] = {}  # the answer is no
        self.places: dict[Golden, str] = {}  # FILE:LINE of a failure found inside a trace
        self.unreachable: dict[Golden, str] = {}  # the environment failed: S3 did not answer, the disk is full
        self.downloaded = 0
        self.requests = 0

    @property
    def code(self) -> int:
        return ENVIRONMENT if self.unreachable else (NO if self.failures else OK)


def fetch(goldens: list[Golden], bucket: s3mod.BucketUrl | None, outcome: Outcome) -> dict[str, Path]:
    """Make every golden's bytes local and verified; returns sha256 -> cached path."""
    ready: dict[str, Path] = {}
    todo: dict[str, Golden] = {}
    for g in goldens:
        if g.sha256 in ready or g.sha256 in todo:
            continue
        p, altered = gmod.cache_entry(g.sha256)
        if altered:
            for same in goldens:
                if same.sha256 == g.sha256:
                    outcome.failures[same] = ("the cached copy no longer matches its sha256 (bit rot or an edit): "
                                              "removed; the next run fetches it again")
        elif p is not None:
            ready[g.sha256] = p
        else:
            todo[g.sha256] = g
    if not todo:
        return ready
    tmp_dir = gmod.tmp_dir()
    jobs: list[tuple[s3mod.Location, Path]] = []
    owners: list[Golden] = []
    for sha, g in todo.items():
        try:
            loc = s3mod.locate(bucket, g.bucket_path)
        except InputError as e:
            outcome.failures[g] = e.message
            continue
        jobs.append((loc, tmp_dir / f"{sha}.{uuid.uuid4().hex}.part"))
        owners.append(g)
    client = s3mod.S3()
    with ui.transfer_progress([_label(g) for g in owners]) as advance:
        results = client.download(jobs, advance)  # hashed as the bytes arrive: no second read
    outcome.requests += client.requests
    for i, ((loc, tmp), g) in enumerate(zip(jobs, owners)):
        got = results[i]
        try:
            if isinstance(got, EnvironmentFailure):  # S3 unreachable, disk full: exit 3
                outcome.unreachable[g] = got.message
            elif isinstance(got, s3mod.Missing):
                outcome.failures[g] = str(got)
            elif isinstance(got, BaseException):
                outcome.failures[g] = getattr(got, "message", str(got))
            elif got.sha256 != g.sha256:
                outcome.failures[g] = f"sha256 mismatch: the object at {loc} hashes to {got.sha256}"
            else:
                ready[g.sha256] = gmod.admit(tmp, g.sha256)  # only verified bytes enter the cache
                outcome.downloaded += 1
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return ready


def verify(compat: compat_mod.Compat, goldens: list[Golden], bucket: s3mod.BucketUrl | None,
           outcome: Outcome) -> dict[str, Path]:
    """fetch, then re-hash and check each golden's meta and records against the manifest and window."""
    ready = fetch(goldens, bucket, outcome)
    checked: dict[str, tuple[dict, trace.TraceProblem | None]] = {}
    for g in goldens:
        if g in outcome.failures or g.sha256 not in ready:
            continue
        path = ready[g.sha256]
        if g.sha256 not in checked:
            checked[g.sha256] = trace.check(path)
        meta, problem = checked[g.sha256]
        if problem:
            outcome.failures[g] = problem.message
            outcome.places[g] = f"{path}:{problem.line}" if problem.line else str(path)
            continue
        problems = gmod.provenance_problems(compat, g.line, meta, g.config_hash)
        if problems:
            outcome.failures[g] = "; ".join(problems)
    return ready


def report(manifest: manifest_mod.Manifest, goldens: list[Golden], outcome: Outcome, action: str) -> int:
    for g in goldens:
        status = "failed" if g in outcome.failures else ("unreachable" if g in outcome.unreachable else "ok")
        emit.record({"line": g.line, "workload": g.workload, "sha256": g.sha256, "status": status})
    for g, why in outcome.failures.items():
        if g in outcome.places:  # a trace's own place first, as every error names its file and line
            ui.note(f"{outcome.places[g]}: error: golden {_label(g)} ({manifest.shown}:{g.pos}): {why}")
        else:
            ui.note(f"{manifest.shown}:{g.pos}: error: golden {_label(g)}: {why}")
    for g, why in outcome.unreachable.items():
        ui.note(f"vline: error: {_label(g)}: {why}")
    ok = len(goldens) - len(outcome.failures) - len(outcome.unreachable)
    ui.note(f"vline: {action}: {ok}/{len(goldens)} goldens ok, {outcome.downloaded} downloaded, "
            f"{outcome.requests} S3 requests")
    return outcome.code


def fetch_cmd(compat_path: str | None, line: str | None, bucket: str | None) -> int:
    compat = compat_mod.load(compat_path)
    manifest = manifest_of(compat)
    goldens = _select(compat, manifest, line)
    outcome = Outcome()
    fetch(goldens, s3mod.BucketUrl.parse(bucket), outcome)
    return report(manifest, goldens, outcome, "fetch")


def verify_cmd(compat_path: str | None, line: str | None, bucket: str | None) -> int:
    compat = compat_mod.load(compat_path)
    manifest = manifest_of(compat)
    goldens = _select(compat, manifest, line)
    outcome = Outcome()
    verify(compat, goldens, s3mod.BucketUrl.parse(bucket), outcome)
    return report(manifest, goldens, outcome, "verify")


# --- upload ---------------------------------------------------------------------------------------

def upload(compat_path: str | None, line: str | None, bucket: str | None, force: bool) -> int:
    compat = compat_mod.load(compat_path)
    manifest = manifest_of(compat)
    goldens = _select(compat, manifest, line)
    target = s3mod.BucketUrl.parse(bucket)
    client = s3mod.S3()
    plans: list[tuple[Golden, Path, s3mod.Location]] = []
    status: dict[Golden, str] = {}
    for g in goldens:
        local = next((p for p in (gmod.staged_path(compat, g.sha256), gmod.cached_path(g.sha256)) if p.exists()),
                     None)
        if local is None:
            status[g] = "skipped"
            ui.note(f"vline: {_label(g)}: no local copy (staged or cached) to upload; skipped")
            continue
        if gmod.sha256_file(local) != g.sha256:
            raise InputError(f"golden {_label(g)}: the local copy {local} does not match its sha256",
                             path=manifest.shown, line=g.pos)
        plans.append((g, local, s3mod.locate(target, g.bucket_path)))
    owner_of: dict[s3mod.Location, Golden] = {}
    for g, _, loc in plans:  # one object per golden: a key two goldens resolve to is refused before any upload
        first = owner_of.setdefault(loc, g)
        if first is not g:
            raise InputError(f"goldens {_label(first)} (line {first.pos}) and {_label(g)} both resolve to {loc}; "
                             "give each its own bucket_path", path=manifest.shown, line=g.pos)
    conflicts, jobs, owners = [], [], []
    for g, local, loc in plans:
        size = client.size(loc)
        if size is None:
            jobs.append(("upload", loc, local))
            owners.append(g)
        elif size == local.stat().st_size and _remote_sha(client, loc) == g.sha256:
            status[g] = "identical"
        elif force:
            jobs.append(("upload", loc, local))
            owners.append(g)
        else:
            conflicts.append(f"{loc} holds different bytes than golden {_label(g)}")
    if conflicts:  # refuse before uploading anything
        raise Refused(f"{conflicts[0]}; never overwritten without --force"
                      + (f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""))
    with ui.transfer_progress([_label(g) for g in owners]) as advance:
        results = client.transfer(jobs, advance) if jobs else {}
    failed = []
    for i, g in enumerate(owners):
        err = results.get(i)
        if err is None:
            status[g] = "uploaded"
        else:
            status[g] = "failed"
            failed.append(err)
    for g in goldens:
        emit.record({"line": g.line, "workload": g.workload, "sha256": g.sha256, "status": status.get(g, "failed")})
    if failed:
        raise failed[0] if isinstance(failed[0], EnvironmentFailure) else Refused(str(failed[0]))
    return OK


def _remote_sha(client: s3mod.S3, loc: s3mod.Location) -> str:
    """Hash the object's bytes (never its ETag) as they arrive; nothing is written."""
    got = client.download([(loc, None)])[0]
    if isinstance(got, VlineError):
        raise got
    if isinstance(got, BaseException):  # gone or changed between its HEAD and this read: S3's doing
        raise EnvironmentFailure(f"cannot read back {loc} to compare it: {got}")
    return got.sha256


# --- list / prune ---------------------------------------------------------------------------------

def list_cmd(compat_path: str | None, as_json: bool) -> None:
    compat = compat_mod.load(compat_path)
    manifest = manifest_of(compat)
    window = {ln.line for ln in compat.lines}
    cached = gmod.cached_names()
    rows = [{"line": g.line, "workload": g.workload, "role": g.role, "sha256": g.sha256,
             "config_hash": g.config_hash, "bucket_path": g.bucket_path,
             "cached": f"{g.sha256}.jsonl.gz" in cached, "in_window": g.line in window}
            for g in manifest.goldens]
    if as_json:
        ui.result_json(rows)
        return
    ui.table(f"{manifest.shown}: {len(rows)} goldens", ["line", "workload", "role", "sha256", "cached", "bucket_path"],
             [[r["line"] + ("" if r["in_window"] else " (left)"), r["workload"], r["role"], r["sha256"][:12],
               "yes" if r["cached"] else "no", r["bucket_path"]] for r in rows])


def prune(compat_path: str | None) -> None:
    from ..edits import manifest_edit

    compat = compat_mod.load(compat_path)
    manifest = manifest_of(compat)
    window = {ln.line for ln in compat.lines}
    gone = sorted({g.line for g in manifest.goldens if g.line not in window})
    if not gone:
        emit.kv({"changed": False})
        return
    with locked(compat.root):
        before = tomlfile.read_text(manifest.path, manifest.shown)
        text = before
        for line in gone:
            text = manifest_edit.remove_block(text, line)
        after = manifest_mod.parse(tomlfile.parse_text(text, manifest.path, manifest.shown))
        kept = sorted({g.line for g in after.goldens if g.line not in window})
        removed = [g for g in manifest.goldens if g.line in gone and g.line not in kept]
        if text != before:
            atomic_write(manifest.path, text.encode())
    for g in removed:
        ui.note(f"vline: removed golden {_label(g)} ({g.bucket_path})")
    for line in kept:
        ui.note(f"vline: goldens of {line} sit outside vline's markers: yours, left alone")
    emit.kv({"changed": bool(removed), "removed": ",".join(sorted({g.line for g in removed}))})

