"""Gate evidence: what `vline gate` ran for a line, and whether it still speaks for the line now."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from . import __version__
from .compat import Compat, Line
from .errors import InputError, Refused
from .fsio import under
from .manifest import Golden

DIR = Path(".vline") / "evidence"


def directory(compat: Compat, given: Path | None) -> Path:
    return given if given is not None else compat.root / DIR


def file_for(ev_dir: Path, line: str) -> Path:
    """A line's evidence file: inside the evidence folder whatever the line is called."""
    return under(ev_dir, f"{line}.json", what="evidence for line")


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


def load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Refused("no evidence: run 'vline gate' for this line first", path=str(path)) from None
    except (OSError, ValueError, RecursionError) as e:
        raise InputError(f"unreadable evidence: {e}", path=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("goldens"), list):
        raise InputError("not vline gate evidence", path=str(path))
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
            out.append(f"stale evidence: it was for {key} {ev.get(key) or '(none)'}, the line now has {value or '(none)'}")
    if ev.get("goldens") != _golden_set(goldens):
        out.append("stale evidence: the line's golden set changed since the gate ran")
    fidelity = {g.workload for g in goldens if g.role == "fidelity"}
    if len(fidelity) < 2:
        out.append(f"needs at least two fidelity goldens with different workloads (has {len(fidelity)}): "
                   "never a single seed")
    return out
