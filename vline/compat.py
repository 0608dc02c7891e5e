"""compat.toml: parsed in exactly this one place into typed objects, with every rule of SPEC §1.1."""

import os
import re
from typing import NamedTuple
from pathlib import Path

from packaging.version import Version

from . import emit, lazy_re, resources, tomlfile, versions
from .errors import InputError, one_line, quote
from .fsio import under
from .findings import Collector, Finding

FILENAME = "compat.toml"
TEMPLATE = "Dockerfile.template"
REV = lazy_re.compile(r"^[0-9a-f]{40}\Z")
URL = lazy_re.compile(r"^[a-z][a-z0-9+.\-]*://[A-Za-z0-9._~:/?#\[\]@!&*+,;=%\-]+\Z")
CRATE = lazy_re.compile(r"^[A-Za-z0-9_-]+\Z")
TRACKER = lazy_re.compile(r"^[a-z][a-z0-9_-]*\Z")
IMAGE = lazy_re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\Z")
CONTROL = tomlfile.CONTROL

SETTINGS: dict[str, object] = {
    "crate": "vllm-engine-core-client",
    "manifest": "Cargo.toml",
    "upstream": "https://github.com/vllm-project/vllm.git",
    "trackers": ["nightly", "rc"],
    "max_stable": 3,
    "target_env": "VLLM_TARGET_VERSION",
    "image": "",
    "dockerfile": "",  # "": Dockerfile.template when present, else Dockerfile
    "caps_file": "vline_caps.rs",  # the generated capability table a build.rs includes
    "capture": "capture.toml",  # the capture matrix (vline capture)
    "python_index": "",  # an index of nightly vllm wheels; "": nightly installs from upstream at its rev
    "build_args": {},  # the project's Dockerfile ARG name -> a `vline env` variable, lower case
}
# relative paths inside the project: (setting, the name it must end with or "", what it is)
PATHS = {"manifest": "Cargo.toml", "caps_file": ".rs", "capture": ".toml", "dockerfile": ""}
LINE_FIELDS: dict[str, type] = {
    "line": str, "tag": str, "protocol_rev": str, "patch_repo": str, "patch_rev": str,
    "fidelity_validated": bool, "default": bool, "python_requirement": str,
}
CFG = lazy_re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # a Rust cfg name (an identifier)
CAPABILITY_FIELDS = {"name": str, "since": str, "description": str}
REQUIRED = ("line", "tag", "protocol_rev")


def checked_rev(rev: str, flag: str = "--rev") -> str:
    """A rev given on the command line: 40 lowercase hex, or exit 2."""
    if not REV.match(rev):
        raise InputError(f"{flag} {quote(rev)} is not 40 lowercase hex characters")
    return rev


def same_source(a: str, b: str) -> bool:
    """Cargo's notion of one git source (its CanonicalUrl): case-insensitive scheme/host, no trailing `/`
    or `.git`; on github.com also the path's case and http vs https."""
    def canon(url: str) -> str:
        url = url.strip().rstrip("/")
        scheme, sep, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        scheme, host = scheme.lower(), host.lower()
        if host == "github.com":
            scheme, path = "https", path.lower()
        path = path[:-4] if path.endswith(".git") else path
        return f"{scheme}{sep}{host}{slash}{path}"
    return canon(a) == canon(b)


# NamedTuple, not dataclass: these records load on every CI call and a dataclass costs ~0.6 ms to define.
class Settings(NamedTuple):
    crate: str
    manifest: str
    upstream: str
    trackers: tuple[str, ...]
    max_stable: int
    target_env: str
    image: str
    dockerfile: str = ""
    caps_file: str = "vline_caps.rs"
    capture: str = "capture.toml"
    python_index: str = ""
    build_args: tuple[tuple[str, str], ...] = ()


class Capability(NamedTuple):
    name: str
    since: str  # "X.Y": on for that line and newer ones; "nightly": on for nightly only (the newest line)
    description: str
    pos: int


class Line(NamedTuple):
    line: str
    tag: str
    protocol_rev: str
    patch_repo: str | None
    patch_rev: str | None
    fidelity_validated: bool
    default: bool
    tracker: bool
    pos: int  # the line of its [[vllm]] header
    python_requirement: str | None = None  # overrides vllm==<version> (pip_spec)

    @property
    def version(self) -> Version | None:
        """The tag as a version; None for a non-version tag such as `nightly`."""
        try:
            return versions.parse_tag(self.tag)
        except versions.TagError:
            return None

    @property
    def has_fork(self) -> bool:
        return self.patch_repo is not None

    @property
    def image_tag(self) -> str:
        return f"vllm{self.line}"

    def frontend(self, settings: Settings) -> tuple[str, str]:
        """Where the vLLM Rust frontend is built from: the fork when there is one."""
        if self.patch_repo and self.patch_rev:
            return self.patch_repo, self.patch_rev
        return settings.upstream, self.protocol_rev

    def pip_spec(self, settings: Settings) -> str:
        """The line's pip requirement for vLLM: its own `python_requirement` when set, else `vllm==<version>`
        for a release or release candidate (PEP 440 from the tag), else (nightly) `vllm` from
        [vline].python_index when one is set, else a direct reference to the upstream at its protocol_rev."""
        if self.python_requirement:
            return self.python_requirement
        if self.version is not None:
            return f"vllm=={self.version}"
        if settings.python_index:
            return "vllm"
        return f"vllm @ git+{settings.upstream}@{self.protocol_rev}"

    def command_env(self, settings: Settings) -> dict[str, str]:
        """What a command run for this line sees (each, gate): its build variables plus VLINE_LINE/VLINE_TAG."""
        return {**self.build_env(settings), "VLINE_LINE": self.line, "VLINE_TAG": self.tag}

    def build_env(self, settings: Settings) -> dict[str, str]:
        """The line's build variables (`vline env`, build args, ARG defaults), then the project's own ARG
        names for them ([vline.build_args])."""
        repo, ref = self.frontend(settings)
        env = {
            "LINE": self.line,
            "TAG": self.tag,
            settings.target_env: self.tag,
            "PROTOCOL_REV": self.protocol_rev,
            "PATCH_REPO": self.patch_repo or "",
            "PATCH_REV": self.patch_rev or "",
            "FRONTEND_REPO": repo,
            "FRONTEND_REF": ref,
            "IMAGE_TAG": self.image_tag,
            "VLLM_PIP_SPEC": self.pip_spec(settings),
        }
        by_variable = {k.lower(): v for k, v in env.items()}
        for arg, variable in settings.build_args:
            env[arg] = by_variable[variable]
        return env


class Compat(NamedTuple):
    path: Path
    shown: str
    settings: Settings
    lines: list[Line]  # file order
    findings: list[Finding]
    embedded: bool = False
    capabilities: list[Capability] = []

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def default(self) -> Line:
        return next(ln for ln in self.lines if ln.default)

    def get(self, name: str) -> Line:
        for ln in self.lines:
            if ln.line == name:
                return ln
        names = [ln.line for ln in self.ordered()]
        hint = _did_you_mean(name, self.lines, names)
        raise InputError(f"unknown line {quote(name)}{hint} (lines: {', '.join(names)})", path=self.shown)

    def ordered(self) -> list[Line]:
        """The window newest first: trackers in [vline].trackers order, then stable lines by version."""
        rank = {name: i for i, name in enumerate(self.settings.trackers)}
        trackers = sorted((ln for ln in self.lines if ln.tracker), key=lambda ln: rank.get(ln.line, len(rank)))
        stable = sorted((ln for ln in self.lines if not ln.tracker),
                        key=lambda ln: versions.line_key(ln.line), reverse=True)
        return trackers + stable

    def stable(self) -> list[Line]:
        return [ln for ln in self.ordered() if not ln.tracker]

    def line_for_version(self, reported: str) -> Line | None:
        """The line an engine-reported version (or a tag) belongs to (SPEC §3)."""
        return versions.match_line(reported, self.ordered())

    def manifest_path(self) -> Path:
        """The Cargo manifest, refused if it (or a link on the way) leads outside the project."""
        return under(self.root, *self.settings.manifest.split("/"), what="[vline].manifest")

    def dockerfile_path(self) -> Path:
        """The project's Dockerfile: [vline].dockerfile, else Dockerfile.template when present, else Dockerfile."""
        name = self.settings.dockerfile or (TEMPLATE if (self.root / TEMPLATE).is_file() else "Dockerfile")
        return under(self.root, *name.split("/"), what="[vline].dockerfile")


def _did_you_mean(name: str, lines: list[Line], names: list[str]) -> str:
    """A line the user may have meant: the one whose tag they typed (v0.22.1, 0.22.1), else a close spelling."""
    for ln in lines:
        if name in (ln.tag, ln.tag.removeprefix("v")):
            return f"; did you mean {ln.line} (tag {ln.tag})?"
    import difflib

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


# --- locating ---------------------------------------------------------------------------------

def locate(explicit: str | os.PathLike | None = None) -> tuple[Path, str, bool]:
    """--compat, else $VLINE_COMPAT, else compat.toml here or in a parent up to the git root; the
    embedded default only where no project is found (no git repository, no Cargo.toml on the way)."""
    chosen = explicit or os.environ.get("VLINE_COMPAT")
    if chosen:
        return Path(chosen), str(chosen), False
    here = Path.cwd()
    looked: list[Path] = []
    project: Path | None = None
    for d in (here, *here.parents):
        candidate = d / FILENAME
        if candidate.is_file():
            shown = FILENAME if d == here else os.path.relpath(candidate)
            return candidate, shown, False
        looked.append(d)
        if project is None and (d / "Cargo.toml").is_file():
            project = d
        if (d / ".git").exists():
            project = d
            break
    if project is not None:
        where = ", ".join(os.path.relpath(d) for d in looked)
        raise InputError(f"no {FILENAME} in this project (looked in {where}): create one at "
                         f"{os.path.relpath(project / FILENAME)} (its format is in vline's README; "
                         "'vline show' outside any project shows an example) or pass --compat PATH",
                         path=os.path.relpath(project / FILENAME))
    return resources.default_compat(), FILENAME + " (embedded default)", True


def load(explicit: str | os.PathLike | None = None, *, strict: bool = True, project: bool = False) -> Compat:
    """Load and validate. strict: rule errors raise InputError (exit 2) listing every error.
    project: the command writes or runs things beside compat.toml, so the embedded default will not do."""
    path, shown, embedded = locate(explicit)
    if embedded and project:
        raise InputError(f"no {FILENAME} here or in a parent folder: pass --compat PATH or run in your project")
    if embedded and not os.environ.get("VLINE_QUIET"):
        import sys
        print(f"vline: no {FILENAME} here or in a parent folder; using the embedded default", file=sys.stderr)
    compat = parse(tomlfile.read(path, shown))._replace(embedded=embedded)
    if strict and compat.errors:
        first, *rest = compat.errors
        raise InputError(first.message, path=first.path, line=first.line, extra=[f.render() for f in rest])
    return compat


# --- parsing and rules --------------------------------------------------------------------------

def _settings(raw: object, tf: tomlfile.TomlFile, out: Collector) -> Settings:
    block = tf.layout.tables.get("vline", tf.layout.root)
    values = dict(SETTINGS)
    if raw is None:
        return _make_settings(values)
    if not isinstance(raw, dict):
        out.error(_top_line(tf, "vline"), "[vline] must be a table")
        return _make_settings(values)
    for key, value in raw.items():
        at = block.at(key)
        if key not in SETTINGS:
            out.warning(at, f"[vline] unknown key {quote(key)} (ignored)")
            continue
        default = SETTINGS[key]
        if key == "build_args":
            values[key] = _build_args(value, tf, at, out)
            continue
        if key == "trackers":
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                out.error(at, "[vline] trackers: expected a list of strings")
                continue
            bad = [t for t in value if not TRACKER.match(t) or versions.STABLE_LINE.match(t)]
            if bad:
                out.error(at, f"[vline] trackers: {quote(bad[0])} is not a tracker name (lowercase word, e.g. nightly)")
                continue
        elif key == "max_stable":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                out.error(at, f"[vline] max_stable: expected a positive integer, got {quote(value)}")
                continue
        elif not isinstance(value, type(default)):
            out.error(at, f"[vline] {key}: expected a string, got {type(value).__name__} {quote(value)}")
            continue
        elif CONTROL.search(value):
            out.error(at, f"[vline] {key}: contains a control character (newline?)")
            continue
        elif key == "upstream" and not URL.match(value):
            out.error(at, f"[vline] upstream: {quote(value)} is not a git URL (scheme://host/path)")
            continue
        elif key == "target_env" and (problem := emit.env_name_problem(value)):
            out.error(at, f"[vline] target_env: {problem}")
            continue
        elif key == "crate" and not CRATE.match(value):
            out.error(at, f"[vline] crate: {quote(value)} is not a crate name")
            continue
        elif key == "image" and value and not IMAGE.match(value):
            out.error(at, f"[vline] image: {quote(value)} is not an image repository (lowercase, no tag)")
            continue
        elif key in PATHS and (value or SETTINGS[key]) and (problem := path_problem(value, PATHS[key])):
            out.error(at, f"[vline] {key}: {quote(value)} {problem}")
            continue
        elif key == "python_index" and value and not URL.match(value):
            out.error(at, f"[vline] python_index: {quote(value)} is not a URL (scheme://host/path)")
            continue
        values[key] = value
    if values["target_env"].lower() in BUILD_VARIABLES - {"tag"}:
        out.error(block.at("target_env"), f"[vline] target_env: {values['target_env']} is one of vline's own "
                                          "build variables")
        values["target_env"] = SETTINGS["target_env"]
    return _make_settings(values)


BUILD_VARIABLES = {"line", "tag", "protocol_rev", "patch_repo", "patch_rev", "frontend_repo", "frontend_ref",
                   "image_tag", "vllm_pip_spec"}  # and target_env's name: Line.build_env


def _build_args(raw: object, tf: tomlfile.TomlFile, at: int, out: Collector) -> tuple[tuple[str, str], ...]:
    """[vline.build_args]: the project's ARG names, each mapped to a build variable (lower case)."""
    if not isinstance(raw, dict):
        out.error(at, "[vline] build_args: expected a table of ARG_NAME = \"variable\"")
        return ()
    block = tf.layout.tables.get("vline.build_args", tomlfile.Block(at, {}))
    target = str((tf.data.get("vline") or {}).get("target_env", SETTINGS["target_env"])).lower()
    known = BUILD_VARIABLES | {target}
    pairs = []
    for name, var in raw.items():
        where = block.at(name)
        if not emit.ENV_NAME.match(name):
            out.error(where, f"[vline.build_args] {quote(name)} is not an ARG name (letters, digits, _)")
        elif not isinstance(var, str) or var not in known:
            out.error(where, f"[vline.build_args] {name}: {quote(var)} is not a build variable "
                             f"(one of: {', '.join(sorted(known))})")
        else:
            pairs.append((name, var))
    return tuple(pairs)


def path_problem(value: str, ending: str = "") -> str | None:
    """Why a [vline] path setting cannot name a file of the project (None: it can)."""
    parts = value.replace("\\", "/").split("/")
    if not value or value.startswith("/") or "\\" in value or os.path.isabs(value):
        return f"must be a path relative to {FILENAME}, with '/' between folders"
    if any(p in ("", ".", "..") for p in parts):
        return f"must stay inside the folder of {FILENAME} (no '.', '..' or empty parts)"
    if ending == "Cargo.toml" and parts[-1] != ending:
        return "must name a Cargo.toml (Cargo reads no other manifest name)"
    if ending.startswith(".") and not parts[-1].endswith(ending):
        return f"must name a {ending} file"
    return None


def manifest_problem(value: str) -> str | None:
    """Why `[vline].manifest` cannot name the Cargo manifest (None: it can)."""
    return path_problem(value, "Cargo.toml")


def _make_settings(values: dict) -> Settings:
    return Settings(**{**values, "trackers": tuple(values["trackers"]), "build_args": tuple(values["build_args"])})


def _line(raw: dict, block: tomlfile.Block, idx: int, settings: Settings, out: Collector) -> Line | None:
    name = raw.get("line")
    label = f"[[vllm]] line {quote(name)}" if isinstance(name, str) else f"[[vllm]] #{idx + 1}"
    ok = True
    for key, value in raw.items():
        at = block.at(key)
        want = LINE_FIELDS.get(key)
        if want is None:
            out.warning(at, f"{label}: unknown key {quote(key)} (ignored)")
        elif not isinstance(value, want):
            out.error(at, f"{label}: {key}: expected a {'boolean' if want is bool else 'string'}, "
                          f"got {type(value).__name__} {quote(value)}")
            ok = False
        elif want is str and CONTROL.search(value):
            out.error(at, f"{label}: {key}: contains a control character (newline?)")
            ok = False
    for key in REQUIRED:
        if key not in raw:
            out.error(block.line, f"{label}: missing required key {quote(key)}")
            ok = False
    if not ok:
        return None

    line, tag = raw["line"], raw["tag"]
    tracker = line in settings.trackers
    for key in ("protocol_rev", "patch_rev"):
        if key in raw and not REV.match(raw[key]):
            out.error(block.at(key), f"{label}: {key}: {quote(raw[key])} is not 40 lowercase hex characters")
            ok = False
    has_repo, has_rev = "patch_repo" in raw, "patch_rev" in raw
    if has_repo != has_rev:
        missing = "patch_rev" if has_repo else "patch_repo"
        out.error(block.at("patch_repo" if has_repo else "patch_rev"),
                  f"{label}: patch_repo and patch_rev go together; {missing} is missing")
        ok = False
    if has_repo:
        repo = raw["patch_repo"]
        if not URL.match(repo):
            out.error(block.at("patch_repo"), f"{label}: patch_repo: {quote(repo)} is not a git URL (scheme://host/path)")
            ok = False
        elif same_source(repo, settings.upstream):
            out.error(block.at("patch_repo"),
                      f"{label}: patch_repo is the upstream URL; Cargo rejects a [patch] that points to the same source")
            ok = False

    if tracker:
        if line == versions.NIGHTLY and tag != "nightly":
            out.error(block.at("tag"), f"{label}: tag: the nightly tracker's tag is the literal 'nightly', not {quote(tag)}")
            ok = False
        elif line == versions.RC:
            try:
                if not versions.is_release_candidate(versions.parse_tag(tag)):
                    out.error(block.at("tag"), f"{label}: tag: {quote(tag)} is not a release candidate (e.g. v0.26.1rc0)")
                    ok = False
            except versions.TagError as e:
                out.error(block.at("tag"), f"{label}: tag: {e}")
                ok = False
        elif line != versions.NIGHTLY and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\Z", tag):
            out.error(block.at("tag"), f"{label}: tag: {quote(tag)} is not a tag name")
            ok = False
        for key in ("default", "fidelity_validated"):
            if raw.get(key) is True:
                out.error(block.at(key), f"{label}: {key}: a tracker is never {key.replace('_', ' ')}")
                ok = False
    elif not versions.STABLE_LINE.match(line):
        out.error(block.at("line"), f"{label}: line: {quote(line)} is neither X.Y nor a tracker named in "
                                    f"[vline].trackers ({', '.join(settings.trackers)})")
        ok = False
    else:
        try:
            v = versions.parse_tag(tag)
        except versions.TagError as e:
            out.error(block.at("tag"), f"{label}: tag: {e}")
            ok = False
        else:
            if versions.line_of(v) != line:
                out.error(block.at("tag"), f"{label}: tag: {quote(tag)} is on line {versions.line_of(v)}, not {line}")
                ok = False
            elif v.is_prerelease:
                out.error(block.at("tag"), f"{label}: tag: {quote(tag)} is a pre-release; it belongs on the rc tracker")
                ok = False
    req = raw.get("python_requirement")
    if req is not None and (problem := requirement_problem(req)):
        out.error(block.at("python_requirement"), f"{label}: python_requirement: {quote(req)} {problem}")
        ok = False
    if not ok:
        return None
    return Line(line=line, tag=tag, protocol_rev=raw["protocol_rev"], patch_repo=raw.get("patch_repo"),
                patch_rev=raw.get("patch_rev"), fidelity_validated=raw.get("fidelity_validated", False),
                default=raw.get("default", False), tracker=tracker, pos=block.line, python_requirement=req)


def requirement_problem(text: str) -> str | None:
    """Why a line's python_requirement is not a pip requirement for vllm (None: it is)."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement as e:
        return f"is not a pip requirement ({one_line(str(e)).split(chr(10))[0][:120]})"
    if req.name.lower().replace("_", "-") != "vllm":
        return f"must require vllm, not {req.name}"
    return None


def _capabilities(tf: tomlfile.TomlFile, settings: Settings, out: Collector) -> list[Capability]:
    raw = tf.data.get("capability", [])
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        out.error(_top_line(tf, "capability"), "capability must be an array of [[capability]] tables")
        return []
    blocks = tf.layout.arrays.get("capability", [])
    caps: list[Capability] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        block = blocks[i] if i < len(blocks) else tomlfile.Block(_top_line(tf, "capability"), {})
        name = entry.get("name")
        label = f"[[capability]] {quote(name)}" if isinstance(name, str) else f"[[capability]] #{i + 1}"
        ok = True
        for key, value in entry.items():
            want = CAPABILITY_FIELDS.get(key)
            if want is None:
                out.warning(block.at(key), f"{label}: unknown key {quote(key)} (ignored)")
            elif not isinstance(value, want) or CONTROL.search(value):
                out.error(block.at(key), f"{label}: {key}: expected a one-line string, got {quote(value)}")
                ok = False
        for key in ("name", "since"):
            if key not in entry:
                out.error(block.line, f"{label}: missing required key {quote(key)}")
                ok = False
        if not ok:
            continue
        since = entry["since"]
        if not CFG.match(name):
            out.error(block.at("name"), f"{label}: name: not a cfg name (letters, digits, _; not starting with a digit)")
        elif name in seen:
            out.error(block.at("name"), f"{label}: duplicate capability (first at line {seen[name]})")
        elif not versions.STABLE_LINE.match(since) and since != versions.NIGHTLY:
            out.error(block.at("since"), f"{label}: since: {quote(since)} is neither a line X.Y nor 'nightly'")
        else:
            seen[name] = block.at("name")
            caps.append(Capability(name, since, entry.get("description", ""), block.line))
    return caps


def _top_line(tf: tomlfile.TomlFile, key: str) -> int:
    """Where a top-level key is defined: `key = ...`, `[key]` or the first `[[key]]`."""
    if key in tf.layout.root.keys:
        return tf.layout.root.keys[key]
    block = tf.layout.tables.get(key) or next(iter(tf.layout.arrays.get(key, [])), None)
    return block.line if block else 1


def parse(tf: tomlfile.TomlFile) -> Compat:
    out = Collector(tf.shown)
    data = tf.data
    for key in data:
        if key not in ("vllm", "vline", "capability"):
            out.warning(_top_line(tf, key), f"unknown top-level key {quote(key)} (ignored)")
    settings = _settings(data.get("vline"), tf, out)
    raw_lines = data.get("vllm", [])
    blocks = tf.layout.arrays.get("vllm", [])
    lines: list[Line] = []
    if not isinstance(raw_lines, list) or not all(isinstance(x, dict) for x in raw_lines):
        out.error(_top_line(tf, "vllm"), "vllm must be an array of [[vllm]] tables")
        raw_lines = []
    elif not raw_lines:
        out.error(1, "no [[vllm]] table: at least one line is required")
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_lines):
        block = blocks[i] if i < len(blocks) else tomlfile.Block(tf.layout.root.at("vllm"), {})
        name = raw.get("line")
        if isinstance(name, str):
            if name in seen:
                out.error(block.at("line"), f"[[vllm]] line {quote(name)}: duplicate line (first at line {seen[name]})")
                continue
            seen[name] = block.at("line")
        ln = _line(raw, block, i, settings, out)
        if ln:
            lines.append(ln)

    if raw_lines and len(lines) == len(raw_lines):  # cross-line rules need every line valid
        _window_rules(lines, out)
    capabilities = _capabilities(tf, settings, out) if "capability" in data else []
    return Compat(tf.path, tf.shown, settings, lines, findings=sorted(out.items, key=lambda f: f.line),
                  capabilities=capabilities)


def _window_rules(lines: list[Line], out: Collector) -> None:
    defaults = [ln for ln in lines if ln.default]
    stable = [ln for ln in lines if not ln.tracker]
    if not defaults:
        out.error(stable[0].pos if stable else lines[0].pos, "no line has default = true; exactly one stable line must")
    elif len(defaults) > 1:
        for ln in defaults[1:]:
            out.error(ln.pos, f"[[vllm]] line {quote(ln.line)}: default: a second default line "
                              f"(line {quote(defaults[0].line)} is already default)")
    else:
        default = defaults[0]
        newest = max(stable, key=lambda ln: versions.line_key(ln.line))
        if newest is not default:
            out.error(default.pos, f"[[vllm]] line {quote(default.line)}: default: the default must be the newest "
                                   f"stable line, which is {quote(newest.line)}")
        rc = next((ln for ln in lines if ln.line == versions.RC), None)
        if rc and rc.version and default.version and rc.version <= default.version:
            out.warning(rc.pos, f"[[vllm]] line 'rc': tag {rc.tag} is not newer than the default line's "
                                f"{default.tag}: the rc tracker is stale")
