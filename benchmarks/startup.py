"""Start-up cost of the commands every CI leg calls (matrix, env, pin, check, fingerprint, caps).

Alternates each command on the repo's compat.toml with the baseline `python -c "import typer"` (the
floor for any typer CLI), and prints the median wall time of each and the median of the ratios of
back-to-back pairs.
Target: <= 0.75x (issue 12: ahead of the Rust tool's warm `cargo xtask`, ~51 ms here).
Run on demand: `python benchmarks/startup.py [--runs N]`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _common import timed

REPO = Path(__file__).resolve().parent.parent
TARGET = 0.75
FP = ["--gpu", "A100", "--vllm-tag", "v0.22.1", "--model", "facebook/opt-125m", "--tp", "1",
      "--gpu-memory-utilization", "0.85", "--max-model-len", "2048", "--max-num-seqs", "64", "--block-size", "16",
      "--no-enforce-eager", "--prefix-caching"]
# pin first: it pins the project's manifest to the default line, which check then finds clean
COMMANDS = {"pin --no-update": ["pin", "--no-update"], "matrix": ["matrix"], "env": ["env", "0.22"],
            "check": ["check"], "fingerprint": ["fingerprint", *FP], "caps": ["caps"]}

# Bytecode on, as after `pip install`: the warm-up run writes vline's .pyc files as typer's already are.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"NO_COLOR": "1"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="runs of each command (at least 15)")
    args = ap.parse_args()
    runs = max(args.runs, 15)
    exe = shutil.which("vline")
    vline = [exe] if exe else [sys.executable, "-m", "vline"]
    baseline = [sys.executable, "-c", "import typer"]
    with tempfile.TemporaryDirectory() as d:
        project = Path(d)  # pin writes: a copy of the repo's window with a manifest pinned at its default
        (project / "compat.toml").write_bytes((REPO / "compat.toml").read_bytes())
        (project / "Cargo.toml").write_text(  # the warm-up pins it to the default line; timed runs find it pinned
            '[package]\nname = "bench"\nversion = "0.1.0"\n\n[dependencies]\nvllm-engine-core-client = '
            '{ git = "https://github.com/vllm-project/vllm.git", rev = "' + "0" * 40 + '" }\n')
        verdicts = []
        print(f"{'command':<18}{'median':>10}{'min':>10}{'typer':>10}{'ratio':>8}")
        for name, args_ in COMMANDS.items():
            cmd = [*vline, *args_]
            for c in (cmd, baseline):  # warm the page cache and .pyc files
                timed(c, project, ENV)
            a, b = [], []
            for _ in range(runs):
                a.append(timed(cmd, project, ENV))
                b.append(timed(baseline, project, ENV))
            ma, mb = statistics.median(a), statistics.median(b)
            # the median of each pair's ratio: a pair runs back to back, so a slow spell of the machine
            # moves both of its runs and cancels out, where it would move one median and not the other
            ratio = statistics.median(x / y for x, y in zip(a, b))
            verdicts.append(ratio <= TARGET)
            print(f"vline {name:<12}{ma * 1000:8.1f}ms{min(a) * 1000:8.1f}ms{mb * 1000:8.1f}ms{ratio:7.2f}x")
    print(f"target <= {TARGET}x `import typer` for every command: {'met' if all(verdicts) else 'MISSED'} (n={runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
