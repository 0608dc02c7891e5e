"""conformance/manifest.toml: the golden captures, parsed here and only here (SPEC §1.2)."""

import re
from typing import NamedTuple
from pathlib import Path

from . import tomlfile
from .errors import InputError
from .findings import Collector, Finding

RELPATH = Path("conformance") / "manifest.toml"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
ROLES = ("schema", "fidelity")
KEYS = ("line", "bucket_path", "sha256", "config_hash", "workload", "role")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MARKER = re.compile(r"^# (BEGIN|END) (\S+) GOLDENS\s*$")


class Golden(NamedTuple):
    line: str
    bucket_path: str
    sha256: str
    config_hash: str
    workload: str
    role: str
    pos: int


class Manifest(NamedTuple):
    path: Path
    shown: str
    goldens: list[Golden]
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def for_line(self, line: str) -> list[Golden]:
        return [g for g in self.goldens if g.line == line]

    def lines(self) -> set[str]:
        return {g.line for g in self.goldens}


def path_beside(compat_path: Path) -> Path:
    return compat_path.parent / RELPATH


def parse(tf: tomlfile.TomlFile) -> Manifest:
    out = Collector(tf.shown)
    for key in tf.data:
        if key != "golden":
            out.warning(tf.layout.root.at(key), f"unknown top-level key {key!r} (ignored)")
    raw = tf.data.get("golden", [])
    blocks = tf.layout.arrays.get("golden", [])
    goldens: list[Golden] = []
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        out.error(tf.layout.root.at("golden"), "golden must be an array of [[golden]] tables")
        raw = []
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(raw):
        block = blocks[i] if i < len(blocks) else tomlfile.Block(1, {})
        label = f"[[golden]] #{i + 1}"
        ok = True
        for key, value in entry.items():
            if key not in KEYS:
                out.warning(block.at(key), f"{label}: unknown key {key!r} (ignored)")
            elif not isinstance(value, str):
                out.error(block.at(key), f"{label}: {key}: expected a string, got {type(value).__name__} {value!r}")
                ok = False
            elif CONTROL.search(value):
                out.error(block.at(key), f"{label}: {key}: contains a control character (newline?)")
                ok = False
        for key in KEYS:
            if key not in entry:
                out.error(block.line, f"{label}: missing required key {key!r}")
                ok = False
        if not ok:
            continue
        for key in ("sha256", "config_hash"):
            if not HEX64.match(entry[key]):
                out.error(block.at(key), f"{label}: {key}: {entry[key]!r} is not 64 lowercase hex characters")
                ok = False
        if entry["role"] not in ROLES:
            out.error(block.at("role"), f"{label}: role: {entry['role']!r} is not one of {', '.join(ROLES)}")
            ok = False
        bp = entry["bucket_path"]
        if not bp or bp.startswith("/") or (bp.startswith("s3://") and "/" not in bp[5:].strip("/")):
            out.error(block.at("bucket_path"), f"{label}: bucket_path: {bp!r} is not a bucket key or s3://bucket/key")
            ok = False
        key = (entry["line"], entry["workload"])
        if key in seen:
            out.error(block.at("workload"), f"{label}: line {key[0]!r} already has workload {key[1]!r} "
                                            f"(line {seen[key]})")
            ok = False
        seen.setdefault(key, block.at("workload"))
        if ok:
            goldens.append(Golden(**{k: entry[k] for k in KEYS}, pos=block.line))
    _markers(tf.text, out)
    return Manifest(tf.path, tf.shown, goldens, sorted(out.items, key=lambda f: f.line))


def _markers(text: str, out: Collector) -> None:
    open_: tuple[str, int] | None = None
    for no, raw in enumerate(text.splitlines(), start=1):
        m = MARKER.match(raw)
        if not m:
            continue
        kind, line = m.groups()
        if kind == "BEGIN":
            if open_:
                out.error(no, f"# BEGIN {line} GOLDENS inside the block opened at line {open_[1]}")
            open_ = (line, no)
        elif not open_ or open_[0] != line:
            out.error(no, f"# END {line} GOLDENS without a matching BEGIN")
        else:
            open_ = None
    if open_:
        out.error(open_[1], f"# BEGIN {open_[0]} GOLDENS is never closed")


def load(compat_path: Path, *, strict: bool = True) -> Manifest | None:
    """The manifest beside compat.toml, or None when there is none."""
    path = path_beside(compat_path)
    if not path.is_file():
        return None
    import os
    m = parse(tomlfile.read(path, os.path.relpath(path)))
    if strict and m.errors:
        first, *rest = m.errors
        raise InputError(first.message, path=first.path, line=first.line, extra=[f.render() for f in rest])
    return m
