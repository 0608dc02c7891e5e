from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import gitworld  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# env vars that would change vline's behaviour if inherited from a CI runner
# the SPEC §4 check deployment, as fingerprint flags
CHECK_FLAGS = ["--gpu", "A100", "--vllm-tag", "v0.22.1", "--model", "facebook/opt-125m", "--tp", "1",
               "--gpu-memory-utilization", "0.85", "--max-model-len", "2048", "--max-num-seqs", "64",
               "--block-size", "16", "--no-enforce-eager", "--prefix-caching"]
_SCRUB = ("GITHUB_ACTIONS", "GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "VLINE_COMPAT", "VLINE_DEBUG")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def vline(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
          check_code: int | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user or CI job would."""
    res = subprocess.run([sys.executable, "-m", "vline", *args], cwd=cwd, env=env or clean_env(),
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert "Traceback" not in res.stderr, res.stderr
    if check_code is not None:
        assert res.returncode == check_code, (res.returncode, res.stdout, res.stderr)
    return res


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (except build output), for 'nothing was written' assertions."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "target" not in p.relative_to(root).parts}


ERROR_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error: (?P<msg>.+)$")


def error_lines(stderr: str) -> list[re.Match]:
    """The `file:line: error: message` lines of stderr; every stderr line must be one (no noise)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("vline: ")]
    matches = [ERROR_LINE.match(ln) for ln in lines]
    assert lines and all(matches), stderr
    return matches  # type: ignore[return-value]


def write_golden(root: Path, line: str, tag: str, workload: str = "chat") -> None:
    """conformance/manifest.toml beside compat.toml with one generated golden entry for `line`."""
    from vline.edits.manifest_edit import add_entry

    path = root / "conformance" / "manifest.toml"
    path.parent.mkdir(exist_ok=True)
    text = path.read_text() if path.exists() else ""
    path.write_text(add_entry(text, {"line": line, "bucket_path": f"conformance/{tag}/A100/m/{workload}.jsonl.gz",
                                     "sha256": "a" * 64, "config_hash": "b" * 64, "workload": workload,
                                     "role": "fidelity"}))


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> gitworld.World:
    return gitworld.build(tmp_path_factory.mktemp("world"))


@pytest.fixture
def workspace(world, tmp_path) -> Path:
    return world.new_workspace(tmp_path / "ws")


@pytest.fixture
def project(tmp_path) -> Path:
    """An empty project folder with the repo's own compat.toml."""
    d = tmp_path / "project"
    d.mkdir()
    (d / "compat.toml").write_bytes((REPO / "compat.toml").read_bytes())
    return d


# CI runs are reproducible: the same examples every run.
from hypothesis import settings as _hsettings  # noqa: E402

_hsettings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    _hsettings.load_profile("ci")


# --- servers the tests share: one per test module ---------------------------------------------------

@pytest.fixture(scope="module")
def moto():
    """moto's standalone S3 server over real HTTP."""
    from s3world import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Debian's docker-registry on loopback: `host:port`."""
    import shutil

    from s3world import free_port, wait_for_port

    exe = shutil.which("docker-registry")
    if exe is None:
        pytest.fail("Debian's docker-registry is not installed (apt-get install docker-registry; .ci/run does)")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    cfg = root / "config.yml"
    cfg.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
                   f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([exe, "serve", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
