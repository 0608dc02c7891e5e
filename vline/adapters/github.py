"""GitHub Actions: command files, annotations and the step summary, all written safely."""
from __future__ import annotations

import os

from ..fsio import append_line


def active() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _entry(name: str, value: str) -> str:
    """`name=value`, or a heredoc with a random delimiter when the value spans lines."""
    if "\n" in name or "=" in name or not name:
        raise ValueError(f"invalid GitHub variable name {name!r}")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    import secrets

    while True:
        delim = f"ghadelimiter_{secrets.token_hex(16)}"
        if delim not in value:
            break
    return f"{name}<<{delim}\n{value}\n{delim}\n"


def _write(var: str, pairs: dict[str, str]) -> bool:
    path = os.environ.get(var)
    if not path:
        return False
    append_line(path, "".join(_entry(k, v) for k, v in pairs.items()))
    return True


def set_outputs(pairs: dict[str, str]) -> bool:
    """Append to $GITHUB_OUTPUT; False when not under Actions."""
    return _write("GITHUB_OUTPUT", pairs)


def set_env(pairs: dict[str, str]) -> bool:
    """Append to $GITHUB_ENV; False when not under Actions."""
    return _write("GITHUB_ENV", pairs)


def env_file_text(pairs: dict[str, str]) -> str:
    """The $GITHUB_ENV form of `pairs`, for `>> "$GITHUB_ENV"` redirection."""
    return "".join(_entry(k, v) for k, v in pairs.items())


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
        props.append(f"line={line}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_escape_data(message)}"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def summary_table(title: str, headers: list[str], rows: list[list[object]]) -> bool:
    """Append a markdown table to $GITHUB_STEP_SUMMARY; False when not under Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    out = [f"### {_cell(title)}", "", "| " + " | ".join(map(_cell, headers)) + " |",
           "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    append_line(path, "\n".join(out) + "\n\n")
    return True
