"""The process entry point: parse the arguments (the fast path for the commands every CI leg calls,
else typer), run the command, and turn every failure into its exit code — here and only here."""
from __future__ import annotations

import os
import sys

from .errors import ENVIRONMENT, INPUT, VlineError


def _report(e: VlineError) -> None:
    from . import emit

    print(e.render(), file=sys.stderr)
    for extra in e.extra:
        print(extra, file=sys.stderr)
    if emit.active():
        print(emit.annotation("error", e.message, file=str(e.path) if e.path else None, line=e.line),
              file=sys.stderr)


def _run(argv: list[str]) -> int:
    from . import fastpath

    parsed = fastpath.parse(argv)
    if parsed is None:  # help, completion, errors, every other command: typer
        from .cli import run_typer

        run_typer(argv)
        return 0
    from . import invoke

    invoke.root(parsed.compat, False)
    return getattr(invoke, parsed.command)(**parsed.params) or 0


def _flush() -> None:
    if "vline.emit" in sys.modules:  # results collected under --json, also when the command then failed
        sys.modules["vline.emit"].flush()


def main(argv: list[str] | None = None) -> None:
    try:
        try:
            code = _run(sys.argv[1:] if argv is None else argv)
        finally:
            _flush()
        sys.stdout.flush()
    except VlineError as e:
        _report(e)
        sys.exit(e.code)
    except KeyboardInterrupt:
        print("vline: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as e:  # this machine's files (disk full, read-only, a folder where a file should be)
        if os.environ.get("VLINE_DEBUG"):
            raise
        from .fsio import describe

        print(f"vline: error: {describe(e)}", file=sys.stderr)
        sys.exit(ENVIRONMENT)
    except RecursionError:  # no input may crash vline; a nesting no parser caught is still one line
        print("vline: error: an input is nested too deeply to process", file=sys.stderr)
        sys.exit(INPUT)
    except Exception as e:  # a bug in vline: still one line, never a traceback unless asked for
        if os.environ.get("VLINE_DEBUG"):
            raise
        print(f"vline: internal error: {type(e).__name__}: {e} (set VLINE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        sys.exit(ENVIRONMENT)
    sys.exit(code)
