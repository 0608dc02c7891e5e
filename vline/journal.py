"""The journal of a command that writes several files: compat.toml, Cargo.toml, Cargo.lock, Dockerfile.template.

Each file is written atomically, but a command killed between two of them leaves them disagreeing, and
cargo rewrites Cargo.lock in place (truncate, then write), so a kill inside cargo can leave half a lock
that every later cargo refuses. Before its first write such a command records its intent in
`.vline/pending.json`: what it is, the summary it will print, and the bytes of every file it may write.
The next release command or `vline pin` finishes the job first: the lock back to its recorded bytes, the
manifest pinned again (cargo refreshes the lock), the Dockerfile ARG defaults rewritten, all derived from
compat.toml as it is now; then the journal goes. Where that cannot succeed (the pin is refused) the
recorded bytes are put back, as the command itself would have done. `vline check` reports a journal
still there.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from . import compat as compat_mod
from . import tomlfile, ui
from .errors import EnvironmentFailure, InputError, VlineError, one_line
from .findings import Finding
from .fsio import atomic_write, describe, locked, under

DIR = ".vline"
NAME = "pending.json"
VERSION = 1


def path(root: Path) -> Path:
    return root / DIR / NAME


def sha256(data: bytes) -> str:
    import hashlib  # here: the commands CI calls load journal only to see there is none

    return hashlib.sha256(data).hexdigest()


def _rel(root: Path, p: Path) -> str:
    return Path(os.path.relpath(p, root)).as_posix()


def _read(p: Path) -> bytes | None:
    try:
        return p.read_bytes()
    except FileNotFoundError:
        return None


def command_line(key: str) -> str:
    """How to run this command again: the real command line when vline is the program, else `vline KEY`."""
    import shlex

    if Path(sys.argv[0]).name in ("vline", "__main__.py"):
        return "vline " + shlex.join(sys.argv[1:])
    return f"vline {key}"


def begin(root: Path, *, kind: str, key: str, files: list[Path], lock: Path | None,
          after: dict[Path, bytes] | None = None, pin: dict | None = None, summary: dict | None = None,
          notes: list[str] | None = None, rows: list[list[str]] | None = None) -> None:
    """Record the job before its first write. `files` are every file it may write (their bytes now are
    kept), `after` what some of them will hold, `lock` the Cargo.lock cargo may rewrite in place."""
    import base64
    import json

    before = {}
    for p in files:
        data = _read(p)
        before[_rel(root, p)] = None if data is None else base64.b64encode(data).decode()
    doc = {
        "vline_journal": VERSION, "kind": kind, "key": key, "command": command_line(key),
        "lock": _rel(root, lock) if lock is not None else None, "before": before,
        "after_sha256": {_rel(root, p): sha256(b) for p, b in (after or {}).items()},
        "pin": pin, "summary": summary or {}, "notes": notes or [], "rows": rows or [],
    }
    try:
        (root / DIR).mkdir(exist_ok=True)
    except OSError as e:
        raise EnvironmentFailure(f"cannot write {path(root)}: {describe(e)}") from None
    atomic_write(path(root), json.dumps(doc, indent=1).encode())


def end(root: Path, only: dict | None = None) -> None:
    """The job is done (or undone): the journal goes, and `.vline` with it when nothing else is there.
    With `only`, it goes only while it is still that journal (not one a later command wrote)."""
    p = path(root)
    if not p.parent.is_dir():
        return
    with locked(p.parent):  # also removes the temp file of a journal write that was killed
        if only is None or load(root) == only:
            p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        p.parent.rmdir()


def load(root: Path) -> dict | None:
    """The pending journal, None when there is none; one vline could not have written comes back as
    {"unreadable": why}, which a rerun treats as a job of unknown kind (re-derive everything)."""
    raw = _read(path(root))
    if raw is None:  # the usual case: json and base64 are imported only when there is a journal
        return None
    import base64
    import json

    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        return {"unreadable": f"not JSON ({e.__class__.__name__})"}
    if not isinstance(doc, dict) or doc.get("vline_journal") != VERSION:
        return {"unreadable": "not a vline journal"}
    for key, kind in (("before", dict), ("after_sha256", dict), ("summary", dict), ("notes", list),
                      ("rows", list), ("command", str), ("key", str), ("kind", str)):
        if not isinstance(doc.get(key), kind):
            return {"unreadable": f"{key} is missing or of the wrong type"}
    for name, data in doc["before"].items():
        parts = name.split("/")
        if not name or name.startswith("/") or ".." in parts or "" in parts:
            return {"unreadable": f"before names {name!r}, not a file inside the project"}
        try:
            if data is not None:
                base64.b64decode(data, validate=True)
        except (TypeError, ValueError):
            return {"unreadable": f"before holds something other than the bytes of {name!r}"}
    if doc.get("lock") is not None and doc["lock"] not in doc["before"]:
        return {"unreadable": "lock names no recorded file"}
    if not all(isinstance(v, str) for v in [*doc["after_sha256"].values(), *doc["summary"].values(), *doc["notes"]]):
        return {"unreadable": "after_sha256, summary or notes hold something other than strings"}
    if not all(isinstance(r, list) and all(isinstance(c, str) for c in r) for r in doc["rows"]):
        return {"unreadable": "rows hold something other than lists of strings"}
    return doc


def holds_what_it_wrote(doc: dict, root: Path, file: Path) -> bool:
    """Whether `file` now holds the bytes the journaled job meant to write there."""
    want = doc.get("after_sha256", {}).get(_rel(root, file))
    data = _read(file)
    return want is not None and data is not None and sha256(data) == want


def finding(root: Path) -> Finding | None:
    """What `vline check` says about a pending journal."""
    doc = load(root)
    if doc is None:
        return None
    shown = os.path.relpath(path(root))
    if "unreadable" in doc:
        return Finding(shown, 1, "error", f"a vline command was interrupted before it finished and left this "
                                           f"journal, which is unreadable ({doc['unreadable']}); run 'vline pin' "
                                           "to re-derive Cargo.toml, Cargo.lock and the Dockerfile defaults")
    files = ", ".join(doc["before"]) or "its files"
    cmd = one_line(doc["command"])
    return Finding(shown, 1, "error", f"'{cmd}' was interrupted before it finished: {files} may disagree; "
                                       f"rerun '{cmd}' to finish it")


def _reload(compat: compat_mod.Compat) -> compat_mod.Compat:
    new = compat_mod.parse(tomlfile.read(compat.path, compat.shown))._replace(embedded=compat.embedded)
    if new.errors:
        first, *rest = new.errors
        raise InputError(first.message, path=first.path, line=first.line, extra=[f.render() for f in rest])
    return new


def _image(doc: dict, rel: str) -> bytes | None:
    import base64

    data = doc["before"].get(rel)
    return None if data is None else base64.b64decode(data)


def _put_back(root: Path, rel: str, data: bytes | None) -> None:
    target = under(root, *rel.split("/"), what="journal entry")
    if data is None:
        target.unlink(missing_ok=True)
    elif _read(target) != data:
        atomic_write(target, data)


def _rederive(compat: compat_mod.Compat, doc: dict) -> None:
    from .pinning import pin_manifest, sync_derived

    line, rev, update = compat.default, None, True
    pin = doc.get("pin") if isinstance(doc.get("pin"), dict) else {}
    if doc.get("kind") == "pin" and pin.get("line") in {ln.line for ln in compat.lines}:
        line = compat.get(pin["line"])
        rev = pin.get("rev") if isinstance(pin.get("rev"), str) else None
        update = pin.get("update") is not False
    if compat.manifest_path().is_file():
        pin_manifest(compat, line, rev, update)
    if doc.get("kind") != "pin":
        sync_derived(compat)


def _undo(compat: compat_mod.Compat, doc: dict) -> bool:
    """Put back every recorded file, as the command does when it fails; not when compat.toml was edited
    since (it is neither what the job found nor what it wrote): then nothing is touched."""
    root = compat.root
    rel = _rel(root, compat.path)
    if rel in doc["before"]:
        now = _read(compat.path)
        if now != _image(doc, rel) and (now is None or sha256(now) != doc["after_sha256"].get(rel)):
            return False
    for name in doc["before"]:
        _put_back(root, name, _image(doc, name))
    return True


def finish(compat: compat_mod.Compat) -> dict | None:
    """Finish the job a killed command left and return its journal (None when there is none).

    The journal stays until the caller has said what the job did (`end(root, only=doc)`): a kill before
    that finishes it again, harmlessly. Safe to kill at any point: every step is idempotent.
    """
    root = compat.root
    if not path(root).exists():
        return None
    with locked(root):
        doc = load(root)
        if doc is None:
            return None
        shown = os.path.relpath(path(root))
        readable = "unreadable" not in doc
        if readable and doc.get("lock") is not None:
            _put_back(root, doc["lock"], _image(doc, doc["lock"]))  # cargo may have left half of it
        try:
            _rederive(_reload(compat), doc)
        except VlineError:
            if readable and _undo(compat, doc):
                end(root)
                ui.note(f"vline: could not finish the interrupted '{one_line(doc['command'])}' ({shown}); "
                        "its files are back as they were before it")
            raise
    what = f"'{one_line(doc['command'])}'" if readable else "command"
    ui.note(f"vline: finished the interrupted {what} ({shown})")
    return doc
