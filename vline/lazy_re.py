"""Module-level regular expressions compiled on first use.

Compiling every pattern of the modules `check` imports cost it ~4 ms at start-up, most of them for
values a given project never has. A `Pattern` compiles when first used, then holds the compiled
pattern's methods as its own attributes: later calls cost what a compiled pattern's do.
"""
from __future__ import annotations

import re

_METHODS = ("match", "fullmatch", "search", "sub", "subn", "findall", "finditer", "split")


class Pattern:
    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags

    def __getattr__(self, name: str):  # called only while the pattern is not compiled yet
        compiled = re.compile(self.pattern, self.flags)
        for method in _METHODS:
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)


def compile(pattern: str, flags: int = 0) -> Pattern:  # noqa: A001 - re.compile's name and shape
    return Pattern(pattern, flags)
