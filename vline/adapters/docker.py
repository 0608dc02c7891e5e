"""Image builds with BuildKit through the docker CLI: a probe picks `docker buildx build` or, for clients
without buildx, `DOCKER_BUILDKIT=1 docker build`; push reads the registry's digest from the CLI's output.
The docker SDK is not used: its build API is the legacy builder (no RUN --mount, secrets, or skipped stages)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from .. import proc
from ..errors import EnvironmentFailure

MIN_API = (1, 39)  # the daemon API that first served BuildKit sessions (Docker 18.09)
_DIGEST = re.compile(r"\bdigest: (sha256:[0-9a-f]{64})\b")


class BuildFailed(Exception):
    pass


class Builder(NamedTuple):
    exe: str  # the docker client, resolved
    buildx: bool  # `docker buildx build`; else `docker build` with DOCKER_BUILDKIT=1

    def describe(self) -> str:
        return f"{self.exe} buildx build" if self.buildx else f"DOCKER_BUILDKIT=1 {self.exe} build"


def _first(res: proc.Result) -> str:
    lines = [ln.strip() for ln in (res.stderr + "\n" + res.stdout).splitlines() if ln.strip()]
    return (lines or [f"exit code {res.returncode}"])[0][:200]


def _api(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return ()


def resolve(docker: str | None) -> str:
    name = docker or "docker"
    exe = shutil.which(name)
    if exe is None:
        raise EnvironmentFailure(f"no docker client {name!r} (not found or not executable; pass --docker PATH "
                                 f"or set VLINE_DOCKER)")
    return exe


def probe(docker: str | None) -> Builder:
    """The BuildKit builder this client and daemon offer. Never the legacy builder: none is an error naming
    what was probed."""
    exe = resolve(docker)
    try:
        return _probe(exe)
    except OSError as e:
        raise EnvironmentFailure(f"cannot run the docker client {exe}: {e.strerror or e}") from None


def _probe(exe: str) -> Builder:
    env = {"DOCKER_BUILDKIT": "1"}
    ver = proc.run([exe, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}"], extra_env=env)
    if not ver.ok:
        raise EnvironmentFailure(f"no Docker engine answers ({exe} version: {_first(ver)})")
    api, _, os_name = ver.stdout.strip().partition(" ")
    bx = proc.run([exe, "buildx", "version"], extra_env=env)
    if bx.ok:
        return Builder(exe, True)
    if _api(api) < MIN_API or os_name.strip() not in ("linux", ""):
        why = (f"the daemon (API {api or '?'}, {os_name.strip() or '?'}) serves no BuildKit (needs Linux, "
               f"API >= {'.'.join(map(str, MIN_API))})")
    else:
        helped = proc.run([exe, "build", "--help"], extra_env=env)
        if not helped.ok:
            why = f"`DOCKER_BUILDKIT=1 {exe} build` refuses: {_first(helped)}"
        elif "--secret" not in helped.stdout:  # the 18.09-22.x clients list BuildKit's flags only when it is on
            why = f"`DOCKER_BUILDKIT=1 {exe} build --help` offers no BuildKit options (--secret)"
        else:
            return Builder(exe, False)
    others = [p for p in _on_path("docker") if os.path.realpath(p) != os.path.realpath(exe)]
    hint = f"; other docker clients on PATH: {', '.join(others)}" if others else ""
    raise EnvironmentFailure(f"no BuildKit builder: `{exe} buildx version` failed ({_first(bx)}) and "
                             f"{why}; name a client with buildx or BuildKit: --docker PATH or VLINE_DOCKER"
                             f"{hint}")


def _on_path(name: str) -> list[str]:
    seen: dict[str, str] = {}  # real path -> first name on PATH (/bin is often /usr/bin)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d or ".", name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            seen.setdefault(os.path.realpath(p), p)
    return list(seen.values())


def _error(res: proc.Result) -> str:
    """The line a failed docker command ends with is its cause (BuildKit prints the failing step above it)."""
    lines = [ln.strip() for ln in res.stderr.splitlines() if ln.strip()]
    last = lines[-1] if lines else f"exit code {res.returncode}"
    return last.removeprefix("ERROR: ").removeprefix("error: ")[:300]


class Engine:
    def __init__(self, docker: str | None = None) -> None:
        self.builder = probe(docker)
        self._env = {"DOCKER_BUILDKIT": "1"}

    def build(self, context: Path, dockerfile: str, tags: Sequence[str], labels: dict[str, str],
              build_args: dict[str, str], log: Callable[[str], None], *, target: str | None = None,
              secrets: Sequence[str] = ()) -> str:
        """Build with BuildKit, streaming its plain progress to `log`; returns the image id."""
        b = self.builder
        with tempfile.TemporaryDirectory(prefix="vline-build-") as tmp:
            iid = Path(tmp) / "iid"
            args = [b.exe, *(["buildx", "build", "--load"] if b.buildx else ["build"]),
                    "--progress=plain", "--iidfile", str(iid), "-f", dockerfile]
            for ref in tags:
                args += ["-t", ref]
            for k, v in labels.items():
                args += ["--label", f"{k}={v}"]
            for k, v in build_args.items():
                args += ["--build-arg", f"{k}={v}"]
            if target:
                args += ["--target", target]
            for s in secrets:
                args += ["--secret", s]
            res = proc.stream([*args, "."], log, cwd=context, extra_env=self._env)
            if not res.ok:
                raise BuildFailed(_error(res))
            image_id = iid.read_text().strip() if iid.is_file() else ""
        if not image_id:
            raise BuildFailed(f"{b.describe()} wrote no image id")
        return image_id

    def push(self, ref: str, log: Callable[[str], None]) -> str:
        """Push one tag; returns the digest the registry reported."""
        found: list[str] = []

        def seen(line: str) -> None:
            m = _DIGEST.search(line)
            if m:
                found.append(m.group(1))
            log(line)

        res = proc.stream([self.builder.exe, "push", ref], seen, extra_env=self._env)
        if not res.ok:
            raise BuildFailed(f"push {ref}: {_error(res)}")
        if not found:
            raise BuildFailed(f"push {ref}: the registry reported no digest")
        return found[-1]
