"""Every file of the malformed-input corpus (tests/corpus/<kind>/, written by tests/corpus/generate.py) through
every command that reads that kind of file: the spec's exit code, one `FILE:LINE: error:` line per error naming
the file, never a traceback or an internal error, and nothing written.

Most runs call the real entry point in-process (what `python -m vline` runs, with stdout strict UTF-8 as in a
process); a sample runs as real subprocesses, so both paths are held to the same promise.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import REPO, clean_env, snapshot, vline

CORPUS = Path(__file__).parent / "corpus"
sys.path.insert(0, str(CORPUS))
import generate  # noqa: E402

ERROR = re.compile(r"^[^:\n]+(:\d+)?: error: ")
KEY_VALUE = re.compile(r'^[A-Za-z_][A-Za-z0-9_-]*=(?:[^\s"]*|"(?:[^"\\\n]|\\.)*")\Z')  # plain or JSON-quoted


class Run(NamedTuple):
    code: int
    stdout: str
    stderr: str


def in_process(args: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """`python -m vline ARGS` in this process: argv, cwd and environment swapped in, output captured as bytes
    (stdout strict UTF-8 like a real process's, stderr backslashreplace), SystemExit taken as the exit code."""
    out_b, err_b = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", errors="backslashreplace", write_through=True)
    saved_argv, saved_cwd, saved_env = sys.argv, os.getcwd(), dict(os.environ)
    code = 0
    try:
        sys.argv = ["vline", *args]
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_module("vline", run_name="__main__", alter_sys=False)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            finally:
                out.flush()
                err.flush()
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Run(code, out_b.getvalue().decode("utf-8"), err_b.getvalue().decode("utf-8"))


# --- what each kind is, where it goes in a project, which commands read it --------------------------

TRACE_DIR = "traces"
TAGS = "tags.txt"
EVIDENCE = ".vline/evidence/0.22.json"


def place(kind: str, name: str) -> str:
    """Where a corpus file of `kind` sits in the project."""
    return {"compat": "compat.toml", "manifest": "conformance/manifest.toml", "cargo": "Cargo.toml",
            "trace": f"{TRACE_DIR}/{name}", "matrix": f"matrix/{Path(name).stem}.toml", "tags": TAGS,
            "evidence": EVIDENCE, "template": "Dockerfile.template"}[kind]


def commands(kind: str, name: str, where: str) -> list[tuple[list[str], set[int]]]:
    """(arguments, the exit codes the spec allows) for every command that reads this file."""
    ok = name.startswith("ok-")
    bad = {1, 2}
    if kind == "compat":
        cmds = [(["check"], bad), (["show"], {2}), (["matrix"], {2}), (["env", "0.22"], {2}),
                (["pin", "--no-update"], {2}), (["golden", "list"], {2})]
    elif kind == "manifest":
        cmds = [(["check"], bad), (["golden", "list"], {2})]
        if not ok:  # a valid manifest would go on to S3
            cmds.append((["golden", "verify", "--line", "0.22"], {2}))
    elif kind == "cargo":
        cmds = [(["check"], bad)]
        if name.startswith("drift-"):  # valid TOML pinned elsewhere: check says no; pin would rightly fix it
            return [(["check"], {1})]
        cmds.append((["pin", "--no-update"], {2}))
    elif kind == "trace":
        fingerprint = {0} if name.startswith(("record-", "late-", "add-")) else {2}  # it reads the meta alone
        cmds = [(["fingerprint", "--trace", where], fingerprint)]
        if not name.startswith("key-"):  # any meta key is fine in a golden
            cmds.append((["golden", "add", where, "--line", "0.22"], bad))
    elif kind == "matrix":
        cmds = [(["matrix", Path(name).stem], {1} if name.startswith("rows-") else {2})]
    elif kind == "tags":
        # a ref with a line separator is one line (git splits on \n only): a tag that is not a release, ignored
        watch = {0} if name == "line-separator-in-ref.txt" else {2}
        cmds = [(["watch", "rc", "--tags-file", where], watch), (["roll", "v0.24.0", "--tags-file", where], {2})]
    elif kind == "template":
        cmds = [(["render", "0.22"], {2})]
    else:
        cmds = [(["promote", "0.22"], bad)]
    return [(args, {0} if ok else codes) for args, codes in cmds]


def corpus() -> list[tuple[str, str]]:
    # the kinds' folders only: not the generator's __pycache__ (CI may write bytecode)
    return sorted((p.parent.name, p.name) for p in CORPUS.glob("*/*") if p.is_file() and p.parent.name in generate.KINDS)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A project: the repo's window and a workspace pinned to its default line."""
    root = tmp_path_factory.mktemp("corpus") / "project"
    root.mkdir()
    (root / "compat.toml").write_bytes((REPO / "compat.toml").read_bytes())
    (root / "Cargo.toml").write_text(generate.CARGO)
    return root


@pytest.fixture
def project(base, tmp_path) -> Path:
    dest = tmp_path / "p"
    shutil.copytree(base, dest)
    return dest


def _env(tmp: Path) -> dict[str, str]:
    env = clean_env(VLINE_CACHE=str(tmp / "cache"))
    env.pop("CONFORMANCE_BUCKET", None)
    return env


def check_run(res: Run, args: list[str], codes: set[int], shown: str) -> None:
    what = f"vline {' '.join(args)}: {res}"
    assert res.code in codes, what
    for stream in (res.stdout, res.stderr):
        assert "Traceback" not in stream, what
        assert "internal error" not in stream, what
    # check prints its findings on stdout; every other command's errors are on stderr
    errors = [ln for ln in (res.stderr + res.stdout).splitlines() if ": error: " in ln or ln.startswith("vline: error")]
    bad = [ln for ln in errors if not ERROR.match(ln)]
    assert not bad, what
    if res.code:
        assert errors, what
    if res.code == 0 and args[0] in ("fingerprint", "watch", "roll"):  # key=value results: one line each
        assert all(KEY_VALUE.match(ln) for ln in res.stdout.split("\n")[:-1]), what
    if res.code == 2 or args[0] == "check" and res.code:  # the file is named (promote: by its absolute path)
        assert any(re.match(rf"^(.*/)?{re.escape(shown)}(:\d+)?: error: ", ln) for ln in errors), \
            f"no error names {shown}: {what}"


def _setup(project: Path, kind: str, name: str) -> str:
    where = place(kind, name)
    dest = project / where
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes((CORPUS / kind / name).read_bytes())
    return where


# Defects in files this corpus may not fix (owned elsewhere), each reported; strict: a fix makes them pass.
KNOWN: dict[str, str] = {}


def _cases(pairs: list[tuple[str, str]]) -> list:
    return [pytest.param(k, n, id=f"{k}/{n}", marks=[pytest.mark.xfail(reason=KNOWN[f"{k}/{n}"], strict=True)]
                         if f"{k}/{n}" in KNOWN else []) for k, n in pairs]


@pytest.mark.parametrize("kind,name", _cases(corpus()))
def test_corpus_file(project, tmp_path, kind, name):
    where = _setup(project, kind, name)
    env = _env(tmp_path)
    before = snapshot(project)
    for args, codes in commands(kind, name, where):
        res = in_process(args, project, env)
        check_run(res, args, codes, where)
        assert snapshot(project) == before, f"vline {' '.join(args)} wrote a file"


# a sample through real processes: the first file of each kind, and a dozen BOM, number and nesting cases
SAMPLE = [(k, n) for k, n in corpus() if n.startswith(("encoding-bom", "number-", "nesting-deep-a"))][:12] + \
    [min((kn for kn in corpus() if kn[0] == kind and "/".join(kn) not in KNOWN), key=lambda kn: kn[1])
     for kind in generate.KINDS]


@pytest.mark.parametrize("kind,name", _cases(SAMPLE))
def test_corpus_sample_in_a_subprocess(project, tmp_path, kind, name):
    where = _setup(project, kind, name)
    before = snapshot(project)
    for args, codes in commands(kind, name, where):
        proc = vline(*args, cwd=project, env=_env(tmp_path))
        check_run(Run(proc.returncode, proc.stdout, proc.stderr), args, codes, where)
    assert snapshot(project) == before


def test_the_corpus_is_what_generate_writes(tmp_path):
    """The committed files are the generator's output: reviewable, and regenerated rather than hand-edited."""
    made = {f"{kind}/{name}": (content if isinstance(content, bytes) else content.encode())
            for kind, make in generate.KINDS.items() for name, content in make().items()}
    on_disk = {f"{k}/{n}": (CORPUS / k / n).read_bytes() for k, n in corpus()}
    assert on_disk.keys() == made.keys()
    assert [k for k in made if made[k] != on_disk[k]] == []
    assert len(made) >= 150
