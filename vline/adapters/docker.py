"""The Docker engine through the docker SDK: build (log streamed), tag, push (registry digest)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import EnvironmentFailure


class BuildFailed(Exception):
    pass


def split_ref(ref: str) -> tuple[str, str]:
    """`repo:tag` → (repo, tag); a registry port's colon is not a tag separator."""
    repo, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, "latest"
    return repo, tag


class Engine:
    def __init__(self) -> None:
        import docker
        from docker.errors import DockerException

        try:
            self.client = docker.from_env(timeout=600)
            self.client.ping()
        except DockerException as e:
            raise EnvironmentFailure(f"no Docker engine answers: {str(e).splitlines()[0][:200]}") from None

    def build(self, context: Path, dockerfile: str, tag: str, labels: dict[str, str],
              log: Callable[[str], None]) -> str:
        """Build with the engine, streaming its log; returns the image id."""
        from docker.errors import APIError

        image_id = None
        try:
            for chunk in self.client.api.build(path=str(context), dockerfile=dockerfile, tag=tag, labels=labels,
                                               rm=True, forcerm=True, decode=True):
                if "stream" in chunk:
                    for ln in chunk["stream"].splitlines():
                        if ln.strip():
                            log(ln)
                if "error" in chunk:
                    raise BuildFailed(chunk["error"].strip())
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
        except APIError as e:
            raise BuildFailed(e.explanation or str(e)) from None
        if image_id is None:
            image_id = self.client.images.get(tag).id
        return image_id

    def tag(self, image_id: str, ref: str) -> None:
        repo, tag = split_ref(ref)
        self.client.images.get(image_id).tag(repo, tag)

    def push(self, ref: str, log: Callable[[str], None]) -> str:
        """Push one tag; returns the digest the registry reported."""
        from docker.errors import APIError

        repo, tag = split_ref(ref)
        digest = None
        try:
            for chunk in self.client.images.push(repo, tag=tag, stream=True, decode=True):
                if "error" in chunk:
                    raise BuildFailed(f"push {ref}: {chunk['error']}")
                if "aux" in chunk and "Digest" in chunk["aux"]:
                    digest = chunk["aux"]["Digest"]
                elif chunk.get("status") and chunk.get("id") is None:
                    log(chunk["status"])
        except APIError as e:
            raise BuildFailed(f"push {ref}: {e.explanation or e}") from None
        if digest is None:
            raise BuildFailed(f"push {ref}: the registry reported no digest")
        return digest
