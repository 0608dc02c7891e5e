"""Tags, lines and their order (SPEC §3), on PEP 440 versions from `packaging`."""
from __future__ import annotations


from packaging.version import Version

from . import lazy_re
from .errors import quote

NIGHTLY = "nightly"
RC = "rc"
STABLE_LINE = lazy_re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\Z")


class TagError(ValueError):
    pass


def _version(text: str, what: str) -> Version:
    """Version(text); `what` names it in the error (InvalidVersion, or the plain ValueError of int()
    for a part of more than 4300 digits)."""
    try:
        return Version(text)
    except ValueError:
        raise TagError(f"{what} is not a PEP 440 version") from None


def parse_tag(tag: str) -> Version:
    """`v0.22.1` → Version; rejects anything but a `v`-prefixed PEP 440 release (rcN and .postN allowed)."""
    if not tag.startswith("v"):
        raise TagError(f"tag {quote(tag)} must start with 'v' (e.g. v0.22.1)")
    v = _version(tag[1:], f"tag {quote(tag)}")
    if v.local is not None or v.is_devrelease or v.epoch or tag[1:2] in ("v", "V"):
        raise TagError(f"tag {quote(tag)} is not a release version (no dev, local or epoch parts)")
    if len(v.release) < 2:
        raise TagError(f"tag {quote(tag)} has no minor version")
    return v


def is_release_candidate(v: Version) -> bool:
    return v.pre is not None and v.pre[0] == "rc"


def line_of(v: Version) -> str:
    """A version's line is its major.minor."""
    return f"{v.release[0]}.{v.release[1] if len(v.release) > 1 else 0}"


def line_of_tag(tag: str) -> str:
    return line_of(parse_tag(tag))


def parse_reported(version: str) -> Version:
    """An engine's reported version (`0.22.1`, `0.23.0.dev1+g16e9`, `v0.22.1`)."""
    return _version(version.strip(), f"version {quote(version)}")


def line_key(line: str) -> Version:
    """Order key of a stable line name ("0.10" > "0.9")."""
    return _version(line, f"line {quote(line)}")


def match_line(reported: str, lines: list):
    """A build's line: exact tag match first, then major.minor, stable lines before trackers.

    `lines` are compat Lines in window order (newest first); returns one of them or None.
    """
    v = parse_reported(reported)
    for ln in lines:
        if ln.version is not None and ln.version == v:
            return ln
    minor = line_of(v)
    for ln in sorted(lines, key=lambda ln: ln.tracker):  # stable first; sorted() keeps window order within
        if ln.version is not None and line_of(ln.version) == minor:
            return ln
    return None
