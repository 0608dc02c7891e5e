"""Every failure vline reports, and the exit code each maps to (SPEC §6)."""
from __future__ import annotations

from pathlib import Path

OK = 0
NO = 1  # the answer is no: check found errors, a mismatch, a refused promotion
INPUT = 2  # invalid invocation or input
ENVIRONMENT = 3  # cargo, docker or S3 failed


def where(path: str | Path | None, line: int | None = None) -> str:
    """`file:line` as shown to people; the path is kept as the user wrote it."""
    if path is None:
        return "vline"
    return f"{path}:{line}" if line else str(path)


class VlineError(Exception):
    """One clear line for the user; `code` is the process exit code."""

    code = INPUT

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 extra: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        # further one-line findings printed before the main message (e.g. every rule violation)
        self.extra = extra or []

    def render(self) -> str:
        # one line whatever the message quotes from a file
        text = f"{where(self.path, self.line)}: error: {self.message}"
        return text.replace("\r", "\\r").replace("\n", "\\n")


class InputError(VlineError):
    code = INPUT


class Refused(VlineError):
    code = NO


class EnvironmentFailure(VlineError):
    code = ENVIRONMENT
