"""The one process runner: every external tool (cargo, git, docker CLIs) goes through here."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import EnvironmentFailure


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_error_line(self) -> str:
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error")]
        return (errors or lines or [f"exit code {self.returncode}"])[0]


def run(args: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None) -> Result:
    """Run to completion capturing output; a missing program is an environment failure (exit 3)."""
    exe = shutil.which(args[0])
    if exe is None:
        raise EnvironmentFailure(f"'{args[0]}' was not found on PATH")
    full_env = dict(os.environ if env is None else env)
    if extra_env:
        full_env.update(extra_env)
    proc = subprocess.run([exe, *args[1:]], cwd=cwd, env=full_env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)
