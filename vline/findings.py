"""A rule violation found in a file: printed as `file:line: error|warning: message`."""

from typing import NamedTuple

from .errors import VlineError, one_line


class Finding(NamedTuple):
    path: str
    line: int
    severity: str  # "error" | "warning"
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self) -> str:
        return one_line(f"{self.path}:{self.line}: {self.severity}: {self.message}")

    def as_json(self) -> dict:
        return {"file": self.path, "line": self.line, "severity": self.severity, "message": self.message}

    @classmethod
    def of(cls, e: VlineError, path: object) -> "Finding":
        """A file `check` could not read, as one of its findings (`path` when the error names none)."""
        return cls(str(e.path or path), e.line or 1, "error", e.message)


class Collector:
    """Accumulates findings for one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Finding] = []

    def error(self, line: int, message: str) -> None:
        self.items.append(Finding(self.path, line, "error", message))

    def warning(self, line: int, message: str) -> None:
        self.items.append(Finding(self.path, line, "warning", message))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.is_error]
