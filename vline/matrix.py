"""Matrix kinds are data (`matrix/*.toml`): which lines a kind covers, which fields a row carries,
and extra axes. vline ships ci, docker and release; a `matrix/` folder beside compat.toml adds or
overrides kinds by file stem.
"""

import itertools
import math
import os
from typing import NamedTuple
from pathlib import Path

from . import lazy_re, resources, tomlfile
from .compat import Compat, Line
from .errors import InputError, Refused, quote

MAX_ROWS = 256  # GitHub Actions' limit on jobs per matrix
SELECTIONS = ("all", "stable", "trackers")
_PLAIN = lazy_re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


def line_fields(compat: Compat, ln: Line, golden_lines: set[str]) -> dict[str, object]:
    """Every field a row may carry for a line; a kind picks from these."""
    frontend_repo, frontend_ref = ln.frontend(compat.settings)
    return {
        "line": ln.line,
        "tag": ln.tag,
        "protocol_rev": ln.protocol_rev,
        "patch_repo": ln.patch_repo or "",
        "patch_rev": ln.patch_rev or "",
        "default": ln.default,
        "fidelity_validated": ln.fidelity_validated,
        "tracker": ln.tracker,
        "has_goldens": ln.line in golden_lines,
        "image_tag": ln.image_tag,
        "frontend_repo": frontend_repo,
        "frontend_ref": frontend_ref,
        "target_env": compat.settings.target_env,
        "vllm_pip_spec": ln.pip_spec(compat.settings),
    }


# what a kind without `fields` carries (the ci kind's fields)
DEFAULT_FIELDS = ("line", "tag", "protocol_rev", "patch_repo", "patch_rev", "default", "fidelity_validated",
                  "tracker", "has_goldens", "image_tag")
FIELDS = (*DEFAULT_FIELDS, "frontend_repo", "frontend_ref", "target_env", "vllm_pip_spec")


class Kind(NamedTuple):
    name: str
    source: Path
    description: str
    lines: str
    fields: tuple[str, ...]
    axes: tuple[tuple[str, tuple[dict[str, object], ...]], ...]
    axes_line: int = 1  # where the axes start: the rows they multiply are counted there
    where: tuple[tuple[str, object], ...] = ()  # only lines whose fields have these values


def _parse_kind(path: Path) -> Kind:
    tf = tomlfile.read(path, os.path.relpath(path))
    data, root = tf.data, tf.layout.root

    def at(key: str) -> int:
        return root.at(key) if key in root.keys else (tf.layout.tables.get(key) or root).line

    def fail(key: str, msg: str) -> InputError:
        return InputError(f"{key}: {msg}", path=tf.shown, line=at(key))

    for key in data:
        if key not in ("description", "lines", "fields", "axes", "where"):
            raise InputError(f"unknown key {quote(key)} (expected description, lines, fields, where, axes)",
                             path=tf.shown, line=at(key))
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("description", f"expected a string, got {type(description).__name__}")
    lines = data.get("lines", "all")
    if not isinstance(lines, str) or lines not in SELECTIONS:
        raise fail("lines", f"{quote(lines)} is not one of {', '.join(SELECTIONS)}")
    fields = data.get("fields", list(DEFAULT_FIELDS))
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise fail("fields", "expected a list of field names")
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise fail("fields", f"unknown field {quote(bad[0])} (known: {', '.join(FIELDS)})")
    where_raw = data.get("where", {})
    if not isinstance(where_raw, dict):
        raise fail("where", "expected a table of field = value (e.g. where = { has_goldens = true })")
    for key, value in where_raw.items():
        if key not in FIELDS:
            raise fail("where", f"unknown field {quote(key)} (known: {', '.join(FIELDS)})")
        if not isinstance(value, (str, bool)):
            raise fail("where", f"{key}: expected a string or boolean, got {quote(value)}")
    axes_raw = data.get("axes", {})
    axes = []
    if not isinstance(axes_raw, dict):
        raise fail("axes", "expected [[axes.NAME]] tables")
    for name, entries in axes_raw.items():
        blocks = tf.layout.arrays.get(f"axes.{name}", [])
        label = f"axes.{name}" if _PLAIN.match(name) else f"axes.{quote(name)}"
        if not _PLAIN.match(name):
            raise InputError(f"{label}: an axis is named with letters, digits, _ and -", path=tf.shown,
                             line=blocks[0].line if blocks else at("axes"))
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise InputError(f"{label}: expected one or more [[{label}]] tables", path=tf.shown,
                             line=blocks[0].line if blocks else (tf.layout.tables.get("axes") or root).line)
        for i, entry in enumerate(entries):
            block = blocks[i] if i < len(blocks) else tomlfile.Block(1, {})
            clash = set(entry) & set(fields)
            if clash:
                raise InputError(f"{label}: key {quote(sorted(clash)[0])} is also a line field", path=tf.shown,
                                 line=block.line)
            for key, value in entry.items():
                # a row is JSON for GitHub: no dates, NaN or infinities, no nested tables
                if isinstance(value, float) and not math.isfinite(value) or not isinstance(value, (str, int, float)):
                    raise InputError(f"{label}: {quote(key)}: expected a string, number or boolean, got "
                                     f"{quote(value)}", path=tf.shown, line=block.at(key))
        axes.append((name, tuple(entries)))
    first = min((b.line for name, _ in axes for b in tf.layout.arrays.get(f"axes.{name}", [])), default=1)
    return Kind(path.stem, path, description, lines, tuple(fields), tuple(axes), first, tuple(where_raw.items()))


def kind_files(compat: Compat) -> dict[str, Path]:
    """Built-in kinds, overridden and extended by `matrix/*.toml` beside compat.toml."""
    found: dict[str, Path] = {}
    for folder in (resources.matrix_dir(), compat.root / "matrix"):
        if folder.is_dir():
            for p in sorted(folder.glob("*.toml")):
                found[p.stem] = p
    return found


def load_kind(compat: Compat, name: str) -> Kind:
    files = kind_files(compat)
    if name not in files:
        raise InputError(f"unknown matrix kind {quote(name)} (kinds: {', '.join(sorted(files))})", path="matrix")
    return _parse_kind(files[name])


def rows(compat: Compat, kind: Kind, only: list[str] | None = None, golden_lines: set[str] = frozenset()) -> list[dict]:
    selected = compat.ordered()
    if only:
        wanted = [compat.get(name).line for name in only]  # unknown line: InputError
        selected = [ln for ln in selected if ln.line in wanted]
    if kind.lines == "stable":
        selected = [ln for ln in selected if not ln.tracker]
    elif kind.lines == "trackers":
        selected = [ln for ln in selected if ln.tracker]
    out: list[dict] = []
    axis_values = [entries for _, entries in kind.axes]
    bases = [line_fields(compat, ln, golden_lines) for ln in selected]
    bases = [b for b in bases if all(b[k] == v for k, v in kind.where)]
    count = len(bases) * math.prod(len(e) for e in axis_values)
    if count > MAX_ROWS:  # counted before building them: axes multiply
        raise Refused(f"matrix {quote(kind.name)} has {count} rows ({len(bases)} lines of {compat.shown} x its "
                      f"axes); GitHub Actions allows at most {MAX_ROWS}", path=os.path.relpath(kind.source),
                      line=kind.axes_line)
    for base in bases:
        row = {f: base[f] for f in kind.fields}
        for combo in itertools.product(*axis_values):
            merged = dict(row)
            for entry in combo:
                merged.update(entry)
            out.append(merged)
    if not out:
        which = f" for {', '.join(only)}" if only else ""
        cond = "".join(f", {k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in kind.where)
        raise Refused(f"matrix {quote(kind.name)} has no rows{which} (it covers {kind.lines} lines{cond})",
                      path=compat.shown)
    return out
