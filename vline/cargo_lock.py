"""Cargo.lock against the manifest's pin: the one reader of the lock for `vline check`.

Cargo records a git package as `source = "git+<url>?rev=<rev>#<commit>"`. The wire crate's entry must
carry the pin the manifest asks for (the fork patch when there is one), or `cargo build --locked` fails.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .cargo_toml import Pin
from .compat import same_source
from .errors import InputError, quote
from .findings import Collector, Finding


class GitSource(NamedTuple):
    url: str
    rev: str | None
    commit: str


def parse_source(source: str) -> GitSource | None:
    """`git+<url>?rev=<rev>#<commit>` split up; None for any other kind of source."""
    if not source.startswith("git+"):
        return None
    from urllib.parse import parse_qs, unquote

    rest, _, commit = source[4:].partition("#")
    url, _, query = rest.partition("?")
    revs = parse_qs(query).get("rev")
    return GitSource(url, unquote(revs[0]) if revs else None, commit)


def wanted(pin: Pin) -> tuple[str, str] | None:
    """(url, rev) Cargo must lock for this pin: the fork patch's when present, else the dependency's."""
    if pin.patch_repo and pin.patch_rev:
        return pin.patch_repo, pin.patch_rev
    return (pin.git, pin.rev) if pin.rev else None


def _same_commit(commit: str, rev: str) -> bool:
    """Cargo writes the full commit a rev resolved to; a hex rev (full or short) must be its prefix."""
    rev = rev.lower()
    if not commit or not rev or any(c not in "0123456789abcdef" for c in rev):
        return True
    return commit.lower().startswith(rev)


def check(lock: Path, shown: str, pin: Pin, manifest: str) -> list[Finding]:
    """Findings for a lock that does not lock the crate at `pin` (read from `manifest`); a missing lock is
    no finding (cargo makes one)."""
    from . import tomlfile

    hint = "run 'vline pin' to refresh it"

    out = Collector(shown)
    if not lock.exists():
        return []
    try:
        tf = tomlfile.read(lock, shown)
    except InputError as e:
        out.error(e.line or 1, f"{e.message}; cargo cannot read it either: restore it from version control (or "
                              "delete it), then run 'vline pin'")
        return out.items
    want = wanted(pin)
    if want is None:
        return []  # the manifest has no rev: check's drift rule reports that
    packages = tf.data.get("package")
    blocks = tf.layout.arrays.get("package", [])
    if not isinstance(packages, list) or not packages:
        out.error(1, f"locks no packages (empty or cut short); {hint}")
        return out.items
    name = pin.package
    entries = [(i, p) for i, p in enumerate(packages) if isinstance(p, dict) and p.get("name") == name]

    def line_of(i: int, key: str) -> int:
        return blocks[i].at(key) if i < len(blocks) else 1

    url, rev = want
    for i, p in entries:
        src = parse_source(p.get("source")) if isinstance(p.get("source"), str) else None
        if src and same_source(src.url, url) and src.rev == rev and _same_commit(src.commit, rev):
            break
    else:
        shown_want = f"{url}?rev={rev}"
        if not entries:
            out.error(1, f"locks no {name} package, but {manifest} pins it to {shown_want}; {hint}")
        else:
            i, p = next(((i, p) for i, p in entries if str(p.get("source", "")).startswith("git+")), entries[0])
            have = quote(p["source"], 300) if "source" in p else "no source"
            out.error(line_of(i, "source"), f"{name} is locked to {have}, but {manifest} pins it to {shown_want}; "
                                            f"{hint}")
    patch = tf.data.get("patch")
    unused = patch.get("unused") if isinstance(patch, dict) else None
    if isinstance(unused, list) and any(isinstance(p, dict) and p.get("name") == name for p in unused):
        at = next((b.line for b in tf.layout.arrays.get("patch.unused", [])), 1)
        out.error(at, f"Cargo did not use the fork patch for {name} ([[patch.unused]]); {hint}")
    return out.items
