"""Pin a Cargo manifest to a line (SPEC §2): the crate's rev and its fork [patch]; no other byte changes.

The fork block vline adds sits at the end of the manifest in one canonical form, so it can be
removed exactly: pinning back to the default restores a manifest committed there byte for byte.
A block the user placed elsewhere is edited in place with tomlkit.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.items import InlineTable, String, StringType, Table

from .. import tomlfile
from ..cargo_toml import current, find_dependency, patch_entry
from ..compat import same_source
from ..errors import InputError


def _q(value: str) -> str:
    return tomlkit.string(value).as_string()


def tail_block(git: str, crate: str, repo: str, rev: str) -> str:
    return f"\n[patch.{_q(git)}]\n{crate} = {{ git = {_q(repo)}, rev = {_q(rev)} }}\n"


def _tail_re(git: str, crate: str) -> re.Pattern[str]:
    return re.compile(r"\n\[patch\." + re.escape(_q(git)) + r"\]\n" + re.escape(crate)
                      + r' = \{ git = "[^"\n]*", rev = "[^"\n]*" \}\n\Z')


def _parse(text: str, shown: str) -> tomlkit.TOMLDocument:
    try:
        doc = tomlkit.parse(text)
        if doc.as_string() != text:  # tomlkit reorders some layouts (an array of tables among [patch.*])
            raise InputError("cannot edit this manifest without rewriting parts of it (tomlkit cannot keep its "
                             "layout); make the change by hand", path=shown)
        return doc
    except RecursionError:
        raise InputError("invalid TOML: arrays or tables nested too deeply", path=shown) from None
    except ParseError as e:  # tomllib read it first: this is TOML tomlkit cannot edit (nested 100 deep, say)
        raise InputError(f"cannot edit this manifest: {e.args[0] if e.args else e}".split(" at line ")[0],
                         path=shown, line=e.line) from None


def _set_rev(container, rev: str) -> None:
    old = container.get("rev")
    literal = isinstance(old, String) and old.type == StringType.SLL
    if old != rev:
        container["rev"] = tomlkit.string(rev, literal=literal)


def pin_text(text: str, crate: str, rev: str, fork: tuple[str, str] | None, shown: str = "Cargo.toml") -> str:
    """The manifest text pinned to `rev`, with `fork` = (patch_repo, patch_rev) or None."""
    tf = tomlfile.parse_text(text, Path(shown), shown)  # tomllib first: its errors name the line
    pin = current(tf.data, crate, shown, tf.layout)  # every value the edit touches is of Cargo's shape
    section = pin.section
    try:
        out = _pin(text, crate, rev, fork, shown, pin.git)
    except TOMLKitError as e:  # TOML tomllib reads and tomlkit does not
        raise InputError(f"cannot edit this manifest: {e}", path=shown) from None
    dep_line = tf.layout.tables[section].at(crate) if section in tf.layout.tables else None
    return tomlfile.verified(out, _pinned(tf.data, section, crate, pin.git, rev, fork), shown,
                             f"pin [{section}].{crate}", dep_line)


def _pinned(data: dict, section: str, crate: str, git: str, rev: str, fork: tuple[str, str] | None) -> dict:
    """The manifest's data as pinning means it: the rev set, the fork's patch entry set or removed."""
    want = copy.deepcopy(data)
    table = want
    for part in section.split("."):
        table = table[part]
    table[crate]["rev"] = rev
    patch = want.get("patch", {})
    source = patch.get(git, {})
    if fork is None:
        if crate in source:  # a block left empty goes; one the user left empty stays
            del source[crate]
            if not source:
                del patch[git]
                if not patch:
                    del want["patch"]
    else:
        entry = source.get(crate, {})
        entry = {k: v for k, v in entry.items() if k not in ("branch", "tag", "path")}
        source[crate] = {**entry, "git": fork[0], "rev": fork[1]}
        patch[git] = source
        want["patch"] = patch
    return want


def _pin(text: str, crate: str, rev: str, fork: tuple[str, str] | None, shown: str, git: str) -> str:
    # vline's own block is removed as text before tomlkit reads the file: tomlkit does not keep the bytes of
    # some layouts with it at the end (a [[bin]] between [patch.crates-io] and it), and need not read it
    m = _tail_re(git, crate).search(text)
    doc = _parse(text[: m.start()] if m else text, shown)
    section, dep = find_dependency(doc, crate, shown)
    if fork and same_source(fork[0], git):
        raise InputError(f"patch_repo {fork[0]} is the source [{section}].{crate} declares; Cargo rejects a "
                         "[patch] that points to the same source", path=shown)
    _set_rev(dep, rev)
    entry = patch_entry(doc, git, crate)
    if entry is not None:  # a block the user placed: edited in place
        source = doc["patch"][git]
        if fork is None:
            del source[crate]
            if not source:
                del doc["patch"][git]
                if not doc["patch"]:
                    del doc["patch"]
        elif isinstance(entry, (InlineTable, Table)):
            for other in ("branch", "tag", "path"):
                if other in entry:
                    del entry[other]
            if entry.get("git") != fork[0]:
                entry["git"] = fork[0]
            _set_rev(entry, fork[1])
        else:
            source[crate] = _inline(fork)
        return doc.as_string()
    if fork is None:
        return doc.as_string()
    source = doc.get("patch", {}).get(git) if isinstance(doc.get("patch"), dict) else None
    if source is not None:  # the user has a [patch."<git>"] table for other crates: join it
        source[crate] = _inline(fork)
        return doc.as_string()
    out = doc.as_string()
    if out and not out.endswith("\n"):
        out += "\n"
    return out + tail_block(git, crate, *fork)


def _inline(fork: tuple[str, str]):
    return tomlkit.parse(f"x = {{ git = {_q(fork[0])}, rev = {_q(fork[1])} }}")["x"]
