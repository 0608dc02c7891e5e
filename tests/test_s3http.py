"""GETs on the standard library (vline/adapters/s3http.py): the URL and signature botocore would send, for
every environment the direct path takes; moto checking signatures for real; and every environment it must
leave to botocore."""
from __future__ import annotations

import calendar
import hashlib
import json
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
from s3world import free_port, wait_for_port

from vline.adapters import s3 as s3mod
from vline.adapters import s3http
from vline.errors import InputError

KEY = "conformance/v0.22.1/A100/a b+c~d%e=f&g;h/ü/x.jsonl.gz"


def aws_env(monkeypatch, tmp_path, **env: str) -> None:
    """Only these AWS_* variables, and a home without ~/.aws."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def botocore_request(bucket: str, key: str, rng: str | None):
    """What botocore sends for get_object under the current environment (nothing is sent)."""
    import botocore.session
    from botocore.config import Config

    client = botocore.session.Session().create_client(
        "s3", config=Config(response_checksum_validation="when_required"))
    seen = {}

    class Stop(Exception):
        pass

    def hook(request, **_kw):
        seen["url"], seen["headers"] = request.url, {k.lower(): v for k, v in request.headers.items()}
        raise Stop

    client.meta.events.register("before-send.s3", hook)
    with pytest.raises(Stop):
        client.get_object(Bucket=bucket, Key=key, **({"Range": rng} if rng else {}))
    return seen["url"], {k: v.decode() if isinstance(v, bytes) else v for k, v in seen["headers"].items()}


CASES = {
    "moto on loopback": ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_DEFAULT_REGION": "us-east-1"},
                         "goldens", "bytes=0-1023"),
    "named endpoint with a slash, a token, another region": (
        {"AWS_ENDPOINT_URL": "https://minio.example.com/", "AWS_DEFAULT_REGION": "eu-west-1",
         "AWS_SESSION_TOKEN": "tok/en+=="}, "goldens", "bytes=1048576-2097151"),
    "S3's own endpoint variable wins": ({"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3":
                                         "http://localhost:9000", "AWS_REGION": "ap-south-1"}, "goldens", None),
    "default port left out": ({"AWS_ENDPOINT_URL": "http://Store.Example.com:80"}, "goldens", "bytes=0-0"),
    "AWS, no region: the global endpoint": ({}, "goldens", "bytes=0-99"),
    "AWS in us-east-1": ({"AWS_DEFAULT_REGION": "us-east-1"}, "my-goldens", "bytes=0-99"),
    "AWS in eu-central-1, with a token": ({"AWS_DEFAULT_REGION": "eu-central-1", "AWS_SESSION_TOKEN": "abc"},
                                          "my-goldens", None),
    "AWS, a bucket with dots": ({"AWS_DEFAULT_REGION": "eu-west-1"}, "my.goldens", "bytes=0-99"),
    "AWS, a bucket that cannot be a host name": ({"AWS_DEFAULT_REGION": "us-west-2"}, "My_Goldens", None),
    "AWS, a bucket like an address": ({"AWS_DEFAULT_REGION": "us-west-2"}, "192.168.1.1", None),
    "with a CA bundle": ({"AWS_DEFAULT_REGION": "us-west-2", "AWS_CA_BUNDLE": "/etc/ssl/certs"}, "goldens", None),
    "AWS, an all-digit bucket": ({"AWS_DEFAULT_REGION": "us-west-2"}, "123456", None),
    "both token variables: botocore's order": ({"AWS_SECURITY_TOKEN": "old", "AWS_SESSION_TOKEN": "new"}, "goldens",
                                               None),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("key", [KEY, "a//b/./c/../d"])
def test_the_url_and_signature_are_botocores(case, key, monkeypatch, tmp_path):
    env, bucket, rng = CASES[case]
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
            AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", **env)
    url, headers = botocore_request(bucket, key, rng)
    direct = s3http.Direct.from_env()
    assert direct is not None, case
    scheme, host, path = direct.url(bucket, key)
    u = urlsplit(url)  # the host as botocore signs it: lower case, a default port left out
    default = {"http": 80, "https": 443}[u.scheme]
    assert (scheme, host, path) == (u.scheme, u.hostname + (f":{u.port}" if u.port not in (None, default) else ""),
                                    u.path)
    when = calendar.timegm(time.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ"))
    ours = direct.sign(host, path, {"Range": rng} if rng else {}, direct.region, when)
    assert ours["authorization"] == headers["authorization"]
    for name in ("x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "range"):
        assert ours.get(name) == headers.get(name), name


@pytest.mark.parametrize("env", [
    {"AWS_PROFILE": "ci"}, {"AWS_CONFIG_FILE": "/dev/null"}, {"AWS_SHARED_CREDENTIALS_FILE": "/x"},
    {"HTTPS_PROXY": "http://proxy:3128"}, {"https_proxy": "http://proxy:3128"}, {"ALL_PROXY": "socks5://p:1"},
    {"AWS_USE_FIPS_ENDPOINT": "true"}, {"AWS_USE_DUALSTACK_ENDPOINT": "true"},
    {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, {"AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "regional"},
    {"AWS_ACCESS_KEY_ID": ""}, {"AWS_SECRET_ACCESS_KEY": ""}, {"AWS_DEFAULT_REGION": "cn-north-1"},
    {"AWS_DEFAULT_REGION": "us-gov-west-1"}, {"AWS_ENDPOINT_URL": "http://store:9000/prefix"},
    {"AWS_ENDPOINT_URL": "http://user:pw@store:9000"}, {"AWS_ENDPOINT_URL": "ftp://store"},
    {"AWS_ENDPOINT_URL": "http://[::1]:9000"}, {"AWS_ENDPOINT_URL": "http://store:99999"},
    {"AWS_ENDPOINT_URL": "http://store?x=1"}, {"AWS_SECRET_ACCESS_KEY": "a b"}, {"AWS_FUTURE_SETTING": "1"},
], ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items()))
def test_anything_else_in_the_environment_goes_to_botocore(env, monkeypatch, tmp_path):
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="secret")
    assert s3http.Direct.from_env() is not None  # the baseline takes the direct path
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert s3http.Direct.from_env() is None


@pytest.mark.parametrize("name", ["config", "credentials"])
def test_an_aws_file_at_home_goes_to_botocore(name, monkeypatch, tmp_path):
    """botocore reads settings from both (a region or endpoint_url in credentials counts too)."""
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="secret")
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / name).write_text("[default]\nendpoint_url = http://localhost:9000\n")
    assert s3http.Direct.from_env() is None


# --- moto checking every signature -------------------------------------------------------------------

SETUP_ACTIONS = 6  # the requests below made before moto starts checking signatures


@pytest.fixture(scope="module")
def signed_s3():
    """moto's server with signature checks on, a user allowed everything, and two objects."""
    import boto3

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_ACTIONS)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}"
        kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
        iam, s3 = boto3.client("iam", **kw), boto3.client("s3", **kw)
        iam.create_user(UserName="ci")
        iam.put_user_policy(UserName="ci", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="ci")["AccessKey"]
        s3.create_bucket(Bucket="signed")
        body = os.urandom((3 << 20) + 5)
        s3.put_object(Bucket="signed", Key=KEY, Body=body)
        s3.put_object(Bucket="signed", Key="empty", Body=b"")
        yield {"url": url, "id": key["AccessKeyId"], "secret": key["SecretAccessKey"], "body": body}
    finally:
        proc.terminate()
        proc.wait(10)


def test_moto_accepts_every_signature_of_a_ranged_download(signed_s3, monkeypatch, tmp_path):
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID=signed_s3["id"], AWS_SECRET_ACCESS_KEY=signed_s3["secret"],
            AWS_ENDPOINT_URL=signed_s3["url"])
    client = s3mod.S3(part_size=1 << 20)  # four signed ranged GETs, and the empty object's two
    got = client.download([(s3mod.Location("signed", KEY), tmp_path / "a"), (s3mod.Location("signed", "empty"), None)])
    body = signed_s3["body"]
    assert got[0] == s3mod.Fetched(hashlib.sha256(body).hexdigest(), len(body))
    assert (tmp_path / "a").read_bytes() == body
    assert got[1] == s3mod.Fetched(hashlib.sha256(b"").hexdigest(), 0)
    assert client.requests == 6 and "botocore" not in type(client._direct).__module__


def test_a_wrong_secret_is_refused_by_the_server_and_named(signed_s3, monkeypatch, tmp_path):
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID=signed_s3["id"], AWS_SECRET_ACCESS_KEY="not-the-secret",
            AWS_ENDPOINT_URL=signed_s3["url"])
    got = s3mod.S3().download([(s3mod.Location("signed", KEY), tmp_path / "a")])[0]
    assert isinstance(got, InputError) and "S3 refused (SignatureDoesNotMatch: The request signature" in got.message
    with pytest.raises(s3http.Failed) as e:
        s3http.Direct.from_env().get("signed", "missing-bucket-or-key", 0, 0)
    assert e.value.status == 403 and e.value.attempts == 1  # a refusal is not retried


# --- a server that misbehaves ---------------------------------------------------------------------------

ODD_ANSWERS = {  # key: (status, headers, body)
    "ctl": (403, {}, b"<Error><Code>AccessDenied</Code><Message>no\r\nway\x1b[31m &lt;here&gt;</Message></Error>"),
    "liar": (206, {"Content-Range": "bytes 0-99/100"}, b"0123456789"),
    "busy": (503, {}, b"<Error><Code>SlowDown</Code><Message>later</Message></Error>"),
    "unimplemented": (501, {}, b"<Error><Code>NotImplemented</Code><Message>no such feature</Message></Error>"),
    "throttled": (400, {}, b"<Error><Code>Throttling</Code><Message>slow down</Message></Error>"),
    "huge": (206, {"Content-Range": f"bytes 0-9/{10 ** 30}"}, b"0123456789"),
}


@pytest.fixture
def odd_server():
    """A loopback HTTP server answering GETs by key: refusals with control characters in their text,
    headers that contradict each other, and good bytes."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            key = self.path.rsplit("/", 1)[-1]
            if key == "evil":  # not even a status line
                self.wfile.write(b"EVIL 200 \x1b[2J\x1b[31mpwned\r\n\r\n")
                self.close_connection = True
                return
            status, headers, body = ODD_ANSWERS.get(key, (200, {}, b"good bytes"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_misbehaving_server_gets_one_line_errors_and_nothing_written(odd_server, monkeypatch, tmp_path):
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="secret",
            AWS_ENDPOINT_URL=odd_server)
    monkeypatch.setattr(s3http, "_backoff", lambda attempt: None)  # the retries still happen, without the wait
    client = s3mod.S3()
    out = tmp_path / "out"
    out.mkdir()
    keys = ("ctl", "liar", "busy", "ok", "throttled", "huge", "evil", "unimplemented")
    got = client.download([(s3mod.Location("b", k), out / k) for k in keys])
    assert isinstance(got[0], InputError) and got[0].message == "s3://b/ctl: S3 refused (AccessDenied: no way [31m <here>)"
    assert isinstance(got[1], s3mod.Changed) and "disagrees with Content-Length" in str(got[1])
    assert isinstance(got[2], s3mod.Unreachable) and "kept failing after 4 attempts (SlowDown)" in got[2].message
    assert got[3] == s3mod.Fetched(hashlib.sha256(b"good bytes").hexdigest(), 10)
    assert isinstance(got[4], s3mod.Unreachable) and "(Throttling)" in got[4].message  # not an input error
    assert isinstance(got[5], s3mod.Changed) and "more than an S3 object can hold" in str(got[5])
    assert isinstance(got[6], s3mod.Unreachable) and "BadStatusLine: EVIL 200 [2J [31mpwned" in got[6].message
    assert all("\x1b" not in g.message and "\n" not in g.message for g in (got[0], got[6]))
    assert isinstance(got[7], s3mod.Unreachable) and got[7].message == (
        "s3://b/unimplemented: S3 failed (NotImplemented: no such feature)")  # asked once, as botocore: not retried
    assert client.requests == 1 + 1 + 4 + 1 + 4 + 1 + 4 + 1
    assert client._direct._opened == []  # every connection closed when the download ended
    assert sorted(p.name for p in out.iterdir()) == ["ok"]


def test_tls_failures_are_the_network_not_the_disk(odd_server, monkeypatch, tmp_path):
    """https to a server that speaks plain HTTP: the handshake fails (an SSLError, errno 1 like EPERM)."""
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="secret",
            AWS_ENDPOINT_URL=odd_server.replace("http://", "https://"))
    monkeypatch.setattr(s3http, "_backoff", lambda attempt: None)
    got = s3mod.S3().download([(s3mod.Location("b", "ok"), tmp_path / "ok")])[0]
    assert isinstance(got, s3mod.Unreachable) and "S3 unreachable after retries (SSLError" in got.message
    assert not (tmp_path / "ok").exists()


# --- AWS itself, reached on loopback: https, virtual-hosted names, a bucket in another region ----------

@pytest.fixture
def aws_on_loopback(monkeypatch, tmp_path):
    """A TLS server holding a certificate for S3's names (from a test CA given as AWS_CA_BUNDLE), and every
    connection to *.amazonaws.com routed to it: the network edge is the only thing faked. The bucket lives
    in eu-west-1: the global endpoint answers 301 (slowly, so parallel GETs all meet it)."""
    import socket
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("*.s3.amazonaws.com", "s3.amazonaws.com", "*.s3.eu-west-1.amazonaws.com")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    seen = {"redirects": 0, "scopes": set()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def answer(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            host = self.headers["Host"]
            if host == "goldens.s3.amazonaws.com":
                time.sleep(0.3)
                with lock:
                    seen["redirects"] += 1
                return self.answer(301, b"<Error><Code>PermanentRedirect</Code><Message>elsewhere</Message></Error>",
                                   x_amz_bucket_region="eu-west-1")
            scope = self.headers["Authorization"].split("Credential=")[1].split(",")[0]
            with lock:
                seen["scopes"].add(scope.split("/", 2)[2])
            if host != "goldens.s3.eu-west-1.amazonaws.com" or "/eu-west-1/s3/" not in scope:
                return self.answer(403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>x</Message></Error>")
            body = self.path.encode() * 1000
            first, last = map(int, self.headers["Range"][6:].split("-"))
            last = min(last, len(body) - 1)
            self.answer(206, body[first:last + 1], Content_Range=f"bytes {first}-{last}/{len(body)}")

    lock = threading.Lock()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = socket.create_connection

    def route(address, *args, **kwargs):
        host, port = address
        if host.endswith(".amazonaws.com") and port == 443:
            address = ("127.0.0.1", server.server_address[1])
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", route)
    aws_env(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID="AKID", AWS_SECRET_ACCESS_KEY="secret",
            AWS_CA_BUNDLE=str(bundle))
    yield seen
    server.shutdown()


def test_parallel_gets_follow_a_region_redirect_over_tls(aws_on_loopback, tmp_path):
    keys = [f"conformance/w{i}.jsonl.gz" for i in range(8)]
    client = s3mod.S3(concurrency=8)
    got = client.download([(s3mod.Location("goldens", k), tmp_path / f"w{i}") for i, k in enumerate(keys)])
    for i, k in enumerate(keys):
        body = f"/{k}".encode() * 1000
        assert got[i] == s3mod.Fetched(hashlib.sha256(body).hexdigest(), len(body)), got[i]
        assert (tmp_path / f"w{i}").read_bytes() == body
    assert aws_on_loopback["redirects"] > 1  # several GETs met the redirect at once: the race was there
    assert aws_on_loopback["scopes"] == {"eu-west-1/s3/aws4_request"}  # each asked again, signed for the region


# --- any answer at all: a result or a vline error, never anything else ---------------------------------

EXAMPLES = int(os.environ.get("VLINE_FUZZ_EXAMPLES", "150"))
BODY = bytes(range(256)) * 40  # the object: 10,240 bytes


class RawServer:
    """Answers each connection's first request with the next scripted bytes (the last one repeats), then
    closes: whatever those bytes are."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.script: list[bytes] = [b""]
        self.served = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        import threading

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                answer = self.script[min(self.served, len(self.script) - 1)]
                self.served += 1
            threading.Thread(target=self._answer, args=(conn, answer), daemon=True).start()

    @staticmethod
    def _answer(conn, answer: bytes) -> None:
        import contextlib

        with contextlib.suppress(OSError):
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
            conn.sendall(answer)
        conn.close()


def http_answers():
    from hypothesis import strategies as st

    status = st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.1 206 Partial Content", b"HTTP/1.1 404 Not Found",
                              b"HTTP/1.1 416 Range Not Satisfiable", b"HTTP/1.1 503 Slow Down", b"HTTP/1.0 200 OK",
                              b"HTTP/1.1 301 Moved", b"HTTP/1.1 999 ?", b"HTTP/1.1 20", b"SPDY 200 OK", b"",
                              b"HTTP/1.1 403 \x1b[31mno\x00"])
    length = st.one_of(st.none(), st.sampled_from([0, 1, 100, len(BODY) - 1, len(BODY), len(BODY) + 1, -1, 10 ** 30]))
    content_range = st.one_of(st.none(), st.sampled_from([
        f"bytes 0-{len(BODY) - 1}/{len(BODY)}", "bytes 0-99/100", f"bytes 0-{len(BODY) - 1}/{10 ** 25}",
        "bytes 5-4/10", "bytes -1-3/4", "bytes */10240", f"bytes 1-{len(BODY)}/{len(BODY) + 1}", "junk"]))
    body = st.one_of(st.just(BODY), st.binary(max_size=64), st.just(BODY[:5000]), st.just(BODY + b"extra"),
                     st.just(b"<Error><Code>NoSuchKey</Code><Message>gone\r\nreally</Message></Error>"))
    extra = st.lists(st.sampled_from([b"Transfer-Encoding: chunked", b"Connection: close", b"Content-Length: 7",
                                      b"x-amz-bucket-region: eu-west-1", b"Bad Header", b"\xff\xfe: \x00"]), max_size=3)

    @st.composite
    def one(draw):
        lines = [draw(status)]
        n = draw(length)
        if n is not None:
            lines.append(f"Content-Length: {n}".encode())
        r = draw(content_range)
        if r is not None:
            lines.append(f"Content-Range: {r}".encode())
        lines += draw(extra)
        return b"\r\n".join(lines) + b"\r\n\r\n" + draw(body)

    return st.lists(one(), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def raw_server():
    s = RawServer()
    yield s
    s.sock.close()


def test_any_answer_gives_the_right_bytes_or_a_one_line_vline_error(raw_server, tmp_path_factory):
    from hypothesis import HealthCheck, given, settings

    from vline.errors import VlineError

    env = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_ENDPOINT_URL": raw_server.url}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(script=http_answers())
    def attack(script):
        out = tmp_path_factory.mktemp("raw") / "object"
        raw_server.script, raw_server.served = script, 0
        direct = s3http.Direct.from_env(env)
        assert direct is not None
        client = s3mod.S3(concurrency=2, part_size=4096)
        client._direct = direct  # the environment above, without touching this process's
        got = client.download([(s3mod.Location("b", "k"), out)])[0]
        if isinstance(got, s3mod.Fetched):  # whatever was answered, the hash is of exactly what was written
            data = out.read_bytes()
            assert got == s3mod.Fetched(hashlib.sha256(data).hexdigest(), len(data))
        else:
            assert isinstance(got, (VlineError, s3mod.Missing, s3mod.Changed)), repr(got)
            text = got.message if isinstance(got, VlineError) else str(got)
            assert text and all(c >= " " and c != "\x7f" for c in text), repr(text)

    orig = s3http._backoff
    s3http._backoff = lambda attempt: None
    try:
        attack()
    finally:
        s3http._backoff = orig


def test_errors_are_the_disk_only_when_writing_failed():
    """An SSL error's errno is OpenSSL's (1 reads as EPERM, 5 as EIO): the network. A write that failed with
    any errno: the disk."""
    import errno
    import ssl

    from vline.errors import EnvironmentFailure

    loc = s3mod.Location("b", "k")
    for e in (ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad mac"), ssl.SSLSyscallError(5, "eof"),
              ConnectionResetError(errno.ECONNRESET, "reset"), TimeoutError("timed out")):
        got = s3mod.translate(e, loc)
        assert isinstance(got, s3mod.Unreachable) and "unreachable after retries" in got.message, (e, got)
    for code in (errno.ENOSPC, errno.ENOENT, errno.EACCES):
        got = s3mod.translate(s3mod.LocalWrite(OSError(code, os.strerror(code))), loc)
        assert isinstance(got, EnvironmentFailure) and not isinstance(got, s3mod.Unreachable)
        assert got.message.startswith("cannot write the download of s3://b/k: "), got.message
