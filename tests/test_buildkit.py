"""`vline build` with BuildKit: the probe that picks the builder (and refuses, exit 3, rather than fall back to the
legacy one), what only BuildKit does (cache mounts, secrets, skipped stages of a --target), the source and dirty
labels, and the bake file's relative contexts and cache backends. Real engine and registry (test_docker's
fixtures); the base image with a shell is Debian's static busybox imported as a rootfs, since nothing can be
pulled. buildx itself is not on this machine: its path is covered by the probe's choice, not by a run."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from conftest import snapshot, vline
from gitworld import git
from test_docker import (  # noqa: F401 - fixtures
    build_env,
    docker,
    docker_cli,
    env_with_cache,
    file_from_image,
    image_labels,
    repo,
)

from vline import proc
from vline.commands.build import source_url

DEBIAN_DOCKER = "/usr/bin/docker"  # Debian's 20.10 client: BuildKit through DOCKER_BUILDKIT=1, no buildx
BUSYBOX = "/bin/busybox"  # Debian's busybox-static
TOOLS = ("sh", "cat", "cp", "cut", "echo", "sha256sum", "true")
engine = pytest.mark.docker  # the tests that need the engine (and test_docker's repository fixture)


@pytest.fixture(scope="module")
def busybox(docker_cli):
    """A base image with a shell, imported from a rootfs tarball (static busybox and its links)."""
    if not os.path.isfile(BUSYBOX):
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        for tool in TOOLS:
            link = tarfile.TarInfo(f"bin/{tool}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    ref = f"vline-test-busybox:{uuid.uuid4().hex[:8]}"
    docker(docker_cli, "import", "--change", "ENV PATH=/bin", "-", ref, input=buf.getvalue())
    yield ref
    subprocess.run([docker_cli, "rmi", "-f", ref], capture_output=True)


BUILDKIT_TEMPLATE = textwrap.dedent("""\
    FROM BASE AS base
    ARG VLLM_TARGET_VERSION={{ tag }}
    RUN --mount=type=cache,target=/cache,id=CACHE_ID sh -c 'echo {{ line }} >> /cache/seen && cp /cache/seen /seen'
    RUN --mount=type=secret,id=token sh -c 'sha256sum /run/secrets/token | cut -d " " -f 1 > /token.sha256'

    FROM base AS unused
    RUN exit 1

    FROM scratch AS final
    COPY --from=base /seen /token.sha256 /
    COPY line-{{ line }}.txt /line.txt

    FROM final AS debug
    COPY --from=base /bin/busybox /bin/busybox
    """)


def fake_docker(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """A docker client without BuildKit, for the negative probe only; it logs every call."""
    api = "1.38" if kind == "old-daemon" else "1.41"
    help_ = {
        "legacy-only": 'echo "Usage:  docker build [OPTIONS] PATH"; echo "      --iidfile string"; exit 0',
        # what a 23+ client without the buildx plugin answers
        "buildx-missing": 'echo "ERROR: BuildKit is enabled but the buildx component is missing or broken." >&2; '
                          'exit 1',
        "old-daemon": 'echo "      --secret stringArray"; exit 0',
    }[kind]
    log = tmp_path / f"calls-{kind}"
    exe = tmp_path / f"docker-{kind}"
    exe.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$*" >> {log}
        case "$1" in
          version) echo "{api} linux"; exit 0 ;;
          buildx) echo "docker: 'buildx' is not a docker command." >&2; exit 1 ;;
          build) if [ "$2" = "--help" ]; then {help_}; fi; echo "a legacy build"; exit 0 ;;
        esac
        exit 1
        """))
    exe.chmod(0o755)
    return exe, log


@engine
def test_buildkit_cache_mounts_secrets_and_target_stage(repo, busybox, docker_cli, tmp_path):
    """Through Debian's client: the probe picks `DOCKER_BUILDKIT=1 docker build`, and the image has what only
    BuildKit gives. --docker wins over $VLINE_DOCKER (here a client without BuildKit)."""
    if not os.access(DEBIAN_DOCKER, os.X_OK):
        pytest.fail(f"{DEBIAN_DOCKER} is missing: apt-get install docker.io")
    cache_id = f"vline-test-{uuid.uuid4().hex[:8]}"
    (repo / "Dockerfile.template").write_text(BUILDKIT_TEMPLATE.replace("BASE", busybox).replace("CACHE_ID", cache_id))
    git(repo, "commit", "-qam", "a BuildKit template")
    token = f"token-{uuid.uuid4().hex}\n"
    (tmp_path / "token.txt").write_text(token)  # ../token.txt from the repository, where vline runs
    fake, _ = fake_docker(tmp_path, "legacy-only")
    report = tmp_path / "report.json"
    res = vline("build", "0.23", "0.21", "--docker", DEBIAN_DOCKER, "--target", "final", "--secret", "id=token,src=../token.txt",
                "--report", str(report), cwd=repo, env=build_env(tmp_path, str(fake)), check_code=0)
    assert "vline: building with BuildKit: " in res.stderr
    assert f"{DEBIAN_DOCKER} buildx build" in res.stderr or f"DOCKER_BUILDKIT=1 {DEBIAN_DOCKER} build" in res.stderr
    # progress is streamed per line: BuildKit's plain steps, prefixed with the line
    assert any(ln.startswith("[0.21] #") and "RUN --mount=type=cache" in ln for ln in res.stderr.splitlines())
    entries = {e["line"]: e for e in json.loads(report.read_text())}
    for line, e in entries.items():
        img = e["image_id"]
        assert file_from_image(docker_cli, img, "/line.txt") == f"{line}\n"
        # the secret reached RUN --mount=type=secret ...
        assert file_from_image(docker_cli, img, "/token.sha256").strip() == hashlib.sha256(token.encode()).hexdigest()
        # ... the target stage is the image (not the last stage), and the failing unused stage was skipped
        assert file_from_image(docker_cli, img, "/bin/busybox") is None
    # the cache mount outlives a build: the last line's build saw every earlier line's writes
    assert file_from_image(docker_cli, entries["0.21"]["image_id"], "/seen").split() == ["0.23", "0.21"]
    saved = subprocess.run([docker_cli, "save", entries["0.21"]["image_id"]], capture_output=True, check=True).stdout
    assert token.strip().encode() not in saved  # no layer holds the secret


@engine
def test_labels_name_the_origin_url_and_uncommitted_work(repo, docker_cli, tmp_path):
    git(repo, "remote", "add", "origin", "https://ci-user:s3cret@github.com/example/sim.git")
    head = git(repo, "rev-parse", "HEAD")
    (repo / "line-0.21.txt").write_text("0.21 uncommitted\n")
    env = build_env(tmp_path, docker_cli)
    report = tmp_path / "report.json"
    built = []

    def build(*args: str) -> tuple[str, dict[str, str]]:
        vline("build", "0.21", *args, "--report", str(report), cwd=repo, env=env, check_code=0)
        built.append(json.loads(report.read_text())[0]["image_id"])
        return built[-1], image_labels(docker_cli, built[-1])

    try:
        dirty, lab = build()
        assert lab["org.opencontainers.image.source"] == "https://github.com/example/sim"  # no credentials
        assert lab["org.opencontainers.image.revision"] == f"{head}-dirty" and lab["vline.dirty"] == "true"
        assert file_from_image(docker_cli, dirty, "/line.txt") == "0.21 uncommitted\n"
        assert not any("s3cret" in v for v in lab.values())

        clean, lab = build("--committed")
        assert lab["org.opencontainers.image.revision"] == head and lab["vline.dirty"] == "false"
        assert file_from_image(docker_cli, clean, "/line.txt") == "0.21\n"

        git(repo, "remote", "set-url", "origin", str(tmp_path / "elsewhere"))  # a local path is no source
        _, lab = build()
        assert "org.opencontainers.image.source" not in lab
    finally:  # rebuilt tags leave the earlier images untagged: the repository fixture would not find them
        subprocess.run([docker_cli, "rmi", "-f", *built], capture_output=True)


@engine
@pytest.mark.parametrize("kind, why", [
    ("legacy-only", "offers no BuildKit options"),
    ("buildx-missing", "refuses: ERROR: BuildKit is enabled but the buildx component is missing or broken."),
    ("old-daemon", "serves no BuildKit (needs Linux, API >= 1.39)"),
])
def test_no_buildkit_builder_is_exit_3_naming_what_was_probed(repo, tmp_path, kind, why):
    fake, calls = fake_docker(tmp_path, kind)
    before = snapshot(repo)
    res = vline("build", cwd=repo, env=env_with_cache(tmp_path, VLINE_DOCKER=str(fake)), check_code=3)
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vline: error: no BuildKit builder: ")
    assert f"`{fake} buildx version` failed (docker: 'buildx' is not a docker command.)" in err[0]
    assert why in err[0] and "--docker PATH or VLINE_DOCKER" in err[0]
    # never a silent legacy build, and nothing prepared
    assert [c for c in calls.read_text().splitlines() if c.split()[0] == "build"] in ([], ["build --help"])
    assert not (tmp_path / "cache" / "checkouts").exists()
    assert snapshot(repo) == before


@engine
def test_a_missing_docker_client_is_exit_3(repo, tmp_path):
    res = vline("build", "--docker", str(tmp_path / "nope"), cwd=repo, env=env_with_cache(tmp_path), check_code=3)
    assert res.stderr.strip() == f"vline: error: no docker client {str(tmp_path / 'nope')!r} (not found or not " \
                                 f"executable; pass --docker PATH or set VLINE_DOCKER)"


CACHE_CASES = {
    "gha": (["--cache", "gha"], ["type=gha,scope=vllm0-22"], ["type=gha,mode=max,scope=vllm0-22"]),
    "registry": (["--cache", "registry"], ["type=registry,ref=IMAGE:buildcache-vllm0.22"],
                 ["type=registry,ref=IMAGE:buildcache-vllm0.22,mode=max"]),
    "local": (["--cache", "local"], ["type=local,src=.buildx-cache/vllm0-22"],
              ["type=local,dest=.buildx-cache/vllm0-22,mode=max"]),
    "none": (["--cache", "none"], None, None),
    "default-under-actions": ([], ["type=gha,scope=vllm0-22"], ["type=gha,mode=max,scope=vllm0-22"]),
}


@engine
@pytest.mark.parametrize("case", CACHE_CASES)
def test_bake_cache_backend_is_a_choice(repo, tmp_path, case):
    args, cache_from, cache_to = CACHE_CASES[case]
    bake = tmp_path / "out" / "docker-bake.json"
    bake.parent.mkdir()
    env = env_with_cache(tmp_path, **({"GITHUB_ACTIONS": "true"} if case.startswith("default") else {}))
    res = vline("build", "--bake", str(bake), *args, cwd=repo, env=env, check_code=0)
    t = json.loads(bake.read_text())["target"]["vllm0-22"]
    image = t["tags"][0].rsplit(":", 1)[0]
    assert t.get("cache-from") == (cache_from and [c.replace("IMAGE", image) for c in cache_from])
    assert t.get("cache-to") == (cache_to and [c.replace("IMAGE", image) for c in cache_to])
    assert f"(cd {os.path.relpath(bake.parent, repo)} && docker buildx bake -f docker-bake.json)" in res.stderr


@engine
def test_bake_file_contexts_secrets_target_and_push(repo, tmp_path):
    (tmp_path / "token.txt").write_text("t\n")
    bake = tmp_path / "ci" / "bake" / "vline.json"
    bake.parent.mkdir(parents=True)
    vline("build", "--bake", str(bake), "--target", "final", "--secret", "id=token,src=../token.txt", "--push",
          cwd=repo, env=env_with_cache(tmp_path), check_code=0)
    targets = json.loads(bake.read_text())["target"]
    contexts = set()
    for name, t in targets.items():
        assert not os.path.isabs(t["context"])
        context = (bake.parent / t["context"]).resolve()
        assert (context / "compat.toml").is_file() and (context / "Dockerfile.vline").is_file()
        assert context.is_relative_to((tmp_path / "cache").resolve())  # the line's checkout in vline's cache
        contexts.add(context)
        assert t["target"] == "final" and t["output"] == ["type=registry"]
        (secret,) = t["secret"]
        src = secret.removeprefix("id=token,src=")
        assert not os.path.isabs(src) and (bake.parent / src).resolve() == (tmp_path / "token.txt").resolve()
        assert t["labels"]["vline.dirty"] == "false" and "org.opencontainers.image.source" not in t["labels"]
    assert len(contexts) == 4


@engine
@pytest.mark.parametrize("args, message", [
    (["--cache", "gha"], "--cache applies to --bake (a build here uses the engine's own BuildKit cache)"),
    (["--bake", "b.json", "--cache", "s3"], "--cache 's3': expected one of gha, registry, local, none"),
    (["--bake", "b.json", "--secret", "src=x"], "--secret 'src=x': expected id=ID[,src=PATH|,env=VAR]"),
    (["--secret", "id=t,src=missing"], "--secret 'id=t,src=missing': no such file 'missing'"),
    (["--bake", "b.json", "--target", "a b"], "--target 'a b' is not a build stage name"),
])
def test_bad_build_options_are_exit_2(repo, tmp_path, args, message):
    before = snapshot(repo)
    res = vline("build", *args, cwd=repo, env=env_with_cache(tmp_path), check_code=2)
    assert res.stderr.strip() == f"vline: error: {message}"
    assert snapshot(repo) == before and not (tmp_path / "cache" / "checkouts").exists()


@pytest.mark.parametrize("remote, url", [
    ("https://github.com/example/sim.git", "https://github.com/example/sim"),
    ("https://x-access-token:ghs_abc@github.com/example/sim", "https://github.com/example/sim"),
    ("git@github.com:example/sim.git", "https://github.com/example/sim"),
    ("ssh://git@gitlab.example.com:2222/group/sim.git", "https://gitlab.example.com/group/sim"),
    ("http://git.internal:8080/sim/", "http://git.internal:8080/sim"),
    ("/home/me/src/sim", None), ("../sim", None), ("file:///srv/git/sim.git", None), ("C:\\src\\sim", None),
    ("", None), ("https://github.com", None),
])
def test_source_label_is_a_web_url_never_a_local_path(remote, url):
    assert source_url(remote) == url


def test_stream_hands_over_every_line_in_order_and_keeps_a_tail(tmp_path):
    seen = []
    res = proc.stream(["sh", "-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; exit 4"], seen.append,
                      keep=3)
    assert seen == [f"{s}{i}" for i in range(1, 6) for s in ("out", "err")]
    assert res.returncode == 4 and res.stderr.splitlines() == ["err4", "out5", "err5"]


def test_stream_stops_the_process_when_the_callback_fails(tmp_path):
    pid_file = tmp_path / "pid"

    def boom(line: str) -> None:
        raise RuntimeError(line)

    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="started"):
        proc.stream(["sh", "-c", f"echo $$ > {pid_file}; echo started; exec sleep 30"], boom)
    assert time.monotonic() - t0 < 10
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
