"""Hostile and odd HTTP/1.1 responses end to end, for `Client` and `AsyncClient` on every
runtime: a response that can never become valid fails at once with RemoteProtocolError (not at
the read timeout), the pool stays clean and the next request works; real-world heads that are
large or lenient (obs-fold, bare LF) are accepted as httpx accepts them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from faults.conftest import Fault
from httplib._core.http11_parse import MAX_INTERIM
from httplib._exceptions import RemoteProtocolError
from servers.raw import read_until, scripted_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def hold_open(conn: socket.socket) -> None:
    """Keep the connection open without sending more, until the client closes it."""
    while conn.recv(65536):
        pass


def replying(reply: bytes | Callable[[socket.socket], None]) -> Callable[[socket.socket], None]:
    """A handler: `GET /ok` gets a good response; any other request gets `reply` (bytes, then
    the connection is held open, so only a prompt client error ends the case)."""

    def handler(conn: socket.socket) -> None:
        while True:
            head = read_until(conn, b"\r\n\r\n")
            if not head:
                return
            if b"GET /ok " in head:
                conn.sendall(OK)
                continue
            if callable(reply):
                reply(conn)
            else:
                conn.sendall(reply)
            hold_open(conn)
            return

    return handler


PROMPT_ERRORS = {
    "status-000": b"HTTP/1.1 000 OK\r\n\r\n",
    "status-000-line-only": b"HTTP/1.1 000 OK\r\n",
    "status-1000": b"HTTP/1.1 1000 OK\r\n",
    "http-0.9": b"<html>no status line</html>",
    "unsolicited-101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    "chunk-size-bare-lf": CHUNKED + b"5\nhello\n",
    "chunk-size-over-2**64": CHUNKED + b"12345678123456789",
    "chunk-bad-terminator": CHUNKED + b"3\r\nxxx__1a\r\n",
    "null-in-header": b"HTTP/1.1 200 OK\r\nX-A: a\x00",
    "space-before-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
    "content-length-and-chunked": CHUNKED[:-2] + b"Content-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "conflicting-content-lengths": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"
    ),
}


@pytest.mark.parametrize("case", PROMPT_ERRORS)
def test_a_response_that_can_never_be_valid_fails_at_once(fault: Fault, case: str) -> None:
    with scripted_server(replying(PROMPT_ERRORS[case])) as server:
        fault.expect(RemoteProtocolError, server.url + "/bad", then=server.url + "/ok")


def test_endless_interim_responses_fail_at_the_cap(fault: Fault) -> None:
    """A 100 Continue every 5 ms keeps each read inside the timeout; the count cap ends it."""
    stop = threading.Event()

    def flood(conn: socket.socket) -> None:
        for _ in range(10 * MAX_INTERIM):  # bounded; the client gives up after MAX_INTERIM
            if stop.wait(0.005):
                return
            try:
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                return

    with scripted_server(replying(flood)) as server:
        try:
            exc = fault.expect(RemoteProtocolError, server.url + "/flood", then=server.url + "/ok")
        finally:
            stop.set()
    assert "MAX_INTERIM" in str(exc)


def test_an_endless_header_line_fails_at_the_line_cap(fault: Fault) -> None:
    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        piece = b"x" * 16384
        for _ in range(1000):  # 16 MB at most; the client stops reading at 100 KiB
            try:
                conn.sendall(piece)
            except OSError:
                return

    with scripted_server(replying(endless)) as server:
        exc = fault.expect(RemoteProtocolError, server.url + "/endless", then=server.url + "/ok")
    assert "exceeds 102400 bytes" in str(exc)


def _get(fault: Fault, url: str, **kwargs: Any) -> Any:
    def sync(client: Any) -> Any:
        return client.get(url, **kwargs)

    async def asynchronous(client: Any) -> Any:
        return await client.get(url, **kwargs)

    return fault.with_client(asynchronous if fault.is_async else sync)


def test_a_large_real_world_head_is_accepted(fault: Fault) -> None:
    """A 16 KiB Set-Cookie beside 100 other fields (what real servers send)."""
    fields = [b"Set-Cookie: s=" + b"c" * 16384 + b"; Path=/"]
    fields += [b"X-Field-%d: %d" % (i, i) for i in range(100)]
    reply = b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(fields) + b"\r\nContent-Length: 2\r\n\r\nok"
    with scripted_server(replying(reply)) as server:
        response = _get(fault, server.url + "/big")
    assert response.status_code == 200
    assert response.text == "ok"
    assert len(response.headers["set-cookie"]) > 16384
    assert response.headers["x-field-99"] == "99"


def test_lenient_heads_httpx_accepts(fault: Fault) -> None:
    """obs-fold is unfolded and bare-LF line ends accepted (RFC 9112 sections 5.2 and 2.2),
    as h11 does for httpx."""
    reply = b"HTTP/1.1 200 OK\nX-Folded: one\n two\nContent-Length: 2\n\nok"
    with scripted_server(replying(reply)) as server:
        response = _get(fault, server.url + "/lenient")
    assert response.status_code == 200
    assert response.headers["x-folded"] == "one two"
    assert response.text == "ok"


def test_interim_responses_then_the_final_one(fault: Fault) -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + OK
    with scripted_server(replying(reply)) as server:
        response = _get(fault, server.url + "/interim")
    assert response.status_code == 200
    assert response.text == "ok"


def test_a_requested_upgrade_still_switches(fault: Fault) -> None:
    """A 101 answering a request that offered `Upgrade` is the response, with the stream."""
    reply = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    headers = {"Connection": "Upgrade", "Upgrade": "websocket"}

    def sync(client: Any) -> tuple[int, bool]:
        with client.stream("GET", server.url + "/ws", headers=headers) as response:
            stream = response.extensions["network_stream"]
            stream.close()
            return response.status_code, stream is not None

    async def asynchronous(client: Any) -> tuple[int, bool]:
        async with client.stream("GET", server.url + "/ws", headers=headers) as response:
            stream = response.extensions["network_stream"]
            await stream.aclose()
            return response.status_code, stream is not None

    with scripted_server(replying(reply)) as server:
        result = fault.with_client(asynchronous if fault.is_async else sync)
    assert result == (101, True)
