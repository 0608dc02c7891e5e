"""Writes the malformed-input corpus (tests/corpus/<kind>/*). The files are committed so they can be
reviewed and replayed; rerun this after changing it: `python tests/corpus/generate.py`.

A file whose name starts with `ok-` is valid input: every command that reads it succeeds and writes
nothing. Every other file is invalid in the way its name says; a few prefixes say which commands see it:
`drift-` (Cargo.toml: valid TOML pinned elsewhere, which check reports and pin would rightly fix),
`record-`/`late-` (traces: bad after the meta line, which `fingerprint --trace` alone never reads),
`add-` (traces: a meta `fingerprint --trace` prints but `golden add` refuses), `key-` (traces: a meta key
`fingerprint --trace` cannot print as key=value, fine in a golden), `rows-` (matrix kinds: valid, too many rows).
"""
from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
COMPAT = (REPO / "compat.toml").read_text()
R23 = "17bc1445562435b608041d434e9738440954159c"
R22 = "0decac0d96c42b49572498019f0a0e3600f50398"
FORK = "b48f2434d7f523840a74e9f4b96b4499c1323a8f"
UPSTREAM = "https://github.com/vllm-project/vllm.git"
CRATE = "vllm-engine-core-client"
HUGE = "9" * 5000
DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_TABLE = "{ a = " * 3000 + "1" + " }" * 3000
CONFIG = "f90fef94f6f258004f146d70c8a3aafe5aeb8dfb634ddf292cad3d355c808457"


def sub(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


def line_022(text: str, old: str, new: str) -> str:
    """Replace `old` inside the 0.22 table only."""
    start = text.index('line = "0.22"')
    end = text.index("[[vllm]]", start)
    return text[:start] + sub(text[start:end], old, new) + text[end:]


# --- compat.toml ---------------------------------------------------------------------------------

def compat() -> dict[str, str | bytes]:
    c = COMPAT
    files: dict[str, str | bytes] = {
        # syntax
        "syntax-unterminated-string.toml": sub(c, 'line = "0.22"', 'line = "0.22'),
        "syntax-duplicate-key.toml": sub(c, 'tag = "v0.22.1"', 'tag = "v0.22.1"\ntag = "v0.22.2"'),
        "syntax-duplicate-table.toml": sub(c, "[vline]", "[vline]\n[vline]"),
        "syntax-missing-equals.toml": sub(c, 'tag = "v0.22.1"', 'tag "v0.22.1"'),
        "syntax-bad-escape.toml": sub(c, 'tag = "v0.22.1"', 'tag = "v0.22\\q"'),
        "syntax-unclosed-array.toml": sub(c, 'trackers = ["nightly", "rc"]', 'trackers = ["nightly", "rc"'),
        "syntax-unclosed-inline-table.toml": c + '\nx = { a = 1\n',
        "syntax-newline-in-inline-table.toml": c + '\nx = { a = 1,\n b = 2 }\n',
        "syntax-invalid-date.toml": c + "\nwhen = 1979-02-30\n",
        "syntax-table-then-array.toml": "[vllm]\nline = \"0.23\"\n" + c,
        "syntax-bare-key-with-space.toml": c + "\nmy key = 1\n",
        "syntax-raw-control-char-in-string.toml": sub(c, 'tag = "v0.22.1"', 'tag = "v0.22.1\x01"'),
        "syntax-raw-del-in-comment.toml": "# a \x7f in a comment\n" + c,
        "syntax-lone-cr.toml": c.replace("\n", "\r"),
        "syntax-unterminated-multiline-string.toml": c + '\nnotes = """\nnever closed\n',
        "syntax-dotted-key-redefines-table.toml": sub(c, "[vline]", "vline.crate = \"x\"\n[vline]"),
        # encoding
        "encoding-bom.toml": b"\xef\xbb\xbf" + c.encode(),
        "encoding-latin1.toml": sub(c, "# vline's own window", "# caf\xe9: vline's own window").encode("latin-1"),
        "encoding-utf16.toml": c.encode("utf-16"),
        "encoding-nul-byte.toml": sub(c, 'tag = "v0.22.1"', 'tag = "v0.22.1"\x00').encode(),
        "encoding-truncated-utf8.toml": c.encode() + b"\n# \xe2\x82",
        "encoding-binary-junk.toml": bytes(range(256)) * 4,
        # numbers
        "number-max-stable-5000-digits.toml": sub(c, "max_stable = 3", f"max_stable = {HUGE}"),
        "number-max-stable-hex-4000-digits.toml": sub(c, "max_stable = 3", "max_stable = 0x" + "f" * 4000),
        "number-max-stable-2-pow-63.toml": sub(c, "max_stable = 3", "max_stable = 9223372036854775808"),
        "number-max-stable-binary-65-bits.toml": sub(c, "max_stable = 3", "max_stable = 0b1" + "0" * 64),
        "number-max-stable-zero.toml": sub(c, "max_stable = 3", "max_stable = 0"),
        "number-max-stable-negative.toml": sub(c, "max_stable = 3", "max_stable = -1"),
        "number-max-stable-float.toml": sub(c, "max_stable = 3", "max_stable = 3.0"),
        "number-max-stable-inf.toml": sub(c, "max_stable = 3", "max_stable = inf"),
        "number-max-stable-nan.toml": sub(c, "max_stable = 3", "max_stable = nan"),
        "number-max-stable-1e999.toml": sub(c, "max_stable = 3", "max_stable = 1e999"),
        "number-max-stable-bool.toml": sub(c, "max_stable = 3", "max_stable = true"),
        "number-max-stable-string.toml": sub(c, "max_stable = 3", 'max_stable = "3"'),
        "number-huge-int-in-unknown-key.toml": c + f"\nfuture = [1, 2, {HUGE}]\n",
        "number-huge-int-as-line.toml": line_022(c, 'line = "0.22"', "line = 0x" + "f" * 4000),
        # nesting
        "nesting-deep-array.toml": c + f"\nx = {DEEP_ARRAY}\n",
        "nesting-deep-inline-table.toml": c + f"\nx = {DEEP_TABLE}\n",
        "nesting-deep-array-in-vline.toml": sub(c, "max_stable = 3", f"max_stable = {DEEP_ARRAY}"),
        # shapes
        "shape-empty-file.toml": "",
        "shape-only-comments.toml": "# nothing here\n# at all\n",
        "shape-vline-is-an-int.toml": "vline = 5\n" + c.replace("[vline]", "[other]"),
        "shape-vline-is-an-array-of-tables.toml": c.replace("[vline]", "[[vline]]"),
        "shape-vllm-is-an-int.toml": "vllm = 5\n",
        "shape-vllm-is-a-string.toml": 'vllm = "0.22"\n',
        "shape-vllm-is-a-table.toml": '[vllm]\nline = "0.23"\ntag = "v0.23.0"\nprotocol_rev = "' + R23 + '"\n',
        "shape-vllm-is-an-array-of-ints.toml": "vllm = [1, 2]\n",
        "shape-vllm-is-an-empty-array.toml": "vllm = []\n",
        "shape-vllm-dotted-keys.toml": 'vllm.line = "0.23"\n',
        "shape-vllm-subtable.toml": sub(c, 'line = "0.22"', '[vllm.extra]\nline = "0.22"'),
        # types of fields
        "type-line-float.toml": line_022(c, 'line = "0.22"', "line = 0.22"),
        "type-line-bool.toml": line_022(c, 'line = "0.22"', "line = true"),
        "type-line-array.toml": line_022(c, 'line = "0.22"', 'line = ["0.22"]'),
        "type-line-inline-table.toml": line_022(c, 'line = "0.22"', 'line = { x = "0.22" }'),
        "type-tag-date.toml": line_022(c, 'tag = "v0.22.1"', "tag = 2024-05-27"),
        "type-tag-datetime.toml": line_022(c, 'tag = "v0.22.1"', "tag = 1979-05-27T07:32:00Z"),
        "type-tag-time.toml": line_022(c, 'tag = "v0.22.1"', "tag = 07:32:00"),
        "type-protocol-rev-int.toml": line_022(c, f'protocol_rev = "{R22}"', "protocol_rev = 0x" + R22[:15]),
        "type-protocol-rev-huge-hex.toml": line_022(c, f'protocol_rev = "{R22}"', "protocol_rev = 0x" + R22 * 100),
        "type-default-string.toml": sub(c, "default = true", 'default = "yes"'),
        "type-default-int.toml": sub(c, "default = true", "default = 1"),
        "type-fidelity-validated-string.toml": sub(c, "fidelity_validated = false", 'fidelity_validated = "false"'),
        "type-patch-repo-table.toml": line_022(c, f'patch_repo = "https://github.com/wseaton/vllm.git"',
                                               "patch_repo = {}"),
        "type-trackers-string.toml": sub(c, 'trackers = ["nightly", "rc"]', 'trackers = "rc"'),
        "type-trackers-ints.toml": sub(c, 'trackers = ["nightly", "rc"]', "trackers = [1, 2]"),
        "type-trackers-nested.toml": sub(c, 'trackers = ["nightly", "rc"]', 'trackers = [["nightly"]]'),
        "type-crate-int.toml": sub(c, 'crate = "vllm-engine-core-client"', "crate = 5"),
        "type-upstream-array.toml": sub(c, f'upstream = "{UPSTREAM}"', f'upstream = ["{UPSTREAM}"]'),
        "type-target-env-bool.toml": sub(c, 'target_env = "VLLM_TARGET_VERSION"', "target_env = false"),
        # values
        "value-line-20k-chars.toml": line_022(c, 'line = "0.22"', 'line = "' + "x" * 20_000 + '"'),
        "value-line-5000-digit-minor.toml": line_022(c, 'line = "0.22"', 'line = "0.' + "2" * 5000 + '"'),
        "value-tag-5000-digit-patch.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.' + "1" * 5000 + '"'),
        "value-tag-4300-digit-minor.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.' + "2" * 4300 + '.1"'),
        "value-tag-empty.toml": line_022(c, 'tag = "v0.22.1"', 'tag = ""'),
        "value-tag-just-v.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v"'),
        "value-tag-epoch.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v1!0.22.1"'),
        "value-tag-local.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.1+local"'),
        "value-tag-dev.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.1.dev0"'),
        "value-tag-escape-newline.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.1\\nEVIL=1"'),
        "value-tag-ansi-escape.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.1\\u001b[31m"'),
        "value-tag-c1-control.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.1\\u0085"'),
        "value-line-bidi-override.toml": line_022(c, 'line = "0.22"', 'line = "0.22\\u202e"'),
        "value-line-line-separator.toml": line_022(c, 'line = "0.22"', 'line = "0.\\u202822"'),
        "value-line-zero-width-space.toml": line_022(c, 'line = "0.22"', 'line = "0.2\\u200b2"'),
        "value-line-emoji.toml": line_022(c, 'line = "0.22"', 'line = "0.22\U0001f600"'),
        "value-line-fullwidth-digits.toml": line_022(c, 'line = "0.22"', 'line = "０.２２"'),
        "value-line-leading-zero.toml": line_022(c, 'line = "0.22"', 'line = "0.022"'),
        "value-line-shell.toml": line_022(c, 'line = "0.22"', 'line = "0.22; rm -rf /"'),
        "value-line-traversal.toml": line_022(c, 'line = "0.22"', 'line = "../0.22"'),
        "value-rev-uppercase.toml": line_022(c, f'protocol_rev = "{R22}"', f'protocol_rev = "{R22.upper()}"'),
        "value-rev-41-chars.toml": line_022(c, f'protocol_rev = "{R22}"', f'protocol_rev = "{R22}0"'),
        "value-rev-trailing-newline.toml": line_022(c, f'protocol_rev = "{R22}"', f'protocol_rev = "{R22}\\n"'),
        "value-patch-rev-multiline-string.toml": line_022(c, f'patch_rev = "{FORK}"', f'patch_rev = """{FORK}\n"""'),
        "value-patch-repo-is-upstream.toml": line_022(c, 'patch_repo = "https://github.com/wseaton/vllm.git"',
                                                      f'patch_repo = "{UPSTREAM.upper().replace("HTTPS", "https")}/"'),
        "value-patch-repo-not-a-url.toml": line_022(c, 'patch_repo = "https://github.com/wseaton/vllm.git"',
                                                    'patch_repo = "$(reboot)"'),
        "value-patch-repo-without-rev.toml": line_022(c, f'patch_rev = "{FORK}"\n', ""),
        "value-upstream-space.toml": sub(c, f'upstream = "{UPSTREAM}"', 'upstream = "https://x y/z.git"'),
        "value-target-env-path.toml": sub(c, 'target_env = "VLLM_TARGET_VERSION"', 'target_env = "PATH"'),
        "value-target-env-newline.toml": sub(c, 'target_env = "VLLM_TARGET_VERSION"', 'target_env = "A\\nB=1"'),
        "value-target-env-trailing-newline.toml": sub(c, 'target_env = "VLLM_TARGET_VERSION"',
                                                      'target_env = "VLLM_TARGET_VERSION\\n"'),
        "value-manifest-parent.toml": sub(c, 'manifest = "Cargo.toml"', 'manifest = "../Cargo.toml"'),
        "value-manifest-absolute.toml": sub(c, 'manifest = "Cargo.toml"', 'manifest = "/etc/Cargo.toml"'),
        "value-manifest-dot.toml": sub(c, 'manifest = "Cargo.toml"', 'manifest = "."'),
        "value-manifest-not-cargo.toml": sub(c, 'manifest = "Cargo.toml"', 'manifest = "sub/Cargo.lock"'),
        "value-crate-with-space.toml": sub(c, 'crate = "vllm-engine-core-client"', 'crate = "vllm core"'),
        "value-image-uppercase.toml": sub(c, "max_stable = 3", 'max_stable = 3\nimage = "GHCR.io/X"'),
        "value-image-long.toml": sub(c, "max_stable = 3", 'max_stable = 3\nimage = "' + "a" * 20_000 + '!"'),
        "value-tracker-named-like-a-line.toml": sub(c, 'trackers = ["nightly", "rc"]', 'trackers = ["0.22", "rc"]'),
        "value-tracker-trailing-newline.toml": sub(c, 'trackers = ["nightly", "rc"]', 'trackers = ["nightly\\n", "rc"]'),
        "value-unknown-key-control-chars.toml": c + '\n"\\u001b]0;pwned\\u0007" = 1\n[[vllm]]\nline = 5\n',
        # rules
        "rule-two-defaults.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.1"\ndefault = true'),
        "rule-no-default.toml": sub(c, "default = true", "default = false"),
        "rule-default-not-newest.toml": line_022(sub(c, "default = true\n", ""), 'tag = "v0.22.1"',
                                                 'tag = "v0.22.1"\ndefault = true'),
        "rule-default-on-tracker.toml": sub(c, 'tag = "nightly"', 'tag = "nightly"\ndefault = true'),
        "rule-tracker-validated.toml": sub(c, 'tag = "nightly"', 'tag = "nightly"\nfidelity_validated = true'),
        "rule-nightly-tag-not-nightly.toml": sub(c, 'tag = "nightly"', 'tag = "v0.24.0"'),
        "rule-rc-tag-not-rc.toml": c + f'\n[[vllm]]\nline = "rc"\ntag = "v0.24.0"\nprotocol_rev = "{R23}"\n',
        "rule-rc-tag-5000-digits.toml": c + f'\n[[vllm]]\nline = "rc"\ntag = "v0.24.0rc{HUGE}"\nprotocol_rev = "{R23}"\n',
        "rule-stable-tag-rc.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.22.2rc1"'),
        "rule-tag-on-other-line.toml": line_022(c, 'tag = "v0.22.1"', 'tag = "v0.23.0"'),
        "rule-duplicate-line.toml": line_022(c, 'line = "0.22"', 'line = "0.23"'),
        "rule-missing-tag.toml": line_022(c, 'tag = "v0.22.1"\n', ""),
        "rule-missing-everything.toml": c + "\n[[vllm]]\n",
        "rule-unknown-line-name.toml": line_022(c, 'line = "0.22"', 'line = "stable"'),
        # valid, with warnings
        "ok-unknown-keys-are-warnings.toml": sub(c, "max_stable = 3", "max_stable = 3\nfuture_knob = 1") +
        "\n[extra]\nnote = \"kept\"\n",
        "ok-header-inside-multiline-string.toml": 'notes = """\n[[vllm]]\nline = "9.9"\n"""\n' + c,
        "ok-crlf-line-endings.toml": c.replace("\n", "\r\n"),
        "ok-inline-array-of-lines.toml": _inline_lines(c),
    }
    return files


def _inline_lines(c: str) -> str:
    """The same window, with [[vllm]] written as one inline array (valid TOML, valid compat)."""
    import tomllib

    data = tomllib.loads(c)
    def item(v):
        return json.dumps(v) if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
    rows = ",\n  ".join("{ " + ", ".join(f"{k} = {item(v)}" for k, v in ln.items()) + " }" for ln in data["vllm"])
    vline = c.index("[vline]")
    return c[:vline] + f"vllm = [\n  {rows},\n]\n\n" + c[vline: c.index("# Tracks vLLM main")]


# --- conformance/manifest.toml -------------------------------------------------------------------

def golden(**over: str) -> str:
    entry = {"line": "0.22", "bucket_path": "conformance/v0.22.1/A100/m/chat.jsonl.gz", "sha256": "a" * 64,
             "config_hash": "b" * 64, "workload": "chat", "role": "fidelity", **over}
    return "[[golden]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items() if v is not None)


def block(body: str, line: str = "0.22") -> str:
    return f"# BEGIN {line} GOLDENS\n{body}# END {line} GOLDENS\n"


def manifest() -> dict[str, str | bytes]:
    g = golden()

    def raw(key: str, value: str) -> str:
        """The golden with `key` given as this raw TOML value."""
        return re.sub(rf"^{key} = .*$", lambda m: f"{key} = {value}", g, count=1, flags=re.M)

    return {
        "syntax-unterminated-string.toml": g.replace('role = "fidelity"', 'role = "fidelity'),
        "syntax-duplicate-key.toml": g + 'role = "schema"\n',
        "syntax-golden-table-then-array.toml": "[golden]\nx = 1\n" + g,
        "encoding-bom.toml": b"\xef\xbb\xbf" + g.encode(),
        "encoding-latin1.toml": ("# caf\xe9\n" + g).encode("latin-1"),
        "encoding-nul.toml": g.encode() + b"\x00",
        "shape-golden-is-an-int.toml": "golden = 5\n",
        "shape-golden-is-a-table.toml": g.replace("[[golden]]", "[golden]"),
        "shape-golden-array-of-strings.toml": 'golden = ["a", "b"]\n',
        "shape-empty-golden-table.toml": "[[golden]]\n",
        "type-sha256-int.toml": raw("sha256", "5"),
        "type-sha256-huge-int.toml": raw("sha256", HUGE),
        "type-sha256-hex-int.toml": raw("sha256", "0x" + "a" * 64),
        "type-line-float.toml": raw("line", "0.22"),
        "type-workload-array.toml": raw("workload", '["chat"]'),
        "type-role-bool.toml": raw("role", "true"),
        "type-config-hash-datetime.toml": raw("config_hash", "1979-05-27T07:32:00Z"),
        "type-bucket-path-deep-array.toml": raw("bucket_path", DEEP_ARRAY),
        "value-sha256-short.toml": golden(sha256="abc"),
        "value-sha256-uppercase.toml": golden(sha256="A" * 64),
        "value-sha256-trailing-newline.toml": golden(sha256="a" * 64 + "\n"),
        "value-config-hash-20k.toml": golden(config_hash="b" * 20_000),
        "value-role-unknown.toml": golden(role="golden"),
        "value-bucket-path-traversal.toml": golden(bucket_path="../../etc/x.jsonl.gz"),
        "value-bucket-path-absolute.toml": golden(bucket_path="/abs/key"),
        "value-bucket-path-bad-bucket.toml": golden(bucket_path="s3://B_/k"),
        "value-bucket-path-other-scheme.toml": golden(bucket_path="gs://b/k"),
        "value-bucket-path-empty.toml": golden(bucket_path=""),
        "value-line-traversal.toml": golden(line="../0.22"),
        "ok-line-5000-digits-outside-the-window.toml": golden(line="0." + "2" * 5000),
        "value-workload-slash.toml": golden(workload="a/b"),
        "value-workload-dotdot.toml": golden(workload=".."),
        "value-workload-ansi-escape.toml": golden(workload="chat\x1b[2J"),
        "value-workload-line-separator.toml": golden(workload="chat\u2028x"),
        "value-workload-bidi.toml": golden(workload="chat\u202e"),
        "value-missing-sha256.toml": golden(sha256=None),
        "rule-duplicate-workload.toml": g + "\n" + golden(sha256="c" * 64,
                                                          bucket_path="conformance/v0.22.1/A100/m/c2.jsonl.gz"),
        "rule-duplicate-bucket-path.toml": g + "\n" + golden(workload="code", sha256="c" * 64),
        "marker-begin-without-end.toml": "# BEGIN 0.22 GOLDENS\n" + g,
        "marker-end-without-begin.toml": g + "# END 0.22 GOLDENS\n",
        "marker-nested-begin.toml": "# BEGIN 0.22 GOLDENS\n" + block(g, "0.21") + "# END 0.22 GOLDENS\n",
        "marker-mismatched-end.toml": "# BEGIN 0.22 GOLDENS\n" + g + "# END 0.21 GOLDENS\n",
        "nesting-deep-array.toml": block(g) + f"x = {DEEP_ARRAY}\n",
        "number-huge-int-unknown-key.toml": f"extra = {HUGE}\n" + block(g),
        "ok-empty.toml": "",
        "ok-marker-inside-multiline-string.toml": 'notes = """\n# BEGIN 0.22 GOLDENS\n"""\n' + block(g),
        "ok-unknown-key-warning.toml": block(g.replace('role = "fidelity"', 'role = "fidelity"\nnote = "x"')),
    }


# --- Cargo.toml ----------------------------------------------------------------------------------

CARGO = f"""# workspace
[workspace]
resolver = "2"
members = []

[workspace.dependencies]
{CRATE} = {{ git = "{UPSTREAM}", rev = "{R23}" }}  # default line
serde = "1"
"""


def cargo() -> dict[str, str | bytes]:
    c = CARGO
    dep = f'{CRATE} = {{ git = "{UPSTREAM}", rev = "{R23}" }}'

    def with_dep(new: str) -> str:
        return sub(c, dep, f"{CRATE} = {new}")

    return {
        "syntax-unterminated-string.toml": sub(c, 'resolver = "2"', 'resolver = "2'),
        "syntax-duplicate-dependency.toml": c.replace("serde = \"1\"", dep),
        "syntax-inline-table-newline.toml": with_dep(f'{{ git = "{UPSTREAM}",\n rev = "{R23}" }}'),
        "encoding-bom.toml": b"\xef\xbb\xbf" + c.encode(),
        "encoding-latin1.toml": ("# caf\xe9\n" + c).encode("latin-1"),
        "encoding-nul.toml": c.encode() + b"\x00\n",
        "shape-empty.toml": "",
        "shape-no-crate.toml": c.replace(dep + "  # default line\n", ""),
        "shape-crate-is-a-version.toml": with_dep('"0.1"'),
        "shape-crate-is-a-path-dependency.toml": with_dep('{ path = "../x" }'),
        "shape-crate-is-an-array.toml": with_dep("[1, 2]"),
        "shape-workspace-is-an-int.toml": "workspace = 5\n",
        "shape-workspace-array-of-tables.toml": c.replace("[workspace]", "[[workspace]]").replace(
            "[workspace.dependencies]", "[workspace.x]"),
        "shape-dependencies-is-an-array.toml": "dependencies = [1]\n",
        "shape-patch-is-a-string.toml": 'patch = "x"\n' + c,
        "shape-patch-source-is-a-string.toml": c + f'\n[patch]\n"{UPSTREAM}" = "x"\n',
        "shape-patch-entry-is-a-string.toml": c + f'\n[patch."{UPSTREAM}"]\n{CRATE} = "x"\n',
        "shape-patch-entry-is-an-int.toml": c + f'\n[patch."{UPSTREAM}"]\n{CRATE} = {HUGE[:18]}\n',
        "type-rev-int.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = 5 }}'),
        "type-rev-array.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = ["x"] }}'),
        "type-rev-5000-digits.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = {HUGE} }}'),
        "type-rev-hex-huge.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = 0x{R23 * 50} }}'),
        "type-rev-float-inf.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = inf }}'),
        "type-rev-datetime.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = 1979-05-27 }}'),
        "type-git-int.toml": with_dep(f'{{ git = 5, rev = "{R23}" }}'),
        "type-package-int.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = "{R23}", package = 5 }}'),
        "type-patch-git-int.toml": c + f'\n[patch."{UPSTREAM}"]\n{CRATE} = {{ git = 5, rev = "{FORK}" }}\n',
        "type-patch-rev-array.toml": c + f'\n[patch."{UPSTREAM}"]\n{CRATE} = {{ git = "https://x/y.git", rev = [] }}\n',
        "value-uses-branch.toml": with_dep(f'{{ git = "{UPSTREAM}", branch = "main" }}'),
        "value-uses-tag.toml": with_dep(f'{{ git = "{UPSTREAM}", tag = "v0.23.0" }}'),
        "drift-rev-20k-chars.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = "{"a" * 20_000}" }}'),
        "drift-rev-ansi-escape.toml": with_dep(f'{{ git = "{UPSTREAM}", rev = "{R23}\\u001b[31m" }}'),
        "value-git-huge-int-key.toml": c + f"\n[patch]\nx = {HUGE}\n",
        "nesting-deep-array.toml": c + f"\n[package.metadata]\nx = {DEEP_ARRAY}\n",
        "nesting-deep-inline-table.toml": c + f"\n[package.metadata]\nx = {DEEP_TABLE}\n",
        "drift-other-rev.toml": sub(c, R23, R22),
        "drift-stale-fork-patch.toml": c + f'\n[patch."{UPSTREAM}"]\n{CRATE} = {{ git = "https://x/y.git", rev = "{FORK}" }}\n',
        "ok-dotted-keys.toml": c.replace(dep, f'{CRATE}.git = "{UPSTREAM}"\n{CRATE}.rev = "{R23}"'),
        "ok-sub-table-form.toml": c.replace(dep + "  # default line\n", "") +
        f'\n[workspace.dependencies.{CRATE}]\ngit = "{UPSTREAM}"\nrev = "{R23}"\n',
        "ok-crlf.toml": c.replace("\n", "\r\n"),
    }


# --- traces --------------------------------------------------------------------------------------

META = {"model": "m", "gpu": "A100", "tp": 1, "config_hash": CONFIG, "vllm_version": "0.22.1"}
RECORD = {"prompt_tokens": 1, "output_tokens": 2, "ttft_ms": 3.0}


def jl(*objs: object) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs)


def meta_with(**over: object) -> str:
    return jl({"meta": {**META, **over}}, RECORD)


def trace() -> dict[str, str | bytes]:
    m = json.dumps({"meta": META})
    good = jl({"meta": META}, RECORD)
    return {
        "json-not-json.jsonl": "hello\n",
        "json-empty.jsonl": "",
        "json-blank-lines-only.jsonl": "\n\n  \n",
        "json-truncated-meta.jsonl": m[:-5] + "\n",
        "json-trailing-garbage.jsonl": m + " x\n",
        "json-two-objects-on-a-line.jsonl": m + m + "\n",
        "json-lone-cr-separators.jsonl": good.replace("\n", "\r"),
        "json-single-quotes.jsonl": m.replace('"', "'") + "\n",
        "encoding-bom.jsonl": b"\xef\xbb\xbf" + good.encode(),
        "encoding-latin1.jsonl": good.replace('"m"', '"caf\xe9"').encode("latin-1"),
        "encoding-utf16.jsonl": good.encode("utf-16"),
        "encoding-nul-byte.jsonl": good.encode().replace(b"}\n", b"}\x00\n", 1),
        "meta-first-record-is-a-request.jsonl": jl(RECORD, {"meta": META}),
        "meta-is-an-array.jsonl": jl({"meta": [1, 2]}, RECORD),
        "meta-is-null.jsonl": jl({"meta": None}, RECORD),
        "meta-top-level-array.jsonl": jl([{"meta": META}], RECORD),
        "meta-top-level-string.jsonl": jl('"meta"', RECORD),
        "meta-no-config-hash.jsonl": jl({"meta": {k: v for k, v in META.items() if k != "config_hash"}}, RECORD),
        "meta-config-hash-int.jsonl": meta_with(config_hash=5),
        "meta-config-hash-not-hex.jsonl": meta_with(config_hash="not a hash"),
        "meta-config-hash-newline.jsonl": meta_with(config_hash=CONFIG + "\nconfig_hash=" + "0" * 64),
        "meta-config-hash-20k.jsonl": meta_with(config_hash="a" * 20_000),
        "key-with-newline.jsonl": meta_with(**{"x\nconfig_hash": "0" * 64}),
        "key-with-trailing-newline.jsonl": meta_with(**{"config_hash\n": "0" * 64}),
        "key-empty.jsonl": meta_with(**{"": "x"}),
        "key-ansi-escape.jsonl": meta_with(**{"\x1b[2J": "x"}),
        "meta-lone-surrogate-value.jsonl": m[:-2] + ', "model2": "\\ud800"}}\n' + jl(RECORD),
        "meta-lone-surrogate-key.jsonl": m[:-2] + ', "\\udfff": 1}}\n' + jl(RECORD),
        "add-gpu-traversal.jsonl": meta_with(gpu="../../x"),
        "add-model-absolute.jsonl": meta_with(model="/etc/passwd"),
        "add-model-trailing-newline.jsonl": meta_with(model="m\n"),
        "add-vllm-version-5000-digits.jsonl": meta_with(vllm_version="0.22." + "1" * 5000),
        "add-vllm-version-not-pep440.jsonl": meta_with(vllm_version="banana"),
        "add-vllm-version-int.jsonl": meta_with(vllm_version=22),
        "number-tp-5000-digits.jsonl": m[:-2] + ', "tp2": ' + HUGE + "}}\n" + jl(RECORD),
        "number-tp-30-digits.jsonl": meta_with(tp=10 ** 30),
        "number-tp-1e999.jsonl": m[:-2] + ', "tp2": 1e999}}\n' + jl(RECORD),
        "number-nan.jsonl": m[:-2] + ', "x": NaN}}\n' + jl(RECORD),
        "number-infinity.jsonl": m[:-2] + ', "x": -Infinity}}\n' + jl(RECORD),
        "record-ttft-1e999.jsonl": jl({"meta": META}, '{"prompt_tokens": 1, "output_tokens": 2, "ttft_ms": 1e999}'),
        "record-output-tokens-5000-digits.jsonl": jl({"meta": META},
                                              '{"prompt_tokens": 1, "output_tokens": ' + HUGE + ', "ttft_ms": 1}'),
        "record-not-an-object.jsonl": jl({"meta": META}, [1, 2, 3]),
        "record-missing-ttft.jsonl": jl({"meta": META}, {"prompt_tokens": 1, "output_tokens": 2}),
        "record-tokens-string.jsonl": jl({"meta": META}, {**RECORD, "output_tokens": "2"}),
        "record-tokens-bool.jsonl": jl({"meta": META}, {**RECORD, "prompt_tokens": True}),
        "record-ttft-string-20k.jsonl": jl({"meta": META}, {**RECORD, "ttft_ms": "x" * 20_000}),
        "record-ttft-deep-list.jsonl": jl({"meta": META}, {**RECORD, "ttft_ms": json.loads("[" * 500 + "]" * 500)}),
        "nesting-deep-meta.jsonl": '{"meta": ' + "[" * 5000 + "]" * 5000 + "}\n",
        "record-deep-nesting.jsonl": m + "\n" + '{"a": ' + "{\"a\": " * 5000 + "1" + "}" * 5001 + "\n",
        "late-gzip-truncated.jsonl.gz": gzip.compress(good.encode(), mtime=0)[:-12],
        "gzip-magic-then-junk.jsonl.gz": b"\x1f\x8b" + b"junk" * 10,
        "late-gzip-bad-crc.jsonl.gz": _bad_crc(gzip.compress(good.encode(), mtime=0)),
        "late-gzip-second-member-junk.jsonl.gz": gzip.compress(good.encode(), mtime=0) + b"\x1f\x8bjunk",
        "gzip-of-garbage.jsonl.gz": gzip.compress(b"\x00\xff" * 100, mtime=0),
        "gzip-of-bom-trace.jsonl.gz": gzip.compress(b"\xef\xbb\xbf" + good.encode(), mtime=0),
    }


def _bad_crc(data: bytes) -> bytes:
    return data[:-8] + bytes(b ^ 0xFF for b in data[-8:-4]) + data[-4:]


# --- matrix/*.toml -------------------------------------------------------------------------------

def matrix() -> dict[str, str | bytes]:
    axis = lambda name, n, key="x": "".join(f'[[axes.{name}]]\n{key} = "{i}"\n' for i in range(n))  # noqa: E731
    return {
        "syntax-unterminated.toml": 'lines = "all\n',
        "encoding-bom.toml": b"\xef\xbb\xbf" + b'lines = "all"\n',
        "encoding-latin1.toml": '# caf\xe9\nlines = "all"\n'.encode("latin-1"),
        "key-unknown.toml": 'lines = "all"\nrows = 3\n',
        "key-unknown-control-chars.toml": '"\\u001b[2J" = 1\n',
        "lines-int.toml": "lines = 5\n",
        "lines-unknown.toml": 'lines = "some"\n',
        "lines-array.toml": 'lines = ["all"]\n',
        "lines-20k.toml": 'lines = "' + "x" * 20_000 + '"\n',
        "fields-string.toml": 'fields = "line"\n',
        "fields-ints.toml": "fields = [1, 2]\n",
        "fields-unknown.toml": 'fields = ["line", "colour"]\n',
        "fields-huge-int.toml": f"fields = [{HUGE}]\n",
        "description-int.toml": "description = 5\n",
        "description-table.toml": "[description]\nx = 1\n",
        "axes-int.toml": "axes = 5\n",
        "axes-entry-int.toml": "[axes]\nplatform = 5\n",
        "axes-empty-array.toml": "[axes]\nplatform = []\n",
        "axes-array-of-ints.toml": "[axes]\nplatform = [1, 2]\n",
        "axes-key-clashes-with-field.toml": '[[axes.platform]]\nline = "x"\n',
        "axes-value-datetime.toml": "[[axes.platform]]\nwhen = 1979-05-27T07:32:00Z\n",
        "axes-value-local-date.toml": "[[axes.platform]]\nwhen = 1979-05-27\n",
        "axes-value-nan.toml": "[[axes.platform]]\nx = nan\n",
        "axes-value-inf.toml": "[[axes.platform]]\nx = -inf\n",
        "axes-value-table.toml": "[[axes.platform]]\nx = { a = 1 }\n",
        "axes-value-array.toml": "[[axes.platform]]\nx = [1]\n",
        "axes-value-5000-digits.toml": f"[[axes.platform]]\nx = {HUGE}\n",
        "axes-name-control-chars.toml": '[[axes."\\u001b[2J"]]\nx = 1\n',
        "axes-deep-array.toml": f"[[axes.platform]]\nx = {DEEP_ARRAY}\n",
        "rows-over-256.toml": axis("platform", 300),
        "rows-product-explodes.toml": axis("a", 100, "a") + axis("b", 100, "b") + axis("c", 100, "c"),
        "nesting-deep-inline-table.toml": f"description = {DEEP_TABLE}\n",
        "ok-empty.toml": "",
        "ok-axes-of-numbers-and-booleans.toml": "lines = \"stable\"\n[[axes.p]]\nn = 1\nf = 1.5\nb = true\n",
    }


# --- git ls-remote dumps (--tags-file) ---------------------------------------------------------

def tags() -> dict[str, str | bytes]:
    good = f"{R23}\tHEAD\n{R22}\trefs/tags/v0.22.1\n{R23}\trefs/tags/v0.23.0\n"
    return {
        "sha-short.txt": f"abc123\trefs/tags/v0.24.0\n",
        "sha-uppercase.txt": f"{R23.upper()}\trefs/tags/v0.24.0\n",
        "sha-non-hex.txt": "g" * 40 + "\trefs/tags/v0.24.0\n",
        "sha-41-chars.txt": R23 + "0\trefs/tags/v0.24.0\n",
        "line-garbage.txt": good + "hello world\n",
        "line-only-ref.txt": "refs/tags/v0.24.0\n",
        "encoding-bom.txt": b"\xef\xbb\xbf" + good.encode(),
        "encoding-latin1.txt": (good + "# caf\xe9\n").encode("latin-1"),
        "encoding-binary-junk.txt": bytes(range(256)) * 8,
        "encoding-nul-bytes.txt": good.encode().replace(b"\t", b"\x00"),
        "html-error-page.txt": "<html><body>502 Bad Gateway</body></html>\n",
        "json-instead.txt": json.dumps({"tags": ["v0.24.0"]}) + "\n",
        "line-separator-in-ref.txt": good + f"{R23}\trefs/tags/v0.24.0\u2028x\n",
        "sha-with-vertical-tab.txt": good + f"{R23[:20]}\x0b{R23[20:]}\trefs/tags/v0.24.0\n",
    }


# --- gate evidence (.vline/evidence/<line>.json) -------------------------------------------------

EVIDENCE = {"line": "0.22", "tag": "v0.22.1", "protocol_rev": R22, "patch_repo": "https://github.com/wseaton/vllm.git",
            "patch_rev": FORK, "goldens": [], "command": ["true"], "exit_code": 0, "passed": True,
            "vline_version": "0.0.0", "time": "2026-01-01T00:00:00+00:00"}


def ev(**over: object) -> str:
    return json.dumps({**EVIDENCE, **over}, indent=2) + "\n"


def evidence() -> dict[str, str | bytes]:
    e = ev()
    return {
        "json-not-json.json": "passed: true\n",
        "json-empty.json": "",
        "json-truncated.json": e[: len(e) // 2],
        "json-trailing-comma.json": e.replace('"passed": true', '"passed": true,'),
        "encoding-bom.json": b"\xef\xbb\xbf" + e.encode(),
        "encoding-latin1.json": e.replace('"true"', '"tr\xe9"').replace("0.0.0", "caf\xe9").encode("latin-1"),
        "shape-array.json": "[]\n",
        "shape-string.json": '"evidence"\n',
        "shape-no-goldens.json": json.dumps({k: v for k, v in EVIDENCE.items() if k != "goldens"}),
        "type-goldens-int.json": ev(goldens=5),
        "type-goldens-of-ints.json": ev(goldens=[1, 2]),
        "type-goldens-nested-values.json": ev(goldens=[{"sha256": ["a"]}]),
        "type-passed-string.json": ev(passed="yes"),
        "type-passed-int.json": ev(passed=1),
        "type-tag-int.json": ev(tag=22),
        "type-tag-object.json": ev(tag={"a": [1, 2, {"b": "c" * 10_000}]}),
        "type-command-string.json": ev(command="true"),
        "type-exit-code-string.json": ev(exit_code="0"),
        "type-exit-code-float.json": ev(exit_code=0.5),
        "number-exit-code-5000-digits.json": e.replace('"exit_code": 0', '"exit_code": ' + HUGE),
        "number-exit-code-40-digits.json": e.replace('"exit_code": 0', '"exit_code": ' + "9" * 40),
        "number-nan.json": e.replace('"exit_code": 0', '"exit_code": NaN'),
        "number-1e999.json": e.replace('"exit_code": 0', '"exit_code": 1e999'),
        "nesting-deep.json": '{"goldens": ' + "[" * 5000 + "]" * 5000 + "}",
        "value-tag-ansi-escape.json": ev(tag="v0.22.1\x1b[2J\x1b]0;pwned\x07"),
        "value-tag-20k.json": ev(tag="v" * 20_000),
        "value-lone-surrogate.json": e.replace('"v0.22.1"', '"v0.22.1\\ud800"'),
        "value-stale-tag.json": ev(tag="v0.22.0"),
        "value-failed-gate.json": ev(passed=False, exit_code=1),
    }


# --- Dockerfile.template (vline render) ----------------------------------------------------------

def template() -> dict[str, str | bytes]:
    t = (REPO / "Dockerfile.template").read_text()
    return {
        "placeholder-unknown.template": t.replace("{{ tag }}", "{{ version }}", 1),
        "placeholder-spanning-lines.template": t + "LABEL x={{\nbogus\n}}\n",
        "placeholder-20k-name.template": t + "LABEL x={{ " + "y" * 20_000 + " }}\n",
        "placeholder-ansi-escape.template": t + "LABEL x={{ \x1b[2J }}\n",
        "placeholder-empty.template": t + "LABEL x={{}}\n",
        "ok-placeholder-padded-with-a-line-separator.template": t + "LABEL x={{ tag\u2028 }}\n",
        "encoding-latin1.template": (t + "# caf\xe9\n").encode("latin-1"),
        "encoding-binary-junk.template": bytes(range(256)) * 4,
        "ok-no-placeholders.template": "FROM scratch\n",
        "ok-line-separator-in-a-comment.template": t.replace("# One vLLM line's image", "# One\u2028vLLM line's image"),
    }


KINDS = {"compat": compat, "manifest": manifest, "cargo": cargo, "trace": trace, "matrix": matrix, "tags": tags,
         "evidence": evidence, "template": template}


def main() -> None:
    total = 0
    for kind, make in KINDS.items():
        folder = HERE / kind
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for name, content in sorted(make().items()):
            (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
            total += 1
    print(f"wrote {total} files")


if __name__ == "__main__":
    main()
