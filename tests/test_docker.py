"""Per-line checkouts, `vline each`, and per-line images built with BuildKit by the real Docker engine of this
machine (through a docker client that has buildx or BuildKit), pushed to a real registry (Debian's
docker-registry, started here on loopback). Images are built FROM scratch: nothing can be pulled."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import textwrap
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import REPO, clean_env, snapshot, vline
from gitworld import CRATE, git

pytestmark = pytest.mark.docker

TEMPLATE = textwrap.dedent("""\
    FROM scratch
    ARG VLINE_LINE={{ line }}
    ARG VLLM_TARGET_VERSION={{ tag }}
    ARG FRONTEND_REPO={{ frontend_repo }}
    ARG FRONTEND_REF={{ frontend_ref }}
    LABEL test.frontend_ref="${FRONTEND_REF}" test.target="${VLLM_TARGET_VERSION}"
    COPY Cargo.toml Cargo.lock /pinned/
    COPY line-{{ line }}.txt /line.txt
    """)


def docker_clients() -> list[str]:
    """Every docker client on PATH, then Debian's."""
    found = []
    for d in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin"]:
        p = os.path.join(d, "docker")
        if os.access(p, os.X_OK) and os.path.realpath(p) not in map(os.path.realpath, found):
            found.append(p)
    return found


def has_buildkit(exe: str) -> bool:
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    if subprocess.run([exe, "buildx", "version"], capture_output=True, env=env).returncode == 0:
        return True
    res = subprocess.run([exe, "build", "--help"], capture_output=True, text=True, env=env)
    return res.returncode == 0 and "--secret" in res.stdout


@pytest.fixture(scope="session")
def docker_cli() -> str:
    """A docker client that builds with BuildKit (here: Debian's 20.10 at /usr/bin/docker; the 28.x client
    first on PATH has no buildx)."""
    for exe in docker_clients():
        if has_buildkit(exe):
            res = subprocess.run([exe, "version", "--format", "{{.Server.APIVersion}}"], capture_output=True,
                                 text=True)
            if res.returncode != 0:
                pytest.fail(f"the Docker engine of this machine does not answer {exe}: {res.stderr.strip()}")
            return exe
    pytest.fail(f"no docker client with buildx or BuildKit among {docker_clients()}")


def docker(exe: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *args], check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "1"},
                          **kw)


def image_labels(exe: str, ref: str) -> dict[str, str]:
    return json.loads(docker(exe, "image", "inspect", "--format", "{{json .Config.Labels}}", ref).stdout) or {}


def image_tags_of(exe: str, ref: str) -> set[str]:
    return set(json.loads(docker(exe, "image", "inspect", "--format", "{{json .RepoTags}}", ref).stdout))


@pytest.fixture
def repo(world, tmp_path, registry, docker_cli):
    """The world's workspace as a committed git repository with a test template and per-line files."""
    ws = world.new_workspace(tmp_path / "user-repo")
    (ws / "Dockerfile.template").write_text(TEMPLATE)
    (ws / ".gitignore").write_text("target/\n")
    for line in ("nightly", "0.23", "0.22", "0.21"):
        (ws / f"line-{line}.txt").write_text(f"{line}\n")
    image = f"{registry}/vline-test/sim-{uuid.uuid4().hex[:8]}"
    (ws / "compat.toml").write_text((ws / "compat.toml").read_text().replace('image = "localhost/vline-sim"',
                                                                             f'image = "{image}"'))
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "workspace")
    yield ws
    ids = docker(docker_cli, "images", "-q", image, text=True).stdout.split()  # leave the engine as we found it
    if ids:
        subprocess.run([docker_cli, "rmi", "-f", *sorted(set(ids))], capture_output=True)


def env_with_cache(tmp_path: Path, **extra) -> dict:
    return clean_env(VLINE_CACHE=str(tmp_path / "cache"), **extra)


def build_env(tmp_path: Path, docker_cli: str, **extra) -> dict:
    """vline's environment for builds: the BuildKit-capable client named through $VLINE_DOCKER."""
    return env_with_cache(tmp_path, VLINE_DOCKER=docker_cli, **extra)


def file_from_image(exe: str, image: str, path: str) -> str | None:
    """The file at `path` in the image, or None when the image has none."""
    cid = docker(exe, "create", image, "none", text=True).stdout.strip()
    try:
        res = subprocess.run([exe, "cp", f"{cid}:{path}", "-"], capture_output=True)
        if res.returncode != 0:
            return None
        with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
            return tar.extractfile(tar.getmembers()[0]).read().decode()
    finally:
        subprocess.run([exe, "rm", cid], capture_output=True)


def registry_digest(registry: str, repo_path: str, tag: str) -> str:
    req = urllib.request.Request(f"http://{registry}/v2/{repo_path}/manifests/{tag}", method="HEAD", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(req) as r:
        return r.headers["Docker-Content-Digest"]


def test_build_and_push_every_line(repo, world, docker_cli, registry, tmp_path):
    before = snapshot(repo)
    head = git(repo, "rev-parse", "HEAD")
    report = tmp_path / "report.json"
    summary = tmp_path / "summary.md"
    env = build_env(tmp_path, docker_cli, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    res = vline("build", "--push", "--report", str(report), cwd=repo, env=env, check_code=0)
    assert "::group::build 0.22" in res.stderr
    assert "building with BuildKit: " in res.stderr and docker_cli in res.stderr
    entries = json.loads(report.read_text())
    assert [e["line"] for e in entries] == ["nightly", "0.23", "0.22", "0.21"]
    image = entries[0]["image"]
    revs = {"nightly": world.revs["main"], "0.23": world.revs["v0.23.0"], "0.22": world.revs["v0.22.1"],
            "0.21": world.revs["v0.22.1"]}
    for e in entries:
        line = e["line"]
        expected = [f"{image}:vllm{line}", f"{image}:0.4.2-vllm{line}"] + ([f"{image}:latest"] if line == "0.23" else [])
        assert e["tags"] == expected
        assert set(expected) <= image_tags_of(docker_cli, e["image_id"])
        lab = image_labels(docker_cli, e["image_id"])
        assert lab["vline.line"] == line and lab["vline.tag"] == e["tag"]
        assert lab["vline.protocol_rev"] == revs[line]
        assert lab["vline.patch_rev"] == (world.revs["fork"] if line in ("0.22", "0.21") else "")
        assert lab["org.opencontainers.image.revision"] == head and lab["vline.dirty"] == "false"
        assert lab["org.opencontainers.image.version"] == "0.4.2"
        assert "org.opencontainers.image.source" not in lab  # no origin remote: no label, never a local path
        assert lab["test.target"] == e["tag"]  # the rendered ARG defaults are the line's
        # the context was the line's pinned checkout: its Cargo.toml and lock carry the line's revs
        pinned = file_from_image(docker_cli, e["image_id"], "/pinned/Cargo.toml")
        assert f'rev = "{revs[line]}"' in pinned
        assert (world.revs["fork"] in pinned) == (line in ("0.22", "0.21"))
        lock = file_from_image(docker_cli, e["image_id"], "/pinned/Cargo.lock")
        assert (world.revs["fork"] if line in ("0.22", "0.21") else revs[line]) in lock
        assert file_from_image(docker_cli, e["image_id"], "/line.txt") == f"{line}\n"
        # pushed: the report's digest is what the registry serves for every tag
        repo_path = image.split("/", 1)[1]
        for ref in expected:
            assert registry_digest(registry, repo_path, ref.rsplit(":", 1)[1]) == e["digest"]
    assert "| 0.22 |" in summary.read_text()
    assert snapshot(repo) == before  # the user's checkout is untouched
    assert git(repo, "status", "--porcelain") == ""


def test_a_failing_line_does_not_stop_the_others(repo, docker_cli, tmp_path):
    (repo / "line-0.22.txt").unlink()
    git(repo, "commit", "-qam", "drop 0.22's file")
    res = vline("build", "-j", "2", cwd=repo, env=build_env(tmp_path, docker_cli), check_code=1)
    status = {r.split()[0]: r.split()[-1] for r in res.stdout.splitlines()}
    assert status == {"line=nightly": "status=ok", "line=0.23": "status=ok", "line=0.22": "status=failed",
                      "line=0.21": "status=ok"}
    # one line naming the line and BuildKit's cause
    assert res.stderr.strip().splitlines()[-1].startswith("vline: error: build failed for 0.22: ")
    assert "line-0.22.txt" in res.stderr.strip().splitlines()[-1]


def test_no_engine_is_exit_3(repo, docker_cli, tmp_path):
    before = snapshot(repo)
    res = vline("build", cwd=repo, env=build_env(tmp_path, docker_cli, DOCKER_HOST="unix:///nonexistent/docker.sock"),
                check_code=3)
    assert "no Docker engine answers" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert snapshot(repo) == before
    assert not (tmp_path / "cache" / "checkouts").exists()  # refused before any checkout work


def test_bake_file(repo, tmp_path):
    bake = tmp_path / "ci" / "bake.json"
    bake.parent.mkdir()
    vline("build", "--bake", str(bake), cwd=repo, env=env_with_cache(tmp_path), check_code=0)
    doc = json.loads(bake.read_text())
    assert doc["group"]["default"]["targets"] == ["vllmnightly", "vllm0-23", "vllm0-22", "vllm0-21"]
    t = doc["target"]["vllm0-22"]
    assert t["dockerfile"] == "Dockerfile.vline" and t["args"]["VLLM_TARGET_VERSION"] == "v0.22.1"
    assert "cache-from" not in t and "cache-to" not in t  # outside Actions the default cache is none
    assert any(tag.endswith(":vllm0.22") for tag in t["tags"]) and t["labels"]["vline.line"] == "0.22"
    assert not os.path.isabs(t["context"])  # relative to the bake file's folder
    context = (bake.parent / t["context"]).resolve()
    rendered = (context / "Dockerfile.vline").read_text()
    assert "ARG VLLM_TARGET_VERSION=v0.22.1\n" in rendered and "{{" not in rendered
    assert context != repo and not (repo / "Dockerfile.vline").exists()


def test_render(repo, world):
    out = vline("render", "0.22", cwd=repo, check_code=0).stdout
    assert "ARG VLLM_TARGET_VERSION=v0.22.1\n" in out
    assert f"ARG FRONTEND_REPO={world.fork_url}\n" in out and f"ARG FRONTEND_REF={world.revs['fork']}\n" in out
    (repo / "Dockerfile.template").write_text(TEMPLATE + "LABEL x={{ colour }}\n")
    res = vline("render", "0.22", cwd=repo, check_code=2)
    assert res.stderr.startswith("Dockerfile.template:9: error: unknown placeholder {{ colour }}")
    assert res.stdout == ""


def test_the_repos_own_template_renders_for_every_line(tmp_path):
    for line, tag in (("nightly", "nightly"), ("0.23", "v0.23.0"), ("0.22", "v0.22.1"), ("0.21", "v0.21.0")):
        out = vline("--compat", str(REPO / "compat.toml"), "render", line, "--template",
                    str(REPO / "Dockerfile.template"), cwd=tmp_path, check_code=0).stdout
        assert f"ARG VLLM_TARGET_VERSION={tag}\n" in out and f"ARG VLINE_LINE={line}\n" in out
        assert "{{" not in out and "FROM ${RUST_IMAGE} AS builder" in out


def test_each_runs_every_line_in_its_own_pinned_checkout(repo, world, tmp_path):
    before = snapshot(repo)
    env = env_with_cache(tmp_path)
    res = vline("each", "--json", "--", "cargo", "run", "--locked", "-q", cwd=repo, env=env, check_code=0)
    results = json.loads(res.stdout)
    assert [r["status"] for r in results] == ["passed"] * 4
    outputs = {r["line"]: Path(r["log"]).read_text().split()[0] for r in results}
    assert outputs == {"nightly": "main", "0.23": "v0.23.0", "0.22": "v0.22.1+backport", "0.21": "v0.22.1+backport"}
    assert len({r["checkout"] for r in results}) == 4 and all(str(repo) not in r["checkout"] for r in results)
    assert snapshot(repo) == before and git(repo, "status", "--porcelain") == ""


def test_each_keeps_going_and_names_the_failing_line(repo, tmp_path):
    env = env_with_cache(tmp_path)
    script = 'echo "$VLINE_LINE $VLINE_TAG $VLLM_TARGET_VERSION $FRONTEND_REF"; test "$VLINE_LINE" != 0.22'
    res = vline("each", "-j", "2", "--json", "--", "sh", "-c", script, cwd=repo, env=env, check_code=1)
    results = {r["line"]: r for r in json.loads(res.stdout)}
    assert {k: r["status"] for k, r in results.items()} == {"nightly": "passed", "0.23": "passed",
                                                             "0.22": "failed", "0.21": "passed"}
    assert "failed on 0.22" in res.stderr
    assert Path(results["0.21"]["log"]).read_text().split()[:3] == ["0.21", "v0.21.0", "v0.21.0"]
    res = vline("each", "0.21", "0.23", "--", "true", cwd=repo, env=env, check_code=0)
    assert [ln.split()[0] for ln in res.stdout.splitlines()] == ["line=0.23", "line=0.21"]


def test_each_sees_uncommitted_work_unless_committed_only(repo, tmp_path):
    env = env_with_cache(tmp_path)
    (repo / "sim" / "src" / "main.rs").write_text(
        'fn main() { println!("{} dirty", vllm_engine_core_client::WIRE); }\n')
    (repo / "NOTES.txt").write_text("untracked\n")
    before = snapshot(repo)
    res = vline("each", "0.23", "--json", "--", "sh", "-c", "cat NOTES.txt && cargo run --locked -q", cwd=repo,
                env=env, check_code=0)
    log = Path(json.loads(res.stdout)[0]["log"]).read_text().split()
    assert log == ["untracked", "v0.23.0", "dirty"]
    res = vline("each", "0.23", "--committed", "--json", "--", "sh", "-c", "test ! -e NOTES.txt && cargo run -q",
                cwd=repo, env=env, check_code=0)
    assert Path(json.loads(res.stdout)[0]["log"]).read_text().split() == ["v0.23.0", "0"]
    assert snapshot(repo) == before
    assert CRATE in (repo / "Cargo.toml").read_text()


def test_each_reuses_the_refreshed_lock_on_rerun(repo, tmp_path):
    """Re-pinning an unchanged checkout takes the remembered lock: no cargo update (and no network) per run."""
    shim = tmp_path / "shim"
    shim.mkdir()
    calls = tmp_path / "cargo-calls"
    (shim / "cargo").write_text(f'#!/bin/sh\necho "$1" >> {calls}\nexec {shutil.which("cargo")} "$@"\n')
    (shim / "cargo").chmod(0o755)
    env = env_with_cache(tmp_path, PATH=f"{shim}:{clean_env()['PATH']}")
    cmd = ["each", "--", "cargo", "run", "--locked", "-q"]
    vline(*cmd, cwd=repo, env=env, check_code=0)
    first = calls.read_text().split()
    assert first.count("update") == 4 and first.count("run") == 4
    calls.write_text("")
    res = vline(*cmd, cwd=repo, env=env, check_code=0)
    assert calls.read_text().split() == ["run"] * 4  # no cargo update this time
    assert all("status=passed" in ln for ln in res.stdout.splitlines())
    # a commit that changes the manifest changes the inputs: the lock is refreshed again, once
    manifest = repo / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('version = "0.4.2"', 'version = "0.4.3"'))
    git(repo, "commit", "-qam", "0.4.3")
    calls.write_text("")
    vline("each", "0.22", "--", "cargo", "run", "--locked", "-q", cwd=repo, env=env, check_code=0)
    assert calls.read_text().split() == ["update", "run"]
