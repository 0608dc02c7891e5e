"""Where output goes: results on stdout; people's tables, notes and errors on stderr (rich, lazily)."""
from __future__ import annotations

import json
import sys
from functools import lru_cache


def result(text: str) -> None:
    """The command's result, for machines: stdout, nothing else there."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def result_json(obj: object) -> None:
    result(json.dumps(obj, separators=(",", ":")))


def note(text: str) -> None:
    print(text, file=sys.stderr)


@lru_cache(maxsize=1)
def console():
    """A rich console on stderr; rich honours NO_COLOR and drops colour and animation off a TTY."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for h in headers:
        t.add_column(h)
    for row in rows:
        t.add_row(*row)
    console().print(t)
