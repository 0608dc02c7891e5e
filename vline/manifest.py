"""conformance/manifest.toml: the golden captures, parsed here and only here (SPEC §1.2)."""

import re
from typing import NamedTuple
from pathlib import Path

from . import lazy_re, tomlfile
from .errors import InputError, quote
from .findings import Collector, Finding

RELPATH = Path("conformance") / "manifest.toml"
HEX64 = lazy_re.compile(r"^[0-9a-f]{64}\Z")
ROLES = ("schema", "fidelity")
KEYS = ("line", "bucket_path", "sha256", "config_hash", "workload", "role")
CONTROL = tomlfile.CONTROL
# Values that become parts of paths (locally or in the bucket): plain names, never '.', '..' or '/'.
LINE_NAME = lazy_re.compile(r"^(?:(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)|[a-z][a-z0-9_-]*)\Z")
SAFE_PART = lazy_re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\Z")
BUCKET = lazy_re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_BAD_PART = lazy_re.compile(r"(?:^|/)\.{0,2}(?:/|\Z)")  # an empty, '.' or '..' part of a '/'-separated key
KEYSET = frozenset(KEYS)


def key_problem(key: str) -> str | None:
    """Why `key` is not an object key vline will use (None: it is): '/'-separated plain parts."""
    if not key:
        return "is empty"
    if "\\" in key:
        return "contains a backslash"
    if _BAD_PART.search(key):
        return "has an empty, '.' or '..' part (a key is parts joined by single '/')"
    return None


def bucket_path_problem(bp: str) -> str | None:
    if bp.startswith("s3://"):
        bucket, _, key = bp[5:].partition("/")
        if not BUCKET.match(bucket):
            return f"bucket {quote(bucket)} is not an S3 bucket name"
        problem = key_problem(key)
        return f"its key {problem}" if problem else None
    if "://" in bp:
        return "is neither a key under the bucket nor s3://bucket/key"
    return key_problem(bp)


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
    by_line: dict[str, list[Golden]] | None = None  # goldens per line, in file order (built by index())

    def index(self) -> "Manifest":
        by_line: dict[str, list[Golden]] = {}
        for g in self.goldens:
            by_line.setdefault(g.line, []).append(g)
        return self._replace(by_line=by_line)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def for_line(self, line: str) -> list[Golden]:
        if self.by_line is not None:  # O(1): show and promote ask once per line
            return list(self.by_line.get(line, ()))
        return [g for g in self.goldens if g.line == line]

    def lines(self) -> set[str]:
        return set(self.by_line) if self.by_line is not None else {g.line for g in self.goldens}


def path_beside(compat_path: Path) -> Path:
    return compat_path.parent / RELPATH


def parse(tf: tomlfile.TomlFile) -> Manifest:
    out = Collector(tf.shown)
    for key in tf.data:
        if key != "golden":
            out.warning(tf.layout.root.at(key), f"unknown top-level key {quote(key)} (ignored)")
    raw = tf.data.get("golden", [])
    blocks = tf.layout.arrays.get("golden", [])
    goldens: list[Golden] = []
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        out.error(tf.layout.root.at("golden"), "golden must be an array of [[golden]] tables")
        raw = []
    seen: dict[tuple[str, str], int] = {}
    keys: dict[str, int] = {}
    for i, entry in enumerate(raw):
        block = blocks[i] if i < len(blocks) else tomlfile.Block(1, {})
        label = f"[[golden]] #{i + 1}"
        ok = True
        try:
            usual = entry.keys() == KEYSET and not CONTROL.search("".join(entry.values()))
        except TypeError:  # a value that is not a string
            usual = False
        if not usual:
            # not the usual golden (six known string keys): say what is wrong with it
            for key, value in entry.items():
                if key not in KEYS:
                    out.warning(block.at(key), f"{label}: unknown key {quote(key)} (ignored)")
                elif not isinstance(value, str):
                    out.error(block.at(key), f"{label}: {key}: expected a string, got {type(value).__name__} {quote(value)}")
                    ok = False
                elif CONTROL.search(value):
                    out.error(block.at(key), f"{label}: {key}: contains a control character (newline?)")
                    ok = False
            for key in KEYS:
                if key not in entry:
                    out.error(block.line, f"{label}: missing required key {quote(key)}")
                    ok = False
        if not ok:
            continue
        for key in ("sha256", "config_hash"):
            if not HEX64.match(entry[key]):
                out.error(block.at(key), f"{label}: {key}: {quote(entry[key])} is not 64 lowercase hex characters")
                ok = False
        if entry["role"] not in ROLES:
            out.error(block.at("role"), f"{label}: role: {quote(entry['role'])} is not one of {', '.join(ROLES)}")
            ok = False
        bp = entry["bucket_path"]
        if problem := bucket_path_problem(bp):
            out.error(block.at("bucket_path"), f"{label}: bucket_path: {quote(bp)} {problem}")
            ok = False
        elif bp in keys:
            out.error(block.at("bucket_path"), f"{label}: bucket_path: {quote(bp)} is also the object of the golden "
                                               f"at line {keys[bp]}: two goldens cannot share one object")
            ok = False
        keys.setdefault(bp, block.line)
        if not LINE_NAME.match(entry["line"]):
            out.error(block.at("line"), f"{label}: line: {quote(entry['line'])} is not a line name (X.Y or a tracker)")
            ok = False
        if not SAFE_PART.match(entry["workload"]):
            out.error(block.at("workload"), f"{label}: workload: {quote(entry['workload'])} is not a plain name "
                                            "(letters, digits, . _ + -, not starting with . or -)")
            ok = False
        key = (entry["line"], entry["workload"])
        if key in seen:
            out.error(block.at("workload"), f"{label}: line {quote(key[0])} already has workload {quote(key[1])} "
                                            f"(line {seen[key]})")
            ok = False
        seen.setdefault(key, block.at("workload"))
        if ok:
            goldens.append(Golden(entry["line"], bp, entry["sha256"], entry["config_hash"], entry["workload"],
                                  entry["role"], block.line))
    _markers(tf.text, out)
    return Manifest(tf.path, tf.shown, goldens, sorted(out.items, key=lambda f: f.line)).index()


# A marker line (TOML lines end at \n only). No `^`: a literal start lets re skip ahead; markers() checks it.
MARKER = lazy_re.compile(r"# (BEGIN|END) (\S+) GOLDENS[^\S\n]*$", re.M)


def markers(text: str) -> list[tuple[int, str, str]]:
    """(line number, BEGIN|END, LINE) of every marker comment; text inside a multi-line string is not one."""
    found, no, at = [], 1, 0
    for m in MARKER.finditer(text):
        if m.start() and text[m.start() - 1] != "\n":  # not at the start of its line
            continue
        no += text.count("\n", at, m.start())
        at = m.start()
        found.append((no, m.group(1), m.group(2)))
    if found and ('"""' in text or "'''" in text):
        code = tomlfile.code_lines(text)
        found = [f for f in found if code[f[0] - 1]]
    return found


def _markers(text: str, out: Collector) -> None:
    open_: tuple[str, int] | None = None
    for no, kind, line in markers(text):
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
