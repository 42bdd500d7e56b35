"""Proxies that refuse, misbehave or stall, for `Client` and `AsyncClient` on every runtime:
a scripted raw-socket proxy answers CONNECT and the SOCKS5 handshake with exact bytes. Each
failure is a `ProxyError` naming the proxy and what it said (or the timeout of the phase), the
socket is closed, the pool is clean and the next request through the same proxy works."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from faults.conftest import Fault, cancelled_after, pool_counts
from httplib import AsyncHTTPTransport, HTTPTransport, Timeout
from httplib._exceptions import ConnectError, ConnectTimeout, ProxyError
from servers.raw import read_until, scripted_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
# The origin the tunnels are asked for; nothing listens there (the proxy never dials it).
ORIGIN = "https://origin.test"


def proxy_replying(connect_reply: bytes | Callable[[socket.socket], None]) -> Any:
    """A scripted HTTP proxy: a forwarded `GET http://.../ok` gets 200 "ok"; a CONNECT gets
    `connect_reply` (bytes, then the connection is held open until the client closes it)."""

    def handler(conn: socket.socket) -> None:
        while True:
            head = read_until(conn, b"\r\n\r\n")
            if not head:
                return
            if head.startswith(b"GET http://") and b"/ok HTTP/1.1" in head:
                conn.sendall(OK)
                continue
            assert head.startswith(b"CONNECT origin.test:443 HTTP/1.1\r\n"), head
            if callable(connect_reply):
                connect_reply(conn)
            else:
                conn.sendall(connect_reply)
            while conn.recv(65536):
                pass
            return

    return handler


def through(fault: Fault, proxy_url: str, **timeouts: Any) -> dict[str, Any]:
    """Client arguments: a transport for the fault's runtime through `proxy_url`."""
    transport = AsyncHTTPTransport if fault.is_async else HTTPTransport
    kwargs: dict[str, Any] = {"transport": transport(proxy=proxy_url)}
    if timeouts:
        kwargs["timeout"] = Timeout(10.0, **timeouts)
    return kwargs


REFUSALS = {
    "407": (
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b'Proxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n',
        "407 Proxy Authentication Required",
    ),
    "403-with-body": (
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!",
        "403 Forbidden",
    ),
    "502-held-open": (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 10\r\n\r\n", "502"),
    "garbage": (b"SSH-2.0-OpenSSH_9.2\r\n", "failed while opening a tunnel"),
    "bytes-after-200": (
        b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n",
        "unexpected bytes after its CONNECT response",
    ),
    "close-before-answer": (b"", "failed while opening a tunnel"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_or_malformed_connect_is_a_proxy_error(fault: Fault, case: str) -> None:
    reply, message = REFUSALS[case]

    def answer(conn: socket.socket) -> None:
        if reply:
            conn.sendall(reply)
        else:
            conn.shutdown(socket.SHUT_WR)

    with scripted_server(proxy_replying(answer)) as proxy:
        exc = fault.expect(
            ProxyError,
            ORIGIN + "/",
            then="http://origin.test/ok",
            client=through(fault, proxy.url),
        )
        assert proxy.url in str(exc)
    assert message in str(exc)


def test_a_tunnel_closed_right_after_200_fails_the_tls_handshake(fault: Fault) -> None:
    def close_after_200(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        conn.shutdown(socket.SHUT_WR)

    with scripted_server(proxy_replying(close_after_200)) as proxy:
        fault.expect(
            ConnectError,
            ORIGIN + "/",
            then="http://origin.test/ok",
            client=through(fault, proxy.url),
        )


def test_a_proxy_that_never_answers_connect_is_a_connect_timeout(fault: Fault) -> None:
    with scripted_server(proxy_replying(b"")) as proxy:
        # (`proxy_replying` with b"" sends nothing and holds the connection open)
        exc = fault.expect(
            ConnectTimeout,
            ORIGIN + "/",
            then="http://origin.test/ok",
            client=through(fault, proxy.url, connect=0.2),
        )
    assert "opened a tunnel to origin.test:443" in str(exc)


def test_a_forwarded_request_gets_the_proxys_own_answer(fault: Fault) -> None:
    """A forward proxy's 407 to an http:// request is the response (as in httpx), not an error."""
    seen: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        head = read_until(conn, b"\r\n\r\n")
        seen.append(head)
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")

    def sync(client: Any) -> Any:
        return client.get("http://origin.test:8080/a?b=c")

    async def asynchronous(client: Any) -> Any:
        return await client.get("http://origin.test:8080/a?b=c")

    with scripted_server(handler) as proxy:
        kwargs = through(fault, "http://user:secret@" + proxy.url.removeprefix("http://"))
        response = fault.with_client(asynchronous if fault.is_async else sync, **kwargs)
    assert response.status_code == 407
    request_line, _, rest = seen[0].partition(b"\r\n")
    assert request_line == b"GET http://origin.test:8080/a?b=c HTTP/1.1"
    assert b"Host: origin.test:8080\r\n" in rest
    assert b"Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=" in rest


def test_cancelling_during_connect_leaves_the_pool_clean(fault: Fault) -> None:
    if not fault.is_async:
        pytest.skip("cancellation is an async runtime's notion")
    answered = threading.Event()

    def never(conn: socket.socket) -> None:
        answered.set()

    with scripted_server(proxy_replying(never)) as proxy:

        async def script(client: Any) -> None:
            await cancelled_after(fault.runtime, 0.3, lambda: client.get(ORIGIN + "/"))
            assert answered.is_set()
            counts = pool_counts(client)
            assert (counts["streams"], counts["waiting"], counts["connecting"]) == (0, 0, 0)
            assert (await client.get("http://origin.test/ok")).status_code == 200

        fault.with_client(script, **through(fault, proxy.url))


# --- SOCKS5 -------------------------------------------------------------------------------


def socks5_proxy(
    *, method: bytes, auth_ok: bool = True, reply: bytes = b"", heads: list[bytes] | None = None
) -> Any:
    """A scripted SOCKS5 proxy: chooses `method`, checks credentials (RFC 1929) answering
    `auth_ok`, then answers the CONNECT with `reply`; a successful tunnel serves one "ok" (and
    records the request head the origin would see in `heads`)."""

    def handler(conn: socket.socket) -> None:
        greeting = conn.recv(3)
        assert greeting[:1] == b"\x05", greeting
        conn.sendall(b"\x05" + method)
        if method == b"\x02":
            request = conn.recv(513)
            assert request[:1] == b"\x01", request
            conn.sendall(b"\x01\x00" if auth_ok else b"\x01\x01")
            if not auth_ok:
                return
        elif method == b"\xff":
            return
        command = conn.recv(300)
        assert command[:4] == b"\x05\x01\x00\x03", command  # CONNECT to a domain name
        conn.sendall(reply)
        if reply[1:2] == b"\x00":
            head = read_until(conn, b"\r\n\r\n")
            if heads is not None:
                heads.append(head)
            conn.sendall(OK)
        while conn.recv(65536):
            pass

    return handler


SUCCESS = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90"

SOCKS_FAILURES = {
    "no-acceptable-method": ({"method": b"\xff"}, "accepts none of the offered"),
    "bad-credentials": ({"method": b"\x02", "auth_ok": False}, "rejected the username"),
    "connection-refused": (
        {"method": b"\x02", "reply": b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"},
        "CONNECTION_REFUSED",
    ),
    "malformed-reply": ({"method": b"\x02", "reply": b"\x04\x00\x00\x01" + b"\x00" * 6}, "SOCKS5"),
    "unknown-address-type": ({"method": b"\x02", "reply": b"\x05\x00\x00\x09\x00"}, "malformed"),
}


@pytest.mark.parametrize("case", SOCKS_FAILURES)
def test_socks5_refusals_are_proxy_errors(fault: Fault, case: str) -> None:
    script, message = SOCKS_FAILURES[case]
    with scripted_server(socks5_proxy(**script)) as proxy:  # type: ignore[arg-type]
        url = "socks5://user:pass@" + proxy.url.removeprefix("http://")
        exc = fault.expect(ProxyError, "http://origin.test/", client=through(fault, url))
    assert message in str(exc)


def test_socks5_with_credentials_reaches_the_origin(fault: Fault) -> None:
    """The tunnel carries the request as if sent direct; a Proxy-Authorization the user set
    never reaches the origin behind it (requests' CVE-2023-32681)."""
    heads: list[bytes] = []
    sneaky = {"Proxy-Authorization": "Basic c2VjcmV0OnNlY3JldA=="}

    def sync(client: Any) -> Any:
        return client.get("http://origin.test/ok", headers=sneaky)

    async def asynchronous(client: Any) -> Any:
        return await client.get("http://origin.test/ok", headers=sneaky)

    with scripted_server(socks5_proxy(method=b"\x02", reply=SUCCESS, heads=heads)) as proxy:
        url = "socks5h://user:pass@" + proxy.url.removeprefix("http://")
        response = fault.with_client(
            asynchronous if fault.is_async else sync, **through(fault, url)
        )
    assert response.text == "ok"
    assert heads[0].startswith(b"GET /ok HTTP/1.1\r\nHost: origin.test\r\n")
    assert b"proxy-authorization" not in heads[0].lower()


def test_a_host_too_long_for_socks5_is_a_clean_proxy_error(fault: Fault) -> None:
    """SOCKS5 names a host in at most 255 bytes (RFC 1928 section 5): a longer one fails before
    anything is sent for it, never truncated or overflowed (curl's CVE-2023-38545)."""
    commands: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        if conn.recv(3):
            conn.sendall(b"\x05\x00")
            commands.append(conn.recv(1024))

    host = ("a" * 60 + ".") * 5 + "com"  # 308 bytes
    with scripted_server(handler) as proxy:
        url = "socks5h://" + proxy.url.removeprefix("http://")
        exc = fault.expect(ProxyError, f"http://{host}/", client=through(fault, url))
    assert "longer than 255 bytes (this one has 308)" in str(exc)
    assert commands in ([], [b""])  # nothing was sent after the greeting
