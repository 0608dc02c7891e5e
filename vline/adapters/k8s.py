"""The Kubernetes API through the `kubernetes` client: kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config)
or the in-cluster service account. Only `capture submit` imports this module.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import NamedTuple

from ..errors import EnvironmentFailure, InputError, Refused
from ..extras import need
from ..k8s import SPEC_ANNOTATION

DELETE_WAIT = 120.0  # seconds --replace waits for the old Job to be gone


class Existing(NamedTuple):
    digest: str | None  # its vline/spec-sha256 annotation; None when vline did not make it
    uid: str


def _client_module():
    need("kubernetes", "capture")
    from kubernetes import client, config

    return client, config


class Cluster:
    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        client, config = _client_module()
        self.client = client
        conf = client.Configuration()
        path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        paths = [p for p in path.split(os.pathsep) if p]
        try:
            if kubeconfig or any(Path(p).is_file() for p in paths):
                config.load_kube_config(config_file=path if kubeconfig else None, context=context,
                                        client_configuration=conf, persist_config=False)
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=conf)
            else:
                raise EnvironmentFailure("no Kubernetes credentials: no kubeconfig (--kubeconfig, $KUBECONFIG, "
                                         "~/.kube/config) and not running in a cluster")
        except config.ConfigException as e:
            raise InputError(f"kubeconfig: {e}") from None
        except OSError as e:
            raise EnvironmentFailure(f"kubeconfig {path}: {e.strerror or e}") from None
        conf.retries = 3
        self.api = client.BatchV1Api(client.ApiClient(conf))
        self.server = conf.host

    def _call(self, what: str, fn, *args, **kw):
        """One API call; None for 404. Unreachable, forbidden or rejected: exit 3 naming the server's reason."""
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kw)
        except ApiException as e:
            if e.status == 404:
                return None
            if e.status == 409:
                raise Refused(f"{what}: it was created meanwhile by someone else; run the command again") from None
            raise EnvironmentFailure(f"{what}: the API server at {self.server} answered {e.status} "
                                     f"{_reason(e)}") from None
        except Exception as e:  # urllib3 connection errors and their kin
            if type(e).__module__.startswith(("urllib3", "ssl", "socket")) or isinstance(e, OSError):
                raise EnvironmentFailure(f"{what}: the API server at {self.server} is unreachable: "
                                         f"{type(e).__name__}") from None
            raise

    def get(self, namespace: str, name: str) -> Existing | None:
        resp = self._call(f"read Job {namespace}/{name}", self.api.read_namespaced_job, name, namespace,
                          _preload_content=False)
        if resp is None:
            return None
        meta = json.loads(resp.data).get("metadata", {})
        return Existing((meta.get("annotations") or {}).get(SPEC_ANNOTATION), meta.get("uid", ""))

    def create(self, doc: dict) -> None:
        body = self.client.V1Job.from_dict(doc) if hasattr(self.client.V1Job, "from_dict") else doc
        ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
        # clients made by openapi-generator 7 send the JSON body with no Content-Type: say what it is
        typed = ({"_headers": {"Content-Type": "application/json"}}
                 if "_headers" in _params(self.api.create_namespaced_job) else {})
        resp = self._call(f"create Job {ns}/{name}", self.api.create_namespaced_job, ns, body,
                          _preload_content=False, **typed)
        if resp is None:
            raise EnvironmentFailure(f"create Job {ns}/{name}: the API server at {self.server} answered 404 "
                                     f"(does namespace {ns} exist?)")

    def delete(self, namespace: str, name: str, uid: str) -> None:
        """Delete the Job and its pods, then wait until it is gone (a Job's template cannot be changed in place)."""
        self._call(f"delete Job {namespace}/{name}", self.api.delete_namespaced_job, name, namespace,
                   propagation_policy="Background", _preload_content=False)
        deadline = time.monotonic() + DELETE_WAIT
        while True:
            now = self.get(namespace, name)
            if now is None or now.uid != uid:
                return
            if time.monotonic() > deadline:
                raise EnvironmentFailure(f"Job {namespace}/{name} still exists {DELETE_WAIT:.0f} s after its deletion")
            time.sleep(0.5)


def _params(fn) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _reason(e) -> str:
    try:
        body = json.loads(e.body)
        return f"{body.get('reason', '')}: {body.get('message', '')}".strip(": ")
    except (TypeError, ValueError, AttributeError):
        return str(e.reason or "")
