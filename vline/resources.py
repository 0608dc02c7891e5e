"""Files that ship with vline: the embedded default compat.toml and the built-in matrix kinds.

In a wheel they live in `vline/_bundled/` (pyproject force-includes the repo's `compat.toml` and
`matrix/`); in a source checkout they are read from the repo root, so there is one copy of each.
"""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _base() -> Path:
    bundled = _PKG / "_bundled"
    return bundled if bundled.is_dir() else _PKG.parent


def default_compat() -> Path:
    return _base() / "compat.toml"


def matrix_dir() -> Path:
    return _base() / "matrix"


def workflows_dir() -> Path:
    """The caller workflows `vline init --github` writes (package data)."""
    return _PKG / "resources" / "workflows"
