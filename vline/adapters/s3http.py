"""S3 GETs on the standard library (http.client, SigV4 by hmac) for the usual CI setup: credentials and
endpoint in the environment and nothing else (what aws-actions/configure-aws-credentials leaves).

Why not botocore here: importing it and making a client costs 0.2-0.3 s, more than s5cmd takes to fetch
12 x 32 MiB, and its streaming body copies every chunk once more. `Direct.from_env` answers None for any
environment it does not fully understand (a profile, a config file, a proxy, a CA bundle, FIPS, a region
outside the aws partition, an endpoint with a path, ...): botocore serves those. URLs follow botocore's
(path style on a custom endpoint; virtual-hosted on AWS) and the signature is botocore's; both are
checked against botocore itself, and signatures against moto verifying them (tests/test_s3http.py).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ..lazy_re import compile as lazy_compile

if TYPE_CHECKING:
    import http.client

MAX_ATTEMPTS = 4  # as botocore's standard retry mode: 5xx, throttling and connection errors
CONNECT_TIMEOUT, READ_TIMEOUT = 5, 60
EMPTY_SHA = hashlib.sha256(b"").hexdigest()

# AWS_* variables that change nothing here (or that botocore reads only for other services); any other
# AWS_* variable sends the run to botocore.
_UNDERSTOOD = frozenset({
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_REGION",
    "AWS_REGION",  # botocore does not read it (only AWS_DEFAULT_REGION): neither do we
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_EC2_METADATA_DISABLED", "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID", "AWS_DEFAULT_OUTPUT", "AWS_PAGER", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
    "AWS_CA_BUNDLE",  # the certificates an https endpoint is checked against, as botocore does
})
_AWS_REGION = lazy_compile(r"(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]{1,2}")  # the aws partition
_BUCKET = lazy_compile(r"[A-Za-z0-9._-]{1,255}")  # what botocore accepts at all
_VIRTUAL = lazy_compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")  # a bucket botocore addresses as a host on AWS
TRANSIENT = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "SlowDown",
                        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
                        "TooManyRequestsException", "RequestLimitExceeded", "BandwidthLimitExceeded",
                        "RequestThrottled", "InternalError", "ServiceUnavailable"})


def transient(status: int, code: str) -> bool:
    """An answer worth asking again (botocore's standard mode): 500/502/503/504, throttling, timeouts."""
    return status in (500, 502, 503, 504) or code in TRANSIENT


_ERROR_FIELD = lazy_compile(rb"<(Code|Message)>([^<]{0,1000})</\1>")


class Gone(Exception):
    """No answer after retries: the connection failed each time (`cause` the last failure)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class Cancelled(Exception):
    """The download stopped (an interrupt, or another part failed): no more attempts."""


class Failed(Exception):
    """S3 answered an error: its status and error code, after retries when it was transient."""

    def __init__(self, status: int, code: str, message: str, attempts: int = 1) -> None:
        super().__init__(f"{code or status}: {message}")
        self.status, self.code, self.message, self.attempts = status, code, message, attempts


class Extent(NamedTuple):
    first: int
    last: int
    total: int


class Direct:
    """Signed GETs, one kept-alive connection per thread."""

    def __init__(self, key: str, secret: str, token: str | None, region: str, endpoint: str | None,
                 ca_bundle: str | None = None) -> None:
        self.key, self.secret, self.token, self.region = key, secret, token, region
        self.ca_bundle = ca_bundle
        self._tls = None
        self.endpoint = endpoint  # scheme://host[:port], or None for AWS itself
        self.regions: dict[str, str] = {}  # bucket -> region S3 redirected us to
        self.requests = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._opened: list = []  # every connection made, by any thread: close() closes them all
        self._keys: dict[tuple[str, str], bytes] = {}

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ = os.environ) -> Direct | None:
        """The direct path when the environment holds credentials and nothing else that matters, else None."""
        for name in env:
            if name.startswith("AWS_") and name not in _UNDERSTOOD:
                return None
            low = name.lower()
            if low.endswith("_proxy") and low != "no_proxy" and env[name]:
                return None
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if not key or not secret:
            return None
        if any(os.path.exists(os.path.expanduser(f"~/.aws/{f}")) for f in ("config", "credentials")):
            return None  # botocore reads settings (region, endpoint_url, ...) from either
        token = env.get("AWS_SECURITY_TOKEN") or env.get("AWS_SESSION_TOKEN") or None  # botocore's order
        region = env.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        if endpoint is not None:
            endpoint = _plain_endpoint(endpoint)
            if endpoint is None:
                return None
        elif not _AWS_REGION.fullmatch(region):
            return None
        if any(ord(c) < 33 or ord(c) > 126 for c in key + secret + (token or "") + region):
            return None  # botocore's problem to report
        return cls(key, secret, token, region, endpoint, env.get("AWS_CA_BUNDLE") or None)

    @staticmethod
    def serves(bucket: str) -> bool:
        return _BUCKET.fullmatch(bucket) is not None

    # --- addressing and signing ---------------------------------------------------------------------

    def url(self, bucket: str, key: str, region: str | None = None) -> tuple[str, str, str]:
        """(scheme, host[:port], path) as botocore addresses the object (in `region`, else the bucket's)."""
        from urllib.parse import quote

        path = quote(key, safe="/~")
        if self.endpoint is not None:
            scheme, _, host = self.endpoint.partition("://")
            return scheme, host, f"/{quote(bucket, safe='~')}/{path}"
        region = region or self.regions.get(bucket, self.region)
        s3host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
        if _VIRTUAL.fullmatch(bucket):
            return "https", f"{bucket}.{s3host}", f"/{path}"
        return "https", s3host, f"/{quote(bucket, safe='~')}/{path}"

    def sign(self, host: str, path: str, headers: dict[str, str], region: str, now: float) -> dict[str, str]:
        """The headers of a signed GET (SigV4, payload the empty string's hash): `headers` plus host,
        x-amz-date, x-amz-content-sha256, the session token and Authorization."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        day = stamp[:8]
        h = {k.lower(): v.strip() for k, v in headers.items()}
        h.update({"host": host, "x-amz-date": stamp, "x-amz-content-sha256": EMPTY_SHA})
        if self.token:
            h["x-amz-security-token"] = self.token
        names = sorted(h)
        signed = ";".join(names)
        canonical = "\n".join(["GET", path, "", "".join(f"{n}:{h[n]}\n" for n in names), signed, EMPTY_SHA])
        scope = f"{day}/{region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._key(day, region), to_sign.encode(), hashlib.sha256).hexdigest()
        h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.key}/{scope}, SignedHeaders={signed}, "
                              f"Signature={signature}")
        return h

    def _key(self, day: str, region: str) -> bytes:
        k = self._keys.get((day, region))
        if k is None:
            k = ("AWS4" + self.secret).encode()
            for part in (day, region, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._keys[(day, region)] = k
        return k

    # --- requests -----------------------------------------------------------------------------------

    def get(self, bucket: str, key: str, first: int, last: int | None,
            cancelled: Callable[[], bool] = lambda: False) -> tuple[Extent, _Body]:
        """GET bytes first..last (last None: the whole object), retried as botocore would; the extent S3
        answered with and the open body. Raises Failed when S3 refused, Gone when it never answered, and
        ValueError when its headers disagree."""
        import http.client  # here, not above: a warm cache sends no request and needs none of it
        attempt, redirected = 0, False
        while True:
            if cancelled():
                raise Cancelled
            used = self.regions.get(bucket, self.region)  # what this request is sent to and signed for
            scheme, host, path = self.url(bucket, key, used)
            headers = {"range": f"bytes={first}-{last}"} if last is not None else {}
            fresh = True
            try:
                conn, fresh = self._connection(scheme, host)
                signed = self.sign(host, path, headers, used, time.time())
                with self._lock:
                    self.requests += 1
                conn.putrequest("GET", path, skip_host=True)
                for name, value in signed.items():
                    conn.putheader(name, value)
                conn.putheader("user-agent", "vline")
                conn.endheaders()
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                self._drop(scheme, host)
                if not fresh and isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError,
                                                BrokenPipeError)):
                    continue  # a kept-alive connection the server had closed: not an attempt
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    raise Gone(e) from None
                _backoff(attempt)
                continue
            if resp.status in (200, 206):
                try:
                    return _extent(resp), _Body(resp, self, scheme, host)
                except BaseException:
                    self._drop(scheme, host)
                    raise
            status, code, message = resp.status, *self._error(resp, scheme, host)
            region = resp.getheader("x-amz-bucket-region")
            if (status in (301, 307, 400) and region and not redirected and self.endpoint is None
                    and region != used and _AWS_REGION.fullmatch(region)):
                self.regions[bucket] = region  # the bucket lives elsewhere: as botocore, ask there
                redirected = True
                continue
            if transient(status, code):
                attempt += 1
                if attempt < MAX_ATTEMPTS:
                    _backoff(attempt)
                    continue
                raise Failed(status, code, message, attempt)
            raise Failed(status, code, message)

    def _error(self, resp: http.client.HTTPResponse, scheme: str, host: str) -> tuple[str, str]:
        """The error answer's code and message; the connection is kept only when its body was read whole."""
        import http.client

        try:
            body = resp.read(65536)
            if not resp.isclosed():
                self._drop(scheme, host)
        except (OSError, http.client.HTTPException):
            body = b""
            self._drop(scheme, host)
        from html import unescape

        fields = {k.decode(): plain(unescape(v.decode("utf-8", "replace"))) for k, v in _ERROR_FIELD.findall(body)}
        return fields.get("Code", "")[:100], fields.get("Message", "")[:300] or plain(resp.reason or "")

    def _connection(self, scheme: str, host: str) -> tuple[http.client.HTTPConnection, bool]:
        pool = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, host))
        if conn is not None and conn.sock is not None:
            return conn, False
        # (a connection the last answer closed would reconnect by itself, without the read timeout)
        import http.client

        if scheme == "https":
            conn = http.client.HTTPSConnection(host, timeout=CONNECT_TIMEOUT, context=self._context())
        else:
            conn = http.client.HTTPConnection(host, timeout=CONNECT_TIMEOUT)
        conn.connect()
        conn.sock.settimeout(READ_TIMEOUT)
        pool[(scheme, host)] = conn
        with self._lock:
            self._opened.append(conn)
        return conn, True

    def _context(self):
        """TLS that checks the certificate and host name, against the certificates botocore would use:
        AWS_CA_BUNDLE, else certifi's, else the system's."""
        with self._lock:
            if self._tls is None:
                import ssl

                bundle = self.ca_bundle
                if not bundle:
                    try:  # botocore's default: certifi's bundle when installed
                        import certifi

                        bundle = certifi.where()
                    except ImportError:
                        bundle = None
                if bundle and os.path.isdir(bundle):
                    self._tls = ssl.create_default_context(capath=bundle)
                else:
                    self._tls = ssl.create_default_context(cafile=bundle)
            return self._tls

    def _drop(self, scheme: str, host: str) -> None:
        conn = self._local.__dict__.get("pool", {}).pop((scheme, host), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


class _Body:
    """An answer's body: `read(n)` gives a view of this thread's buffer, valid until the next read."""

    def __init__(self, resp: http.client.HTTPResponse, owner: Direct, scheme: str, host: str) -> None:
        self.resp, self.owner, self.where = resp, owner, (scheme, host)

    def read(self, n: int) -> memoryview:
        local = self.owner._local
        buf = local.__dict__.get("buf")
        if buf is None or len(buf) < n:
            buf = local.buf = memoryview(bytearray(n))
        got = self.resp.readinto(buf[:n])
        return buf[:got]

    def close(self) -> None:
        """An abandoned or cut body: its connection is not reused."""
        self.owner._drop(*self.where)

    def finished(self) -> None:
        """Every byte asked for was read: the connection is kept only if the answer held no more."""
        if not self.resp.isclosed():
            self.owner._drop(*self.where)


def _extent(resp: http.client.HTTPResponse) -> Extent:
    length = resp.getheader("content-length")
    if length is None or not length.isdigit():
        raise ValueError("an answer without a Content-Length")
    return extent(int(length), resp.getheader("content-range"))


_CONTENT_RANGE = lazy_compile(r"bytes (\d+)-(\d+)/(\d+)")


def extent(length: int, content_range: str | None) -> Extent:
    """(first byte, last byte, object size) of a GET's answer; ValueError when the headers disagree."""
    m = _CONTENT_RANGE.fullmatch(content_range or "")
    if m is None:  # the whole object (an unranged GET, or a server that ignores Range)
        return Extent(0, length - 1, length)
    first, last, total = map(int, m.groups())
    if last - first + 1 != length:
        raise ValueError(f"Content-Range {content_range} disagrees with Content-Length {length}")
    return Extent(first, last, total)


def _plain_endpoint(url: str) -> str | None:
    """scheme://host[:port] of an endpoint with nothing else in it, else None (botocore's to handle)."""
    from urllib.parse import urlsplit

    try:
        u = urlsplit(url)
        port = u.port
    except ValueError:
        return None
    if u.scheme not in ("http", "https") or not u.hostname or u.username is not None or u.password is not None:
        return None
    if u.path not in ("", "/") or u.query or u.fragment or ":" in u.hostname:
        return None
    if not re.fullmatch(r"[A-Za-z0-9.-]+", u.hostname):
        return None
    default = 443 if u.scheme == "https" else 80
    host = u.hostname.lower() + (f":{port}" if port is not None and port != default else "")
    return f"{u.scheme}://{host}"


def plain(text: str, limit: int = 300) -> str:
    """Server text (or an error quoting it) for a one-line message: what errors.one_line would escape
    (controls, line and format characters) and runs of space become one space; at most `limit` characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _backoff(attempt: int) -> None:
    time.sleep(min(random.random() * (2 ** (attempt - 1)), 20.0))  # botocore's standard mode
