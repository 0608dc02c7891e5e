"""Hashing a golden: vline's verifier against `sha256sum` on the same 1 GiB file, in the same run.

Alternates the two, takes the median wall time of each, prints throughput and the ratio
(sha256sum time / vline time; target >= 0.9x), and the peak RSS of vline's hashing process for a
64 MiB and a 1 GiB file (memory must stay flat). Run on demand: `python benchmarks/verify.py`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.9
HASH = ("import resource, sys; from vline.goldens import sha256_file; print(sha256_file(sys.argv[1])); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def make(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)


def vline_hash(path: Path) -> tuple[float, str, int]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", HASH, str(path)], capture_output=True, text=True, check=True)
    digest, rss = out.stdout.split()
    return time.perf_counter() - t0, digest, int(rss)


def coreutils(path: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout.split()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        big, small = Path(d) / "golden.jsonl.gz", Path(d) / "small.jsonl.gz"
        make(big, args.size_mib << 20)
        make(small, 64 << 20)
        coreutils(big)  # page cache warm for both
        a, b = [], []
        for _ in range(args.runs):
            t, digest, rss_big = vline_hash(big)
            a.append(t)
            t2, expect = coreutils(big)
            b.append(t2)
            assert digest == expect, "vline and sha256sum disagree"
        _, _, rss_small = vline_hash(small)
    ma, mb = statistics.median(a), statistics.median(b)
    mib = args.size_mib
    print(f"vline sha256   median {ma:6.2f} s  {mib / ma:7.1f} MiB/s  (n={args.runs})")
    print(f"sha256sum      median {mb:6.2f} s  {mib / mb:7.1f} MiB/s  (n={args.runs})")
    print(f"ratio {mb / ma:.2f}x of sha256sum's speed  (target >= {TARGET}x: {'met' if mb / ma >= TARGET else 'MISSED'})")
    print(f"peak RSS: {rss_small / 1024:.1f} MiB hashing 64 MiB, {rss_big / 1024:.1f} MiB hashing {mib} MiB"
          f" ({'flat' if rss_big < rss_small * 1.2 + 4096 else 'GROWS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
