"""Release day as plans: what `watch rc`, `watch stable`, `roll` and `bump nightly` change in the window
(SPEC §5). Pure: a plan is computed from the model and the upstream's tags, then applied as edits.
"""
from typing import NamedTuple

from packaging.version import Version

from . import versions
from .adapters.git import Remote
from .compat import Compat, Line
from .errors import InputError


class Change(NamedTuple):
    op: str  # "move" (values in place) | "add" | "remove"
    line: str
    values: dict  # new values (move) or the whole table (add)
    before: str | None = None  # add: insert before this line's table (None: at the end)
    comment: tuple[str, ...] = ()


class Plan(NamedTuple):
    changes: list[Change]
    notes: list[str]  # things a person should review


def _tags(remote: Remote) -> list[tuple[Version, str]]:
    """Every release tag with its version, oldest first (parsed once)."""
    return sorted((versions.parse_tag(t), t) for t in remote.tags)


def _releases(remote: Remote) -> list[tuple[Version, str]]:
    """Final releases (post releases included), oldest first."""
    return [(v, t) for v, t in _tags(remote) if not v.is_prerelease]


def watch_rc(compat: Compat, remote: Remote) -> Plan:
    if versions.RC not in compat.settings.trackers:
        raise InputError("[vline].trackers has no 'rc' tracker", path=compat.shown)
    tags = _tags(remote)
    finals = [(v, t) for v, t in tags if not v.is_prerelease]
    newest_final = finals[-1][0] if finals else None
    candidates = [(v, t) for v, t in tags
                  if versions.is_release_candidate(v) and (newest_final is None or v > newest_final)]
    current = next((ln for ln in compat.lines if ln.line == versions.RC), None)
    if not candidates:
        if current is None:
            return Plan([], [])
        why = f"no release candidate is newer than {finals[-1][1]}" if finals else "no release candidate"
        return Plan([Change("remove", versions.RC, {})], [f"rc: removed, {why} (stale)"])
    tag = candidates[-1][1]
    rev = remote.tags[tag]
    if current is None:
        return Plan([Change("add", versions.RC, {"line": versions.RC, "tag": tag, "protocol_rev": rev},
                            before=_after_nightly(compat),
                            comment=("Release candidate tracker, kept by `vline watch rc`: it follows the newest",
                                     "release candidate and is removed once a release supersedes it."))], [])
    if (current.tag, current.protocol_rev) == (tag, rev):
        return Plan([], [])
    return Plan([Change("move", versions.RC, {"tag": tag, "protocol_rev": rev})], [])


def _after_nightly(compat: Compat) -> str | None:
    """The line whose table follows nightly's in the file (the rc goes right after nightly)."""
    names = [ln.line for ln in compat.lines]
    if versions.NIGHTLY not in names:
        return names[0] if names else None
    i = names.index(versions.NIGHTLY)
    return names[i + 1] if i + 1 < len(names) else None


def _move(ln: Line, tag: str, rev: str, remote: Remote, notes: list[str]) -> Change:
    """A newer release on a line in the window: tag (and the crate rev when the line follows its tag)."""
    values: dict = {"tag": tag}
    if remote.tags.get(ln.tag) == ln.protocol_rev or ln.protocol_rev == rev:
        values["protocol_rev"] = rev
    else:
        notes.append(f"{ln.line}: protocol_rev kept at {ln.protocol_rev[:12]}: the line builds against a crate "
                     f"rev other than its tag's commit; review it for {tag}")
    if ln.has_fork:
        notes.append(f"{ln.line}: review the fork patch ({ln.patch_repo} @ {ln.patch_rev[:12]}) against {tag}")
    if ln.fidelity_validated:
        values["fidelity_validated"] = False
    return Change("move", ln.line, values)


def watch_stable(compat: Compat, remote: Remote) -> Plan:
    finals = _releases(remote)
    changes: list[Change] = []
    notes: list[str] = []
    for ln in compat.stable():
        same_minor = [(v, t) for v, t in finals if versions.line_of(v) == ln.line]
        if same_minor and ln.version is not None and same_minor[-1][0] > ln.version:
            changes.append(_move(ln, same_minor[-1][1], remote.tags[same_minor[-1][1]], remote, notes))
    # newer minors than the default roll in, oldest first, each at its newest release
    default_key = versions.line_key(compat.default.line)
    newest_of_minor: dict[str, tuple[Version, str]] = {}
    for v, t in finals:
        if versions.line_key(versions.line_of(v)) > default_key:
            newest_of_minor[versions.line_of(v)] = (v, t)
    state = compat
    plan = Plan(changes, notes)
    for minor in sorted(newest_of_minor, key=versions.line_key):
        tag = newest_of_minor[minor][1]
        rolled = roll(state, tag, remote.tags[tag])
        plan = Plan(plan.changes + rolled.changes, plan.notes + rolled.notes)
        state = _simulate(state, rolled)
    return plan


def _simulate(compat: Compat, plan: Plan) -> Compat:
    """The window after a plan, for planning the next step (positions are not needed)."""
    lines = {ln.line: ln for ln in compat.lines}
    for ch in plan.changes:
        if ch.op == "remove":
            lines.pop(ch.line, None)
        elif ch.op == "add":
            v = ch.values
            lines[ch.line] = Line(line=v["line"], tag=v["tag"], protocol_rev=v["protocol_rev"],
                                  patch_repo=v.get("patch_repo"), patch_rev=v.get("patch_rev"),
                                  fidelity_validated=v.get("fidelity_validated", False),
                                  default=v.get("default", False), tracker=ch.line in compat.settings.trackers, pos=0)
        else:
            lines[ch.line] = lines[ch.line]._replace(**ch.values)
    return compat._replace(lines=list(lines.values()))


def roll(compat: Compat, tag: str, rev: str) -> Plan:
    """TAG enters as the default; the oldest stable lines by version leave until max_stable remain.
    A TAG on a line already in the window moves that line in place."""
    try:
        v = versions.parse_tag(tag)
    except versions.TagError as e:
        raise InputError(str(e)) from None
    if v.is_prerelease:
        raise InputError(f"{tag} is a pre-release: release candidates go to the rc tracker (vline watch rc)")
    line = versions.line_of(v)
    existing = next((ln for ln in compat.lines if ln.line == line), None)
    if existing is not None:
        if existing.version is not None and v < existing.version:
            raise InputError(f"{tag} is older than line {line}'s current tag {existing.tag}")
        if (existing.tag, existing.protocol_rev) == (tag, rev):
            return Plan([], [])
        values = {"tag": tag, "protocol_rev": rev}
        if existing.fidelity_validated:
            values["fidelity_validated"] = False
        notes = [f"{line}: review the fork patch ({existing.patch_repo} @ {existing.patch_rev[:12]}) against {tag}"
                 ] if existing.has_fork and existing.patch_rev else []
        return Plan([Change("move", line, values)], notes)
    default = compat.default
    if versions.line_key(line) < versions.line_key(default.line):
        raise InputError(f"{tag} is on line {line}, older than the default line {default.line}: roll brings in "
                         "newer lines only")
    table = {"line": line, "tag": tag, "protocol_rev": rev, "fidelity_validated": False, "default": True}
    changes = [
        Change("add", line, table, before=default.line,
               comment=(f"Rolled in by `vline roll {tag}`: the new default. Review protocol_rev (the crate at",
                        "this tag), whether it needs a fork patch, and capture goldens before promoting.")),
        Change("move", default.line, {"default": False}),
    ]
    notes = []
    kept = sorted([ln.line for ln in compat.stable()] + [line], key=versions.line_key, reverse=True)
    for old in kept[compat.settings.max_stable:]:
        changes.append(Change("remove", old, {}))
        notes.append(f"{old}: left the window (max_stable = {compat.settings.max_stable})")
    return Plan(changes, notes)


def bump_nightly(compat: Compat, rev: str) -> Plan:
    current = next((ln for ln in compat.lines if ln.line == versions.NIGHTLY), None)
    if current is None:
        raise InputError("compat.toml has no nightly line", path=compat.shown)
    if current.protocol_rev == rev:
        return Plan([], [])
    return Plan([Change("move", versions.NIGHTLY, {"protocol_rev": rev})], [])


class Initial(NamedTuple):
    lines: list[dict]  # [[vllm]] tables, newest first: nightly, rc, then stable lines
    notes: list[str]


def initial(remote: Remote, max_stable: int) -> Initial:
    """The window `vline init` writes: the newest `max_stable` minors at their newest release (the newest
    is the default), nightly at the remote's HEAD, and an rc when a release candidate is newer than every
    release."""
    tags = _tags(remote)
    finals = [(v, t) for v, t in tags if not v.is_prerelease]
    if not finals:
        raise InputError(f"{remote.source} has no release tags (vX.Y.Z): nothing to build a window from")
    newest: dict[str, tuple[Version, str]] = {}
    for v, t in finals:
        newest[versions.line_of(v)] = (v, t)
    minors = sorted(newest, key=versions.line_key, reverse=True)[:max_stable]
    out: list[dict] = []
    notes: list[str] = []
    if remote.head:
        out.append({"line": versions.NIGHTLY, "tag": "nightly", "protocol_rev": remote.head})
    else:
        notes.append(f"{remote.source} names no HEAD: no nightly line (add one with `vline bump nightly --rev SHA`)")
    rcs = [(v, t) for v, t in tags if versions.is_release_candidate(v) and v > finals[-1][0]]
    if rcs:
        out.append({"line": versions.RC, "tag": rcs[-1][1], "protocol_rev": remote.tags[rcs[-1][1]]})
    for i, minor in enumerate(minors):
        tag = newest[minor][1]
        out.append({"line": minor, "tag": tag, "protocol_rev": remote.tags[tag], "fidelity_validated": False,
                    "default": i == 0})
    return Initial(out, notes)
