"""Where output goes: results on stdout; people's tables, notes and errors on stderr (rich, lazily)."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from functools import lru_cache


def result(text: str) -> None:
    """The command's result, for machines: stdout, nothing else there."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def result_json(obj: object) -> None:
    import json  # here: pin and env print key=value and need no json

    result(json.dumps(obj, separators=(",", ":")))


def note(text: str) -> None:
    print(text, file=sys.stderr)


@lru_cache(maxsize=1)
def console():
    """A rich console on stderr; rich honours NO_COLOR and drops colour and animation off a TTY."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def on_terminal() -> bool:
    """Whether stderr is a terminal people watch (rich's answer). Plainly not (no TTY, none of the variables
    that make rich say yes) is answered without importing rich, ~20 ms `each` and `golden` spent off a TTY."""
    isatty = getattr(sys.stderr, "isatty", None)
    if not (isatty and isatty()) and not any(os.environ.get(k) for k in ("FORCE_COLOR", "TTY_COMPATIBLE",
                                                                       "TTY_INTERACTIVE")):
        return False
    return console().is_terminal


def table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for h in headers:
        t.add_column(h)
    for row in rows:
        t.add_row(*row)
    console().print(t)


@contextlib.contextmanager
def transfer_progress(labels: list[str]) -> Iterator[Callable[[int, int], None]]:
    """Byte progress per transfer on stderr; silent off a terminal, where the per-item results suffice."""
    if not labels or not on_terminal():
        yield lambda i, n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=console(), transient=True) as progress:
        tasks = [progress.add_task(label, total=None) for label in labels]
        yield lambda i, n: progress.advance(tasks[i], n)
