"""Per-line work at scale, in one run each against its own baseline:

* `vline each -j2` against `vline each -j1` on a light command over the four lines of a real
  workspace (checkouts already made: the warm path CI and developers hit);
* `vline build` of four lines against the build of one (the layers they share are built once).

Run on demand: `python benchmarks/lines.py` (needs git, cargo and the Docker engine).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _common

TEMPLATE = """\
FROM scratch
COPY shared.bin /shared.bin
ARG VLLM_TARGET_VERSION={{ tag }}
COPY Cargo.toml Cargo.lock /pinned/
"""


def timed(args: list[str], cwd: Path, env: dict) -> float:
    return _common.timed([sys.executable, "-m", "vline", *args], cwd, env)


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        tag = f"bench{os.getpid()}"

        def with_images(ws: Path) -> None:
            (ws / "Dockerfile.template").write_text(TEMPLATE)
            (ws / "shared.bin").write_bytes(os.urandom(64 << 20))  # a layer every line shares
            (ws / "compat.toml").write_text((ws / "compat.toml").read_text().replace(
                'image = "localhost/vline-sim"', f'image = "localhost/vline-bench-{tag}"'))

        _, ws = _common.workspace(root, with_images)
        env = {**os.environ, "VLINE_CACHE": str(root / "cache"), "NO_COLOR": "1"}
        light = ["--", "cargo", "metadata", "--format-version", "1", "--locked", "--no-deps"]
        timed(["each", *light], ws, env)  # make the checkouts
        j1, j2 = [], []
        for _ in range(5):
            j1.append(timed(["each", "-j", "1", *light], ws, env))
            j2.append(timed(["each", "-j", "2", *light], ws, env))
        m1, m2 = statistics.median(j1), statistics.median(j2)
        print(f"vline each -j1   median {m1:5.2f} s  (4 lines, n=5)")
        print(f"vline each -j2   median {m2:5.2f} s")
        print(f"speed-up {m1 / m2:.2f}x on 2 cores")

        one = timed(["build", "0.23"], ws, env)  # cold: builds the shared layer
        four = timed(["build"], ws, env)  # 0.23 again plus three more lines, reusing the shared layer
        print(f"vline build 0.23  {one:5.2f} s  (1 line, cold)")
        print(f"vline build       {four:5.2f} s  (4 lines, shared layer reused)")
        print(f"ratio {four / one:.2f}x for 4x the lines")
        subprocess.run(f"docker images -q localhost/vline-bench-{tag} | sort -u | xargs -r docker rmi -f",
                       shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
