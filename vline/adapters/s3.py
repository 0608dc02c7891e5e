"""S3: the client is made only when a request is needed (a warm cache makes none). Downloads are ranged
GETs run by our own threads, hashed as the bytes arrive (`S3.download`), signed on the standard library
when the environment allows it (adapters/s3http.py) and through botocore otherwise; uploads go through
boto3's transfer manager. Endpoint and credentials come from the normal AWS chain (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, profiles, ...).

Nothing here trusts ETags or S3 checksums: downloads return the sha256 of the bytes received.
"""
from __future__ import annotations

import errno
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ..errors import EnvironmentFailure, InputError
from ..fsio import describe, is_local_failure
from ..extras import need
from . import s3http
from .s3http import MAX_ATTEMPTS
# Chosen with `benchmarks/fetch.py --sweep` against moto, which reads the whole object for every ranged
# GET, so each extra part costs a full read (3 x 512 MiB: 1.8 s in one GET each, 4.5 s in 256 MiB parts,
# 6.1 s in 64 MiB ones, 56 s in 8 MiB ones); 2 to 12 GETs in flight fetch 12 x 32 MiB alike on 2 cores
# (0.55-0.64 s, within the noise: the CPU is the limit), and more in flight hide a remote S3's latency. Real S3
# serves a range for the cost of its bytes: there, smaller parts may pay off for a single large object.
CONCURRENCY = 8  # GETs in flight (threads, pooled connections)
PART_SIZE = 512 << 20  # an object larger than this comes as ranged GETs of this size, in parallel
CHUNK = 512 << 10  # bytes per read: Python's per-call cost vanishes, and the chunk is still in cache to hash
MAX_OBJECT = 1 << 46  # 64 TiB, above S3's largest object: a larger claimed size is a lie, not a file to make
AHEAD = 64 << 20  # bytes of later parts held in memory until the hash reaches them, over all objects


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


class Changed(Exception):
    """The object changed while its parts were downloaded."""


class LocalWrite(Exception):
    """Making or writing the download's file failed here (`cause`): the disk, never the network."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Fetched(NamedTuple):
    sha256: str
    size: int


class S3:
    def __init__(self, concurrency: int | None = None, part_size: int | None = None) -> None:
        self.concurrency = concurrency or CONCURRENCY
        self.part_size = part_size or PART_SIZE
        self._client = None
        self._direct: s3http.Direct | None | bool = None  # False: the environment needs botocore
        self._lock = threading.Lock()
        self._botocore_requests = 0

    @property
    def requests(self) -> int:
        return self._botocore_requests + (self._direct.requests if self._direct else 0)

    @property
    def client(self):
        if self._client is None:
            need("botocore", "s3")
            import botocore.session
            from botocore.config import Config

            opts = dict(retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"}, connect_timeout=5,
                        read_timeout=60, max_pool_connections=max(10, self.concurrency))
            try:  # we hash every byte with sha256: botocore's CRC of whole-object GETs would be wasted CPU
                cfg = Config(**opts, response_checksum_validation="when_required")
            except TypeError:  # botocore < 1.36 has no such option (and no such check)
                cfg = Config(**opts)
            # botocore's own session: the client boto3 would make, without importing boto3's resource layer
            self._client = botocore.session.Session().create_client("s3", config=cfg)
            self._client.meta.events.register("before-send.s3", self._count)
        return self._client

    def _count(self, **_kw) -> None:
        with self._lock:
            self._botocore_requests += 1

    def download(self, jobs: list[tuple[Location, Path | None]],
                 progress: Callable[[int, int], None] | None = None) -> dict[int, Fetched | BaseException]:
        """Fetch each (location, path) at once, path None to hash only; per job the sha256 and size of the
        bytes received, or the error. Every byte is hashed once, as it arrives, and never read back."""
        if not jobs:
            return {}
        if self._direct is None:
            self._direct = s3http.Direct.from_env() or False
        if self._direct and all(s3http.Direct.serves(loc.bucket) for loc, _ in jobs):
            gets: _Gets = _DirectGets(self._direct)
        else:
            gets = _BotocoreGets(self.client)
        try:
            return _Download(gets, self.concurrency, self.part_size, progress).run(jobs)
        finally:
            if self._direct:
                self._direct.close()  # its workers are gone: their connections cannot be used again

    def manager(self):
        need("boto3", "s3")
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        # uploads only (downloads are `download`): objects over 64 MiB go up in 8 MiB parts
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
    """botocore/s3transfer/s3http errors as vline errors: missing objects, refusals, or unreachable (exit 3)."""
    if isinstance(e, s3http.Failed):
        return _refusal(e.code, e.status, e.message, loc)
    if isinstance(e, s3http.Gone):  # no answer: never this machine's disk, whatever the errno says
        return _unreachable(e.cause, loc)
    if isinstance(e, LocalWrite):
        return EnvironmentFailure(f"cannot write the download of {loc}: {describe(e.cause)}")
    if type(e).__module__ == "ssl" or isinstance(e, (ConnectionError, TimeoutError)):  # an SSL errno is OpenSSL's
        return _unreachable(e, loc)
    if is_local_failure(e):  # s3transfer's own file work (uploads): not the network's fault
        return EnvironmentFailure(f"cannot write the download of {loc}: {describe(e)}")  # type: ignore[arg-type]
    if isinstance(e, OSError) or type(e).__module__ == "http.client":
        return _unreachable(e, loc)
    if not type(e).__module__.startswith(("botocore", "s3transfer")):
        return e
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(e, ClientError):
        return _refusal(str(e.response.get("Error", {}).get("Code", "")),
                        e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
                        e.response.get("Error", {}).get("Message", ""), loc)
    if isinstance(e, NoCredentialsError):
        return Unreachable("no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)")
    if isinstance(e, BotoCoreError) or type(e).__module__.startswith("s3transfer"):
        return _unreachable(e, loc)
    return e


def _unreachable(e: BaseException, loc: Location) -> Unreachable:
    """No answer after retries, naming the last failure in one plain line (it may quote the server)."""
    return Unreachable(f"{loc}: S3 unreachable after retries ({s3http.plain(f'{type(e).__name__}: {e}')})")


def _refusal(code: str, status: int, message: str, loc: Location) -> BaseException:
    if code in ("404", "NoSuchKey", "NotFound") or (status == 404 and not code):
        return Missing(f"{loc}: no such object")
    if code in ("NoSuchBucket",):
        return InputError(f"{loc}: no such bucket")
    if s3http.transient(status, code):
        return Unreachable(f"{loc}: S3 kept failing after {MAX_ATTEMPTS} attempts ({code or status})")
    if status >= 500:  # the server failed, once (not a status worth asking again): still not the input
        return Unreachable(f"{loc}: S3 failed ({code or status}: {message})")
    return InputError(f"{loc}: S3 refused ({code or status}: {message})")


# --- downloads: ranged GETs written in place, hashed in order as they arrive -----------------------------
#
# The first GET of an object asks for its first part and learns the size from Content-Range; the other
# parts are then queued, each on its own GET. Every part is written where it belongs (pwrite into a
# preallocated file). sha256 must see the bytes in order: a chunk at the hashed prefix's end is hashed
# at once (then any held chunks that follow it); a chunk further on is held in memory, up to AHEAD bytes
# over all objects, after which its reader pauses (its socket fills and the server waits). Parts run in
# the order they were queued, so the part at each object's hashed end is always running and never
# pauses: the held chunks always drain.

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class _Cut(ConnectionError):
    """The body ended before its last byte."""


class _Gets:
    """One way of sending GETs: `open` answers the extent S3 sent and a body whose read(n) gives bytes
    (or a view valid until the next read); `retryable` are a body's failures worth resuming."""

    retryable: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

    def open(self, loc: Location, first: int, last: int | None, stopped: Callable[[], bool]):
        """`stopped()` true: the download stopped, so no more attempts."""
        raise NotImplementedError

    def invalid_range(self, e: BaseException) -> bool:
        """S3 said the range is past the end (an empty object has no byte 0)."""
        raise NotImplementedError

    def finished(self, body) -> None:
        """Every byte asked for was read from `body`."""


class _DirectGets(_Gets):
    def __init__(self, direct: s3http.Direct) -> None:
        import http.client
        import ssl

        self.direct = direct
        self.retryable = (ConnectionError, TimeoutError, http.client.IncompleteRead, ssl.SSLError)

    def open(self, loc: Location, first: int, last: int | None, stopped: Callable[[], bool]):
        try:
            return self.direct.get(loc.bucket, loc.key, first, last, stopped)
        except ValueError as e:
            raise Changed(f"{loc}: {e}") from None

    def invalid_range(self, e: BaseException) -> bool:
        return isinstance(e, s3http.Failed) and e.code == "InvalidRange"

    def finished(self, body) -> None:
        body.finished()


class _BotocoreGets(_Gets):
    def __init__(self, client) -> None:
        from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

        self.client = client
        # what s3transfer retries too: a stream cut or stalled mid-body (botocore retried the request itself)
        self.retryable = (ReadTimeoutError, ResponseStreamingError, IncompleteReadError, ConnectionError,
                          TimeoutError)

    def open(self, loc: Location, first: int, last: int | None, stopped: Callable[[], bool]):
        kw = {"Range": f"bytes={first}-{last}"} if last is not None else {}  # botocore retries on its own
        resp = self.client.get_object(Bucket=loc.bucket, Key=loc.key, **kw)
        body = resp["Body"]
        try:
            return s3http.extent(int(resp["ContentLength"]), resp.get("ContentRange")), body
        except ValueError as e:
            body.close()
            raise Changed(f"{loc}: {e}") from None

    def invalid_range(self, e: BaseException) -> bool:
        from botocore.exceptions import ClientError

        return isinstance(e, ClientError) and e.response.get("Error", {}).get("Code") == "InvalidRange"


class _Abandoned(Exception):
    """Another part of the object failed, or the run was interrupted: stop quietly."""


class _Object:
    def __init__(self, i: int, loc: Location, path: Path | None) -> None:
        self.i, self.loc, self.path = i, loc, path
        self.fd = -1
        self.size = -1
        self.sha = hashlib.sha256()
        self.hashed = 0  # the length of the prefix hashed so far
        self.held: dict[int, bytes] = {}  # offset -> chunk received ahead of the hash
        self.parts = 1  # parts not finished; the first part adds the others
        self.error: BaseException | None = None
        self.done = threading.Event()


class _Download:
    def __init__(self, gets: _Gets, workers: int, part_size: int, progress: Callable[[int, int], None] | None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.gets, self.part_size = gets, part_size
        self.progress = progress or (lambda i, n: None)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="vline-s3")  # FIFO: parts run in order
        self.cv = threading.Condition()
        self.ahead = 0
        self.stop = False

    def run(self, jobs: list[tuple[Location, Path | None]]) -> dict[int, Fetched | BaseException]:
        objs = [_Object(i, loc, path) for i, (loc, path) in enumerate(jobs)]
        try:
            for o in objs:
                self.pool.submit(self._part, o, 0, self.part_size - 1, True)
            for o in objs:
                o.done.wait()
        finally:
            self.stop = True  # an interrupt: running parts stop at their next chunk
            with self.cv:
                self.cv.notify_all()
            self.pool.shutdown(wait=True, cancel_futures=True)
            for o in objs:
                if o.fd >= 0:
                    os.close(o.fd)
        return {o.i: o.error if o.error is not None else Fetched(o.sha.hexdigest(), o.size) for o in objs}

    def _part(self, o: _Object, start: int, end: int, first: bool = False) -> None:
        try:
            if o.error is None and not self.stop:
                self._get(o, start, end, first)
        except (_Abandoned, s3http.Cancelled):
            pass
        except BaseException as e:  # noqa: BLE001 - the object reports its first failure
            with self.cv:
                if o.error is None:
                    o.error = translate(e, o.loc)
                    self.ahead -= sum(map(len, o.held.values()))
                    o.held.clear()
                self.cv.notify_all()
        finally:
            with self.cv:
                o.parts -= 1
                if o.parts == 0:
                    if o.error is None and o.hashed != o.size:  # cannot happen: every chunk was fed
                        o.error = Changed(f"{o.loc}: {o.hashed} of {o.size} bytes hashed")
                    o.done.set()

    def _get(self, o: _Object, start: int, end: int, first: bool) -> None:
        pos, tries, ranged = start, 0, True
        while True:
            body = None
            try:
                try:
                    (got_start, got_end, total), body = self.gets.open(o.loc, pos, end if ranged else None,
                                                                       lambda: self.stop)
                except Exception as e:
                    if first and ranged and self.gets.invalid_range(e):  # an empty object: ask for all of it
                        ranged = False
                        continue
                    raise
                if first:
                    end = self._sized(o, got_end, total)
                    first = False
                elif total != o.size:
                    raise Changed(f"{o.loc} changed during the download ({o.size} bytes, now {total})")
                if got_start != pos or got_end != end:
                    raise Changed(f"{o.loc}: asked for bytes {pos}-{end}, got {got_start}-{got_end}")
                while pos <= end:
                    if o.error is not None or self.stop:
                        raise _Abandoned
                    data = body.read(min(CHUNK, end + 1 - pos))
                    if not data:
                        raise _Cut(f"the stream ended after {pos - got_start} of {end + 1 - got_start} bytes")
                    if o.fd >= 0:
                        self._write_at(o, data, pos)
                    self._feed(o, pos, data)
                    pos += len(data)
                    self.progress(o.i, len(data))
                self.gets.finished(body)
                return
            except self.gets.retryable:
                tries += 1
                if tries > MAX_ATTEMPTS:
                    raise
            finally:
                if body is not None and pos <= end:
                    body.close()  # a cut or abandoned stream: its connection is not reused

    def _sized(self, o: _Object, first_end: int, total: int) -> int:
        """The first answer told the size: make the file and queue the other parts; returns this part's end."""
        if total > MAX_OBJECT:
            raise Changed(f"{o.loc}: the answer claims {total} bytes, more than an S3 object can hold")
        o.size = total
        if o.path is not None:
            try:
                o.fd = os.open(o.path, _CREATE, 0o644)
            except OSError as e:
                raise LocalWrite(e) from None
            if total and hasattr(os, "posix_fallocate"):
                try:  # a full disk fails here, before any byte is fetched
                    os.posix_fallocate(o.fd, 0, total)
                except OSError as e:
                    if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                        raise LocalWrite(e) from None
        starts = range(first_end + 1, total, self.part_size)
        with self.cv:
            o.parts += len(starts)
        for s in starts:
            self.pool.submit(self._part, o, s, min(s + self.part_size, total) - 1)
        return first_end

    def _write_at(self, o: _Object, data: bytes, pos: int) -> None:
        try:
            if hasattr(os, "pwrite"):
                os.pwrite(o.fd, data, pos)
                return
            with self.cv:  # no pwrite (Windows): seek and write under the lock
                os.lseek(o.fd, pos, os.SEEK_SET)
                os.write(o.fd, data)
        except OSError as e:
            raise LocalWrite(e) from None

    def _feed(self, o: _Object, pos: int, data: bytes) -> None:
        with self.cv:
            while pos != o.hashed:
                if o.error is not None or self.stop:
                    raise _Abandoned
                if self.ahead + len(data) <= AHEAD:
                    o.held[pos] = bytes(data)  # a view of a reused buffer (s3http) must be copied to be kept
                    self.ahead += len(data)
                    return
                self.cv.wait()
        while True:  # at the hashed end: only this thread can be here for this object
            o.sha.update(data)
            with self.cv:
                o.hashed += len(data)
                data = o.held.pop(o.hashed, None)
                if data is not None:
                    self.ahead -= len(data)
                self.cv.notify_all()
                if data is None:
                    return
