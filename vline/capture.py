"""The capture matrix (`capture.toml`, or a team's `models.toml` read unchanged): golden-capture targets,
checked against the window of compat.toml, and everything a target derives from it: the engine's flags
and the config fingerprint (one function, `engine`), the tap's flags, the load generator's environment.

Light on purpose (tomllib and the stdlib): `vline check` calls `check_findings`. Rendering Jobs
(vline/k8s.py), the Kubernetes API and registries (vline/adapters/) live elsewhere.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import NamedTuple

from . import fingerprint, lazy_re, tomlfile, versions
from .compat import Compat, Line
from .errors import InputError, quote
from .findings import Collector, Finding
from .fsio import under

FILENAME = "capture.toml"
ENV = "VLINE_CAPTURE"
BUILTIN = Path(__file__).resolve().parent / "resources" / "capture.toml"

# The pod's wiring: the tap sits between the frontend and the headless engine on loopback.
LOOPBACK = "127.0.0.1"
ENGINE_HANDSHAKE_PORT = 5580  # the engine's data-parallel handshake, dialled by the tap
TAP_HANDSHAKE_PORT = 5570  # the tap's handshake, dialled by the frontend
TAP_INPUT_PORT, TAP_OUTPUT_PORT = 29560, 29561
HTTP_PORT = 8000  # the frontend's OpenAI API, driven by the load generator
TRACE_DIR = "/trace"

# [defaults] keys (a [[capture]] may override each) and their kinds; those in OPTIONAL may be omitted.
DEFAULT_KEYS = {
    "namespace": "dns_label", "queue": "queue", "gpu": "text", "gpu_memory_utilization": "fraction",
    "tp": "count", "block_size": "count", "max_num_seqs": "count", "max_model_len": "count",
    "enforce_eager": "bool", "engine_cpu_request": "quantity", "engine_cpu_limit": "quantity",
    "engine_memory_request": "quantity", "engine_memory_limit": "quantity", "model_cache_size": "quantity",
    "loadgen_image": "image", "scripts_configmap": "dns_subdomain", "active_deadline_seconds": "count",
    "ttl_seconds_after_finished": "count",
}
OPTIONAL = {"enforce_eager": True, "loadgen_image": "python:3.12-slim", "scripts_configmap": "validation-scripts",
            "active_deadline_seconds": 4 * 3600, "ttl_seconds_after_finished": 24 * 3600}
CAPTURE_KEYS = {
    "name": "job_name", "model": "text", "vllm_tag": "tag", "scenario": "word", "phases": "words",
    "mt_seed": "env", "mt_rate": "env", "sweep_words": "env", "sweep_conc": "env", "speculative": "descriptor",
    "workload": "plain", "role": "role",
}
REQUIRED = ("name", "model", "vllm_tag", "scenario", "phases")
LOADGEN_ENV = {"mt_seed": "MT_SEED", "mt_rate": "MT_RATE", "sweep_words": "SWEEP_WORDS", "sweep_conc": "SWEEP_CONC"}
LINE_KEYS = ("engine_image", "tap_image")
SCENARIO_KEYS = {"description": str, "enable_prefix_caching": bool, "speculative": bool}
JOB_PREFIX = "trace-"

_DNS_LABEL = lazy_re.compile(r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\Z")
_DNS_SUBDOMAIN = lazy_re.compile(r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\Z")
_QUANTITY = lazy_re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?\Z")
_PLAIN = lazy_re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_WORD = lazy_re.compile(r"^[a-z](?:[a-z0-9_-]{0,61}[a-z0-9])?\Z")  # also a label value
_DESCRIPTOR = lazy_re.compile(r"^([a-z][a-z0-9_]*)-k([1-9][0-9]{0,2})\Z")
_DIGEST = lazy_re.compile(r"^sha256:[0-9a-f]{64}\Z")
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = lazy_re.compile(r"^(?:(?P<host>(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?))/)?"
                    rf"(?P<path>{_PATH_PART}(?:/{_PATH_PART})*)"
                    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[a-z0-9]+:[0-9a-f]{32,}))?\Z")
CONTROL = tomlfile.CONTROL
INT32 = 2 ** 31 - 1


# --- image references -------------------------------------------------------------------------------

class ImageRef(NamedTuple):
    registry: str  # as written (docker.io when none is)
    repository: str
    tag: str | None
    digest: str | None

    def with_digest(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}{':' + self.tag if self.tag else ''}@{digest}"

    @property
    def pinned(self) -> bool:
        return bool(self.digest and _DIGEST.match(self.digest))


def parse_image(ref: str) -> ImageRef | None:
    """`[host[:port]/]path[:tag][@digest]` as Docker reads it; None when it is not an image reference."""
    m = _IMAGE.match(ref) if isinstance(ref, str) else None
    if not m:
        return None
    host, path = m.group("host"), m.group("path")
    if host is not None and not ("." in host or ":" in host or host == "localhost" or host.startswith("[")):
        path, host = f"{host}/{path}", None  # `vllm/vllm-openai`: the first part is a path, not a host
        if not re.match(rf"^{_PATH_PART}(?:/{_PATH_PART})*\Z", path):
            return None
    if host is None:
        host = "docker.io"
        if "/" not in path:
            path = f"library/{path}"
    return ImageRef(host, path, m.group("tag"), m.group("digest"))


# --- the model -------------------------------------------------------------------------------------

class Scenario(NamedTuple):
    name: str
    description: str
    enable_prefix_caching: bool
    speculative: bool


class LineImages(NamedTuple):
    """A `[lines."<tag>"]` table: the engine and tap/frontend images of one line."""
    tag: str
    pos: int
    engine_image: str | None  # None when missing or invalid; may be unpinned (then `problems` says so)
    tap_image: str | None
    engine_pos: int
    tap_pos: int
    line: Line | None  # the window line with this tag; None: outside the window
    present: frozenset  # the keys the table has
    problems: tuple  # errors about its keys


class Target(NamedTuple):
    """One [[capture]] with [defaults] and its line's images applied."""
    name: str
    pos: int  # its [[capture]] header
    values: dict  # every key, validated; a key whose value is invalid is absent
    scenario: Scenario | None
    speculative_config: dict | None  # the --speculative-config object, when the scenario deploys one
    line: Line | None
    images: LineImages | None
    problems: list[Finding]  # errors that keep it from being rendered

    @property
    def job_name(self) -> str:
        return JOB_PREFIX + self.name

    @property
    def ok(self) -> bool:
        return not self.problems


class Matrix(NamedTuple):
    path: Path
    shown: str
    targets: list[Target]
    lines: dict[str, LineImages]
    scenarios: dict[str, Scenario]
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def select(self, names: list[str], everything: bool = False, lines: list[str] | None = None) -> list[Target]:
        """Targets by name, by line (a window line or a tag), or all; every one must be renderable."""
        lines = lines or []
        if not names and not everything and not lines:
            raise InputError("name capture targets, or pass --all or --line LINE ('vline capture list' shows them)")
        known = {t.name for t in self.targets}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputError(f"unknown capture target{'s' if len(unknown) > 1 else ''} {', '.join(map(quote, unknown))} "
                             "('vline capture list' shows them)", path=self.shown)
        chosen = [t for t in self.targets
                  if everything or t.name in names
                  or (t.line is not None and (t.line.line in lines or t.line.tag in lines))
                  or t.values.get("vllm_tag") in lines]
        if not chosen:
            raise InputError(f"no capture target on line{'s' if len(lines) > 1 else ''} {', '.join(lines)}",
                             path=self.shown)
        problems = sorted({f for t in chosen for f in t.problems}, key=lambda f: (f.path, f.line, f.message))
        if problems:
            first, *rest = problems
            raise InputError(first.message, path=first.path, line=first.line, extra=[f.render() for f in rest])
        return chosen


class Engine(NamedTuple):
    args: list[str]  # the engine container's args (after `vllm serve`)
    flags: dict[str, object]  # the config fingerprint's keys
    engine_config: str  # the canonical engine_config the tap stamps


# --- derived from a target ---------------------------------------------------------------------------

def engine(t: Target) -> Engine:
    """The engine's flags and the fingerprint's engine_config, both from the same values: they cannot disagree.
    Every behavioral key is passed explicitly, so no engine default stands in for a value the hash claims."""
    v = t.values
    flags: dict[str, object] = {
        "block_size": v["block_size"],
        "enable_prefix_caching": t.scenario.enable_prefix_caching,  # type: ignore[union-attr]
        "enforce_eager": v["enforce_eager"],
        "gpu_memory_utilization": v["gpu_memory_utilization"],
        "max_model_len": v["max_model_len"],
        "max_num_seqs": v["max_num_seqs"],
        "model": v["model"],
        "speculative": v.get("speculative", "none") if t.speculative_config is not None else "none",
        "tensor_parallel": v["tp"],
    }
    r = fingerprint.render
    args = [r(flags["model"]), "--headless",
            f"--data-parallel-address={LOOPBACK}", f"--data-parallel-rpc-port={ENGINE_HANDSHAKE_PORT}",
            "--data-parallel-size=1",
            f"--tensor-parallel-size={r(flags['tensor_parallel'])}",
            f"--gpu-memory-utilization={r(flags['gpu_memory_utilization'])}",
            f"--max-model-len={r(flags['max_model_len'])}",
            f"--max-num-seqs={r(flags['max_num_seqs'])}",
            f"--block-size={r(flags['block_size'])}"]
    if flags["enforce_eager"]:
        args.append("--enforce-eager")
    args.append("--enable-prefix-caching" if flags["enable_prefix_caching"] else "--no-enable-prefix-caching")
    if t.speculative_config is not None:
        args += ["--speculative-config", json.dumps(t.speculative_config)]
    return Engine(args, flags, fingerprint.engine_config(flags))


def config_hash(t: Target) -> str:
    """What the tap stamps, and what `vline fingerprint` computes from the same inputs."""
    return fingerprint.config_hash(t.values["gpu"], t.values["vllm_tag"], engine(t).engine_config)


def tap_args(t: Target) -> list[str]:
    """The recording tap: on the wire between frontend and engine; it stamps config_hash from these."""
    v = t.values
    r = fingerprint.render
    return [f"--frontend-handshake=tcp://{LOOPBACK}:{TAP_HANDSHAKE_PORT}",
            f"--engine-handshake=tcp://{LOOPBACK}:{ENGINE_HANDSHAKE_PORT}",
            f"--input-address=tcp://{LOOPBACK}:{TAP_INPUT_PORT}",
            f"--output-address=tcp://{LOOPBACK}:{TAP_OUTPUT_PORT}",
            f"--trace-out={TRACE_DIR}/trace.jsonl",
            f"--vllm-version={v['vllm_tag']}",
            f"--gpu={v['gpu']}",
            f"--model={v['model']}",
            f"--tp={r(v['tp'])}",
            f"--block-size={r(v['block_size'])}",
            f"--max-num-seqs={r(v['max_num_seqs'])}",
            f"--engine-config={engine(t).engine_config}",
            "--record-tokens",
            f"--step-stats-out={TRACE_DIR}/step-stats.jsonl"]


def frontend_args(t: Target) -> list[str]:
    return [t.values["model"], "--data-parallel-size=1", "--data-parallel-size-local=0",
            f"--handshake-port={TAP_HANDSHAKE_PORT}", "--host=0.0.0.0", f"--port={HTTP_PORT}"]


def loadgen_env(t: Target) -> dict[str, str]:
    v = t.values
    env = {"PHASES": v["phases"], "MODEL": v["model"]}
    env.update({name: v[key] for key, name in LOADGEN_ENV.items() if key in v})
    return env


def workload(t: Target) -> str:
    return t.values.get("workload", t.name)


# --- locating and loading -----------------------------------------------------------------------------

def locate(compat: Compat, explicit: str | os.PathLike | None = None) -> tuple[Path, str, bool]:
    """--capture, else $VLINE_CAPTURE, else [vline].capture (relative to compat.toml), else capture.toml
    beside compat.toml. The flag says whether it was asked for: then a missing file is an error."""
    chosen = explicit or os.environ.get(ENV)
    if chosen:
        return Path(chosen), str(chosen), True
    setting = compat.settings.capture or FILENAME
    path = under(compat.root, *setting.split("/"), what="[vline].capture")
    return path, os.path.relpath(path), setting != FILENAME


def load(compat: Compat, explicit: str | os.PathLike | None = None) -> Matrix:
    path, shown, _ = locate(compat, explicit)
    if not path.exists():
        raise InputError("no capture matrix here: create it, pass --capture PATH or set $VLINE_CAPTURE "
                         "(its format is in vline's README)", path=shown)
    return parse(tomlfile.read(path, shown), compat)


def check_findings(compat: Compat) -> list[Finding]:
    """`vline check`'s part: every finding of the capture matrix, or none when the project keeps none."""
    shown = FILENAME
    try:
        path, shown, asked = locate(compat)
        if not asked and not path.exists():
            return []
        return load(compat).findings
    except InputError as e:
        return [Finding.of(e, shown)]


# --- parsing ----------------------------------------------------------------------------------------------

def _kind_problem(kind: str, value: object) -> tuple[object, str | None]:
    """The value as vline keeps it, or why it is not of `kind`."""
    def typed(*types: type) -> bool:
        return isinstance(value, types) and not isinstance(value, bool)

    if kind == "bool":
        return value, None if isinstance(value, bool) else f"expected true or false, got {quote(value)}"
    if kind == "count":
        if not typed(int) or not 1 <= value <= INT32:  # type: ignore[operator]
            return value, f"expected a positive integer, got {quote(value)}"
        return value, None
    if kind == "fraction":
        if not typed(int, float) or not math.isfinite(value) or not 0 < value <= 1:  # type: ignore[arg-type]
            return value, f"expected a number above 0 and at most 1, got {quote(value)}"
        return float(value), None  # as vLLM reads it: `1` deploys 1.0, and the fingerprint must say so
    if kind == "quantity":
        text = str(value) if typed(int) else value
        if not isinstance(text, str) or not _QUANTITY.match(text):
            return value, f"{quote(value)} is not a Kubernetes quantity (e.g. \"8\", \"500m\", \"64Gi\")"
        return text, None
    if kind == "env":
        if typed(int, float):
            return str(value), None
        if not isinstance(value, str):
            return value, f"expected a string or number, got {quote(value)}"
    elif not isinstance(value, str):
        return value, f"expected a string, got {type(value).__name__} {quote(value)}"
    assert isinstance(value, str)
    if CONTROL.search(value):
        return value, "contains a control character (newline?)"
    if kind in ("text", "tag") and (not value or ";" in value or value.startswith("-")):
        return value, f"{quote(value)} must be non-empty, without ';' and not start with '-'"
    if kind == "tag" and value != versions.NIGHTLY and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\Z", value):
        return value, f"{quote(value)} is not a tag name"
    if kind == "words" and not value.strip():
        return value, "must not be empty"
    if kind == "dns_label" and (len(value) > 63 or not _DNS_LABEL.match(value)):
        return value, f"{quote(value)} is not a Kubernetes name (lowercase letters, digits and '-', at most 63)"
    if kind == "queue" and (len(value) > 63 or not _DNS_SUBDOMAIN.match(value)):
        return value, f"{quote(value)} is not a Kueue LocalQueue name (lowercase letters, digits, '-' and '.', at most 63)"
    if kind == "dns_subdomain" and (len(value) > 253 or not _DNS_SUBDOMAIN.match(value)):
        return value, f"{quote(value)} is not a Kubernetes name (lowercase letters, digits, '-' and '.')"
    if kind == "job_name":
        limit = 63 - len(JOB_PREFIX)  # the Job's name becomes a pod label value: 63 characters at most
        if len(value) > limit or not _DNS_LABEL.match(value):
            return value, (f"{quote(value)} cannot name a Job (lowercase letters, digits and '-', at most {limit}; "
                           f"the Job is {JOB_PREFIX}<name>)")
    if kind == "image" and parse_image(value) is None:
        return value, f"{quote(value)} is not an image reference ([host/]path[:tag][@sha256:digest])"
    if kind == "plain" and not _PLAIN.match(value):
        return value, f"{quote(value)} is not a plain name (letters, digits, '.', '_' and '-')"
    if kind == "word" and not _WORD.match(value):
        return value, f"{quote(value)} is not a scenario name (lowercase letters, digits, '_' and '-')"
    if kind == "role" and value not in ("fidelity", "schema"):
        return value, f"{quote(value)} is not a role (fidelity or schema)"
    if kind == "descriptor" and not _DESCRIPTOR.match(value):
        return value, f"{quote(value)} is not a speculative descriptor (<method>-k<N>, e.g. ngram-k3)"
    return value, None


def _section(tf: tomlfile.TomlFile, name: str) -> tomlfile.Block:
    return tf.layout.tables.get(name) or tomlfile.Block(_top_line(tf, name.split(".")[0]), {})


def _top_line(tf: tomlfile.TomlFile, key: str) -> int:
    if key in tf.layout.root.keys:
        return tf.layout.root.keys[key]
    block = tf.layout.tables.get(key) or next(iter(tf.layout.arrays.get(key, [])), None)
    if block:
        return block.line
    prefix = key + "."
    return min((b.line for name, b in tf.layout.tables.items() if name.startswith(prefix)), default=1)


def _tables(tf: tomlfile.TomlFile, key: str, out: Collector) -> dict[str, tuple[dict, tomlfile.Block]]:
    raw = tf.data.get(key, {})
    if not isinstance(raw, dict):
        out.error(_top_line(tf, key), f"{key} must be a table of [{key}.\"<name>\"] tables")
        return {}
    found = {}
    for name, body in raw.items():
        block = _section(tf, f"{key}.{name}")
        if not isinstance(body, dict):
            out.error(block.line, f"[{key}.{quote(name)}] must be a table")
            continue
        found[name] = (body, block)
    return found


def _scenarios(tf: tomlfile.TomlFile, out: Collector) -> tuple[dict[str, Scenario], dict[str, dict]]:
    scenarios: dict[str, Scenario] = {}
    for name, (body, block) in _tables(tf, "scenarios", out).items():
        label = f"[scenarios.{name}]"
        if not _WORD.match(name):
            out.error(block.line, f"{label}: {quote(name)} is not a scenario name (lowercase letters, digits, '_', '-')")
            continue
        ok = True
        for key, value in body.items():
            want = SCENARIO_KEYS.get(key)
            if want is None:
                out.error(block.at(key), f"{label}: unknown key {quote(key)}: a scenario sets only enable_prefix_caching "
                                         "and speculative, the behavioral settings the config fingerprint carries")
                ok = False
            elif not isinstance(value, want) or (want is str and CONTROL.search(value)):
                out.error(block.at(key), f"{label}: {key}: expected {'true or false' if want is bool else 'a string'}, "
                                         f"got {quote(value)}")
                ok = False
        if ok:
            scenarios[name] = Scenario(name, body.get("description", ""), body.get("enable_prefix_caching", True),
                                       body.get("speculative", False))
    methods: dict[str, dict] = {}
    for name, (body, block) in _tables(tf, "speculative", out).items():
        label = f"[speculative.{name}]"
        if not re.match(r"^[a-z][a-z0-9_]*\Z", name):
            out.error(block.line, f"{label}: {quote(name)} is not a method name (lowercase letters, digits and '_')")
            continue
        fields = {}
        for key, value in body.items():
            if key in ("method", "num_speculative_tokens"):
                out.error(block.at(key), f"{label}: {key} comes from the descriptor <method>-k<N>, not the table")
            elif key != "description" and (not isinstance(value, (str, int, float, bool))
                                           or (isinstance(value, float) and not math.isfinite(value))):
                out.error(block.at(key), f"{label}: {key}: expected a string, number or boolean, got {quote(value)}")
            elif key != "description":
                fields[key] = value
        methods[name] = fields
    return scenarios, methods


def _builtin() -> tuple[dict[str, Scenario], dict[str, dict]]:
    tf = tomlfile.read(BUILTIN, "vline/resources/capture.toml")
    out = Collector(tf.shown)
    found = _scenarios(tf, out)
    if out.errors:  # vline's own data: a bug, not the user's input
        raise InputError(out.errors[0].message, path=tf.shown, line=out.errors[0].line)
    return found


def _window_hint(tag: str, compat: Compat) -> str:
    lines = ", ".join(f"{ln.line} {ln.tag}" if ln.tag != ln.line else ln.line for ln in compat.ordered())
    try:
        same = next((ln for ln in compat.lines if not ln.tracker and ln.line == versions.line_of_tag(tag)), None)
    except versions.TagError:
        same = None
    now = f"; line {same.line} is at {same.tag} now" if same else ""
    return f"{quote(tag)} is not the tag of a line in the window of {compat.shown} ({lines}){now}"


def _lines(tf: tomlfile.TomlFile, compat: Compat, out: Collector) -> dict[str, LineImages]:
    by_tag = {ln.tag: ln for ln in compat.lines}
    found: dict[str, LineImages] = {}
    for tag, (body, block) in _tables(tf, "lines", out).items():
        label = f"[lines.{json.dumps(tag)}]"
        line = by_tag.get(tag)
        if line is None:
            out.error(block.line, f"{label}: {_window_hint(tag, compat)}: remove the table (and its captures)")
        images: dict[str, str | None] = {}
        start = len(out.items)
        for key, value in body.items():
            if key not in LINE_KEYS:
                out.warning(block.at(key), f"{label}: unknown key {quote(key)} (ignored)")
                continue
            _, problem = _kind_problem("image", value)
            if problem:
                out.error(block.at(key), f"{label}: {key}: {problem}")
                continue
            ref = parse_image(value)
            if key == "engine_image" and line is not None and not ref.pinned:  # type: ignore[union-attr]
                out.error(block.at(key), f"{label}: engine_image {quote(value)} is not pinned by digest "
                                         "(<image>:<tag>@sha256:<the multi-arch index digest>): the digest is what "
                                         "says which vLLM a golden measures; 'vline capture verify-images' "
                                         "reports the one to use")
            images[key] = value  # kept for verify-images, which says which digest to pin
            if key == "engine_image" and line is not None:
                _image_tag_drift(label, ref, line, block.at(key), out)  # type: ignore[arg-type]
        found[tag] = LineImages(tag, block.line, images.get("engine_image"), images.get("tap_image"),
                                block.at("engine_image"), block.at("tap_image"), line, frozenset(body),
                                tuple(f for f in out.items[start:] if f.is_error))
    return found


def _image_tag_drift(label: str, ref: ImageRef, line: Line, at: int, out: Collector) -> None:
    """An engine image whose tag names another vLLM than its line: the golden would claim the line's tag."""
    if not ref.tag:
        return
    if line.tag == versions.NIGHTLY:
        if re.match(r"^[0-9a-f]{40}\Z", ref.tag) and ref.tag != line.protocol_rev:
            out.warning(at, f"{label}: engine_image is the post-merge build of {ref.tag[:12]}…, but the nightly "
                            f"line's protocol_rev is {line.protocol_rev[:12]}…: move the image with the line")
        return
    try:
        image_version, line_version = versions.parse_tag(ref.tag), versions.parse_tag(line.tag)
    except versions.TagError:
        return  # a tag of the image's own naming (or a tracker's): nothing to compare
    if image_version != line_version:
        out.error(at, f"{label}: engine_image is tagged {ref.tag}, not the line's {line.tag}: its goldens would "
                      f"be stamped {line.tag} while measuring another vLLM")


def _defaults(tf: tomlfile.TomlFile, out: Collector) -> tuple[dict, dict[str, Finding], tomlfile.Block]:
    raw = tf.data.get("defaults", {})
    block = _section(tf, "defaults")
    good: dict = {}
    bad: dict[str, Finding] = {}
    if not isinstance(raw, dict):
        out.error(_top_line(tf, "defaults"), "defaults must be a [defaults] table")
        return good, bad, block
    for key, value in raw.items():
        kind = DEFAULT_KEYS.get(key)
        if kind is None:
            hint = " (a [[capture]] key, not a default)" if key in CAPTURE_KEYS else " (ignored)"
            out.warning(block.at(key), f"[defaults] unknown key {quote(key)}{hint}")
            continue
        kept, problem = _kind_problem(kind, value)
        if problem:
            out.error(block.at(key), f"[defaults] {key}: {problem}")
            bad[key] = out.items[-1]
        else:
            good[key] = kept
    return good, bad, block


def _target(raw: object, block: tomlfile.Block, idx: int, ctx: dict, out: Collector) -> Target | None:
    if not isinstance(raw, dict):
        out.error(block.line, f"[[capture]] #{idx + 1} must be a table")
        return None
    name = raw.get("name")
    label = f"[[capture]] {quote(name)}" if isinstance(name, str) else f"[[capture]] #{idx + 1}"
    start = len(out.items)
    inherited: list[Finding] = []
    values: dict = {}
    for key, value in raw.items():
        kind = CAPTURE_KEYS.get(key) or DEFAULT_KEYS.get(key)
        if kind is None:
            out.warning(block.at(key), f"{label}: unknown key {quote(key)} (ignored)")
            continue
        kept, problem = _kind_problem(kind, value)
        if problem:
            out.error(block.at(key), f"{label}: {key}: {problem}")
        else:
            values[key] = kept
    for key in REQUIRED:
        if key not in raw:
            out.error(block.line, f"{label}: missing required key {quote(key)}")
    defaults, bad = ctx["defaults"], ctx["bad_defaults"]
    missing = []
    for key in DEFAULT_KEYS:
        if key in raw:
            continue
        if key in defaults:
            values[key] = defaults[key]
        elif key in bad:
            inherited.append(bad[key])
        elif key in OPTIONAL:
            values[key] = OPTIONAL[key]
        else:
            missing.append(key)
    if missing:
        out.error(block.line, f"{label}: no {', '.join(missing)} (set {'them' if len(missing) > 1 else 'it'} "
                              "in [defaults] or in the capture)")

    scenario = None
    if "scenario" in values:
        scenario = ctx["scenarios"].get(values["scenario"])
        if scenario is None:
            out.error(block.at("scenario"), f"{label}: scenario {quote(values['scenario'])} is not one of "
                                            f"{', '.join(sorted(ctx['scenarios']))} (a [scenarios.<name>] table adds one)")
    spec_config = None
    if scenario is not None:
        descriptor = values.get("speculative")
        if scenario.speculative and descriptor is None and "speculative" not in raw:
            out.error(block.line, f"{label}: scenario {quote(scenario.name)} deploys speculative decoding: "
                                  "set speculative = \"<method>-k<N>\" (e.g. ngram-k3)")
        elif not scenario.speculative and "speculative" in raw:
            out.error(block.at("speculative"), f"{label}: speculative is set but scenario {quote(scenario.name)} "
                                               "deploys no speculative decoding (the engine would not get it)")
        elif descriptor is not None:
            method, k = _DESCRIPTOR.match(descriptor).groups()  # type: ignore[union-attr]
            fields = ctx["speculative"].get(method)
            if fields is None:
                out.error(block.at("speculative"), f"{label}: speculative method {quote(method)} is not one of "
                                                   f"{', '.join(sorted(ctx['speculative']))} "
                                                   "(a [speculative.<method>] table adds one)")
            else:
                spec_config = {"method": method, "num_speculative_tokens": int(k), **fields}

    line = images = None
    tag = values.get("vllm_tag")
    if tag is not None:
        images = ctx["lines"].get(tag)
        line = ctx["by_tag"].get(tag)
        if line is None:
            out.error(block.at("vllm_tag"), f"{label}: vllm_tag {_window_hint(tag, ctx['compat'])}")
        elif images is None:
            out.error(block.at("vllm_tag"), f"{label}: no [lines.{json.dumps(tag)}] table with the line's engine_image "
                                            "and tap_image")
    problems = [f for f in out.items[start:] if f.is_error] + inherited
    return Target(values.get("name", name if isinstance(name, str) else f"#{idx + 1}"), block.line, values,
                  scenario, spec_config, line, images, problems)


def parse(tf: tomlfile.TomlFile, compat: Compat) -> Matrix:
    out = Collector(tf.shown)
    for key in tf.data:
        if key not in ("defaults", "lines", "capture", "scenarios", "speculative"):
            out.warning(_top_line(tf, key), f"unknown top-level key {quote(key)} (ignored)")
    scenarios, methods = _builtin()
    own_scenarios, own_methods = _scenarios(tf, out)
    scenarios.update(own_scenarios)
    methods.update(own_methods)
    defaults, bad_defaults, _ = _defaults(tf, out)
    lines = _lines(tf, compat, out)
    raw_targets = tf.data.get("capture", [])
    blocks = tf.layout.arrays.get("capture", [])
    if not isinstance(raw_targets, list):
        out.error(_top_line(tf, "capture"), "capture must be an array of [[capture]] tables")
        raw_targets = []
    ctx = {"defaults": defaults, "bad_defaults": bad_defaults, "scenarios": scenarios, "speculative": methods,
           "lines": lines, "by_tag": {ln.tag: ln for ln in compat.lines}, "compat": compat}
    targets = []
    for i, raw in enumerate(raw_targets):
        block = blocks[i] if i < len(blocks) else tomlfile.Block(_top_line(tf, "capture"), {})
        t = _target(raw, block, i, ctx, out)
        if t is not None:
            targets.append(t)
    targets = _cross_rules(tf, targets, lines, compat, out)
    return Matrix(tf.path, tf.shown, targets, lines, scenarios,
                  sorted(out.items, key=lambda f: (f.line, f.severity != "error")))


def _cross_rules(tf: tomlfile.TomlFile, targets: list[Target], lines: dict[str, LineImages], compat: Compat,
                 out: Collector) -> list[Target]:
    """Duplicate names, window lines with captures but no images, and fidelity gates on a single seed."""
    extra: dict[int, list[Finding]] = {}
    first: dict[str, Target] = {}
    for i, t in enumerate(targets):
        if "name" not in t.values:
            continue
        if t.name in first:
            out.error(t.pos, f"[[capture]] {quote(t.name)}: duplicate name (first at line {first[t.name].pos}): "
                             f"both would be Job {t.job_name}")
            extra.setdefault(i, []).append(out.items[-1])
            extra.setdefault(targets.index(first[t.name]), []).append(out.items[-1])
        else:
            first[t.name] = t
    for ln in compat.ordered():
        on_line = [i for i, t in enumerate(targets) if t.line is ln]
        if not on_line:
            continue
        images = lines.get(ln.tag)
        if images is not None:
            for i in on_line:  # an invalid or unpinned image, reported at its key
                extra.setdefault(i, []).extend(images.problems)
            for key in LINE_KEYS:
                if key not in images.present:
                    out.error(images.pos, f"[lines.{json.dumps(ln.tag)}]: no {key}, and line {ln.line} has "
                                          f"{len(on_line)} capture{'s' if len(on_line) > 1 else ''}")
                    for i in on_line:
                        extra.setdefault(i, []).append(out.items[-1])
        gate = [targets[i] for i in on_line if targets[i].values.get("role", "fidelity") == "fidelity"]
        seeds = {t.values.get("mt_seed") for t in gate}
        if len(gate) >= 1 and len(seeds) == 1:
            seed = next(iter(seeds))
            which = f"seed {seed}" if seed is not None else "the load generator's default seed (no mt_seed)"
            its = f"its {len(gate)} fidelity captures all run" if len(gate) > 1 else "its only fidelity capture runs"
            out.error(gate[0].pos, f"[[capture]] {quote(gate[0].name)}: line {ln.line}'s fidelity gate rests on a single "
                                   f"seed: {its} {which}; capture at least two mt_seed values (a lone seed hides anomalous "
                                   "captures), or mark captures that gate nothing role = \"schema\"")
    return [t._replace(problems=t.problems + extra.get(i, [])) if i in extra else t for i, t in enumerate(targets)]
