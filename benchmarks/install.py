"""Time to first matrix on a cold runner: a fresh virtual environment, vline installed from wheels already
in a local folder (the runner's cache: no network), then `vline matrix`. Measured with pip and, when it
can be had, uv; beside it, the same with the dependencies vline had before extras (boto3, GitPython, the
docker SDK), the baseline of this run.

Run on demand: `python benchmarks/install.py` (builds the wheels once, from PyPI or pip's cache).
Target: <= 2 s.
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OLD = ["boto3>=1.28", "gitpython>=3.1", "docker>=7"]


def run(args: list[str], **kw) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def cold(tool: list[str] | None, wheels: Path, extra: list[str], root: Path, flags: tuple[str, ...] = ()) -> float:
    venv = root / f"venv-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    if tool:  # uv
        run([*tool, "venv", "-q", str(venv)])
        run([*tool, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--no-index",
             "--find-links", str(wheels), "vline", *extra])
    else:
        run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
             "--disable-pip-version-check", "--no-index", "--find-links", str(wheels), *flags, "vline", *extra])
    run([str(venv / "bin" / "vline"), "matrix"], cwd=REPO)
    seconds = time.perf_counter() - t0
    shutil.rmtree(venv)
    return seconds


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        wheels = root / "wheels"
        run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), str(REPO), *OLD])
        uv = shutil.which("uv")
        if not uv:  # uv from PyPI into a scratch venv, for the measurement only
            run([sys.executable, "-m", "venv", str(root / "uvenv")])
            try:
                run([str(root / "uvenv" / "bin" / "pip"), "install", "-q", "uv"])
                uv = str(root / "uvenv" / "bin" / "uv")
            except subprocess.CalledProcessError:
                uv = None
        rows = []
        # pip compiles every installed module to bytecode (pygments alone is hundreds); --no-compile leaves
        # that to the first import, which compiles only what vline's commands load
        for name, tool, flags in (("pip", None, ()), ("pip --no-compile", None, ("--no-compile",)),
                                  ("uv", [uv] if uv else None, ())):
            if name == "uv" and not uv:
                continue
            now = statistics.median(cold(tool, wheels, [], root, flags) for _ in range(3))
            before = statistics.median(cold(tool, wheels, OLD, root, flags) for _ in range(3))
            rows.append((name, now, before))
        for name, now, before in rows:
            print(f"{name:<16} install + vline matrix: {now:5.2f} s   with boto3, GitPython, docker (before): "
                  f"{before:5.2f} s   ratio {now / before:.2f}x   target <= 2 s: {'met' if now <= 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
