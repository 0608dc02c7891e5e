"""Upstream state through GitPython: release tags (peeled to commits) and the default branch's HEAD."""
from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

from .. import versions
from ..errors import EnvironmentFailure, InputError

RETRIES = (0.2, 0.5)  # seconds between attempts


class Remote(NamedTuple):
    source: str  # the URL or dump file it came from
    tags: dict[str, str]  # release tag -> commit (peeled for annotated tags)
    head: str | None  # the default branch's commit, when known


def parse_ls_remote(text: str, source: str) -> Remote:
    """`<sha>\\t<ref>` lines; `refs/tags/X^{}` (the peeled commit) wins over `refs/tags/X` (the tag object)."""
    tags: dict[str, str] = {}
    peeled: dict[str, str] = {}
    head = None
    for no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        sha, _, ref = raw.strip().partition("\t")
        if not ref:
            sha, _, ref = raw.strip().partition(" ")
        sha, ref = sha.strip(), ref.strip()
        if len(sha) != 40 or any(c not in "0123456789abcdef" for c in sha):
            raise InputError(f"not a 'git ls-remote' line: {raw.strip()[:60]!r}", path=source, line=no)
        if ref == "HEAD":
            head = sha
        elif ref.startswith("refs/tags/"):
            name = ref[len("refs/tags/"):]
            if name.endswith("^{}"):
                peeled[name[:-3]] = sha
            else:
                tags[name] = sha
    tags.update(peeled)
    releases = {}
    for name, sha in tags.items():
        try:
            versions.parse_tag(name)
        except versions.TagError:
            continue  # not a release tag (e.g. nightly markers, other projects' tags)
        releases[name] = sha
    return Remote(source, releases, head)


def ls_remote(url: str) -> Remote:
    """Tags and HEAD of `url` (any URL git understands, file:// included), retried on failure."""
    from git.cmd import Git
    from git.exc import GitCommandError

    last = ""
    for delay in (*RETRIES, None):
        try:
            out = Git().ls_remote(url, "HEAD", "refs/tags/*")
            return parse_ls_remote(out, url)
        except GitCommandError as e:
            lines = [ln.strip().removeprefix("stderr:").strip(" '") for ln in str(e.stderr or e).splitlines()]
            last = next((ln for ln in lines if ln.startswith("fatal:")), lines[0] if lines else str(e))
            if delay is not None:
                time.sleep(delay)
    raise EnvironmentFailure(f"git ls-remote {url} failed: {last}")


def read_dump(path: Path) -> Remote:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", path=str(path)) from None
    return parse_ls_remote(text, str(path))


# --- isolated checkouts -------------------------------------------------------------------------

def _git(cwd: Path, *args: str) -> str:
    from git.cmd import Git
    from git.exc import GitCommandError

    try:
        return Git(str(cwd)).execute(["git", *args], strip_newline_in_stdout=False)
    except GitCommandError as e:
        lines = [ln.strip().removeprefix("stderr:").strip(" '") for ln in str(e.stderr or e).splitlines()]
        raise EnvironmentFailure(f"git {' '.join(args[:2])} failed in {cwd}: "
                                 f"{next((ln for ln in lines if ln), str(e))}") from None


def toplevel(path: Path) -> Path:
    try:
        return Path(_git(path, "rev-parse", "--show-toplevel").strip())
    except EnvironmentFailure:
        raise InputError(f"{path} is not inside a git repository: per-line checkouts need one") from None


def head(top: Path) -> str:
    return _git(top, "rev-parse", "HEAD").strip()


def origin_url(top: Path) -> str:
    try:
        return _git(top, "remote", "get-url", "origin").strip()
    except EnvironmentFailure:
        return ""


def _z(text: str) -> list[str]:
    return [p for p in text.split("\0") if p]


def sync_checkout(top: Path, dest: Path, sha: str, uncommitted: bool) -> list[str]:
    """Make `dest` a clean checkout of `sha` from `top` (created once, reused), plus the user's uncommitted
    work when asked: modified tracked files and untracked files git does not ignore. `top` is only read.
    Returns the uncommitted paths copied."""
    import shutil

    if not (dest / ".git").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        _git(dest.parent, "clone", "--quiet", "--shared", "--no-checkout", str(top), str(dest))
    _git(dest, "checkout", "--quiet", "--force", "--detach", sha)
    _git(dest, "clean", "-fdq")
    if not uncommitted:
        return []
    changed = _z(_git(top, "diff", "--name-only", "-z", "HEAD"))
    untracked = _z(_git(top, "ls-files", "--others", "--exclude-standard", "-z"))
    for rel in changed + untracked:
        src, out = top / rel, dest / rel
        if src.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out)
        elif not src.exists():
            out.unlink(missing_ok=True)
    return changed + untracked
