"""Dockerfile.template rendering: `{{ name }}` placeholders take one line's values, and literal ARG
defaults of its build variables are rewritten to them, so a rendered file's defaults are that line's."""
from __future__ import annotations

import re

from .compat import Compat, Line
from .edits.dockerfile import rewrite_args
from .errors import InputError, quote

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
NAMES = ("line", "tag", "protocol_rev", "patch_repo", "patch_rev", "frontend_repo", "frontend_ref", "target_env",
         "image")


def values(compat: Compat, line: Line, image: str | None = None) -> dict[str, str]:
    repo, ref = line.frontend(compat.settings)
    return {"line": line.line, "tag": line.tag, "protocol_rev": line.protocol_rev, "patch_repo": line.patch_repo or "",
            "patch_rev": line.patch_rev or "", "frontend_repo": repo, "frontend_ref": ref,
            "target_env": compat.settings.target_env, "image": image or compat.settings.image}


def check(text: str, shown: str) -> None:
    """Every placeholder is known: an unknown one is exit 2 naming file, line and the name. The text is
    scanned whole, as render substitutes it: a placeholder may span lines."""
    for m in PLACEHOLDER.finditer(text):
        if m.group(1) not in NAMES:
            name = m.group(1) if re.fullmatch(r"[\w.-]{1,40}", m.group(1), re.ASCII) else quote(m.group(1), 40)
            raise InputError(f"unknown placeholder {{{{ {name} }}}} (known: {', '.join(NAMES)})",
                             path=shown, line=text.count("\n", 0, m.start()) + 1)


def render(text: str, compat: Compat, line: Line, shown: str, image: str | None = None) -> str:
    check(text, shown)
    vals = values(compat, line, image)
    out = PLACEHOLDER.sub(lambda m: vals[m.group(1)], text)
    return rewrite_args(out, line.build_env(compat.settings))
