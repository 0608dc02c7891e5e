"""Gate evidence: what `vline gate` ran for a line, and whether it still speaks for the line now."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from . import __version__
from .compat import Compat, Line
from .errors import InputError, Refused, quote
from .fsio import under
from .manifest import Golden

DIR = Path(".vline") / "evidence"


def directory(compat: Compat, given: Path | None) -> Path:
    return given if given is not None else compat.root / DIR


def file_for(ev_dir: Path, line: str) -> Path:
    """A line's evidence file: inside the evidence folder whatever the line is called."""
    return under(ev_dir, f"{line}.json", what="evidence for line")


def present(ev_dir: Path, lines: list[str]) -> dict[str, Path]:
    """The evidence files of `lines` that exist, by line: one listing of the folder rather than a resolved
    path per line; a link is followed only through file_for's guard."""
    wanted = set(lines)
    base = ev_dir.resolve()
    try:
        entries = list(os.scandir(base))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as e:
        raise InputError(f"cannot read the evidence folder: {e.strerror}", path=str(ev_dir)) from None
    found: dict[str, Path] = {}
    for entry in entries:
        line = entry.name[:-5] if entry.name.endswith(".json") else None
        if line not in wanted:
            continue
        if not entry.is_symlink():
            found[line] = base / entry.name
        elif (path := file_for(ev_dir, line)).exists():
            found[line] = path
    return {ln: found[ln] for ln in lines if ln in found}


def _golden_set(goldens: list[Golden]) -> list[dict[str, str]]:
    return sorted(({"bucket_path": g.bucket_path, "sha256": g.sha256, "workload": g.workload, "role": g.role}
                   for g in goldens), key=lambda d: (d["workload"], d["sha256"]))


def record(line: Line, goldens: list[Golden], command: list[str], exit_code: int | None, passed: bool) -> dict:
    return {
        "line": line.line, "tag": line.tag, "protocol_rev": line.protocol_rev,
        "patch_repo": line.patch_repo or "", "patch_rev": line.patch_rev or "",
        "goldens": _golden_set(goldens), "command": command, "exit_code": exit_code, "passed": passed,
        "vline_version": __version__, "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


# The type of every field `record` writes; `goldens` entries are objects of strings.
FIELDS: dict[str, tuple[type, ...]] = {
    "line": (str,), "tag": (str,), "protocol_rev": (str,), "patch_repo": (str,), "patch_rev": (str,),
    "goldens": (list,), "command": (list,), "exit_code": (int, type(None)), "passed": (bool,),
    "vline_version": (str,), "time": (str,),
}


def _key_line(text: str, key: str) -> int | None:
    for no, raw in enumerate(text.split("\n"), start=1):
        if f'"{key}"' in raw:
            return no
    return None


def load(path: Path) -> dict:
    """A line's evidence; a file vline's gate could not have written is an InputError naming the field."""
    from .tomlfile import decode

    shown = str(path)
    try:
        text = decode(path.read_bytes(), shown)
    except FileNotFoundError:
        raise Refused("no evidence: run 'vline gate' for this line first", path=shown) from None
    except OSError as e:
        raise InputError(f"unreadable evidence: {e.strerror}", path=shown) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON ({e.msg} at column {e.colno})", path=shown, line=e.lineno) from None
    except RecursionError:
        raise InputError("not JSON this tool accepts: nested too deeply", path=shown) from None
    except ValueError:  # NaN is allowed by json.loads; int() of more than 4300 digits is not
        raise InputError("not JSON this tool accepts: an integer is out of range", path=shown) from None
    if not isinstance(data, dict):
        raise InputError("not vline gate evidence (expected a JSON object)", path=shown, line=1)
    if "goldens" not in data:
        raise InputError("not vline gate evidence (no goldens)", path=shown, line=1)
    for key, types in FIELDS.items():
        value = data.get(key)
        if key not in data:
            continue
        bad = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        if key == "goldens" and not bad:
            bad = not all(isinstance(g, dict) and all(isinstance(v, str) for v in g.values()) for g in value)
        elif key == "command" and not bad:
            bad = not all(isinstance(c, str) for c in value)
        elif key == "exit_code" and not bad and value is not None:
            bad = not -(2 ** 31) <= value < 2 ** 31
        if bad:
            want = {"goldens": "a list of objects of strings", "command": "a list of strings",
                    "exit_code": "an exit code or null", "passed": "true or false"}.get(key, "a string")
            raise InputError(f"{key}: expected {want}, got {quote(value)}", path=shown, line=_key_line(text, key))
    return data


def refusals(ev: dict, line: Line, goldens: list[Golden]) -> list[str]:
    """Why this evidence cannot promote the line (empty: it can)."""
    out = []
    if line.tracker:
        out.append("a tracker is never fidelity_validated")
    if ev.get("passed") is not True:
        out.append(f"the gate did not pass (exit code {ev.get('exit_code')})")
    now = {"tag": line.tag, "protocol_rev": line.protocol_rev, "patch_repo": line.patch_repo or "",
           "patch_rev": line.patch_rev or ""}
    for key, value in now.items():
        if ev.get(key) != value:
            was = ev.get(key) or "(none)"
            if not (was.isprintable() and len(was) <= 80):  # these reasons are printed as they are
                was = quote(was)
            out.append(f"stale evidence: it was for {key} {was}, the line now has {value or '(none)'}")
    if ev.get("goldens") != _golden_set(goldens):
        out.append("stale evidence: the line's golden set changed since the gate ran")
    fidelity = {g.workload for g in goldens if g.role == "fidelity"}
    if len(fidelity) < 2:
        out.append(f"needs at least two fidelity goldens with different workloads (has {len(fidelity)}): "
                   "never a single seed")
    return out
