"""Local stand-ins for the third-party actions the workflows use, for act running offline on the host.

Each stand-in's action.yml (tests/act/actions/OWNER/REPO) runs `python3 $STANDIN_LIB/standin.py NAME` with
its inputs as INPUT_* variables, as GitHub passes them to node actions. State lives under $STANDIN_STATE:
calls.jsonl (every call: action, job, inputs), artifacts/, caches/, prs/, logins/.
"""
from __future__ import annotations

import fnmatch
import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["STANDIN_STATE"])
WS = Path(os.environ["GITHUB_WORKSPACE"])


def inp(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", default).strip()


def output(**values: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
        for k, v in values.items():
            d = "standin_" + secrets.token_hex(8)
            f.write(f"{k}<<{d}\n{v}\n{d}\n")


def append(var: str, line: str) -> None:
    with open(os.environ[var], "a", encoding="utf-8") as f:
        f.write(line + "\n")


def record(action: str, **extra) -> None:
    inputs = {k[6:].lower(): v for k, v in os.environ.items() if k.startswith("INPUT_")}
    entry = {"action": action, "job": os.environ.get("GITHUB_JOB", ""), "inputs": inputs, **extra}
    with open(STATE / "calls.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")


def git(*args: str, cwd: Path = WS, env: dict | None = None) -> str:
    res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if res.returncode != 0:
        sys.exit(f"git {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def checkout() -> None:
    """A clone of the pushed commit into the job's (empty, per-job) workspace, on its branch, nothing else."""
    record("checkout")
    dest = WS / inp("path") if inp("path") else WS
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / ".git").exists():
        git("init", "-q", cwd=dest)
    git("fetch", "--quiet", os.environ["STANDIN_ORIGIN"], "+refs/heads/*:refs/remotes/origin/*", cwd=dest)
    ref = inp("ref") or os.environ["GITHUB_SHA"]
    branch = os.environ.get("GITHUB_REF_NAME") if not inp("ref") else None
    git("checkout", "--quiet", "--force", *(["-B", branch] if branch else ["--detach"]), ref, cwd=dest)
    git("clean", "-ffdxq", cwd=dest)


def setup_python() -> None:
    """A job's own Python 3.11+ (a venv of the host's interpreter) first on PATH. The runner's tool cache
    ($STANDIN_TOOLS: pip, hatchling and vline's dependencies, never vline) is importable, as a warm pip
    cache would make it fast; vline itself is installed by the job."""
    record("setup-python")
    home = Path(os.environ["RUNNER_TEMP"]) / "python"
    subprocess.run([os.environ["STANDIN_PYTHON"], "-m", "venv", "--without-pip", str(home)], check=True)
    site = next(home.glob("lib/python3*/site-packages"))
    (site / "_runner_tool_cache.pth").write_text(os.environ["STANDIN_TOOLS"] + "\n")
    exe = home / "bin" / "python3"
    version = subprocess.run([exe, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], check=True,
                             capture_output=True, text=True).stdout.strip()
    if tuple(map(int, version.split(".")[:2])) < (3, 11):
        sys.exit(f"setup-python stand-in: {exe} is {version}, not 3.11+")
    if inp("update-environment", "true") == "true":
        append("GITHUB_PATH", str(home / "bin"))
    output(**{"python-version": version, "python-path": str(exe), "cache-hit": "false"})


def cache() -> None:
    """Restore by exact key; the path is linked to the stored folder, so what the job writes is saved."""
    key = inp("key")
    store = STATE / "caches" / key
    hit = store.is_dir()
    record("cache", hit=hit)
    store.mkdir(parents=True, exist_ok=True)
    for raw in inp("path").splitlines():
        path = Path(os.path.expanduser(raw.strip()))
        if not raw.strip():
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(store, target_is_directory=True)
    output(**{"cache-hit": "true" if hit else "false"})


def _matches(patterns: list[str]) -> list[Path]:
    found: list[Path] = []
    for pat in patterns:
        p = pat if os.path.isabs(pat) else str(WS / pat)
        found += [Path(m) for m in sorted(glob.glob(p, recursive=True))]
    return found


def upload_artifact() -> None:
    name = inp("name", "artifact")
    files = _matches([p.strip() for p in inp("path").splitlines() if p.strip()])
    record("upload-artifact", files=[str(f) for f in files])
    dest = STATE / "artifacts" / name
    if dest.exists():
        sys.exit(f"upload-artifact stand-in: an artifact named {name!r} already exists in this run")
    if not files:
        how = inp("if-no-files-found", "warn")
        msg = f"No files were found with the provided path: {inp('path')}. No artifacts will be uploaded."
        if how == "error":
            sys.exit(msg)
        print(f"::warning::{msg}" if how == "warn" else msg)
        return
    dest.mkdir(parents=True)
    root = Path(os.path.commonpath([str(x.parent) for x in files]))  # paths are kept below it, as the real one does
    for f in files:
        target = dest / f.relative_to(root) if f.is_file() else dest / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if f.is_dir() else shutil.copy2)(f, target)
    output(**{"artifact-id": name, "artifact-url": f"file://{dest}"})


def download_artifact() -> None:
    root = STATE / "artifacts"
    names = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    if inp("name"):
        chosen = [n for n in names if n == inp("name")]
        if not chosen:
            sys.exit(f"download-artifact stand-in: no artifact {inp('name')!r}")
    else:
        chosen = [n for n in names if fnmatch.fnmatch(n, inp("pattern") or "*")]
    record("download-artifact", artifacts=chosen)
    path = Path(os.path.expanduser(inp("path"))) if inp("path") else WS
    path = path if path.is_absolute() else WS / path
    merge = inp("merge-multiple", "false") == "true" or bool(inp("name"))
    for n in chosen:
        target = path if merge else path / n
        shutil.copytree(root / n, target, dirs_exist_ok=True)
    output(**{"download-path": str(path)})


def configure_aws_credentials() -> None:
    """OIDC web identity → the moto server's credentials (and its endpoint), for this job only."""
    if not inp("role-to-assume") or not inp("aws-region"):
        sys.exit("configure-aws-credentials stand-in: role-to-assume and aws-region are required here")
    record("configure-aws-credentials")
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "oidc",
                 "AWS_REGION": inp("aws-region"), "AWS_DEFAULT_REGION": inp("aws-region"),
                 "AWS_ENDPOINT_URL": os.environ["STANDIN_AWS_ENDPOINT"]}.items():
        append("GITHUB_ENV", f"{k}={v}")
    output(**{"aws-account-id": "123456789012"})


def login() -> None:
    record("docker-login")
    (STATE / "logins").mkdir(exist_ok=True)
    (STATE / "logins" / f"{inp('registry') or 'docker.io'}.json").write_text(
        json.dumps({"username": inp("username"), "password_given": bool(inp("password"))}))


def create_pull_request() -> None:
    """Commit what changed (add-paths, else everything) onto the branch and open its pull request, or update
    the open one: one record per branch under prs/, never a second pull request for the same branch."""
    repo = WS / inp("path") if inp("path") else WS
    paths = [p.strip() for p in inp("add-paths").replace(",", "\n").splitlines() if p.strip()] or ["."]
    index = Path(os.environ["RUNNER_TEMP"]) / f"standin-index-{secrets.token_hex(4)}"
    shutil.copy(repo / ".git" / "index", index)
    env = {"GIT_INDEX_FILE": str(index)}
    git("add", "-A", "--", *paths, cwd=repo, env=env)
    diff = git("diff", "--cached", "HEAD", cwd=repo, env=env)
    files = git("diff", "--cached", "--name-only", "HEAD", cwd=repo, env=env).split()
    index.unlink()
    branch = inp("branch", "create-pull-request/patch")
    prs = STATE / "prs"
    prs.mkdir(exist_ok=True)
    rec_path = prs / (branch.replace("/", "__") + ".json")
    old = json.loads(rec_path.read_text()) if rec_path.exists() else None
    if not diff:
        op = "none"
    else:
        op = "updated" if old and old["state"] == "open" else "created"
        number = old["number"] if op == "updated" else len(list(prs.glob("*.json"))) + 1
        rec = {"number": number, "state": "open", "branch": branch, "base": inp("base") or "main",
               "title": inp("title"), "body": inp("body"), "commit_message": inp("commit-message"),
               "files": files, "diff": diff, "updates": (old["updates"] + 1) if op == "updated" else 0,
               "token_given": bool(inp("token"))}
        rec_path.write_text(json.dumps(rec, indent=1))
    record("create-pull-request", operation=op, files=files)
    num = json.loads(rec_path.read_text())["number"] if rec_path.exists() else ""
    output(**{"pull-request-operation": op, "pull-request-number": str(num), "pull-request-branch": branch,
              "pull-request-url": f"file://{rec_path}" if num else ""})


if __name__ == "__main__":
    {"checkout": checkout, "setup-python": setup_python, "cache": cache, "upload-artifact": upload_artifact,
     "download-artifact": download_artifact, "configure-aws-credentials": configure_aws_credentials,
     "login": login, "create-pull-request": create_pull_request}[sys.argv[1]]()
