"""Per-line Python environments for `vline each --python`: a virtual environment per line under vline's
cache with that line's vLLM requirement installed (uv when it is on PATH, else pip), reused while the
requirement, the interpreter and the installer stay the same.

Indexes and local wheel folders come from the installer's own settings (PIP_INDEX_URL, PIP_FIND_LINKS,
UV_INDEX_URL, UV_FIND_LINKS, pip.conf, uv.toml...): vline adds none of its own.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from . import proc
from .errors import EnvironmentFailure, Refused
from .fsio import atomic_write, cache_dir, locked, under

MARKER = ".vline-requirement"


def installer() -> str:
    """uv when available (or asked for with VLINE_INSTALLER=uv), else pip."""
    chosen = os.environ.get("VLINE_INSTALLER", "")
    if chosen in ("uv", "pip"):
        return chosen
    return "uv" if shutil.which("uv") else "pip"


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def activation(venv: Path) -> dict[str, str]:
    """What a command needs to run inside `venv`: VIRTUAL_ENV and its bin folder first on PATH."""
    return {"VIRTUAL_ENV": str(venv), "PATH": f"{bin_dir(venv)}{os.pathsep}{os.environ.get('PATH', '')}"}


def ensure(project: str, line: str, requirement: str, log: Path, python: str | None = None,
           index: str = "") -> Path:
    """The line's environment with `requirement` installed; built once, rebuilt when its inputs change.
    The installer's output goes to `log`; a requirement that cannot be installed refuses the line (exit 1)."""
    python = python or sys.executable
    tool = installer()
    key = hashlib.sha256(f"{requirement}\0{os.path.realpath(python)}\0{tool}\0{index}".encode()).hexdigest()
    root = cache_dir("venvs", project)
    venv = under(root, line, what="environment for line")
    marker = venv / MARKER
    with locked(root):
        if marker.is_file() and marker.read_text(encoding="utf-8").split("\n", 1)[0] == key:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        steps = _steps(tool, python, venv, requirement, index)
        with open(log, "ab") as out:
            for args in steps:
                out.write(("$ " + " ".join(args) + "\n").encode())
                res = proc.run(args)
                out.write((res.stdout + res.stderr).encode())
                if not res.ok:
                    shutil.rmtree(venv, ignore_errors=True)
                    if args is steps[-1]:
                        raise Refused(f"{tool} could not install {requirement}: {res.last_error_line()}", path=str(log))
                    raise EnvironmentFailure(f"{tool} could not create an environment: {res.last_error_line()}",
                                             path=str(log))
        atomic_write(marker, f"{key}\n{requirement}\n".encode())
    return venv


def _steps(tool: str, python: str, venv: Path, requirement: str, index: str = "") -> list[list[str]]:
    target = str(bin_dir(venv) / "python")
    extra = ["--pre", "--extra-index-url", index] if index else []  # nightly wheels are dev releases
    if tool == "uv":
        return [["uv", "venv", "--quiet", "--python", python, str(venv)],
                ["uv", "pip", "install", "--quiet", "--python", target, *extra, requirement]]
    # pip installs into the new environment from outside it: no pip inside, no ensurepip (seconds saved per line)
    return [[python, "-m", "venv", "--without-pip", str(venv)],
            [python, "-m", "pip", "--python", target, "install", "--quiet", "--disable-pip-version-check",
             *extra, requirement]]
