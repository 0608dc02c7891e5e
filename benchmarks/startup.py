"""Startup cost of `vline matrix`, the command every CI workflow runs first.

Alternates `vline matrix` on the repo's compat.toml with the baseline `python -c "import typer"`
(the floor for any typer CLI), takes the median wall time of each, and prints the ratio.
Target: <= 1.3x. Run on demand: `python benchmarks/startup.py [--runs N]`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.3


# Bytecode on, as after `pip install`: the warm-up run writes vline's .pyc files as typer's already are.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"NO_COLOR": "1"}


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="runs of each command (at least 15)")
    args = ap.parse_args()
    runs = max(args.runs, 15)
    exe = shutil.which("vline")
    candidate = [exe, "matrix"] if exe else [sys.executable, "-m", "vline", "matrix"]
    baseline = [sys.executable, "-c", "import typer"]
    for cmd in (candidate, baseline):  # warm the page cache and .pyc files
        timed(cmd)
    a, b = [], []
    for _ in range(runs):
        a.append(timed(candidate))
        b.append(timed(baseline))
    ma, mb = statistics.median(a), statistics.median(b)
    ratio = ma / mb
    print(f"vline matrix        median {ma * 1000:7.1f} ms  (min {min(a) * 1000:.1f}, n={runs})")
    print(f"import typer        median {mb * 1000:7.1f} ms  (min {min(b) * 1000:.1f}, n={runs})")
    print(f"ratio {ratio:.2f}x  (target <= {TARGET}x: {'met' if ratio <= TARGET else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
