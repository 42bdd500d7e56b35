"""Proxy servers for the tests, all on 127.0.0.1, and their pytest fixtures.

Real proxy software first:

- pproxy (pure Python, from the dev extra), in a child process of its own
  (`pproxy_run.py`), serving five listeners at once: HTTP, HTTP with Basic auth, HTTP over
  TLS (an https:// proxy, with a certificate from the session's test CA), SOCKS5, SOCKS5 with
  username/password.
- tinyproxy (Debian's package, which `.ci/run` installs), when the binary is on PATH; its
  fixtures skip with the reason otherwise.

Then scripted raw-socket proxies (`servers.raw.scripted_server`) for replies no real proxy
sends on purpose: a 407, a CONNECT answered 200 then closed, garbage for a status line, a 200
with bytes after its head, a SOCKS5 server that refuses to authenticate. Each records the
request heads (or SOCKS greetings) it received, so a test can check what the client sent.

The fixtures are registered for every folder by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from servers.raw import ScriptedServer, read_request_head, read_until, scripted_server

PROXY_USER = "proxyuser"
PROXY_PASSWORD = "proxy-pass"
# Bounds on starting a proxy process (a loaded 2-core machine starts Python slowly).
_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 5.0

NO_TINYPROXY = (
    "tinyproxy is not installed (Debian package `tinyproxy`; .ci/run installs it with apt-get)"
)


@dataclass(frozen=True)
class RunningProxy:
    """A proxy to point a client at: `url` carries the credentials when it needs some."""

    scheme: str  # "http", "https" or "socks5"
    host: str
    port: int
    auth: tuple[str, str] | None = None
    ca: trustme.CA | None = None  # issued the https:// proxy's certificate
    software: str = "pproxy"

    @property
    def url(self) -> str:
        credentials = f"{self.auth[0]}:{self.auth[1]}@" if self.auth else ""
        return f"{self.scheme}://{credentials}{self.host}:{self.port}"

    @property
    def url_without_auth(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this (https://) proxy's certificate."""
        if self.ca is None:
            raise ValueError(f"{self.url_without_auth} does not speak TLS")
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


# --- pproxy ---------------------------------------------------------------------------------


@dataclass
class PproxyProcess:
    """The pproxy child process and the port of each of its listeners, by name."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    ca: trustme.CA

    def proxy(self, name: str) -> RunningProxy:
        scheme = {"http": "http", "http_auth": "http", "https": "https"}.get(name, "socks5")
        auth = (PROXY_USER, PROXY_PASSWORD) if name.endswith("_auth") else None
        ca = self.ca if scheme == "https" else None
        return RunningProxy(scheme, "127.0.0.1", self.ports[name], auth, ca)


@contextlib.contextmanager
def run_pproxy(ca: trustme.CA) -> Iterator[PproxyProcess]:
    """Start pproxy with its five listeners; stop it (and wait for it) on exit."""
    users = f"#{PROXY_USER}:{PROXY_PASSWORD}"
    listeners = {
        "http": "http://127.0.0.1:0",
        "http_auth": f"http://127.0.0.1:0{users}",
        "https": "http+ssl://127.0.0.1:0",
        "socks5": "socks5://127.0.0.1:0",
        "socks5_auth": f"socks5://127.0.0.1:0{users}",
    }
    with (
        ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.tempfile() as pem,
        _child(
            [
                sys.executable,
                str(Path(__file__).with_name("pproxy_run.py")),
                json.dumps({"listeners": listeners, "certfile": pem}),
            ]
        ) as process,
    ):
        assert process.stdout is not None
        # The child prints its ports once every listener is bound (readline returns b"" if it
        # died first); the bound is the child's start-up, enforced by the timer below.
        timer = threading.Timer(_START_TIMEOUT, process.kill)
        timer.start()
        try:
            line = process.stdout.readline()
        finally:
            timer.cancel()
        if not line:
            raise RuntimeError(f"pproxy did not start (exit status {process.poll()})")
        yield PproxyProcess(process, json.loads(line), ca)


# --- tinyproxy ------------------------------------------------------------------------------


def tinyproxy_binary() -> str | None:
    return shutil.which("tinyproxy")


@contextlib.contextmanager
def run_tinyproxy(auth: tuple[str, str] | None = None) -> Iterator[RunningProxy]:
    """tinyproxy in the foreground with a config in a temp dir (nothing written elsewhere),
    on a free port; stopped on exit. Skips the test when tinyproxy is not installed."""
    binary = tinyproxy_binary()
    if binary is None:
        pytest.skip(NO_TINYPROXY)
    with tempfile.TemporaryDirectory(prefix="tinyproxy-") as tmp:
        # tinyproxy cannot report a port it chose: take a free one from the kernel. Another
        # process may grab it in between; then tinyproxy exits and we try another.
        for _attempt in range(5):
            port = _free_port()
            config = Path(tmp, "tinyproxy.conf")
            config.write_text(_tinyproxy_config(port, Path(tmp), auth))
            with _child([binary, "-d", "-c", str(config)]) as process:
                if _wait_accepting(port, process):
                    yield RunningProxy("http", "127.0.0.1", port, auth, software="tinyproxy")
                    return
        raise RuntimeError("tinyproxy did not start on a free port in 5 attempts")


def _tinyproxy_config(port: int, tmp: Path, auth: tuple[str, str] | None) -> str:
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Allow 127.0.0.1",
        "Timeout 30",
        "MaxClients 64",
        # No LogFile and no Syslog: with -d it logs to stderr only, which we discard.
        "LogLevel Error",
        # Via names the proxy by this machine's host name unless told otherwise.
        'ViaProxyName "tinyproxy"',
        f'PidFile "{tmp / "tinyproxy.pid"}"',
        # No ConnectPort lines: CONNECT may reach any port (the test servers' are random).
    ]
    if auth is not None:
        lines.append(f"BasicAuth {auth[0]} {auth[1]}")
    return "\n".join(lines) + "\n"


# --- child processes ------------------------------------------------------------------------


@contextlib.contextmanager
def _child(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with stdin open (closing it tells pproxy to stop), stdout piped and
    stderr discarded; terminated, then killed, and always waited for on exit."""
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_STOP_TIMEOUT)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_accepting(port: int, process: subprocess.Popen[bytes]) -> bool:
    """Poll connect until `port` accepts (True) or `process` exits or the start-up bound
    passes (False). Each failed attempt waits on the process, not on a sleep."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            pass
        try:
            process.wait(0.02)  # returns early (and we give up) if the process exited
            return False
        except subprocess.TimeoutExpired:
            pass
    return False


# --- scripted proxies -----------------------------------------------------------------------


@dataclass
class ScriptedProxy:
    """A scripted raw-socket proxy: `url` to point a client at, `received` what each
    connection sent before the scripted reply (request heads, or SOCKS greetings)."""

    server: ScriptedServer
    scheme: str = "http"
    received: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.port}"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def connections(self) -> int:
        return self.server.connections_accepted


Script = Callable[[socket.socket, list[bytes]], None]


@contextlib.contextmanager
def scripted_proxy(script: Script, scheme: str = "http") -> Iterator[ScriptedProxy]:
    """Serve `script(conn, received)` per connection; the script appends what it read to
    `received` (shared by the connections, in arrival order)."""
    received: list[bytes] = []
    with scripted_server(lambda conn: script(conn, received)) as server:
        yield ScriptedProxy(server, scheme, received)


def _head(conn: socket.socket, received: list[bytes]) -> bytes:
    head, _ = read_request_head(conn)
    received.append(head)
    return head


def _drain_until_closed(conn: socket.socket) -> None:
    """Read until the client closes (bounded by the server's per-connection timeout)."""
    read_until(conn, b"\x00never\x00")


def auth_required(realm: str = "test proxy") -> Script:
    """Every request gets `407 Proxy Authentication Required` with a Basic challenge, then
    the connection closes (as pproxy and squid do)."""

    def script(conn: socket.socket, received: list[bytes]) -> None:
        if _head(conn, received):
            conn.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                + f'Proxy-Authenticate: Basic realm="{realm}"\r\n'.encode()
                + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )

    return script


def connect_then_close() -> Script:
    """A CONNECT answered `200 Connection established`, then the tunnel closes at once."""

    def script(conn: socket.socket, received: list[bytes]) -> None:
        if _head(conn, received):
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

    return script


def garbage_reply(data: bytes = b"\x16\x03\x01 this is no HTTP status line\r\n\r\n") -> Script:
    """`data` (not a status line) instead of a response, then close."""

    def script(conn: socket.socket, received: list[bytes]) -> None:
        if _head(conn, received):
            conn.sendall(data)

    return script


def connect_with_extra_bytes(extra: bytes = b"HTTP/1.1 200 OK\r\nX-Early: 1\r\n\r\n") -> Script:
    """A CONNECT answered 200 with `extra` in the same write, after the blank line: bytes
    that did not come from the origin (a tunnel must not hand them to the TLS layer or the
    response parser as the origin's). Then the tunnel waits for the client to close."""

    def script(conn: socket.socket, received: list[bytes]) -> None:
        if _head(conn, received):
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n" + extra)
            _drain_until_closed(conn)

    return script


def socks5_refusing_auth(stage: str = "method") -> Script:
    """A SOCKS5 server that refuses to authenticate (RFC 1928 section 3, RFC 1929 section 2):
    `stage="method"` answers the greeting with X'FF' (no acceptable method); `"password"`
    picks username/password (X'02'), then rejects the credentials (status X'01'). The
    greeting (and the username/password request) go to `received`; then it closes."""
    if stage not in ("method", "password"):
        raise ValueError(f"stage must be 'method' or 'password', not {stage!r}")

    def script(conn: socket.socket, received: list[bytes]) -> None:
        header = _recv_exactly(conn, 2)
        greeting = header + _recv_exactly(conn, header[1]) if len(header) == 2 else header
        received.append(greeting)
        if len(greeting) < 2:
            return
        if stage == "method":
            conn.sendall(b"\x05\xff")
            return
        conn.sendall(b"\x05\x02")
        version_and_user_length = _recv_exactly(conn, 2)
        user = _recv_exactly(conn, version_and_user_length[1])
        password_length = _recv_exactly(conn, 1)
        password = _recv_exactly(conn, password_length[0])
        received.append(version_and_user_length + user + password_length + password)
        conn.sendall(b"\x01\x01")

    return script


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pproxy_process(tls_ca: trustme.CA) -> Iterator[PproxyProcess]:
    """One pproxy process for the session, started on first use."""
    with run_pproxy(tls_ca) as running:
        yield running


@pytest.fixture(scope="session")
def http_proxy(pproxy_process: PproxyProcess) -> RunningProxy:
    """pproxy: an HTTP proxy (forwarding and CONNECT), no authentication.

    Its forwarding keeps a client connection's first upstream: a second request on the same
    connection for another origin still goes to the first one. Forward one origin per
    connection (as httpcore does), or use tinyproxy for mixed origins."""
    return pproxy_process.proxy("http")


@pytest.fixture(scope="session")
def http_proxy_auth(pproxy_process: PproxyProcess) -> RunningProxy:
    """pproxy: an HTTP proxy that wants Basic `PROXY_USER`:`PROXY_PASSWORD` (else 407);
    `url` carries them."""
    return pproxy_process.proxy("http_auth")


@pytest.fixture(scope="session")
def https_proxy(pproxy_process: PproxyProcess) -> RunningProxy:
    """pproxy: an HTTP proxy spoken to over TLS (an https:// proxy URL), its certificate
    from `tls_ca` for localhost and 127.0.0.1 (`ca`, `ssl_context()`)."""
    return pproxy_process.proxy("https")


@pytest.fixture(scope="session")
def socks5_proxy(pproxy_process: PproxyProcess) -> RunningProxy:
    """pproxy: SOCKS5, no authentication."""
    return pproxy_process.proxy("socks5")


@pytest.fixture(scope="session")
def socks5_proxy_auth(pproxy_process: PproxyProcess) -> RunningProxy:
    """pproxy: SOCKS5 with username/password (RFC 1929); `url` carries them."""
    return pproxy_process.proxy("socks5_auth")


@pytest.fixture(scope="session")
def tinyproxy_proxy() -> Iterator[RunningProxy]:
    """tinyproxy: an HTTP proxy (forwarding and CONNECT), no authentication. It closes the
    client connection after each forwarded response (without `Connection: close`), and it
    answers wrong credentials with 401, not 407."""
    with run_tinyproxy() as proxy:
        yield proxy


@pytest.fixture(scope="session")
def tinyproxy_proxy_auth() -> Iterator[RunningProxy]:
    """tinyproxy with BasicAuth `PROXY_USER`:`PROXY_PASSWORD`; `url` carries them."""
    with run_tinyproxy((PROXY_USER, PROXY_PASSWORD)) as proxy:
        yield proxy


@pytest.fixture
def proxy_auth_required() -> Iterator[ScriptedProxy]:
    """Scripted: 407 with `Proxy-Authenticate: Basic` to every request, then close."""
    with scripted_proxy(auth_required()) as proxy:
        yield proxy


@pytest.fixture
def proxy_connect_then_close() -> Iterator[ScriptedProxy]:
    """Scripted: CONNECT answered 200, then the connection closes."""
    with scripted_proxy(connect_then_close()) as proxy:
        yield proxy


@pytest.fixture
def proxy_garbage() -> Iterator[ScriptedProxy]:
    """Scripted: bytes that are no status line, then close."""
    with scripted_proxy(garbage_reply()) as proxy:
        yield proxy


@pytest.fixture
def proxy_connect_extra_bytes() -> Iterator[ScriptedProxy]:
    """Scripted: CONNECT answered 200 with a fake response right behind the head."""
    with scripted_proxy(connect_with_extra_bytes()) as proxy:
        yield proxy


@pytest.fixture
def socks5_refuses_method() -> Iterator[ScriptedProxy]:
    """Scripted SOCKS5: no acceptable authentication method (X'FF')."""
    with scripted_proxy(socks5_refusing_auth("method"), scheme="socks5") as proxy:
        yield proxy


@pytest.fixture
def socks5_refuses_password() -> Iterator[ScriptedProxy]:
    """Scripted SOCKS5: asks for username/password, then rejects them."""
    with scripted_proxy(socks5_refusing_auth("password"), scheme="socks5") as proxy:
        yield proxy


__all__ = [
    "NO_TINYPROXY",
    "PROXY_PASSWORD",
    "PROXY_USER",
    "PproxyProcess",
    "RunningProxy",
    "ScriptedProxy",
    "auth_required",
    "connect_then_close",
    "connect_with_extra_bytes",
    "garbage_reply",
    "run_pproxy",
    "run_tinyproxy",
    "scripted_proxy",
    "socks5_refusing_auth",
    "tinyproxy_binary",
]
