"""Where a Cargo manifest declares the wire crate, and what it is pinned to now.

Works on any mapping: a tomllib dict (check, fast path) or a tomlkit document (pin). Every value it
returns has been checked to be of the shape Cargo accepts, so no caller meets `rev = 5`.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from .errors import InputError, quote
from .tomlfile import Layout


class Pin(NamedTuple):
    section: str  # "workspace.dependencies" or "dependencies"
    git: str
    rev: str | None
    patch_repo: str | None
    patch_rev: str | None
    package: str  # the crate's package name (the dependency key, unless renamed with `package = ...`)


def _line(layout: Layout | None, table: str, key: str | None = None) -> int | None:
    if layout is None:
        return None
    block = layout.tables.get(table)
    if block is None:  # not a [table]: maybe a top-level `table = ...`
        return layout.root.keys.get(table) if key is None else None
    return block.at(key) if key else block.line


def find_dependency(doc: Mapping[str, Any], crate: str, shown: str,
                    layout: Layout | None = None) -> tuple[str, Any]:
    """(section, dependency item): [workspace.dependencies] first, else [dependencies]."""
    ws = doc.get("workspace")
    if isinstance(ws, Mapping) and isinstance(ws.get("dependencies"), Mapping) and crate in ws["dependencies"]:
        section, dep = "workspace.dependencies", ws["dependencies"][crate]
    elif isinstance(doc.get("dependencies"), Mapping) and crate in doc["dependencies"]:
        section, dep = "dependencies", doc["dependencies"][crate]
    else:
        where = "[workspace.dependencies] or [dependencies]"
        raise InputError(f"{where} declares no {quote(crate)}", path=shown)
    at = _line(layout, section, crate) or _line(layout, f"{section}.{crate}")
    if not isinstance(dep, Mapping) or not isinstance(dep.get("git"), str):
        raise InputError(f"[{section}].{crate} is not a git dependency (expected {{ git = ..., rev = ... }})",
                         path=shown, line=at)
    for key in ("rev", "package"):
        if key in dep and not isinstance(dep[key], str):
            raise InputError(f"[{section}].{crate}: {key} must be a string, not {type(dep[key]).__name__}",
                             path=shown, line=at)
    for other in ("branch", "tag"):
        if other in dep:
            raise InputError(f"[{section}].{crate} uses {other} = ...; vline pins by rev, declare it with rev = ...",
                             path=shown, line=at)
    return section, dep


def patch_entry(doc: Mapping[str, Any], git: str, crate: str, shown: str = "Cargo.toml",
                layout: Layout | None = None) -> Any | None:
    """The crate's entry under [patch."<git>"], or None; a patch table of the wrong shape is refused."""
    patch = doc.get("patch")
    if patch is None:
        return None
    if not isinstance(patch, Mapping):
        raise InputError("patch must be a table of [patch.\"<source>\"] tables", path=shown,
                         line=_line(layout, "patch"))
    source = patch.get(git)
    if source is None:
        return None
    at = _line(layout, f"patch.{git}") or _line(layout, "patch", git)
    if not isinstance(source, Mapping):
        raise InputError(f"[patch.{quote(git)}] must be a table of crates, not {type(source).__name__}", path=shown,
                         line=at)
    entry = source.get(crate)
    if entry is None:
        return None
    if not isinstance(entry, Mapping):
        raise InputError(f"[patch.{quote(git)}].{crate} must be a table {{ git = ..., rev = ... }}", path=shown,
                         line=at)
    for key in ("git", "rev"):
        if key in entry and not isinstance(entry[key], str):
            raise InputError(f"[patch.{quote(git)}].{crate}: {key} must be a string, not {type(entry[key]).__name__}",
                             path=shown, line=at)
    return entry


def current(doc: Mapping[str, Any], crate: str, shown: str, layout: Layout | None = None) -> Pin:
    section, dep = find_dependency(doc, crate, shown, layout)
    entry = patch_entry(doc, dep["git"], crate, shown, layout)
    repo = rev = None
    if isinstance(entry, Mapping):
        repo, rev = entry.get("git"), entry.get("rev")
    return Pin(section, str(dep["git"]), dep.get("rev"), repo, rev, str(dep.get("package", crate)))


def package_version(doc: Mapping[str, Any]) -> str | None:
    """[workspace.package].version, else [package].version: None when neither is a string, whatever the
    manifest's shape (`workspace = 5` included)."""
    for path in (("workspace", "package"), ("package",)):
        table: Any = doc
        for part in path:
            table = table.get(part) if isinstance(table, Mapping) else None
        if isinstance(table, Mapping) and isinstance(table.get("version"), str):
            return table["version"]
    return None
