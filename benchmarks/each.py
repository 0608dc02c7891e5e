"""`vline each` overhead at an unchanged HEAD (checkouts already made, as on a developer's second run):
the fixed cost is `each` over one line minus the command itself, the per-line cost the slope from one
line to four, each the median over rounds of back-to-back runs. The baseline of the same run: `python -c "import typer"` and `true` run directly.

Run on demand: `python benchmarks/each.py` (needs git and cargo). Targets: fixed <= 80 ms, per line <= 15 ms.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

from _common import timed, workspace


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        _, ws = workspace(root)
        env = {**os.environ, "VLINE_CACHE": str(root / "cache"), "NO_COLOR": "1"}
        vline = [sys.executable, "-m", "vline", "each"]
        timed([*vline, "--", "true"], ws, env)  # make the checkouts and remember their locks
        one, four, base = [], [], []
        for _ in range(21):
            one.append(timed([*vline, "0.23", "--", "true"], ws, env))
            four.append(timed([*vline, "--", "true"], ws, env))
            base.append(timed([sys.executable, "-c", "import typer"], ws, env))
        m1, m4, mb = (statistics.median(x) for x in (one, four, base))
        # medians of differences within a round (its three runs are back to back): a slow spell of the
        # machine moves a whole round, not one median
        fixed = statistics.median(a - b for a, b in zip(one, base))
        per_line = statistics.median((c - a) / 3 for a, c in zip(one, four))
        print(f"each, 1 line   {m1 * 1000:7.1f} ms   4 lines {m4 * 1000:7.1f} ms   import typer {mb * 1000:6.1f} ms")
        print(f"fixed (1 line - import typer) {fixed * 1000:6.1f} ms (target <= 80)   per line {per_line * 1000:6.1f} ms "
              f"(target <= 15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
