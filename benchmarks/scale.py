"""Growth of the read commands with the size of the window: `check`, `matrix`, `show --json`,
`golden list --json` and `promote --dry-run` on N lines with 10 goldens each (and gate evidence for
every line), for N = 100, 1,000, 10,000. Prints each command's median time and the growth factor from
one size to the next (10x the lines: linear is ~10x). Target: every command <= 0.5 s at 1,000 lines.

Run on demand: `python benchmarks/scale.py [--runs N] [--sizes 100,1000,10000]`.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.5
REV = "0decac0d96c42b49572498019f0a0e3600f50398"
COMMANDS = [["check"], ["matrix"], ["show", "--json"], ["golden", "list", "--json"], ["promote", "--dry-run"]]


def make_project(root: Path, n: int, goldens_per_line: int = 10) -> None:
    lines = [f"{1 + i // 1000}.{i % 1000}" for i in range(n)]
    newest = lines[-1]
    compat = ['[vline]\nmax_stable = 100000\n']
    compat.append(f'[[vllm]]\nline = "nightly"\ntag = "nightly"\nprotocol_rev = "{REV}"\n')
    for ln in lines:
        compat.append(f'[[vllm]]\nline = "{ln}"\ntag = "v{ln}.0"\nprotocol_rev = "{REV}"\n'
                      + ("default = true\n" if ln == newest else ""))
    (root / "compat.toml").write_text("\n".join(compat))
    manifest, evidence = [], root / ".vline" / "evidence"
    evidence.mkdir(parents=True)
    for ln in lines:
        block = [f"# BEGIN {ln} GOLDENS"]
        golden_set = []
        for w in range(goldens_per_line):
            sha = hashlib.sha256(f"{ln}/{w}".encode()).hexdigest()
            bp = f"conformance/v{ln}.0/A100/m/w{w}.jsonl.gz"
            block.append(f'[[golden]]\nline = "{ln}"\nbucket_path = "{bp}"\nsha256 = "{sha}"\n'
                         f'config_hash = "{"b" * 64}"\nworkload = "w{w}"\nrole = "fidelity"')
            golden_set.append({"bucket_path": bp, "sha256": sha, "workload": f"w{w}", "role": "fidelity"})
        block.append(f"# END {ln} GOLDENS\n")
        manifest.append("\n".join(block))
        ev = {"line": ln, "tag": f"v{ln}.0", "protocol_rev": REV, "patch_repo": "", "patch_rev": "",
              "goldens": sorted(golden_set, key=lambda d: (d["workload"], d["sha256"])), "command": ["true"],
              "exit_code": 0, "passed": True, "vline_version": "bench", "time": "2026-01-01T00:00:00+00:00"}
        (evidence / f"{ln}.json").write_text(json.dumps(ev))
    (root / "conformance").mkdir()
    (root / "conformance" / "manifest.toml").write_text("\n".join(manifest))


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "vline", *cmd], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    if res.returncode not in (0, 1):
        raise SystemExit(f"vline {' '.join(cmd)} failed ({res.returncode}): {res.stderr[-500:]}")
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="100,1000,10000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env = {**os.environ, "NO_COLOR": "1", "VLINE_QUIET": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    results: dict[str, list[float]] = {" ".join(c): [] for c in COMMANDS}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = Path(tmp) / str(n)
            root.mkdir()
            make_project(root, n)
            for cmd in COMMANDS:
                times = [timed(cmd, root, env) for _ in range(args.runs)]
                results[" ".join(cmd)].append(statistics.median(times))
    head = "".join(f"{n:>10,}" for n in sizes)
    print(f"{'command':<22}{head}   growth per 10x lines")
    verdicts = []
    for name, times in results.items():
        growth = "  ".join(f"{b / a:5.1f}x" for a, b in zip(times, times[1:]))
        print(f"{name:<22}" + "".join(f"{t:>9.3f}s" for t in times) + f"   {growth}")
        if 1000 in sizes:
            verdicts.append(times[sizes.index(1000)] <= TARGET_S)
    if verdicts:
        print(f"target <= {TARGET_S} s at 1,000 lines x 10 goldens: {'met' if all(verdicts) else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
