"""Per-line builds share work: `vline each -- cargo build` over the four lines of a workspace with real
crates.io dependencies (serde with derive, serde_json, regex), against one line's cold build of the same
workspace, measured in the same run. Lines run one after another share one CARGO_TARGET_DIR, so every
dependency the lines have in common is compiled once; `-j 2` (parallel lines, a target dir each) is
printed beside it.

Run on demand: `python benchmarks/targets.py` (needs git, cargo and crates.io once, for the sources).
Target: 4 lines <= 1.6x one line's cold build.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import timed, workspace

SIM = textwrap.dedent("""\
    [package]
    name = "sim"
    version.workspace = true
    edition = "2021"

    [dependencies]
    vllm-engine-core-client.workspace = true
    serde = { version = "1", features = ["derive"] }
    serde_json = "1"
    regex = "1"
    """)
MAIN = textwrap.dedent("""\
    #[derive(serde::Serialize)]
    struct Out { wire: &'static str, n: usize }

    fn main() {
        let req = vllm_engine_core_client::EngineCoreRequest::default();
        let re = regex::Regex::new(r"^v?[0-9]+").unwrap();
        let out = Out { wire: vllm_engine_core_client::WIRE, n: req.prompt_token_ids.len() };
        println!("{} {}", serde_json::to_string(&out).unwrap(), re.is_match(out.wire));
    }
    """)


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)

        def with_crates_io(ws: Path) -> None:
            (ws / "sim" / "Cargo.toml").write_text(SIM)
            (ws / "sim" / "src" / "main.rs").write_text(MAIN)
            subprocess.run(["cargo", "generate-lockfile"], cwd=ws, check=True, capture_output=True)
            subprocess.run(["cargo", "fetch"], cwd=ws, check=True, capture_output=True)  # sources, not timed

        _, ws = workspace(root, with_crates_io)
        env = {**os.environ, "NO_COLOR": "1"}
        env.pop("CARGO_TARGET_DIR", None)

        one_ws = root / "one"
        shutil.copytree(ws, one_ws, ignore=shutil.ignore_patterns("target"))
        one = timed(["cargo", "build", "--locked"], one_ws, {**env, "CARGO_TARGET_DIR": str(root / "t-one")})
        seq = timed([sys.executable, "-m", "vline", "each", "--", "cargo", "build", "--locked"], ws,
                    {**env, "VLINE_CACHE": str(root / "cache-seq")})
        par = timed([sys.executable, "-m", "vline", "each", "-j", "2", "--", "cargo", "build", "--locked"], ws,
                    {**env, "VLINE_CACHE": str(root / "cache-par")})
        print(f"one line, cold cargo build        {one:6.1f} s  (baseline)")
        print(f"vline each -- cargo build (4)     {seq:6.1f} s  {seq / one:.2f}x  (one target dir, lines in turn)")
        print(f"vline each -j 2 -- cargo build (4) {par:5.1f} s  {par / one:.2f}x  (a target dir per line)")
        print(f"target <= 1.6x: {'met' if seq / one <= 1.6 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
