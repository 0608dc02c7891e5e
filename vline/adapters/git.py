"""Upstream state through the git CLI: release tags (peeled to commits) and the default branch's HEAD."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import NamedTuple

from .. import proc, versions
from ..errors import EnvironmentFailure, InputError
from ..fsio import TMP_SUFFIX, describe, under
from ..tomlfile import read_text, split_lines

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
    for no, raw in enumerate(split_lines(text), start=1):
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
    last = ""
    for delay in (*RETRIES, None):
        r = proc.run(["git", "ls-remote", url, "HEAD", "refs/tags/*"], extra_env=NO_PROMPT)
        if r.ok:
            return parse_ls_remote(r.stdout, url)
        last = _fatal(r.stderr, r.returncode)
        if delay is not None:
            time.sleep(delay)
    raise EnvironmentFailure(f"git ls-remote {url} failed: {last}")


def read_dump(path: Path) -> Remote:
    return parse_ls_remote(read_text(path, what="a 'git ls-remote' dump"), str(path))


# --- isolated checkouts -------------------------------------------------------------------------

NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}  # a fetch asking for a password would hang a line silently


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    # -C: never the current folder by accident (a clean there would hit the user's tree)
    r = proc.run(["git", "-C", str(cwd), *args], extra_env=env, errors="surrogateescape")
    if r.ok:
        return r.stdout
    command = list(args)
    while command and command[0].startswith("-"):  # name the subcommand, not git's own options
        command = command[2:] if command[0] == "-c" else command[1:]
    raise EnvironmentFailure(f"git {' '.join(command[:2])} failed in {cwd}: {_fatal(r.stderr, r.returncode)}")


def _fatal(stderr: str, code: int) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[0] if lines else f"exit code {code}")


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


def _has_commit(repo: Path, sha: str) -> bool:
    try:
        _git(repo, "cat-file", "-e", f"{sha}^{{commit}}")
        return True
    except EnvironmentFailure:
        return False


def _config(repo: Path, key: str) -> str:
    try:
        return _git(repo, "config", "--get", key).strip()
    except EnvironmentFailure:  # unset
        return ""


def vlines_own(rel: str) -> bool:
    """vline's own files, never copied into a checkout: its state under .vline/ and the temp files of
    atomic writes a killed process left behind."""
    parts = rel.split("/")
    return ".vline" in parts or parts[-1].endswith(TMP_SUFFIX)


def user_changes(top: Path) -> list[str]:
    """Paths where the user's tree differs from HEAD (modified, added, deleted, type changed) and untracked
    files git does not ignore, vline's own left out. `status --no-optional-locks` refreshes the index in
    memory only: `git diff` would rewrite the user's .git/index."""
    out = _git(top, "--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames",
               "--ignore-submodules=all")
    paths = (entry[3:].rstrip("/") for entry in _z(out))  # "XY path"; a nested repository is "dir/"
    return sorted(p for p in paths if p and not vlines_own(p))


def _kind(top: Path, rel: str) -> str:
    """What the user's tree has at `rel` without following links: file, link, dir, other or missing
    (also when a folder on the way is a link: git sees nothing beyond a link)."""
    path = top
    for part in rel.split("/")[:-1]:
        path = path / part
        if path.is_symlink() or not path.is_dir():
            return "missing"
    path = path / rel.split("/")[-1]
    if path.is_symlink():
        return "link"
    if path.is_file():
        return "file"
    if path.is_dir():
        return "dir"
    return "other" if os.path.lexists(path) else "missing"


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _writable(root: Path, rel: str) -> Path:
    """`root/rel` with every folder on the way made a real folder (a link or file in the way is replaced,
    as in the user's tree) and nothing at `rel` itself: a write there cannot go through a link."""
    path = root
    for part in rel.split("/")[:-1]:
        path = path / part
        if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
            path.unlink()
        if not path.is_dir():
            path.mkdir()
    path = path / rel.split("/")[-1]
    if os.path.lexists(path):
        _remove(path)
    return path


def _reachable(root: Path, rel: str) -> Path | None:
    """`root/rel` when every folder on the way is a real folder, else None (nothing of root's is there)."""
    path = root
    for part in rel.split("/")[:-1]:
        path = path / part
        if path.is_symlink() or not path.is_dir():
            return None
    return path / rel.split("/")[-1]


def copy_uncommitted(top: Path, dest: Path, paths: list[str]) -> None:
    """Mirror the user's tree at `paths` into `dest`: files copied, links copied as links (never followed),
    a link or file the user turned into a folder becomes a real folder, deleted paths are removed."""
    for rel in paths:
        src, kind = top / rel, _kind(top, rel)
        if kind == "missing":
            out = _reachable(dest, rel)
            if out is not None and os.path.lexists(out):
                _remove(out)
        elif kind == "file":
            shutil.copy2(src, _writable(dest, rel))
        elif kind == "link":
            os.symlink(os.readlink(src), _writable(dest, rel))
        elif kind == "dir":  # a submodule, a nested repository, or a link/file the user replaced by a folder
            out = _reachable(dest, rel)
            if out is None or out.is_symlink() or not out.is_dir():
                _writable(dest, rel).mkdir()
        # "other" (fifo, socket, device): not content, skipped


def _resolve_url(base: str, url: str) -> str:
    """A .gitmodules URL; `./x` and `../x` are relative to the superproject's remote, as git reads them."""
    if not url.startswith(("./", "../")):
        return url
    base, sep = base.rstrip("/"), "/"
    while url.startswith(("./", "../")):
        if url.startswith("../"):
            cut = max(base.rfind("/"), base.rfind(":"))
            if cut > 0:  # host:org/super + ../sub is host:org/sub, host:super + ../sub is host:sub
                sep, base = base[cut], base[:cut]
        url = url.split("/", 1)[1]
    return f"{base}{sep}{url}"


def _initialised(path: Path) -> Path | None:
    """`path` when it is a checked-out submodule (its own top), else None."""
    if path.is_symlink() or not (path / ".git").exists():
        return None
    try:
        return path if Path(_git(path, "rev-parse", "--show-toplevel").strip()) == path.resolve() else None
    except EnvironmentFailure:
        return None


def _sync_submodule(dest: Path, sha: str, local: Path | None, url: str, shown: str) -> None:
    """`dest` a clean checkout of `sha`: its own clone, sharing the objects of the user's checkout of the
    submodule when there is one (no network when the commit is there), else fetched from `url`."""
    try:
        if not (dest / ".git").is_dir() or (dest / ".git").is_symlink():
            if os.path.lexists(dest):
                _remove(dest)
            if not (local or url):
                raise InputError(f"submodule {shown}: no URL in .gitmodules and not checked out in your tree")
            _git(dest.parent, "clone", "--quiet", "--no-checkout", *(["--shared"] if local else []), "--",
                 str(local or url), str(dest), env=NO_PROMPT)
        if not _has_commit(dest, sha) and local and _has_commit(local, sha):
            _git(dest, "fetch", "--quiet", "--", str(local), sha)
        if not _has_commit(dest, sha) and url:
            try:
                _git(dest, "fetch", "--quiet", "--", url, sha, env=NO_PROMPT)
            except EnvironmentFailure:  # a server that only serves advertised refs
                _git(dest, "fetch", "--quiet", "--tags", "--", url, "+refs/heads/*:refs/remotes/origin/*",
                     env=NO_PROMPT)
    except EnvironmentFailure as e:
        raise EnvironmentFailure(f"submodule {shown}: {e.message}") from None
    if not _has_commit(dest, sha):
        raise EnvironmentFailure(f"submodule {shown}: commit {sha} is in neither your checkout nor {url or '-'}")
    _git(dest, "-c", "submodule.recurse=false", "checkout", "--quiet", "--force", "--detach", sha)
    _git(dest, "clean", "-ffdxq")


def sync_submodules(repo: Path, mirror: Path | None, base_url: str, shown: str = "") -> None:
    """Check out `repo`'s submodules, nested ones too, at the commits its HEAD records. `mirror` is the
    user's counterpart of `repo` (only read), whose checked-out submodules provide the objects."""
    gitmodules = repo / ".gitmodules"
    if gitmodules.is_symlink() or not gitmodules.is_file():
        return
    try:
        entries = _z(_git(repo, "config", "-z", "--file", ".gitmodules", "--list"))
    except EnvironmentFailure as e:
        raise InputError(f"{shown}.gitmodules cannot be read: {e.message}") from None
    mods: dict[str, dict[str, str]] = {}
    for entry in entries:
        key, _, value = entry.partition("\n")
        name, _, var = key.removeprefix("submodule.").rpartition(".")
        if key.startswith("submodule.") and name:
            mods.setdefault(name, {})[var] = value
    by_path = {m["path"].strip("/"): name for name, m in mods.items() if m.get("path", "").strip("/")}
    if not by_path:
        return
    staged = _z(_git(repo, "--literal-pathspecs", "ls-files", "--stage", "-z", "--", *by_path))
    for entry in staged:
        meta, _, path = entry.partition("\t")
        mode, sha, *_ = meta.split()
        name = by_path.get(path)
        if mode != "160000" or name is None or mods[name].get("update") == "none":
            continue  # a gitlink without a .gitmodules entry, or one git would not update either
        dest = under(repo, path, what="submodule path")
        if dest != repo.resolve().joinpath(path):
            raise InputError(f"submodule path {shown}{path!r} goes through a link")
        local = _initialised(mirror / path) if mirror else None
        url = (_config(mirror, f"submodule.{name}.url") if mirror else "") or \
            _resolve_url(base_url, mods[name].get("url", ""))
        if url.startswith("-"):
            raise InputError(f"submodule {shown}{path}: URL {url!r} looks like an option")
        _sync_submodule(dest, sha, local, url, shown + path)
        sync_submodules(dest, local, url or str(local or ""), f"{shown}{path}/")


def sync_checkout(top: Path, dest: Path, sha: str, uncommitted: bool, changes: list[str] | None = None) -> list[str]:
    """Make `dest` exactly `sha` from `top` (a shared clone created once, reused; ignored files and
    leftovers of earlier runs removed; submodules at their recorded commits), plus the user's uncommitted
    work when asked: modified tracked files, deletions and untracked files git does not ignore.
    `top` is only read; `changes` is user_changes(top) when the caller already has it (one per run, not
    one per line). Returns the uncommitted paths mirrored."""
    if not (dest / ".git").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        _git(dest.parent, "clone", "--quiet", "--shared", "--no-checkout", str(top), str(dest))
    _git(dest, "-c", "submodule.recurse=false", "checkout", "--quiet", "--force", "--detach", sha)
    _git(dest, "clean", "-ffdxq")
    try:
        if (dest / ".gitmodules").is_file():  # the user's origin only resolves submodule URLs: not asked per line
            sync_submodules(dest, top, origin_url(top) or str(top))
        if not uncommitted:
            return []
        paths = user_changes(top) if changes is None else changes
        copy_uncommitted(top, dest, paths)
    except OSError as e:
        raise EnvironmentFailure(f"cannot prepare the checkout {dest}: {describe(e)}") from None
    return paths
