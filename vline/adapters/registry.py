"""OCI distribution registries over HTTP (stdlib only): what an image's tag and pinned digest are.

Anonymous pulls with the registry's bearer-token flow (Docker Hub, GHCR, ECR Public...). Loopback
registries, and those in $VLINE_INSECURE_REGISTRIES (comma-separated host[:port]), are spoken to over
plain http, as Docker does. Digests are computed from the bytes received, never taken on trust.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import NamedTuple

from ..capture import ImageRef
from ..errors import EnvironmentFailure

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
MAX_MANIFEST = 4 << 20  # distribution refuses larger manifests
ATTEMPTS = 3
_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}
_PARAM = re.compile(r'(\w+)="([^"]*)"')


class Manifest(NamedTuple):
    digest: str  # sha256 of the bytes the registry sent
    media_type: str
    children: dict[str, str]  # an index's manifests: digest -> "os/arch[/variant]"

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def _plain_http(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    insecure = {h.strip() for h in os.environ.get("VLINE_INSECURE_REGISTRIES", "").split(",") if h.strip()}
    return name in ("localhost", "::1") or name.startswith("127.") or host in insecure


def _platform(p: object) -> str:
    if not isinstance(p, dict):
        return "unknown platform"
    parts = [str(p.get("os", "?")), str(p.get("architecture", "?"))]
    if p.get("variant"):
        parts.append(str(p["variant"]))
    return "/".join(parts)


class Registry:
    """One registry host; bearer tokens are kept per repository for the life of the object."""

    def __init__(self, host: str, timeout: float = 15.0) -> None:
        self.host = host
        self.api = _HOSTS.get(host, host)
        self.base = f"{'http' if _plain_http(host) else 'https'}://{self.api}"
        self.timeout = timeout
        self.tokens: dict[str, str] = {}

    def _open(self, url: str, headers: dict[str, str]):
        """One request, retried on connection failures and 5xx; an HTTPError below 500 is returned."""
        reason = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            try:
                return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=self.timeout)
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    return e
                reason = f"HTTP {e.code}"
            except (urllib.error.URLError, OSError) as e:
                reason = str(getattr(e, "reason", e))
        raise EnvironmentFailure(f"registry {self.host} unreachable after {ATTEMPTS} attempts: {reason}")

    def _token(self, challenge: str, repository: str) -> str:
        scheme, _, params = challenge.partition(" ")
        fields = dict(_PARAM.findall(params))
        if scheme.lower() != "bearer" or "realm" not in fields:
            raise EnvironmentFailure(f"registry {self.host} asks for credentials ({scheme or 'no scheme'}); "
                                     "vline pulls anonymously")
        query = {"scope": f"repository:{repository}:pull"}
        if "service" in fields:
            query["service"] = fields["service"]
        resp = self._open(f"{fields['realm']}?{urllib.parse.urlencode(query)}", {})
        if resp.status != 200:
            raise EnvironmentFailure(f"registry {self.host}: token request refused (HTTP {resp.status})")
        try:
            body = json.loads(resp.read(1 << 20))
            return body.get("token") or body["access_token"]
        except (ValueError, KeyError, AttributeError):
            raise EnvironmentFailure(f"registry {self.host}: token response is not a token") from None

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest at a tag or digest, or None when the registry has none there."""
        url = f"{self.base}/v2/{repository}/manifests/{urllib.parse.quote(reference, safe=':')}"
        headers = {"Accept": ACCEPT}
        if repository in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[repository]}"
        resp = self._open(url, headers)
        if resp.status == 401 and repository not in self.tokens:
            self.tokens[repository] = self._token(resp.headers.get("WWW-Authenticate", ""), repository)
            return self.manifest(repository, reference)
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise EnvironmentFailure(f"registry {self.host}: {repository}:{reference}: HTTP {resp.status}")
        raw = resp.read(MAX_MANIFEST + 1)
        if len(raw) > MAX_MANIFEST:
            raise EnvironmentFailure(f"registry {self.host}: {repository}:{reference}: manifest over 4 MiB")
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise EnvironmentFailure(f"registry {self.host}: {repository}@{reference}: the bytes received hash "
                                     f"to {digest}")
        try:
            body = json.loads(raw)
        except ValueError:
            raise EnvironmentFailure(f"registry {self.host}: {repository}:{reference}: not a JSON manifest") from None
        media = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        if not isinstance(body, dict):
            body = {}
        if media not in (*INDEX_TYPES, OCI_MANIFEST, DOCKER_MANIFEST):
            media = str(body.get("mediaType", media))
        children = {}
        if media in INDEX_TYPES:
            for m in body.get("manifests") or []:
                if isinstance(m, dict) and isinstance(m.get("digest"), str):
                    children[m["digest"]] = _platform(m.get("platform"))
        return Manifest(digest, media, children)


class Verdict(NamedTuple):
    ok: bool
    kind: str  # index | manifest | missing
    digest: str  # what the pin (or the tag, when unpinned) resolves to
    use: str  # the reference to pin
    message: str


def verify(ref: ImageRef, registry: Registry | None = None) -> Verdict:
    """An engine image pinned so that every node runs it: a single-platform manifest pinned where the tag is
    a multi-arch index is refused (a node of another platform crash-loops on exec format error)."""
    reg = registry or Registry(ref.registry)
    name = f"{ref.registry}/{ref.repository}"
    tagged = reg.manifest(ref.repository, ref.tag) if ref.tag else None
    if not ref.digest:
        if tagged is None:
            return Verdict(False, "missing", "", "", f"{name}:{ref.tag} is not in the registry")
        use = ref.with_digest(tagged.digest)
        return Verdict(False, "index" if tagged.is_index else "manifest", tagged.digest, use,
                       f"not pinned by digest: pin {use}")
    pinned = reg.manifest(ref.repository, ref.digest)
    if pinned is None:
        return Verdict(False, "missing", ref.digest, "", f"{name}@{ref.digest} is not in the registry")
    if pinned.is_index:
        moved = (f"; note: tag {ref.tag} now points at {tagged.digest}"
                 if tagged is not None and tagged.digest != pinned.digest else "")
        return Verdict(True, "index", pinned.digest, ref.with_digest(pinned.digest),
                       f"multi-arch index of {len(pinned.children)} platform(s){moved}")
    if tagged is not None and tagged.is_index:
        child = tagged.children.get(pinned.digest)
        which = f"the {child} manifest of" if child else "a single-platform manifest, not"
        use = ref.with_digest(tagged.digest)
        return Verdict(False, "manifest", pinned.digest, use,
                       f"{ref.digest} is {which} the multi-arch index {ref.tag} resolves to: a node of any other "
                       f"platform crash-loops on it (exec format error); pin the index: {use}")
    return Verdict(True, "manifest", pinned.digest, ref.with_digest(pinned.digest),
                   "single-platform image (its tag is no multi-arch index)" if tagged is not None
                   else "single-platform manifest (no tag to compare with)")
