"""`vline each` overhead at an unchanged HEAD (checkouts already made, as on a developer's second run):
the fixed cost is `each` over one line minus the command itself, the per-line cost the slope from one
line to four. The baseline of the same run: `python -c "import typer"` and `true` run directly.

Run on demand: `python benchmarks/each.py` (needs git and cargo). Targets: fixed <= 80 ms, per line <= 15 ms.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import gitworld  # noqa: E402


def timed(args: list[str], cwd: Path, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        world = gitworld.build(root / "world")
        ws = world.new_workspace(root / "repo")
        gitworld.git(ws, "init", "-q", "-b", "main")
        gitworld.git(ws, "add", "-A")
        gitworld.git(ws, "commit", "-q", "-m", "bench")
        env = {**os.environ, "VLINE_CACHE": str(root / "cache"), "NO_COLOR": "1"}
        vline = [sys.executable, "-m", "vline", "each"]
        timed([*vline, "--", "true"], ws, env)  # make the checkouts and remember their locks
        one, four, base = [], [], []
        for _ in range(9):
            one.append(timed([*vline, "0.23", "--", "true"], ws, env))
            four.append(timed([*vline, "--", "true"], ws, env))
            base.append(timed([sys.executable, "-c", "import typer"], ws, env))
        m1, m4, mb = (statistics.median(x) for x in (one, four, base))
        fixed, per_line = m1 - mb, (m4 - m1) / 3
        print(f"each, 1 line   {m1 * 1000:7.1f} ms   4 lines {m4 * 1000:7.1f} ms   import typer {mb * 1000:6.1f} ms")
        print(f"fixed (1 line - import typer) {fixed * 1000:6.1f} ms (target <= 80)   per line {per_line * 1000:6.1f} ms "
              f"(target <= 15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
