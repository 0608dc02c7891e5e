"""Fetching goldens: `vline golden fetch` of 12 goldens of 32 MiB from a local S3 server (moto, over
HTTP on loopback) against a sequential `aws s3 cp` loop of the same objects, in the same run; then a
warm run, which must make zero requests. Target: >= 3x. Run on demand: `python benchmarks/fetch.py`
(needs `pip install awscli` for the baseline).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from s3world import FaultProxy, MotoServer  # noqa: E402

TARGET = 3.0
BUCKET = "bench-goldens"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--size-mib", type=int, default=32)
    args = ap.parse_args()
    aws = shutil.which("aws")
    server = MotoServer()
    proxy = FaultProxy(server.port)  # counts connections: the warm run must open none
    try:
        import boto3

        env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url, "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1"}
        client = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="bench",
                              aws_secret_access_key="bench")
        client.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            proj = root / "proj"
            (proj / "conformance").mkdir(parents=True)
            shutil.copy(REPO / "compat.toml", proj / "compat.toml")
            entries = []
            for i in range(args.count):
                body = os.urandom(args.size_mib << 20)
                key = f"conformance/v0.22.1/A100/m/w{i:02}.jsonl.gz"
                client.put_object(Bucket=BUCKET, Key=key, Body=body)
                entries.append(f'[[golden]]\nline = "0.22"\nbucket_path = "{key}"\n'
                               f'sha256 = "{hashlib.sha256(body).hexdigest()}"\nconfig_hash = "{"0" * 64}"\n'
                               f'workload = "w{i:02}"\nrole = "fidelity"\n')
            (proj / "conformance" / "manifest.toml").write_text("\n".join(entries))
            vline = [sys.executable, "-m", "vline", "golden", "fetch", "--bucket", f"s3://{BUCKET}"]
            total = args.count * args.size_mib

            t0 = time.perf_counter()
            cold = subprocess.run(vline, cwd=proj, env={**env, "VLINE_CACHE": str(root / "cache")}, check=True,
                                  capture_output=True, text=True)
            t_vline = time.perf_counter() - t0

            t_aws = None
            if aws:
                out = root / "aws"
                out.mkdir()
                t0 = time.perf_counter()
                for i in range(args.count):
                    key = f"conformance/v0.22.1/A100/m/w{i:02}.jsonl.gz"
                    subprocess.run([aws, "s3", "cp", f"s3://{BUCKET}/{key}", str(out / f"{i}"),
                                    "--endpoint-url", proxy.url, "--only-show-errors"], env=env, check=True)
                t_aws = time.perf_counter() - t0

            proxy.reset_counts()
            t0 = time.perf_counter()
            warm = subprocess.run(vline, cwd=proj, env={**env, "VLINE_CACHE": str(root / "cache")}, check=True,
                                  capture_output=True, text=True)
            t_warm = time.perf_counter() - t0
            warm_connections = proxy.connections
    finally:
        proxy.close()
        server.stop()
    print(f"vline golden fetch (cold)   {t_vline:6.2f} s  {total / t_vline:7.1f} MiB/s  ({args.count} x {args.size_mib} MiB); "
          f"{cold.stderr.strip().splitlines()[-1]}")
    if t_aws is not None:
        print(f"aws s3 cp, sequential       {t_aws:6.2f} s  {total / t_aws:7.1f} MiB/s")
        ratio = t_aws / t_vline
        print(f"ratio {ratio:.2f}x  (target >= {TARGET}x: {'met' if ratio >= TARGET else 'MISSED'})")
    else:
        print("aws s3 cp: not installed (pip install awscli) - no baseline this run")
    print(f"vline golden fetch (warm)   {t_warm:6.2f} s  {warm_connections} connections to S3; "
          f"{warm.stderr.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
