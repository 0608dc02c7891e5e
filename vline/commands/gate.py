"""`vline gate LINE -- CMD...`: fetch and verify the line's goldens, run the replay, write evidence."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .. import compat as compat_mod
from .. import evidence, ui
from ..adapters import github
from ..adapters import s3 as s3mod
from ..errors import ENVIRONMENT, NO, OK, InputError
from ..fsio import atomic_write, locked
from ..manifest import KEYS
from . import golden

GATE_DIR = Path(".vline") / "gate"


def _local_manifest(goldens, paths: dict[str, Path], dest: Path) -> Path:
    """The line's entries with bucket_path = the absolute path of each verified file."""
    from ..edits.manifest_edit import render_entry

    body = "".join(render_entry({**{k: getattr(g, k) for k in KEYS}, "bucket_path": str(paths[g.sha256])}) + "\n"
                   for g in goldens)
    out = dest / "manifest.toml"
    atomic_write(out, ("# written by vline gate: local verified copies\n" + body).encode())
    return out


def _link(src: Path, dest: Path) -> None:
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        dest.symlink_to(src)


def run(compat_path: str | None, line_name: str, cmd: list[str], bucket: str | None,
        evidence_dir: Path | None) -> int:
    if not cmd:
        raise InputError("give the replay command after --: vline gate LINE -- CMD...")
    compat = compat_mod.load(compat_path)
    line = compat.get(line_name)
    manifest = golden.manifest_of(compat)
    goldens = manifest.for_line(line.line)
    outcome = golden.Outcome()
    paths = golden.verify(compat, goldens, s3mod.BucketUrl.parse(bucket), outcome)
    code = golden.report(manifest, goldens, outcome, f"gate {line.line}")

    ev_dir = evidence.directory(compat, evidence_dir)
    exit_code = None
    if code == OK:
        work = compat.root / GATE_DIR / line.line
        folder = work / "goldens"
        folder.mkdir(parents=True, exist_ok=True)
        for g in goldens:
            local = folder / f"{g.workload}.jsonl.gz"
            _link(paths[g.sha256], local)
            paths[g.sha256] = local.absolute()
        env = {**os.environ, **line.command_env(compat.settings),
               "CONFORMANCE_MANIFEST": str(_local_manifest(goldens, paths, work).absolute()),
               "CONFORMANCE_GOLDENS": str(folder.absolute())}
        if github.active():
            print(f"::group::gate {line.line}: {' '.join(cmd)}", file=sys.stderr, flush=True)
        try:
            exit_code = subprocess.run(cmd, env=env).returncode
        except FileNotFoundError:
            exit_code = 127
            ui.note(f"vline: gate {line.line}: command not found: {cmd[0]}")
        finally:
            if github.active():
                print("::endgroup::", file=sys.stderr, flush=True)
    passed = code == OK and exit_code == 0
    ev = evidence.record(line, goldens, cmd, exit_code, passed)
    ev_dir.mkdir(parents=True, exist_ok=True)
    with locked(ev_dir):
        atomic_write(ev_dir / f"{line.line}.json", (json.dumps(ev, indent=2) + "\n").encode())
    ui.note(f"vline: gate {line.line}: {'passed' if passed else 'FAILED'}; evidence in {ev_dir / (line.line + '.json')}")
    ui.result(f"line={line.line}\npassed={'true' if passed else 'false'}\nexit_code={'' if exit_code is None else exit_code}")
    github.set_outputs({"passed": "true" if passed else "false"})
    if code == ENVIRONMENT:
        return ENVIRONMENT
    return OK if passed else NO
