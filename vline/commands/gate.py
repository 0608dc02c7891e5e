"""`vline gate LINE -- CMD...`: fetch and verify the line's goldens, run the replay, write evidence."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .. import compat as compat_mod
from .. import emit, evidence, ui
from ..adapters import s3 as s3mod
from ..errors import ENVIRONMENT, NO, OK, InputError
from ..fsio import atomic_write, under
from ..manifest import KEYS
from . import golden

GATE_DIR = Path(".vline") / "gate"


def _local_manifest(goldens, paths: dict, dest: Path) -> Path:
    """The line's entries with bucket_path = the absolute path of each golden's own verified file."""
    from ..edits.manifest_edit import render_entry

    body = "".join(render_entry({**{k: getattr(g, k) for k in KEYS}, "bucket_path": str(paths[g])}) + "\n"
                   for g in goldens)
    out = dest / "manifest.toml"
    atomic_write(out, ("# written by vline gate: local verified copies\n" + body).encode())
    return out


def _link(src: Path, dest: Path) -> None:
    """The cached (read-only) file under the golden's own name: a hard link, else a copy."""
    import shutil

    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def run(compat_path: str | None, line_name: str, cmd: list[str], bucket: str | None,
        evidence_dir: Path | None) -> int:
    if not cmd:
        raise InputError("give the replay command after --: vline gate LINE -- CMD...")
    compat = compat_mod.load(compat_path, project=True)
    line = compat.get(line_name)
    manifest = golden.manifest_of(compat)
    goldens = manifest.for_line(line.line)
    outcome = golden.Outcome()
    paths = golden.verify(compat, goldens, s3mod.BucketUrl.parse(bucket), outcome)
    code = golden.report(manifest, goldens, outcome, f"gate {line.line}")

    ev_dir = evidence.directory(compat, evidence_dir)
    exit_code = None
    if code == OK:
        work = under(compat.root, str(GATE_DIR), line.line, what="gate folder")
        folder = work / "goldens"
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():  # only this run's goldens are offered to the command
            if stale.is_file() or stale.is_symlink():
                stale.unlink()
        local_paths = {}
        for g in goldens:  # one file per golden, even when two share their bytes
            local = under(folder, f"{g.workload}.jsonl.gz", what="golden workload")
            _link(paths[g.sha256], local)
            local_paths[g] = local
        env = {**os.environ, **line.command_env(compat.settings),
               "CONFORMANCE_MANIFEST": str(_local_manifest(goldens, local_paths, work)),
               "CONFORMANCE_GOLDENS": str(folder.absolute())}
        if emit.active():
            print(f"::group::gate {line.line}", file=sys.stderr, flush=True)
        try:
            exit_code = subprocess.run(cmd, env=env).returncode
        except FileNotFoundError:
            exit_code = 127
            ui.note(f"vline: gate {line.line}: command not found: {cmd[0]}")
        finally:
            if emit.active():
                print("::endgroup::", file=sys.stderr, flush=True)
    passed = code == OK and exit_code == 0
    ev = evidence.record(line, goldens, cmd, exit_code, passed)
    ev_path = evidence.file_for(ev_dir, line.line)
    ev_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(ev_path, (json.dumps(ev, indent=2) + "\n").encode())
    ui.note(f"vline: gate {line.line}: {'passed' if passed else 'FAILED'}; evidence in {ev_path}")
    emit.kv({"line": line.line, "passed": passed, "exit_code": exit_code})
    emit.set_outputs({"passed": passed})
    if code == ENVIRONMENT:
        return ENVIRONMENT
    return OK if passed else NO
