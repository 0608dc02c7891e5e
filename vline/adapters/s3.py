"""S3 through boto3: the client is made only when a request is needed (a warm cache makes none);
transfers go through boto3's transfer manager, several objects at once. Endpoint and credentials
come from the normal AWS chain (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, profiles, ...).

Nothing here trusts ETags or S3 checksums: callers hash what they receive.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ..errors import EnvironmentFailure, InputError
from ..fsio import describe, is_local_failure

MAX_ATTEMPTS = 4  # botocore's standard retry mode: 5xx, throttling and connection errors


class Location(NamedTuple):
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class BucketUrl(NamedTuple):
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str | None) -> BucketUrl | None:
        url = url or os.environ.get("CONFORMANCE_BUCKET")
        if not url:
            return None
        if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
            raise InputError(f"bucket {url!r} is not s3://bucket[/prefix]")
        bucket, _, prefix = url[5:].partition("/")
        return cls(bucket, prefix.strip("/"))

    def locate(self, bucket_path: str) -> Location:
        key = f"{self.prefix}/{bucket_path}" if self.prefix else bucket_path
        return Location(self.bucket, key)


def locate(bucket: BucketUrl | None, bucket_path: str) -> Location:
    """Where a golden lives: a full s3:// bucket_path as is, else under --bucket / $CONFORMANCE_BUCKET."""
    if bucket_path.startswith("s3://"):
        name, _, key = bucket_path[5:].partition("/")
        return Location(name, key)
    if bucket is None:
        raise InputError(f"{bucket_path} is a key: pass --bucket s3://bucket[/prefix] or set $CONFORMANCE_BUCKET")
    return bucket.locate(bucket_path)


class Unreachable(EnvironmentFailure):
    """S3 did not answer (or kept failing) after retries: exit 3."""


class Missing(Exception):
    pass


class S3:
    def __init__(self, concurrency: int = 8) -> None:
        self.concurrency = concurrency
        self._client = None
        self.requests = 0

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            cfg = Config(retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"}, connect_timeout=5,
                         read_timeout=60, max_pool_connections=max(10, self.concurrency * 2))
            self._client = boto3.session.Session().client("s3", config=cfg)
            self._client.meta.events.register("before-send.s3", self._count)
        return self._client

    def _count(self, **_kw) -> None:
        self.requests += 1

    def manager(self):
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        # Objects under 64 MiB in one GET each, in parallel across objects: against a 12 x 32 MiB set this
        # halved the requests and took 1.6 s instead of 2.5 s (benchmarks/fetch.py).
        cfg = TransferConfig(max_concurrency=self.concurrency, multipart_threshold=64 << 20,
                             multipart_chunksize=8 << 20, num_download_attempts=MAX_ATTEMPTS + 1)
        return create_transfer_manager(self.client, cfg)

    def size(self, loc: Location) -> int | None:
        """The object's size, or None when there is none."""
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=loc.bucket, Key=loc.key)["ContentLength"])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise translate(e, loc) from None
        except Exception as e:  # noqa: BLE001 - mapped below
            raise translate(e, loc) from None

    def transfer(self, jobs: list[tuple[str, Location, Path]],
                 progress: Callable[[int, int], None] | None = None) -> dict[int, BaseException | None]:
        """Run ('download'|'upload', location, path) jobs concurrently; per job None or the error."""
        from s3transfer.subscribers import BaseSubscriber

        class Progress(BaseSubscriber):
            def __init__(self, i: int) -> None:
                self.i = i

            def on_progress(self, future, bytes_transferred, **kwargs) -> None:
                if progress:
                    progress(self.i, bytes_transferred)

        results: dict[int, BaseException | None] = {}
        with self.manager() as tm:
            futures = []
            for i, (kind, loc, path) in enumerate(jobs):
                if kind == "download":
                    fut = tm.download(loc.bucket, loc.key, str(path), subscribers=[Progress(i)])
                else:
                    fut = tm.upload(str(path), loc.bucket, loc.key, subscribers=[Progress(i)])
                futures.append((i, loc, fut))
            for i, loc, fut in futures:
                try:
                    fut.result()
                    results[i] = None
                except BaseException as e:  # noqa: BLE001 - each job reports its own failure
                    results[i] = translate(e, loc)
        return results


def translate(e: BaseException, loc: Location) -> BaseException:
    """botocore/s3transfer errors as vline errors: missing objects, refusals, or unreachable (exit 3)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in ("404", "NoSuchKey", "NotFound"):
            return Missing(f"{loc}: no such object")
        if code in ("NoSuchBucket",):
            return InputError(f"{loc}: no such bucket")
        if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"):
            return Unreachable(f"{loc}: S3 kept failing after {MAX_ATTEMPTS} attempts ({code or status})")
        return InputError(f"{loc}: S3 refused ({code}: {e.response.get('Error', {}).get('Message', '')})")
    if is_local_failure(e):  # writing the download failed here: not the network's fault
        return EnvironmentFailure(f"cannot write the download of {loc}: {describe(e)}")  # type: ignore[arg-type]
    if isinstance(e, NoCredentialsError):
        return Unreachable("no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)")
    if isinstance(e, (BotoCoreError, OSError)) or type(e).__module__.startswith("s3transfer"):
        return Unreachable(f"{loc}: S3 unreachable after retries ({type(e).__name__}: {e})")
    return e
