"""The one writer of entries machines read: `key=value` results on stdout, `$GITHUB_OUTPUT`,
`$GITHUB_ENV`, step summaries, annotations, shell exports, and logs echoed under Actions.

Names are checked and values encoded here and only here, so no value from any input file can forge
another entry: a name that is not a plain identifier is refused (exit 2); a value that could break
its line is JSON-quoted on stdout, heredoc'd with a random delimiter in command files, quoted for sh.
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping

from . import lazy_re
from .errors import InputError
from .fsio import append_line

NAME = lazy_re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*\Z")  # output names and key=value keys (GitHub's rule)
ENV_NAME = lazy_re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
PLAIN = lazy_re.compile(r'^[^\s"\\\x00-\x1f\x7f]*\Z')  # written as is; anything else is JSON-quoted
# Environment variables that make a shell, loader, interpreter or toolchain run something, or that the
# runner owns: never set from compat.toml values.
_UNSAFE_ENV = frozenset({"PATH", "HOME", "SHELL", "IFS", "ENV", "BASH_ENV", "PROMPT_COMMAND", "SHELLOPTS", "BASHOPTS",
                         "CDPATH", "NODE_OPTIONS", "NODE_PATH", "PERLLIB", "RUBYOPT", "RUBYLIB", "RUSTFLAGS", "CI",
                         "TMPDIR", *(f"PS{i}" for i in range(10))})
_UNSAFE_ENV_PREFIX = ("BASH_FUNC_", "LD_", "DYLD_", "PYTHON", "PERL5", "GIT_", "CARGO_", "RUSTC", "RUSTDOC", "RUSTUP_",
                      "GITHUB_", "RUNNER_", "ACTIONS_", "VLINE_")  # names and prefixes: no regex to compile


def active() -> bool:
    """Running as a GitHub Actions step."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def check_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(f"{what} {name!r} is not a plain name (letters, digits, _ and -, not starting with a digit)")
    return name


def env_name_problem(name: str) -> str | None:
    """Why `name` cannot be an environment variable vline exports (None: it can)."""
    if not ENV_NAME.match(name):
        return f"{name!r} is not an environment variable name"
    if name in _UNSAFE_ENV or name.startswith(_UNSAFE_ENV_PREFIX):
        return f"{name!r} is an environment variable vline never sets (it changes what shells or tools run)"
    return None


def check_env_name(name: str) -> str:
    problem = env_name_problem(name)
    if problem:
        raise InputError(problem)
    return name


def value(v: object) -> str:
    """A value as one token: as is when plain, else a JSON string (one line, no spaces unescaped)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    if not isinstance(v, str):
        if isinstance(v, (int, float)):
            return str(v)
        import json

        return json.dumps(v, separators=(",", ":"), ensure_ascii=True)
    if PLAIN.match(v):
        return v
    import json

    return json.dumps(v, ensure_ascii=True)


# --- stdout --------------------------------------------------------------------------------------

_collected: dict | None = None  # under --json: the results, printed as one JSON document by flush()


def json_mode(on: bool) -> None:
    """Under --json every command's results (kv pairs and records) become one JSON document on stdout."""
    global _collected
    _collected = {"pairs": {}, "rows": []} if on else None


def flush() -> None:
    """Print what --json collected: the rows as an array, the pairs as an object, or both (`rows` inside)."""
    global _collected
    if _collected is None:
        return
    import json

    pairs, rows = _collected["pairs"], _collected["rows"]
    _collected = None
    doc = {**pairs, "rows": rows} if pairs and rows else (rows if rows else pairs)
    sys.stdout.write(json.dumps(doc, separators=(",", ":"), default=str) + "\n")


def kv_text(pairs: Mapping[str, object]) -> str:
    return "".join(f"{check_name(k)}={value(v)}\n" for k, v in pairs.items())


def kv(pairs: Mapping[str, object]) -> None:
    """The command's result as `key=value` lines on stdout."""
    if _collected is not None:
        _collected["pairs"].update({check_name(k): v for k, v in pairs.items()})
        return
    sys.stdout.write(kv_text(pairs))


def record(pairs: Mapping[str, object]) -> None:
    """One result row as `key=value key=value ...` on one stdout line."""
    if _collected is not None:
        _collected["rows"].append({check_name(k): v for k, v in pairs.items()})
        return
    sys.stdout.write(" ".join(f"{check_name(k)}={value(v)}" for k, v in pairs.items()) + "\n")


def sh_exports(pairs: Mapping[str, str]) -> str:
    """`export NAME='value'` lines, safe to eval."""
    import shlex

    return "".join(f"export {check_env_name(k)}={shlex.quote(v) if v else v}\n" for k, v in pairs.items())


# --- GitHub Actions command files -----------------------------------------------------------------

def _entry(name: str, val: str) -> str:
    """`name=value`, or a heredoc with a random delimiter when the value spans lines."""
    if "\n" not in val and "\r" not in val:
        return f"{name}={val}\n"
    import secrets

    while True:
        delim = f"ghadelimiter_{secrets.token_hex(16)}"
        if delim not in val:
            break
    return f"{name}<<{delim}\n{val}\n{delim}\n"


def env_file_text(pairs: Mapping[str, str]) -> str:
    """The `$GITHUB_ENV` form of `pairs`, for `>> "$GITHUB_ENV"` redirection."""
    return "".join(_entry(check_env_name(k), str(v)) for k, v in pairs.items())


def _append(var: str, text: str) -> bool:
    path = os.environ.get(var)
    if not path:
        return False
    append_line(path, text)
    return True


def set_outputs(pairs: Mapping[str, object]) -> bool:
    """Append to `$GITHUB_OUTPUT`; False when not under Actions."""
    text = "".join(_entry(check_name(k, "output name"), value(v) if not isinstance(v, str) else v)
                   for k, v in pairs.items())
    return _append("GITHUB_OUTPUT", text)


def set_env(pairs: Mapping[str, str]) -> bool:
    """Append to `$GITHUB_ENV`; False when not under Actions."""
    return _append("GITHUB_ENV", env_file_text(pairs))


# --- annotations, summaries, logs ----------------------------------------------------------------

def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, file: str | None = None, line: int | None = None,
               title: str | None = None) -> str:
    """A `::error file=…,line=…::message` workflow command (level: error, warning, notice)."""
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
    if line:
        props.append(f"line={int(line)}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_escape_data(message)}"


def cell(v: object) -> str:
    """A markdown table cell: no HTML, no column break, no line break."""
    import html

    text = value(v) if isinstance(v, bool) or v is None else str(v)
    text = html.escape(text, quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return text.replace("\r", " ").replace("\n", " ")


def summary_table(title: str, headers: list[str], rows: list[list[object]]) -> bool:
    """Append a markdown table to `$GITHUB_STEP_SUMMARY`; False when not under Actions."""
    if not os.environ.get("GITHUB_STEP_SUMMARY"):
        return False
    out = [f"### {cell(title)}", "", "| " + " | ".join(map(cell, headers)) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return _append("GITHUB_STEP_SUMMARY", "\n".join(out) + "\n\n")


@contextlib.contextmanager
def log_group(title: str) -> Iterator[None]:
    """Under Actions: a collapsible group in which workflow commands are not interpreted, so a line of
    someone's log (`::set-output`, `::add-mask::`...) cannot act as a command. Elsewhere: nothing."""
    if not active():
        yield
        return
    import secrets

    token = secrets.token_hex(16)
    sys.stderr.write(f"::group::{_escape_data(title)}\n::stop-commands::{token}\n")
    sys.stderr.flush()
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.write(f"\n::{token}::\n::endgroup::\n")
        sys.stderr.flush()
