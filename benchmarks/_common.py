"""What the benchmarks share: a wall-clock timer of one process and a committed git workspace of the
tests' fixtures (an upstream whose crate drifts across tags, a fork, a workspace depending on it)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import gitworld  # noqa: E402


def timed(args: list[str], cwd: Path, env: dict) -> float:
    """Seconds one process takes (its output discarded); a failure stops the benchmark."""
    t0 = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def workspace(root: Path, prepare=None) -> tuple[gitworld.World, Path]:
    """The fixtures' world under `root` and a workspace committed as its own repository; `prepare(ws)`
    edits it before the commit."""
    world = gitworld.build(root / "world")
    ws = world.new_workspace(root / "repo")
    if prepare:
        prepare(ws)
    gitworld.git(ws, "init", "-q", "-b", "main")
    gitworld.git(ws, "add", "-A")
    gitworld.git(ws, "commit", "-q", "-m", "bench")
    return world, ws
