"""The proxy fixtures serve what they claim, checked at the socket level with no httplib code,
so a broken fixture fails here and not as a mystery in an end-to-end test."""

from __future__ import annotations

import base64
import json
import socket
import ssl
from typing import Any

import pytest
import socksio

from servers.asgi_servers import RunningServer
from servers.proxies import PROXY_PASSWORD, PROXY_USER, RunningProxy, ScriptedProxy

TIMEOUT = 10


def _read_response(sock: Any) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body (or none) read off `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a full head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def _basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def _open(proxy: RunningProxy) -> Any:
    """A connection to `proxy`, over TLS when it is an https:// proxy."""
    sock = socket.create_connection(proxy.address, timeout=TIMEOUT)
    if proxy.scheme == "https":
        return proxy.ssl_context().wrap_socket(sock, server_hostname="localhost")
    return sock


def _connect(proxy: RunningProxy, target: RunningServer, authorization: bytes | None) -> Any:
    """Send CONNECT for `target` through `proxy`; the socket and the proxy's reply."""
    sock = _open(proxy)
    authority = f"{target.host}:{target.port}".encode()
    head = b"CONNECT " + authority + b" HTTP/1.1\r\nHost: " + authority + b"\r\n"
    if authorization is not None:
        head += b"Proxy-Authorization: " + authorization + b"\r\n"
    sock.sendall(head + b"\r\n")
    return sock, _read_response(sock)


def _get_echo(sock: Any, target: str = "/echo?via=proxy") -> dict[str, Any]:
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    status, _, body = _read_response(sock)
    assert status == 200
    document: dict[str, Any] = json.loads(body)
    return document


def _check_tunnel(
    proxy: RunningProxy, origin: RunningServer, authorization: bytes | None = None
) -> None:
    sock, (status, _, _) = _connect(proxy, origin, authorization)
    with sock:
        assert status == 200
        assert _get_echo(sock)["query"] == "via=proxy"


def _check_forward(
    proxy: RunningProxy, origin: RunningServer, authorization: bytes | None = None
) -> None:
    """An absolute-form GET (RFC 9112 section 3.2.2) is forwarded to the origin."""
    with _open(proxy) as sock:
        head = (
            f"GET {origin.url}/echo?via=forward HTTP/1.1\r\nHost: {origin.host}:{origin.port}\r\n"
        )
        if authorization is not None:
            head += f"Proxy-Authorization: {authorization.decode()}\r\n"
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n")
        status, _, body = _read_response(sock)
        assert status == 200
        document = json.loads(body)
        assert document["query"] == "via=forward"
        # The proxy's credentials are for the proxy only.
        assert "proxy-authorization" not in {k.lower() for k, _ in document["headers"]}


def _check_refused(
    proxy: RunningProxy, origin: RunningServer, authorization: bytes | None, status: int = 407
) -> None:
    sock, (got, headers, _) = _connect(proxy, origin, authorization)
    sock.close()
    assert got == status
    challenge = headers["proxy-authenticate" if status == 407 else "www-authenticate"]
    assert challenge.lower().startswith("basic")


def test_pproxy_http_tunnels_and_forwards(
    http_proxy: RunningProxy, uvicorn_server: RunningServer
) -> None:
    assert http_proxy.url.startswith("http://127.0.0.1:")
    _check_tunnel(http_proxy, uvicorn_server)
    _check_forward(http_proxy, uvicorn_server)


def test_pproxy_http_auth_wants_the_right_credentials(
    http_proxy_auth: RunningProxy, uvicorn_server: RunningServer
) -> None:
    assert http_proxy_auth.url.startswith(f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:")
    _check_refused(http_proxy_auth, uvicorn_server, None)
    _check_refused(http_proxy_auth, uvicorn_server, _basic(PROXY_USER, "wrong"))
    # (refused again after a success: pproxy is told not to remember an authenticated client)
    _check_tunnel(http_proxy_auth, uvicorn_server, _basic(PROXY_USER, PROXY_PASSWORD))
    _check_refused(http_proxy_auth, uvicorn_server, None)
    _check_forward(http_proxy_auth, uvicorn_server, _basic(PROXY_USER, PROXY_PASSWORD))


def test_pproxy_https_proxy_speaks_tls_with_the_test_ca(
    https_proxy: RunningProxy,
    uvicorn_tls_server: RunningServer,
    client_ssl_context: ssl.SSLContext,
) -> None:
    assert https_proxy.url.startswith("https://127.0.0.1:")
    sock, (status, _, _) = _connect(https_proxy, uvicorn_tls_server, None)
    with sock:
        assert status == 200
        assert sock.getpeercert()["subjectAltName"] == (
            ("DNS", "localhost"),
            ("IP Address", "127.0.0.1"),
        )
        # TLS to the origin inside the proxy's TLS: the stdlib needs memory BIOs for that.
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = client_ssl_context.wrap_bio(incoming, outgoing, server_hostname="localhost")

        def pump(operation: Any) -> Any:
            for _ in range(100):
                try:
                    result = operation()
                except ssl.SSLWantReadError:
                    sock.sendall(outgoing.read())
                    incoming.write(sock.recv(65536))
                    continue
                sock.sendall(outgoing.read())
                return result
            raise AssertionError("no progress after 100 records")

        pump(tls.do_handshake)
        pump(lambda: tls.write(b"GET /status/203 HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        assert pump(lambda: tls.read(65536)).startswith(b"HTTP/1.1 203 ")


def _socks5_connect(
    proxy: RunningProxy, origin: RunningServer, auth: tuple[str, str] | None
) -> tuple[socket.socket, socksio.socks5.SOCKS5Reply | None]:
    """The SOCKS5 handshake by hand with socksio; the reply is None when the proxy refused
    the credentials (it closes then)."""
    conn = socksio.socks5.SOCKS5Connection()
    method = (
        socksio.socks5.SOCKS5AuthMethod.USERNAME_PASSWORD
        if auth
        else socksio.socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED
    )
    sock = socket.create_connection(proxy.address, timeout=TIMEOUT)
    conn.send(socksio.socks5.SOCKS5AuthMethodsRequest([method]))
    sock.sendall(conn.data_to_send())
    chosen = conn.receive_data(sock.recv(1024))
    assert chosen.method == method
    if auth:
        conn.send(socksio.socks5.SOCKS5UsernamePasswordRequest(auth[0].encode(), auth[1].encode()))
        sock.sendall(conn.data_to_send())
        if not conn.receive_data(sock.recv(1024)).success:
            return sock, None
    conn.send(
        socksio.socks5.SOCKS5CommandRequest.from_address(
            socksio.socks5.SOCKS5Command.CONNECT, (origin.host, origin.port)
        )
    )
    sock.sendall(conn.data_to_send())
    return sock, conn.receive_data(sock.recv(1024))


def test_pproxy_socks5(socks5_proxy: RunningProxy, uvicorn_server: RunningServer) -> None:
    assert socks5_proxy.url.startswith("socks5://127.0.0.1:")
    sock, reply = _socks5_connect(socks5_proxy, uvicorn_server, None)
    with sock:
        assert reply is not None
        assert reply.reply_code == socksio.socks5.SOCKS5ReplyCode.SUCCEEDED
        assert _get_echo(sock)["path"] == "/echo"


def test_pproxy_socks5_auth(socks5_proxy_auth: RunningProxy, uvicorn_server: RunningServer) -> None:
    assert socks5_proxy_auth.url.startswith(f"socks5://{PROXY_USER}:{PROXY_PASSWORD}@")
    sock, reply = _socks5_connect(socks5_proxy_auth, uvicorn_server, (PROXY_USER, "wrong"))
    sock.close()
    assert reply is None
    sock, reply = _socks5_connect(socks5_proxy_auth, uvicorn_server, (PROXY_USER, PROXY_PASSWORD))
    with sock:
        assert reply is not None
        assert reply.reply_code == socksio.socks5.SOCKS5ReplyCode.SUCCEEDED
        assert _get_echo(sock)["path"] == "/echo"


def test_tinyproxy_tunnels_and_forwards(
    tinyproxy_proxy: RunningProxy, uvicorn_server: RunningServer
) -> None:
    assert tinyproxy_proxy.software == "tinyproxy"
    _check_tunnel(tinyproxy_proxy, uvicorn_server)
    _check_forward(tinyproxy_proxy, uvicorn_server)


def test_tinyproxy_auth(tinyproxy_proxy_auth: RunningProxy, uvicorn_server: RunningServer) -> None:
    _check_refused(tinyproxy_proxy_auth, uvicorn_server, None)
    # tinyproxy 1.11 answers wrong credentials with 401 and WWW-Authenticate, not 407 (its
    # quirk: a client must treat any non-2xx CONNECT reply as the proxy's refusal).
    wrong = _basic(PROXY_USER, "wrong")
    _check_refused(tinyproxy_proxy_auth, uvicorn_server, wrong, status=401)
    _check_tunnel(tinyproxy_proxy_auth, uvicorn_server, _basic(PROXY_USER, PROXY_PASSWORD))
    _check_forward(tinyproxy_proxy_auth, uvicorn_server, _basic(PROXY_USER, PROXY_PASSWORD))


# --- the scripted proxies -------------------------------------------------------------------


def _exchange(proxy: ScriptedProxy, request: bytes) -> bytes:
    """Send `request`, read until the scripted proxy closes."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


CONNECT_REQUEST = b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"


def test_scripted_407(proxy_auth_required: ScriptedProxy) -> None:
    reply = _exchange(proxy_auth_required, CONNECT_REQUEST)
    assert reply.startswith(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
    assert b'\r\nProxy-Authenticate: Basic realm="test proxy"\r\n' in reply
    assert proxy_auth_required.received == [CONNECT_REQUEST.rstrip(b"\r\n")]


def test_scripted_connect_then_close(proxy_connect_then_close: ScriptedProxy) -> None:
    reply = _exchange(proxy_connect_then_close, CONNECT_REQUEST)
    assert reply == b"HTTP/1.1 200 Connection established\r\n\r\n"


def test_scripted_garbage(proxy_garbage: ScriptedProxy) -> None:
    reply = _exchange(proxy_garbage, CONNECT_REQUEST)
    assert reply
    assert not reply.startswith(b"HTTP/")


def test_scripted_extra_bytes_after_the_connect_reply(
    proxy_connect_extra_bytes: ScriptedProxy,
) -> None:
    with socket.create_connection(("127.0.0.1", proxy_connect_extra_bytes.port), TIMEOUT) as sock:
        sock.sendall(CONNECT_REQUEST)
        received = b""
        while received.count(b"\r\n\r\n") < 2:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    head, _, extra = received.partition(b"\r\n\r\n")
    assert head == b"HTTP/1.1 200 Connection established"
    assert extra == b"HTTP/1.1 200 OK\r\nX-Early: 1\r\n\r\n"


@pytest.mark.parametrize("stage", ["method", "password"])
def test_scripted_socks5_refusing_auth(stage: str, request: pytest.FixtureRequest) -> None:
    proxy: ScriptedProxy = request.getfixturevalue(f"socks5_refuses_{stage}")
    assert proxy.url.startswith("socks5://")
    conn = socksio.socks5.SOCKS5Connection()
    conn.send(
        socksio.socks5.SOCKS5AuthMethodsRequest(
            [
                socksio.socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED,
                socksio.socks5.SOCKS5AuthMethod.USERNAME_PASSWORD,
            ]
        )
    )
    with socket.create_connection(("127.0.0.1", proxy.port), TIMEOUT) as sock:
        sock.sendall(conn.data_to_send())
        chosen = conn.receive_data(sock.recv(1024))
        if stage == "method":
            assert chosen.method == socksio.socks5.SOCKS5AuthMethod.NO_ACCEPTABLE_METHODS
        else:
            assert chosen.method == socksio.socks5.SOCKS5AuthMethod.USERNAME_PASSWORD
            conn.send(socksio.socks5.SOCKS5UsernamePasswordRequest(b"user", b"secret"))
            sock.sendall(conn.data_to_send())
            assert not conn.receive_data(sock.recv(1024)).success
        assert sock.recv(1024) == b""  # then it closes
    assert proxy.received[0] == b"\x05\x02\x00\x02"
    if stage == "password":
        assert proxy.received[1] == b"\x01\x04user\x06secret"
