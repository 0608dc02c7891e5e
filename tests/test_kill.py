"""Kill vline at random moments, then rerun the same command: it must finish the job, and leave compat.toml,
Cargo.toml, Cargo.lock and the Dockerfile defaults consistent (`vline check` clean, `cargo metadata --locked`
happy). Real processes, real SIGKILL, real cargo slowed by a wrapper first on PATH so kills land inside and
around it.

VLINE_KILLS sets the kills per command (default 10: the file stays well under 90 s on 2 cores);
VLINE_KILL_SEED reproduces a run's delays (the seed is printed in every failure, and by `-s`).
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest
from conftest import clean_env, vline, write_golden
from gitworld import CRATE, _crate_files, commit, git

pytestmark = pytest.mark.cargo

KILLS = int(os.environ.get("VLINE_KILLS") or 10)
SEED = int(os.environ.get("VLINE_KILL_SEED") or (0 if os.environ.get("CI") else random.randrange(2 ** 32)))
SLOW_CARGO = 0.25  # seconds the wrapper sleeps before exec'ing the real cargo
CONFIG = "f90fef94f6f258004f146d70c8a3aafe5aeb8dfb634ddf292cad3d355c808457"


# --- the world: an upstream that released v0.24.0, and a workspace committed at the default line 0.23 ----

class Kit:
    def __init__(self, world, root: Path) -> None:
        self.world = world
        self.root = root
        upstream = root / "upstream"
        git(root, "clone", "-q", str(world.upstream), str(upstream))
        git(upstream, "checkout", "-q", "main")
        self.rev24 = commit(upstream, _crate_files("0.4.0", "v0.24.0", True), "v0.24.0")
        git(upstream, "tag", "-a", "v0.24.0", "-m", "v0.24.0")
        self.upstream_url = upstream.as_uri()
        base = world.new_workspace(root / "base")
        for name in ("Cargo.toml", "compat.toml"):
            p = base / name
            p.write_text(p.read_text().replace(world.upstream_url, self.upstream_url))
        subprocess.run(["cargo", "generate-lockfile", "-q"], cwd=base, check=True)
        (base / "Dockerfile.template").write_text(textwrap.dedent(f"""\
            # syntax=docker/dockerfile:1
            ARG VLLM_TARGET_VERSION=v0.23.0
            ARG FRONTEND_REPO={self.upstream_url}
            ARG FRONTEND_REF={world.revs['v0.23.0']}   # the crate rev
            ARG LINE={{{{ line }}}}
            FROM scratch
            """))
        self.base = base
        # pin: a workspace left on line 0.22 (fork patch), which `vline pin` brings back to the default
        self.on22 = root / "on22"
        shutil.copytree(base, self.on22)
        vline("pin", "0.22", cwd=self.on22, check_code=0)
        # golden add: a capture of the default line
        (base / "chat.jsonl").write_text(
            json.dumps({"meta": {"model": "facebook/opt-125m", "gpu": "A100", "config_hash": CONFIG,
                                 "vllm_version": "0.23.0"}}) + "\n"
            + "".join(json.dumps({"prompt_tokens": 10 + i, "output_tokens": 20, "ttft_ms": 1.5}) + "\n"
                      for i in range(3)))
        # promote: two fidelity goldens of 0.23 and passing gate evidence for them
        self.gated = root / "gated"
        shutil.copytree(base, self.gated)
        write_golden(self.gated, "0.23", "v0.23.0", "chat")
        write_golden(self.gated, "0.23", "v0.23.0", "code")
        from vline import compat as compat_mod
        from vline import evidence, manifest as manifest_mod

        compat = compat_mod.load(self.gated / "compat.toml")
        goldens = manifest_mod.load(compat.path).for_line("0.23")
        ev = self.gated / ".vline" / "evidence" / "0.23.json"
        ev.parent.mkdir(parents=True)
        ev.write_text(json.dumps(evidence.record(compat.get("0.23"), goldens, ["replay"], 0, True)))
        real = shutil.which("cargo")
        self.slow_bin = root / "slowbin"
        self.slow_bin.mkdir()
        (self.slow_bin / "cargo").write_text(f"#!/bin/sh\nsleep {SLOW_CARGO}\nexec {real} \"$@\"\n")
        (self.slow_bin / "cargo").chmod(0o755)

    def slow_env(self) -> dict[str, str]:
        return clean_env(PATH=f"{self.slow_bin}{os.pathsep}{os.environ['PATH']}")


# command -> (arguments, workspace to start from)
COMMANDS = {
    "roll": (["roll", "v0.24.0"], "base"),
    "pin": (["pin"], "on22"),
    "golden add": (["golden", "add", "chat.jsonl", "--line", "0.23"], "base"),
    "promote": (["promote", "0.23"], "gated"),
}


@pytest.fixture(scope="module")
def kit(world, tmp_path_factory) -> Kit:
    return Kit(world, tmp_path_factory.mktemp("kill"))


# --- what must hold after the rerun ------------------------------------------------------------------

def _default(ws: Path) -> dict:
    return next(e for e in tomllib.loads((ws / "compat.toml").read_text())["vllm"] if e.get("default"))


def consistency_problems(ws: Path, kit: Kit, kind: str) -> list[str]:
    problems = []
    res = vline("check", cwd=ws)
    if res.returncode != 0:
        problems.append(f"vline check exit {res.returncode}: {res.stdout.strip()}")
    line = _default(ws)
    if kind == "roll" and (line["line"], line["protocol_rev"]) != ("0.24", kit.rev24):
        problems.append(f"the default line is {line['line']}, not the rolled 0.24")
    manifest = tomllib.loads((ws / "Cargo.toml").read_text())
    dep = manifest["workspace"]["dependencies"][CRATE]
    patch = manifest.get("patch", {}).get(dep["git"], {}).get(CRATE)
    if dep.get("rev") != line["protocol_rev"]:
        problems.append(f"Cargo.toml pins {dep.get('rev')}, the default line {line['line']} is {line['protocol_rev']}")
    want_patch = {"git": line["patch_repo"], "rev": line["patch_rev"]} if line.get("patch_repo") else None
    if patch != want_patch:
        problems.append(f"Cargo.toml fork patch {patch}, the default line has {want_patch}")
    meta = subprocess.run(["cargo", "metadata", "--locked", "--offline", "--format-version", "1",
                           "--manifest-path", str(ws / "Cargo.toml")], capture_output=True, text=True)
    if meta.returncode != 0:
        problems.append(f"cargo metadata --locked: {meta.stderr.strip()[-400:]}")
    template = ws / "Dockerfile.template"
    if template.exists():
        args = dict(re.findall(r"^ARG (\w+)=(\S*)", template.read_text(), re.M))
        repo, ref = (line["patch_repo"], line["patch_rev"]) if line.get("patch_repo") else \
            (kit.upstream_url, line["protocol_rev"])
        want = {"VLLM_TARGET_VERSION": line["tag"], "FRONTEND_REPO": repo, "FRONTEND_REF": ref}
        if {k: args.get(k) for k in want} != want:
            problems.append(f"Dockerfile.template ARG defaults {args}, want {want}")
    left = [str(p.relative_to(ws)) for p in ws.rglob("*.vline-tmp")]
    if left:
        problems.append(f"temp files left: {left}")
    if (ws / ".vline" / "pending.json").exists():
        problems.append("the journal is still there")
    if kind == "golden add":
        goldens = tomllib.loads((ws / "conformance" / "manifest.toml").read_text()).get("golden", [])
        if [(g["line"], g["workload"]) for g in goldens] != [("0.23", "chat")]:
            problems.append(f"manifest goldens {goldens}")
    if kind == "promote" and _default(ws).get("fidelity_validated") is not True:
        problems.append("0.23 was not promoted")
    return problems


def _state(ws: Path, start: Path) -> str:
    """Where the kill left the workspace, for the figures and failure messages."""
    parts = []
    for name in ("compat.toml", "Cargo.toml", "Cargo.lock", "Dockerfile.template", "conformance/manifest.toml"):
        a, b = ws / name, start / name
        if a.exists() != b.exists() or (a.exists() and a.read_bytes() != b.read_bytes()):
            parts.append(name)
    if (ws / ".vline" / "pending.json").exists():
        parts.append("journal")
    if list(ws.rglob("*.vline-tmp")):
        parts.append("tmp")
    return "changed " + (", ".join(parts) if parts else "nothing")


# --- killing -----------------------------------------------------------------------------------------

def _run_killed(args: list[str], ws: Path, env: dict, delay: float, group: bool) -> tuple[str, str, int]:
    """Start the command, SIGKILL it after `delay` (its process group, or only vline itself and let the
    children it leaves finish), and return its stdout, stderr and exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "vline", *args], cwd=ws, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(delay)
    try:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except ProcessLookupError:
        pass
    out, err = proc.communicate(timeout=60)  # orphaned children hold the pipes until they are done
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    return out, err, proc.returncode


def _calibrate(kit: Kit, kind: str, tmp_path: Path) -> float:
    """How long an uninterrupted run takes (the shorter of two: a busy machine's hiccup is not the run)."""
    args, start = COMMANDS[kind]
    took = []
    for n in range(2):
        ws = tmp_path / f"{kind.replace(' ', '-')}-calibrate-{n}"
        shutil.copytree(getattr(kit, start), ws)
        t = time.monotonic()
        res = subprocess.run([sys.executable, "-m", "vline", *args], cwd=ws, env=kit.slow_env(), capture_output=True,
                             text=True, timeout=120)
        took.append(time.monotonic() - t)
        assert res.returncode == 0, res.stderr
        assert not consistency_problems(ws, kit, kind)
    return min(took)


def _one_kill(kit: Kit, kind: str, ws: Path, plan: dict) -> tuple[dict[str, int], str | None]:
    """One kill and the rerun after it: (figures, what went wrong or None)."""
    args, start = COMMANDS[kind]
    shutil.copytree(getattr(kit, start), ws)
    where = (f"seed={SEED} (VLINE_KILL_SEED) command={kind!r} kill #{plan['i']} after {plan['delay']}s "
             f"({'process group' if plan['group'] else 'vline only'})")
    out, err, status = _run_killed(args, ws, kit.slow_env(), plan["delay"], plan["group"])
    outs = [out]
    if status not in (0, -signal.SIGKILL) or "Traceback" in err:  # the kill came too late: it must have succeeded
        return {}, f"{where}: exit {status}\n{err}"
    landed = status == -signal.SIGKILL
    state = _state(ws, getattr(kit, start))
    fig = {"kills": 1, "landed": int(landed), "landed_mid_job": int(landed and state != "changed nothing"),
           "left_journal": int("journal" in state), "double_kills": 0, "survived": 0, "refused_rerun": 0}
    if plan["again"] is not None:
        out, err, status = _run_killed(args, ws, kit.slow_env(), plan["again"], True)
        outs.append(out)
        if "Traceback" in err or (status not in (0, -signal.SIGKILL) and "already has workload" not in err):
            return {}, f"{where}, then the rerun killed after {plan['again']}s: exit {status}\n{err}"
        fig["double_kills"] = 1
        where += f", rerun killed after {plan['again']}s"
    done = ws / "conformance" / "manifest.toml"
    had_golden = done.exists() and "chat" in done.read_text()
    res = vline(*args, cwd=ws)
    outs.append(res.stdout)
    context = f"{where}; the kill {'landed' if landed else 'came after the end'} and {state}; " \
              f"rerun exit {res.returncode}\n{res.stdout}{res.stderr}"
    if kind == "golden add" and res.returncode == 1 and had_golden and "already has workload" in res.stderr:
        fig["refused_rerun"] = 1  # golden add is not idempotent: its rerun after a finished add is refused
    elif res.returncode != 0:
        return fig, context
    problems = consistency_problems(ws, kit, kind)
    if kind == "roll" and not any("changed=true" in o and "line=0.24" in o for o in outs):
        problems.append(f"no run printed the job's summary: {outs}")  # the killed run, or the rerun that finished it
    if kind == "pin" and res.stdout != "VLLM_TARGET_VERSION=v0.23.0\n":
        problems.append("the rerun did not print the line's tag")
    if problems:
        return fig, f"{context}\n" + "\n".join(problems)
    fig["survived"] = 1
    shutil.rmtree(ws, ignore_errors=True)
    return fig, None


@pytest.mark.parametrize("kind", list(COMMANDS))
def test_killed_at_random_then_rerun_finishes(kit, kind, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(f"{SEED}:{kind}")
    span = _calibrate(kit, kind, tmp_path) * 1.1
    plans = []
    for i in range(KILLS):  # drawn up front: the same seed gives the same kills whatever the threads do
        # sqrt: denser towards the end of the run, where the writes and cargo are; startup still gets its share
        delay, group, again, again_delay = span * rng.random() ** 0.5, rng.random() < 0.75, rng.random() < 0.25, \
            span * rng.random() ** 0.5
        plans.append({"i": i, "delay": round(delay, 3), "group": group,
                      "again": round(again_delay, 3) if again else None})
    t0 = time.monotonic()
    with ThreadPoolExecutor(2) as pool:  # two at a time: the kills land under load, as on a busy runner
        results = list(pool.map(lambda p: _one_kill(kit, kind, tmp_path / f"ws-{p['i']}", p), plans))
    figures = {k: sum(f.get(k, 0) for f, _ in results) for k in
               ("kills", "landed", "landed_mid_job", "left_journal", "double_kills", "survived", "refused_rerun")}
    figures["seconds"] = round(time.monotonic() - t0, 1)
    print(f"\nkill figures seed={SEED} {kind}: {figures}")
    failures = [why for _, why in results if why]
    assert not failures, f"{len(failures)} of {KILLS} kills not repaired; first:\n{failures[0]}"


# --- a kill inside cargo's in-place rewrite of the lock -------------------------------------------------

def test_killed_while_cargo_rewrote_the_lock_half_way(kit, tmp_path):
    """cargo truncates Cargo.lock and writes it anew; a kill in between leaves a lock no cargo reads.
    A cargo that does its work, leaves half the lock and hangs is killed there; the rerun repairs it."""
    ws = tmp_path / "ws"
    shutil.copytree(kit.on22, ws)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = shutil.which("cargo")
    (bin_dir / "cargo").write_text(textwrap.dedent(f"""\
        #!/bin/sh
        {real} "$@" || exit $?
        head -c 200 "{ws}/Cargo.lock" > "{ws}/Cargo.lock.half" && mv "{ws}/Cargo.lock.half" "{ws}/Cargo.lock"
        touch "{tmp_path}/half-written"
        exec sleep 60
        """))
    (bin_dir / "cargo").chmod(0o755)
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen([sys.executable, "-m", "vline", "pin"], cwd=ws, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "half-written").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert len((ws / "Cargo.lock").read_bytes()) == 200
    res = vline("check", cwd=ws, check_code=1)
    assert ".vline/pending.json:1: error: 'vline pin' was interrupted" in res.stdout
    assert re.search(r"^Cargo\.lock:\d+: error: invalid TOML", res.stdout, re.M), res.stdout
    res = vline("pin", cwd=ws, check_code=0)
    assert res.stdout == "VLLM_TARGET_VERSION=v0.23.0\n"
    assert "finished the interrupted 'vline pin'" in res.stderr
    assert not consistency_problems(ws, kit, "pin")
    assert (ws / "Cargo.lock").read_bytes() == (kit.base / "Cargo.lock").read_bytes()  # as committed
