"""Where a Cargo manifest declares the wire crate, and what it is pinned to now.

Works on any mapping: a tomllib dict (check, fast path) or a tomlkit document (pin).
"""

from collections.abc import Mapping
from typing import NamedTuple
from typing import Any

from .errors import InputError


class Pin(NamedTuple):
    section: str  # "workspace.dependencies" or "dependencies"
    git: str
    rev: str | None
    patch_repo: str | None
    patch_rev: str | None


def find_dependency(doc: Mapping[str, Any], crate: str, shown: str) -> tuple[str, Any]:
    """(section, dependency item): [workspace.dependencies] first, else [dependencies]."""
    ws = doc.get("workspace")
    if isinstance(ws, Mapping) and isinstance(ws.get("dependencies"), Mapping) and crate in ws["dependencies"]:
        section, dep = "workspace.dependencies", ws["dependencies"][crate]
    elif isinstance(doc.get("dependencies"), Mapping) and crate in doc["dependencies"]:
        section, dep = "dependencies", doc["dependencies"][crate]
    else:
        where = "[workspace.dependencies] or [dependencies]"
        raise InputError(f"{where} declares no {crate!r}", path=shown)
    if not isinstance(dep, Mapping) or not isinstance(dep.get("git"), str):
        raise InputError(f"[{section}].{crate} is not a git dependency (expected {{ git = ..., rev = ... }})",
                         path=shown)
    for other in ("branch", "tag"):
        if other in dep:
            raise InputError(f"[{section}].{crate} uses {other} = ...; vline pins by rev, declare it with rev = ...",
                             path=shown)
    return section, dep


def patch_entry(doc: Mapping[str, Any], git: str, crate: str) -> Any | None:
    patch = doc.get("patch")
    if not isinstance(patch, Mapping):
        return None
    source = patch.get(git)
    if not isinstance(source, Mapping):
        return None
    return source.get(crate)


def current(doc: Mapping[str, Any], crate: str, shown: str) -> Pin:
    section, dep = find_dependency(doc, crate, shown)
    entry = patch_entry(doc, dep["git"], crate)
    repo = rev = None
    if isinstance(entry, Mapping):
        repo, rev = entry.get("git"), entry.get("rev")
    return Pin(section, str(dep["git"]), dep.get("rev"), repo, rev)
