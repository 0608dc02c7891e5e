"""Fuzzing every parser of input files in-process (hypothesis): random text, random bytes, and mutations of
valid files (lines inserted, deleted, duplicated or swapped; values replaced by TOML/JSON values of other
types, huge numbers, deep nesting, control and format characters, any Unicode; files cut short).

The property of a parser: it returns a result or raises vline's own error (VlineError) whose render() is one
printable line; never any other exception. An edit must also leave a file that parses (tomllib) when its input
did, with the edit made and nothing else changed. Examples per test: $VLINE_FUZZ_EXAMPLES (default 400), the
cheap parsers run more.
"""
from __future__ import annotations

import copy
import gzip
import json
import math
import os
import re
import sys
import tomllib
from pathlib import Path

from conftest import REPO
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
import generate  # noqa: E402  (the corpus's valid seeds)

from vline import cargo_toml, compat, evidence, fingerprint, manifest, matrix, template, tomlfile, trace, versions
from vline.adapters import git
from vline.edits import compat_edit, dockerfile, manifest_edit
from vline.edits.pin import pin_text
from vline.errors import VlineError

EXAMPLES = int(os.environ.get("VLINE_FUZZ_EXAMPLES", "400"))


def fuzz(scale: float = 1.0):
    return settings(max_examples=max(1, int(EXAMPLES * scale)), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


ONE_LINE = re.compile(r"^[^:\n]+(:\d+)?: error: ")


def holds(fn, *args, allowed: tuple[type[BaseException], ...] = (), never: str | None = None, **kw):
    """Call a parser: its result, or None when it raised VlineError (rendered as one printable line, and not
    saying `never`)."""
    name = getattr(fn, "__qualname__", "?")
    try:
        result = fn(*args, **kw)
    except VlineError as e:
        text = e.render()
        assert ONE_LINE.match(text) and text.isprintable(), text
        assert all(x.isprintable() and "\n" not in x for x in e.extra), e.extra
        assert never is None or never not in e.message, e.message
        event(f"{name}: refused")
        return None
    except allowed:
        event(f"{name}: refused")
        return None
    event(f"{name}: result")
    return result


# --- generators ----------------------------------------------------------------------------------

HUGE = "9" * 5000
KEYS = ["line", "tag", "protocol_rev", "patch_repo", "patch_rev", "default", "fidelity_validated", "crate",
        "manifest", "upstream", "trackers", "max_stable", "target_env", "image", "golden", "sha256", "config_hash",
        "bucket_path", "workload", "role", "git", "rev", "branch", "package", "lines", "fields", "description",
        "vllm", "vline", generate.CRATE, '"a.b"', "'lit'", "x.y.z", '""']
HEADERS = ["[[vllm]]", "[vline]", "[vllm]", "[[golden]]", "[workspace.dependencies]", "[dependencies]",
           f'[patch."{generate.UPSTREAM}"]', "[patch]", f"[workspace.dependencies.{generate.CRATE}]",
           "[[axes.platform]]", "[axes]", '"""', "'''", "# BEGIN 0.22 GOLDENS", "# END 0.22 GOLDENS",
           "# BEGIN 0.21 GOLDENS", "[[vline]]", "[ [vllm] ]"]
ODD = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u200b", "\ufeff", "\r", "\n", "\t",
       "\x0b", "\x0c", "\\", '"', "'", "#", "[", "]", "{", "}", "=", ",", ".", "é", "\U0001f600"]


def toml_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _float(f: float) -> str:
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return repr(f)


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
scalars = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2 ** 63 - 2, max_value=2 ** 80).map(str),
    st.sampled_from([HUGE, "0x" + "f" * 4000, "0b1" + "0" * 64, "-9223372036854775809", "1e999", "-0.0", "true",
                     "false", "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", "1979-02-30", "nan", "-inf",
                     '"v0.22.' + "1" * 5000 + '"', '"' + "x" * 20000 + '"', "0decac0d96c42b49572498019f0a0e3600f50398",
                     '"0decac0d96c42b49572498019f0a0e3600f50398"', '"v0.23.0rc1"', '"nightly"', '"0.22"', '"rc"',
                     '"v0.24.0"', '""', "[]", "{}"]),
    st.floats().map(_float),
    texts.map(toml_string),
    texts.map(json.dumps),  # \ud83d-style escapes: invalid in TOML
    texts.filter(lambda s: "'" not in s and "\n" not in s).map(lambda s: f"'{s}'"),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 1500).map(lambda n: "{a=" * n + "1" + "}" * n),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=3).map(
        lambda d: "{ " + ", ".join(f"{k} = {v}" for k, v in d.items()) + " }")), max_leaves=6)
lines_pool = st.one_of(
    st.sampled_from(HEADERS),
    st.tuples(st.sampled_from(KEYS), values).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    texts,
)


@st.composite
def mutated(draw, seeds: list[str]) -> str:
    """A valid seed with a few random edits."""
    lines = draw(st.sampled_from(seeds)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "swap", "value", "value", "char", "cut"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "insert":
            lines.insert(i, draw(lines_pool))
        elif op == "delete" and lines:
            del lines[i]
        elif op == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "value":
            eq = [k for k, ln in enumerate(lines) if "=" in ln or ":" in ln]
            if eq:
                k = draw(st.sampled_from(eq))
                sep = "=" if "=" in lines[k] else ":"
                lines[k] = lines[k].split(sep, 1)[0] + sep + " " + draw(values)
        elif op == "char" and lines:
            ln = lines[i]
            at = draw(st.integers(0, len(ln)))
            lines[i] = ln[:at] + draw(st.one_of(st.sampled_from(ODD), texts)) + ln[at:]
        elif op == "cut":
            text = "\n".join(lines)
            return text[: draw(st.integers(0, len(text)))]
    return "\n".join(lines)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(2 ** 63, 2 ** 200), texts,
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)), max_leaves=6)
RAW_NUMBERS = ["1e999", "-1e999", "NaN", "Infinity", HUGE, "9" * 30, "-0", "1.0e-400"]


@st.composite
def json_mutated(draw, seed: dict) -> str:
    """A JSON object like `seed` with values replaced, removed or added, and numbers written as JSON
    allows but no output can carry (1e999) or JSON does not allow at all (NaN)."""
    obj = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        target = obj
        if isinstance(obj.get("meta"), dict) and draw(st.booleans()):
            target = obj["meta"]
        key = draw(st.sampled_from([*target, "extra", "\n", ""]))
        if draw(st.integers(0, 3)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    text = json.dumps(obj, indent=draw(st.sampled_from([None, 2])), ensure_ascii=draw(st.booleans()))
    numbers = [m.span() for m in re.finditer(r"(?<![\w.\"])-?\d+(\.\d+)?([eE][+-]?\d+)?(?![\w.\"])", text)]
    if numbers and draw(st.booleans()):
        a, b = draw(st.sampled_from(numbers))
        text = text[:a] + draw(st.sampled_from(RAW_NUMBERS)) + text[b:]
    return text


def inputs(seeds: list[str]):
    """What a parser of these files meets: mostly mutations of valid files, some random text."""
    return st.one_of(mutated(seeds), mutated(seeds), mutated(seeds), texts)


COMPAT_SEEDS = [(REPO / "compat.toml").read_text(), generate.compat()["ok-inline-array-of-lines.toml"],
                generate.COMPAT.replace('trackers = ["nightly", "rc"]', 'trackers = ["nightly", "rc", "beta"]')
                + '\n[[vllm]]\nline = "beta"\ntag = "b1"\nprotocol_rev = "' + generate.R23 + '"\n']
MANIFEST_SEEDS = [generate.block(generate.golden()) + "\n" + generate.block(generate.golden(
    line="0.21", workload="code", bucket_path="s3://bucket-a/k/c.jsonl.gz"), "0.21"), generate.golden()]
CARGO_SEEDS = [generate.CARGO, generate.cargo()["ok-sub-table-form.toml"], generate.cargo()["ok-dotted-keys.toml"],
               generate.CARGO + f'\n[patch."{generate.UPSTREAM}"]\n{generate.CRATE} = {{ git = "https://x/f.git", '
               f'rev = "{generate.FORK}" }}\nother = {{ path = "o" }}\n',
               f'[package]\nname = "p"\n[dependencies]\n{generate.CRATE} = {{ git = "{generate.UPSTREAM}", '
               f'rev = "{generate.R22}" }}\n[patch.crates-io]\nserde = {{ path = "s" }}\n\n[[bin]]\nname = "x"\n']
MATRIX_SEEDS = [p.read_text() for p in sorted((REPO / "matrix").glob("*.toml"))]
TRACE_SEEDS = [generate.jl({"meta": generate.META}, generate.RECORD, {**generate.RECORD, "itl_ms": [1.5, 2]})]
EVIDENCE_SEEDS = [generate.ev(), generate.ev(goldens=[{"bucket_path": "b", "sha256": "a" * 64, "workload": "w",
                                                        "role": "fidelity"}])]
TAGS_SEEDS = [f"{generate.R23}\tHEAD\n{generate.R22}\trefs/tags/v0.22.1\n{generate.R23}\trefs/tags/v0.23.0\n"
              f"{generate.FORK}\trefs/tags/v0.23.0^{{}}\n{generate.R22}\trefs/tags/v0.24.0rc1\n"]
TEMPLATE_SEEDS = [(REPO / "Dockerfile.template").read_text()]
CONFIG_SEEDS = ["block_size=16;enable_prefix_caching=true;enforce_eager=false;gpu_memory_utilization=0.85;"
                "max_model_len=2048;max_num_seqs=64;model=facebook/opt-125m;speculative=none;tensor_parallel=1"]
# the same files with CRLF line ends, and with U+2028 and U+0085 (line breaks to str.splitlines, not to TOML)
for seeds in (COMPAT_SEEDS, MANIFEST_SEEDS, CARGO_SEEDS):
    seeds += [seeds[0].replace("\n", "\r\n"), seeds[0].replace("# ", "# \u2028", 1).replace("# ", "#\x85 ", 2)]
WINDOW = compat.parse(tomlfile.parse_text(COMPAT_SEEDS[0], Path("compat.toml"), "compat.toml"))


def toml(text: str) -> dict | None:
    """What vline reads: tomllib's data, 64-bit integers only (test_toml_reader holds the two the same)."""
    return tomlfile.loads_or_none(text)


def parsed(text: str, shown: str = "f.toml"):
    return holds(tomlfile.parse_text, text, Path(shown), shown)


def one_line_findings(findings) -> None:
    for f in findings:
        text = f.render()
        assert text.isprintable() and "\n" not in text, text


# --- readers -------------------------------------------------------------------------------------

@fuzz(2)
@given(st.one_of(inputs(COMPAT_SEEDS + MANIFEST_SEEDS + CARGO_SEEDS + MATRIX_SEEDS), st.binary(max_size=200)))
def test_toml_reader(data):
    if isinstance(data, bytes):
        text = holds(tomlfile.decode, data, "f.toml")
        if text is None:
            return
    else:
        text = data
    tf = parsed(text)
    if tf is not None:
        try:
            want = tomllib.loads(text)
        except RecursionError:  # the pure-Python reference nests less deeply than the compiled tomli vline uses
            event("reference: nested too deeply")
            return
        assert repr(tf.data) == repr(want)  # values are tomllib's (repr: nan)
        assert tomlfile.code_lines(text) is not None


SIMPLE_ODD = ["[[golden]", "[golden]]", "[ vline ]", "[[ golden ]]\t", "[[golden]] # c", "[a-b_9]", "line=\"x\"#c",
              '\tworkload = "w"  ', 'role = "fidelity" # \x01', 'tag = "\x85\u2028"', 'k = "a\\b"', 'k = "a\tb"',
              "k = 'lit'", 'golden = "x"', 'vline = "x"', "n = +0", "n = -0", "n = 00", "n = 999999999999999999",
              "n = 9999999999999999999", "n = 1_0", "b = True", "#\t\x7f", "  ", "x.y = 1", '"q" = "v"', "k =", "= 1", '"a", "b",', '"c"]', "]", '"a"', "k = [", '"x", # y']
SIMPLE_VALUES = ['"0.22"', '""', '"fidelity"', '"s3://b/k.jsonl.gz"', '"é \U0001f600"', '"\x85"', "true", "false",
                 "0", "-12", "+7", "999999999999999999", "[]", '["a"]', '["a", "b",]', '[ "a" , "b" ] # c', '[\t"#"]',
                 '[\n"a",\n"b"\n]', '["a",\n  "b"]', '[ # c\n "a", # d\n\n]', '["a"\n, "b"]', '["a",,]', "[,]",
                 '["a" "b"]', "[\n", '[\n"a",', '["a", 1]', "[[]]", '["a\\"]', '["é", "[x]", "a=b"]', "{}", "{ }",
                 '{ git = "https://x/y.git", rev = "0decac0d" }', '{a="x",b=true,c=-1,d=["p", "q",]}', '{ a = "k = 1" }',
                 '{ a = "x", }', '{ a = "x", a = "y" }', '{ a.b = "x" }', '{ "a" = "x" }', '{ a = { b = "x" } }',
                 '{ a = "x"\n}', '{ a = 0123 }', '{ a = "}" }', '{ a = trueish }', '{a="x"}#c', "{ , }"]


@st.composite
def simple_texts(draw) -> str:
    """Mostly valid files of the simple shape (tables, arrays of tables, unique keys), then a few odd lines."""
    lines: list[str] = []
    for i in range(draw(st.integers(0, 5))):
        if i or draw(st.booleans()):
            lines.append(draw(st.sampled_from(["[[golden]]", "[[golden]]", "[[vllm]]", f"[t{i}]", "[vline]"])))
        for key in draw(st.lists(st.sampled_from(["line", "role", "sha256", "n", "b", "golden"]), unique=True,
                                 max_size=4)):
            lines.append(f"{key} = {draw(st.sampled_from(SIMPLE_VALUES))}" + draw(st.sampled_from(["", " # c"])))
        lines += draw(st.lists(st.sampled_from(["", "# BEGIN 0.22 GOLDENS", "  # x", "\t"]), max_size=2))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.one_of(st.sampled_from(SIMPLE_ODD), lines_pool)))
    return "\n".join(lines)


@fuzz()
@given(simple_texts(), st.sampled_from(["\n", "\n", "\r\n"]), st.booleans())
def test_simple_reader(text, end, final):
    """The one-pass reader of vline's own shape gives exactly tomllib's values and scan's positions, or
    declines (None) and leaves the file to them."""
    text = text.replace("\n", end) + (end if final else "")
    fast = tomlfile.simple(text)
    try:
        want = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        assert fast is None, text
        return
    if fast is None:
        event("declined")
        return
    event("read")
    data, layout = fast
    assert repr(data) == repr(want)
    assert layout == tomlfile.scan(text)


def test_simple_reader_reads_the_manifest_vline_writes():
    text = MANIFEST_SEEDS[0]
    fast = tomlfile.simple(text)
    assert fast is not None and fast[0] == tomllib.loads(text) and fast[1] == tomlfile.scan(text)
    tf = tomlfile.parse_text(text, Path("m.toml"), "m.toml")
    assert tf.layout.arrays["golden"][1].at("workload") == text.split("\n").index('workload = "code"') + 1


@fuzz(2)
@given(inputs(COMPAT_SEEDS))
def test_compat_model(text):
    tf = parsed(text, "compat.toml")
    if tf is None:
        return
    c = holds(compat.parse, tf)
    if c is None:
        return
    one_line_findings(c.findings)
    if c.errors:
        return
    for ln in c.ordered():  # what every command does with a window check accepts
        assert c.get(ln.line) is ln
        ln.build_env(c.settings)
        ln.frontend(c.settings)
        holds(c.line_for_version, ln.tag, allowed=(versions.TagError,))
    assert c.default in c.stable()
    holds(c.get, "no-such-line")
    holds(c.manifest_path)


@fuzz(2)
@given(inputs(MANIFEST_SEEDS))
def test_manifest_model(text):
    tf = parsed(text, "conformance/manifest.toml")
    if tf is None:
        return
    m = holds(manifest.parse, tf)
    if m is not None:
        one_line_findings(m.findings)
        assert all(isinstance(getattr(g, k), str) for g in m.goldens for k in manifest.KEYS)


@fuzz()
@given(inputs(MATRIX_SEEDS))
def test_matrix_kind(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "fuzz-matrix.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    kind = holds(matrix._parse_kind, path)
    if kind is None:
        return
    rows = holds(matrix.rows, WINDOW, kind)
    if rows is not None:
        json.dumps({"include": rows}, allow_nan=False)  # what GitHub reads: strict JSON


@fuzz(2)
@given(inputs(CARGO_SEEDS))
def test_cargo_reader(text):
    tf = parsed(text, "Cargo.toml")
    if tf is not None:
        pin = holds(cargo_toml.current, tf.data, generate.CRATE, "Cargo.toml", tf.layout)
        if pin is not None:
            assert all(isinstance(v, str) for v in (pin.git, pin.package))
            assert all(v is None or isinstance(v, str) for v in (pin.rev, pin.patch_repo, pin.patch_rev))


traces = st.one_of(
    inputs(TRACE_SEEDS),
    st.tuples(json_mutated({"meta": generate.META}), st.lists(json_mutated(generate.RECORD), max_size=3)).map(
        lambda t: "\n".join([t[0], *t[1]]) + "\n"))


@st.composite
def trace_bytes(draw) -> bytes:
    data = draw(st.one_of(traces.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=200)))
    if draw(st.integers(0, 4)) == 0:
        data = gzip.compress(data, mtime=0)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    return data


@fuzz(2)
@given(trace_bytes())
def test_trace_reader(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz-trace.jsonl"
    path.write_bytes(data)
    meta = holds(trace.read_meta, path)
    if meta is not None:  # what fingerprint --trace prints: strict JSON, and UTF-8 a stdout can carry
        json.dumps(meta, allow_nan=False).encode("utf-8")
        json.dumps(meta, allow_nan=False, ensure_ascii=False).encode("utf-8")
    meta2, problem = trace.check(path)
    assert isinstance(meta2, dict)
    if problem is not None:
        text = problem.error(path).render()
        assert text.isprintable() and ONE_LINE.match(text), text
    trace.meta_line(path)


@fuzz()
@given(st.one_of(inputs(EVIDENCE_SEEDS), json_mutated(generate.EVIDENCE), json_mutated(generate.EVIDENCE),
                 st.binary(max_size=100)).map(lambda t: t if isinstance(t, bytes) else t.encode()))
def test_evidence_reader(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "fuzz-evidence.json"
    path.write_bytes(data)
    ev = holds(evidence.load, path)
    if ev is not None:
        line = WINDOW.get("0.22")
        for reason in evidence.refusals(ev, line, []):
            assert reason.isprintable(), reason


@fuzz(2)
@given(st.one_of(inputs(CONFIG_SEEDS), texts, st.fixed_dictionaries(
    {k: st.one_of(texts, st.sampled_from(["16", "0.9", "true", "x=y", ""])) for k in fingerprint.KEYS}).map(
        lambda d: ";".join(f"{k}={v}" for k, v in d.items()))), texts, texts)
def test_engine_config(text, gpu, tag):
    cfg = holds(fingerprint.parse_engine_config, text)
    if cfg is not None:
        holds(fingerprint.config_hash, gpu, tag, cfg)


@fuzz(2)
@given(st.one_of(texts, st.sampled_from(["v0.22.1", "v0.10.1.1", "v0.8.5.post1", "v0.26.1rc0"]).map(
    lambda t: t + "1" * 5000), st.from_regex(r"v?[0-9]{1,30}(\.[0-9]{1,30}){0,4}(rc[0-9]+|\.post[0-9]+)?", fullmatch=True)))
def test_versions(text):
    v = holds(versions.parse_tag, text, allowed=(versions.TagError,))
    if v is not None:
        assert versions.line_of(v) == versions.line_of_tag(text)
        versions.line_key(versions.line_of(v))
    holds(versions.match_line, text, WINDOW.ordered(), allowed=(versions.TagError,))


@fuzz(2)
@given(inputs(TAGS_SEEDS))
def test_ls_remote_dump(text):
    remote = holds(git.parse_ls_remote, text, "tags.txt")
    if remote is not None:
        for tag in remote.tags:
            versions.parse_tag(tag)


@fuzz()
@given(inputs(TEMPLATE_SEEDS))
def test_template(text):
    holds(template.check, text, "Dockerfile.template")
    for ln in WINDOW.lines:
        out = holds(template.render, text, WINDOW, ln, "Dockerfile.template")
        if out is not None:
            assert "{{ line }}" not in out


# --- edits ---------------------------------------------------------------------------------------

def edit(fn, *args):
    """An edit of a file it can read: a result, or a refusal, but never one because the edit itself went wrong
    (tomlfile.verified caught an edit that changed other values: a defect here or in tomlkit to look at)."""
    return holds(fn, *args, never="without changing other parts")


def _lines(data: dict | None) -> list[str]:
    raw = (data or {}).get("vllm")
    if not isinstance(raw, list):
        return []
    return [x["line"] for x in raw if isinstance(x, dict) and isinstance(x.get("line"), str)]


edit_values = st.dictionaries(st.sampled_from(["tag", "protocol_rev", "default", "fidelity_validated", "x"]),
                              st.one_of(st.booleans(), texts, st.integers(-2 ** 63, 2 ** 63 - 1)), max_size=3)


@fuzz()
@given(inputs(COMPAT_SEEDS), st.data())
def test_compat_edits(text, data):
    before = toml(text)
    names = _lines(before)
    if before is None or not names:
        for attempt in (lambda: compat_edit.set_values(text, "0.22", {"tag": "v0.22.2"}),
                     lambda: compat_edit.remove_line(text, "0.22")):
            holds(attempt)
        return
    name = data.draw(st.sampled_from(names))

    vals = data.draw(edit_values)
    out = edit(compat_edit.set_values, text, name, vals)
    if out is not None:
        after = toml(out)
        assert after is not None, out
        want = copy.deepcopy(before)
        [t for t in want["vllm"] if isinstance(t, dict) and t.get("line") == name][0].update(vals)
        assert tomlfile.same_data(after, want)

    out = edit(compat_edit.remove_line, text, name)
    if out is not None:
        after = toml(out)
        assert after is not None, out
        want = copy.deepcopy(before)
        del want["vllm"][[i for i, t in enumerate(want["vllm"]) if isinstance(t, dict)
                          and t.get("line") == name][0]]
        if not want["vllm"]:
            want.pop("vllm")
        assert tomlfile.same_data(after, want)

    fields = {"line": "9.9", "tag": "v9.9.0", "protocol_rev": generate.R23, "default": False}
    before_name = data.draw(st.one_of(st.none(), st.just(name)))
    out = edit(compat_edit.insert_line, text, fields, ["rolled in", ""], before_name)
    if out is not None:
        after = toml(out)
        assert after is not None, out
        assert fields in after["vllm"]
        assert tomlfile.same_data([t for t in after["vllm"] if t != fields], before["vllm"])


@fuzz()
@given(inputs(MANIFEST_SEEDS), st.sampled_from(["0.22", "0.21", "nightly"]))
def test_manifest_edits(text, line):
    before = toml(text)
    entry = {"line": line, "bucket_path": f"conformance/x/{line}/new.jsonl.gz", "sha256": "c" * 64,
             "config_hash": "d" * 64, "workload": "new", "role": "fidelity"}
    out = holds(manifest_edit.add_entry, text, entry)
    if out is not None and before is not None:
        after = toml(out)
        assert after is not None, out
        goldens = after.get("golden")
        assert isinstance(goldens, list) and entry in goldens, out
    out = holds(manifest_edit.remove_block, text, line)
    if out is not None and before is not None:
        assert toml(out) is not None, out


@fuzz(2)
@given(inputs(CARGO_SEEDS), st.sampled_from([None, ("https://github.com/wseaton/vllm.git", generate.FORK)]),
       st.sampled_from([generate.R22, generate.R23]))
def test_pin_text(text, fork, rev):
    out = edit(pin_text, text, generate.CRATE, rev, fork, "Cargo.toml")
    if out is None:
        return
    after = toml(out)
    assert after is not None, out  # pin_text parses its input with tomllib first: it parsed
    pin = cargo_toml.current(after, generate.CRATE, "Cargo.toml")
    assert pin.rev == rev
    assert (pin.patch_repo, pin.patch_rev) == (fork or (None, None))
    assert pin_text(out, generate.CRATE, rev, fork, "Cargo.toml") == out  # idempotent


@fuzz(2)
@given(st.one_of(inputs(TEMPLATE_SEEDS), texts), st.dictionaries(
    st.sampled_from(["VLLM_TARGET_VERSION", "FRONTEND_REPO", "FRONTEND_REF", "RUST_IMAGE", "X"]),
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp", "Zs")), max_size=20), max_size=4))
def test_dockerfile_args(text, vals):
    out = dockerfile.rewrite_args(text, vals)
    before, after = text.splitlines(keepends=True), out.splitlines(keepends=True)
    assert len(before) == len(after)
    for old, new in zip(before, after):
        if old != new:
            assert re.match(r"\s*ARG\s", old) and new.endswith(old[len(old.rstrip("\r\n")):])
