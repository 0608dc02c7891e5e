"""The test callers' build, test and replay command: records what the command saw, runs the rest of its
arguments (after `--`), and fails when its line is named in $STANDIN_FAIL (KIND:LINE,...).

    python3 record.py KIND [-- CMD...]   ->  $STANDIN_OUT/KIND/<line>.json
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

VARS = ("LINE", "TAG", "VLLM_TARGET_VERSION", "PROTOCOL_REV", "PATCH_REPO", "PATCH_REV", "FRONTEND_REPO",
        "FRONTEND_REF", "IMAGE_TAG", "VLINE_LINE", "VLINE_TAG", "CONFORMANCE_BUCKET", "AWS_ENDPOINT_URL")


def main() -> int:
    kind = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    line = os.environ.get("VLINE_LINE") or os.environ["LINE"]
    rec: dict = {"line": line, "cwd": os.getcwd(), "env": {k: os.environ.get(k) for k in VARS},
                 "aws_credentials": bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_SESSION_TOKEN"))}
    if Path("compat.toml").exists():
        rec["compat_sha256"] = hashlib.sha256(Path("compat.toml").read_bytes()).hexdigest()
    manifest = Path("Cargo.toml")
    if manifest.exists():
        rec["cargo_toml"] = manifest.read_text()
    if os.environ.get("CONFORMANCE_MANIFEST"):
        goldens = tomllib.loads(Path(os.environ["CONFORMANCE_MANIFEST"]).read_text())["golden"]
        rec["goldens"] = [{"workload": g["workload"], "exists": Path(g["bucket_path"]).is_file()} for g in goldens]
    code = 0
    if cmd:
        res = subprocess.run(cmd, capture_output=True, text=True)
        rec["stdout"], rec["exit_code"] = res.stdout, res.returncode
        code = res.returncode
        sys.stderr.write(res.stderr)
    failing = [x.strip() for x in os.environ.get("STANDIN_FAIL", "").split(",") if x.strip()]
    if f"{kind}:{line}" in failing:
        rec["failed_on_purpose"] = True
        code = code or 1
    out = Path(os.environ["STANDIN_OUT"]) / kind
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{line}.json").write_text(json.dumps(rec, indent=1))
    print(f"record {kind} {line}: exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
