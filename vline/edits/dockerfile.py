"""Rewrite the ARG defaults of a Dockerfile (template) to a line's values, so nobody bumps them by hand.

Only `ARG NAME=value` lines whose NAME is a build variable of the line and whose value is literal
(no `{{ placeholder }}`) change; every other byte stays.
"""
from __future__ import annotations

from .. import lazy_re
from ..tomlfile import split_lines

_ARG = lazy_re.compile(r"^(?P<head>\s*ARG\s+)(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\S*)(?P<tail>.*)$")


def drifted(text: str, values: dict[str, str]) -> list[tuple[int, str, str, str]]:
    """(line, ARG name, its default, the value wanted) of each literal ARG default that rewrite_args would change."""
    out = []
    for no, body in enumerate(split_lines(text), start=1):
        m = _ARG.match(body)
        if m and m["name"] in values and "{{" not in m["value"] and m["value"].strip('"') != values[m["name"]]:
            out.append((no, m["name"], m["value"], values[m["name"]]))
    return out


def rewrite_args(text: str, values: dict[str, str]) -> str:
    out = []
    for raw in split_lines(text, keepends=True):  # Docker breaks lines at \n only
        body = raw.rstrip("\r\n")
        m = _ARG.match(body)
        if m and m["name"] in values and "{{" not in m["value"]:
            value = values[m["name"]]
            quoted = f'"{value}"' if m["value"].startswith('"') else value
            body = f"{m['head']}{m['name']}={quoted}{m['tail']}"
            raw = body + raw[len(raw.rstrip("\r\n")):]
        out.append(raw)
    return "".join(out)
