"""The one process runner: every external tool (cargo, git, docker CLIs) goes through here."""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from .errors import EnvironmentFailure


class Result(NamedTuple):  # not a dataclass: `dataclasses` costs the commands CI calls ~6 ms to import
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


def _prepare(args: Sequence[str], env: Mapping[str, str] | None,
             extra_env: Mapping[str, str] | None) -> tuple[list[str], dict[str, str]]:
    import shutil  # here: it imports the compression modules, which pin --no-update and check never need

    exe = shutil.which(args[0])
    if exe is None:
        raise EnvironmentFailure(f"'{args[0]}' was not found on PATH")
    full_env = dict(os.environ if env is None else env)
    if extra_env:
        full_env.update(extra_env)
    return [exe, *args[1:]], full_env


def run(args: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None, errors: str = "replace") -> Result:
    """Run to completion capturing output; a missing program is an environment failure (exit 3).
    `errors="surrogateescape"` keeps undecodable bytes (file names) round-trippable."""
    import subprocess  # here: pin --no-update and check run no process

    argv, full_env = _prepare(args, env, extra_env)
    proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, errors=errors,
                          stdin=subprocess.DEVNULL)
    return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def stream(args: Sequence[str], on_line: Callable[[str], None], *, cwd: str | Path | None = None,
           env: Mapping[str, str] | None = None, extra_env: Mapping[str, str] | None = None,
           keep: int = 200) -> Result:
    """Run to completion, handing each line of its output (stdout and stderr merged, in order) to `on_line`
    as it comes. The Result's stderr holds the last `keep` lines, for error messages: a build's log can be
    far larger than memory should hold."""
    import subprocess

    argv, full_env = _prepare(args, env, extra_env)
    tail: deque[str] = deque(maxlen=keep)
    with subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace") as p:
        assert p.stdout is not None
        try:
            for raw in p.stdout:
                line = raw.rstrip("\r\n")
                tail.append(line)
                on_line(line)
        except BaseException:
            p.kill()  # interrupted, or the callback failed: leave no process behind
            raise
        code = p.wait()
    return Result(tuple(args), code, "", "\n".join(tail) + ("\n" if tail else ""))
