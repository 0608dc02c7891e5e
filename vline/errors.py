"""Every failure vline reports, and the exit code each maps to (SPEC §6)."""
from __future__ import annotations

from pathlib import Path

OK = 0
NO = 1  # the answer is no: check found errors, a mismatch, a refused promotion
INPUT = 2  # invalid invocation or input
ENVIRONMENT = 3  # cargo, docker or S3 failed


MAX_LINE = 2000  # a message quoting a huge file stays readable; file:line comes first, so nothing is lost
QUOTE = 80  # characters of a value quoted in a message


def quote(value: object, limit: int = QUOTE) -> str:
    """repr() of a value from an input file, for messages: bounded in length and depth, and never
    raising (repr of an int of more than 4300 digits raises ValueError; deep nesting, RecursionError)."""
    if type(value) is str and len(value) <= limit:  # the common case (labels of valid input): plain repr
        return repr(value)
    r = _repr_class()()
    r.maxlevel, r.maxstring, r.maxother, r.maxlist, r.maxdict, r.maxtuple = 3, limit, limit, 6, 6, 6
    try:
        text = r.repr(value)
    except Exception:  # noqa: BLE001 - a message must never fail to render
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit + 2 else text[:limit] + "…"


_REPR: type | None = None


def _repr_class() -> type:
    global _REPR
    if _REPR is None:
        import reprlib

        class _Repr(reprlib.Repr):
            def repr_int(self, x: int, level: int) -> str:
                return int.__repr__(x) if x.bit_length() <= 64 else f"<an integer of {x.bit_length()} bits>"

        _REPR = _Repr
    return _REPR


def one_line(text: str) -> str:
    """`text` as one printable line: line breaks, control and format characters (terminal escapes, bidi
    overrides, U+2028) escaped, so a message quoting a file can neither span lines nor act on a terminal."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "… (message cut)"


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
        return one_line(f"{where(self.path, self.line)}: error: {self.message}")


class InputError(VlineError):
    code = INPUT


class Refused(VlineError):
    code = NO


class EnvironmentFailure(VlineError):
    code = ENVIRONMENT
