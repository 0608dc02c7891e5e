"""`vline each [LINE...] -- CMD...`: run a command in every selected line's isolated, pinned checkout."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import checkouts, emit, ui
from .. import compat as compat_mod
from ..errors import InputError, Refused, VlineError

TAIL = 30  # lines of a failing line's log shown on stderr


def select(compat: compat_mod.Compat, names: list[str]) -> list[compat_mod.Line]:
    if not names:
        return compat.ordered()
    wanted = {compat.get(n).line for n in names}
    return [ln for ln in compat.ordered() if ln.line in wanted]


class Board:
    """Per-line state for the live table (stderr) and the results (stdout)."""

    def __init__(self, lines: list[compat_mod.Line]) -> None:
        self.lock = threading.Lock()
        self.rows = {ln.line: {"line": ln.line, "tag": ln.tag, "status": "queued", "exit_code": None,
                               "seconds": 0.0, "checkout": "", "log": "", "error": ""} for ln in lines}

    def set(self, line: str, **kw) -> None:
        with self.lock:
            self.rows[line].update(kw)

    def table(self):
        from rich.table import Table

        t = Table(title="vline each", title_justify="left")
        for h in ("line", "tag", "status", "seconds"):
            t.add_column(h)
        with self.lock:
            for r in self.rows.values():
                t.add_row(r["line"], r["tag"], r["status"], f"{r['seconds']:.1f}")
        return t


@contextlib.contextmanager
def live(board: Board):
    if not ui.on_terminal():
        yield
        return
    from rich.live import Live

    with Live(get_renderable=board.table, console=ui.console(), refresh_per_second=4, transient=False):
        yield


def _python_env(compat: compat_mod.Compat, co: checkouts.Checkout, ln: compat_mod.Line) -> dict[str, str]:
    """The line's own virtual environment, its vllm requirement installed, and the checkout's pyproject.toml or
    requirements files pinned to it (so `pip install .` inside agrees)."""
    import hashlib

    from .. import venvs
    from ..pinning import pin_python
    from ..python_reqs import default_files, find

    inside = compat._replace(path=co.compat_dir / compat.path.name)
    files = [p for p in default_files(co.compat_dir) if find(p)]
    if files:
        pin_python(inside, ln, files)
    project = hashlib.sha256(str(compat.root.resolve()).encode()).hexdigest()[:16]
    index = compat.settings.python_index if ln.version is None else ""
    venv = venvs.ensure(project, ln.line, ln.pip_spec(compat.settings), co.log, index=index)
    return venvs.activation(venv)


def run(compat_path: str | None, names: list[str], cmd: list[str], jobs: int, as_json: bool,
        committed_only: bool, python: bool = False) -> None:
    if not cmd:
        raise InputError("give the command after --: vline each [LINE...] -- CMD...")
    compat = compat_mod.load(compat_path, project=True)
    lines = select(compat, names)
    board = Board(lines)
    src = checkouts.source(compat, committed_only)  # the user's tree is read once per run, not per line

    def one(ln: compat_mod.Line) -> None:
        t0 = time.monotonic()
        board.set(ln.line, status="preparing")
        try:
            co = checkouts.prepare(compat, ln, committed_only=committed_only, src=src, shared_target=jobs <= 1)
        except VlineError as e:
            board.set(ln.line, status="failed", error=f"checkout: {e.message}", seconds=time.monotonic() - t0)
            return
        log = co.log
        env = {**os.environ, **co.env(compat)}
        if python:
            board.set(ln.line, status="installing", checkout=str(co.path), log=str(log))
            log.unlink(missing_ok=True)
            try:
                env.update(_python_env(compat, co, ln))
            except VlineError as e:
                board.set(ln.line, status="failed", error=f"python: {e.message}", log=str(log),
                          seconds=time.monotonic() - t0)
                return
        board.set(ln.line, status="running", checkout=str(co.path), log=str(log))
        try:
            with open(log, "ab" if python else "wb") as out:
                code = subprocess.run(cmd, cwd=co.compat_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL).returncode
        except OSError as e:
            code = 127
            log.write_text(f"vline: cannot run {cmd[0]}: {e.strerror}\n")
        board.set(ln.line, status="passed" if code == 0 else "failed", exit_code=code,
                  seconds=time.monotonic() - t0)
        if not ui.on_terminal():
            ui.note(f"vline: each {ln.line}: {'passed' if code == 0 else f'FAILED (exit {code})'} "
                    f"in {time.monotonic() - t0:.1f}s")

    with live(board), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, lines))

    results = list(board.rows.values())
    failed = [r for r in results if r["status"] != "passed"]
    for r in results:
        text = Path(r["log"]).read_text(errors="replace") if r["log"] and Path(r["log"]).exists() else ""
        if emit.active():
            with emit.log_group(f"{r['line']}: {r['status']}"):
                sys.stderr.write(text)
        elif r in failed:
            ui.note(f"--- {r['line']} ({r['error'] or 'exit ' + str(r['exit_code'])}) " + "-" * 20)
            ui.note("".join(text.splitlines(keepends=True)[-TAIL:]).rstrip())
    if as_json:
        ui.result_json([{**{k: r[k] for k in ("line", "tag", "status", "exit_code", "checkout", "log", "error")},
                         "seconds": round(r["seconds"], 2)} for r in results])
    else:
        for r in results:
            emit.record({"line": r["line"], "status": r["status"], "exit_code": r["exit_code"],
                         "seconds": f"{r['seconds']:.1f}"})
    emit.summary_table("vline each: " + " ".join(cmd), ["line", "tag", "status", "seconds"],
                         [[r["line"], r["tag"], r["status"], f"{r['seconds']:.1f}"] for r in results])
    if failed:
        logs = next((Path(r["log"]).parent for r in failed if r["log"]), None)
        raise Refused(f"failed on {', '.join(r['line'] for r in failed)}" + (f" (logs in {logs})" if logs else ""))
