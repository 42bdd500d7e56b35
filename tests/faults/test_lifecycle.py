"""Connection lifecycle against hostile servers (reliability catalogue 3.A), for `Client` and
`AsyncClient` on every runtime: closes and resets at every point of a response, stale
keep-alive connections, connections that must not go back to the pool, answers that come before
the upload is read, and a response's connection facts after the server hung up.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from faults.conftest import Fault, assert_pool_clean
from httplib._core.resend import MAX_STALE_RESENDS
from httplib._exceptions import ReadError, RemoteProtocolError
from servers.raw import keep_alive, read_request_head, reset_on_close, scripted_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

# What the server has sent when it hangs up, at each point of a response.
CUT_POINTS = {
    "no bytes": b"",
    "mid status line": b"HTTP/1.1 20",
    "mid headers": b"HTTP/1.1 200 OK\r\nContent-Le",
    "mid body": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    "mid chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    "before the last chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n",
}


def _cut(prefix: bytes, *, reset: bool) -> Any:
    """Answer /ok; to anything else send `prefix` and hang up (FIN, or RST when `reset`)."""

    def handler(conn: socket.socket) -> None:
        head, _ = read_request_head(conn)
        if head.startswith(b"GET /ok "):
            conn.sendall(OK)
            return
        conn.sendall(prefix)
        if reset:
            reset_on_close(conn)

    return handler


@pytest.mark.parametrize("point", list(CUT_POINTS))
def test_a_close_at_each_point_is_a_protocol_error(fault: Fault, point: str) -> None:
    """Never a silently short body, and a fresh connection is not retried."""
    with scripted_server(_cut(CUT_POINTS[point], reset=False)) as server:
        fault.expect(RemoteProtocolError, server.url + "/cut", then=server.url + "/ok")
        assert server.connections_accepted == 2  # the failed one was not sent again


@pytest.mark.parametrize("point", ["no bytes", "mid headers", "mid chunk"])
def test_a_reset_is_a_read_error(fault: Fault, point: str) -> None:
    """A TCP RST (the server's close with SO_LINGER 0) before, inside and after the head."""
    with scripted_server(_cut(CUT_POINTS[point], reset=True)) as server:
        fault.expect(ReadError, server.url + "/cut", then=server.url + "/ok")
        assert server.connections_accepted == 2


def _two_gets(fault: Fault, url: str, **first: Any) -> tuple[int, int]:
    """Two requests on one client: the status codes."""

    def sync_script(client: Any) -> tuple[int, int]:
        a = client.get(url).status_code
        b = client.request(url=url, **first).status_code
        assert_pool_clean(client)
        return a, b

    async def async_script(client: Any) -> tuple[int, int]:
        a = (await client.get(url)).status_code
        b = (await client.request(url=url, **first)).status_code
        assert_pool_clean(client)
        return a, b

    result: tuple[int, int] = fault.with_client(async_script if fault.is_async else sync_script)
    return result


def test_a_stale_keep_alive_connection_is_retried_once(fault: Fault) -> None:
    """The server closed the kept-alive connection without answering the next request: an
    idempotent request goes again, once, on a fresh connection (RFC 9112 section 9.3.1)."""
    handler = keep_alive(lambda conn, head, n: n == 1 and (conn.sendall(OK) or True))
    with scripted_server(handler) as server:
        assert _two_gets(fault, server.url + "/", method="GET") == (200, 200)
        assert server.connections_accepted == 2


def _restart(answer_from: int | None) -> tuple[Any, list[int]]:
    """A server restarting under a kept-alive client: connection 1 answers one request, then
    closes silently at the next; later connections are closed at once after their request
    (the old process still accepting), until connection `answer_from` (None: never)."""
    seen = [0]
    lock = threading.Lock()

    def handler(conn: socket.socket) -> None:
        with lock:
            seen[0] += 1
            number = seen[0]
        head, _ = read_request_head(conn)
        if head and (number == 1 or (answer_from is not None and number >= answer_from)):
            conn.sendall(OK)
            if number == 1:
                read_request_head(conn)

    return handler, seen


def test_a_resend_cut_on_a_new_connection_by_the_same_restart_goes_again(fault: Fault) -> None:
    """The resend after the stale connection lands on a new connection the restarting server
    closes unanswered: the request has already met the restart, so that cut is the restart's
    too, and it goes again (`MAX_STALE_RESENDS` in all)."""
    handler, _ = _restart(answer_from=3)
    with scripted_server(handler) as server:
        assert _two_gets(fault, server.url + "/", method="GET") == (200, 200)
        assert server.connections_accepted == 3


def test_a_stale_retry_that_keeps_failing_stops(fault: Fault) -> None:
    """First connection: one answer, then a silent close. Every later connection: a silent
    close at once. The request goes again `MAX_STALE_RESENDS` times, then fails, and the
    pool is clean."""
    handler, _ = _restart(answer_from=None)
    with scripted_server(handler) as server:

        def sync_script(client: Any) -> None:
            assert client.get(server.url).status_code == 200
            with pytest.raises(RemoteProtocolError):
                client.get(server.url)
            assert_pool_clean(client)

        async def async_script(client: Any) -> None:
            assert (await client.get(server.url)).status_code == 200
            with pytest.raises(RemoteProtocolError):
                await client.get(server.url)
            assert_pool_clean(client)

        fault.with_client(async_script if fault.is_async else sync_script)
        assert server.connections_accepted == 1 + MAX_STALE_RESENDS


def test_a_post_on_a_stale_connection_is_not_sent_twice(fault: Fault) -> None:
    handler = keep_alive(lambda conn, head, n: n == 1 and (conn.sendall(OK) or True))
    with scripted_server(handler) as server:

        def sync_script(client: Any) -> None:
            assert client.get(server.url).status_code == 200
            with pytest.raises(RemoteProtocolError):
                client.post(server.url, content=b"x" * 10)
            assert_pool_clean(client)
            assert client.get(server.url).status_code == 200

        async def async_script(client: Any) -> None:
            assert (await client.get(server.url)).status_code == 200
            with pytest.raises(RemoteProtocolError):
                await client.post(server.url, content=b"x" * 10)
            assert_pool_clean(client)
            assert (await client.get(server.url)).status_code == 200

        fault.with_client(async_script if fault.is_async else sync_script)
        assert server.connections_accepted == 2


NOT_REUSABLE = {
    "Connection: close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "extra bytes after the body": OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra",
    "an unframed body": b"HTTP/1.1 200 OK\r\n\r\nok",
}


@pytest.mark.parametrize("kind", list(NOT_REUSABLE))
def test_a_connection_that_must_not_be_reused_is_not(fault: Fault, kind: str) -> None:
    """The server keeps the socket open (a server that closes it would be caught by the probe
    alone): the client must not send the next request on it."""
    reply = NOT_REUSABLE[kind]
    hold = threading.Event()

    def handler(conn: socket.socket) -> None:
        head, _ = read_request_head(conn)
        conn.sendall(reply if b"/ok " not in head else OK)
        if b"/ok " not in head:
            if kind == "an unframed body":
                return  # its end is the close
            hold.wait(10)  # anything sent here would be an answer to a reused connection

    with scripted_server(handler) as server:

        def sync_script(client: Any) -> None:
            assert client.get(server.url + "/").content == b"ok"
            assert client.get(server.url + "/ok").content == b"ok"
            assert_pool_clean(client)

        async def async_script(client: Any) -> None:
            assert (await client.get(server.url + "/")).content == b"ok"
            assert (await client.get(server.url + "/ok")).content == b"ok"
            assert_pool_clean(client)

        try:
            fault.with_client(async_script if fault.is_async else sync_script)
        finally:
            hold.set()
        assert server.connections_accepted == 2


def test_an_answer_before_the_upload_is_read_is_returned(fault: Fault) -> None:
    """The server answers 413 and closes without reading a large upload: the client stops
    sending and returns the answer (as httpcore does), and does not reuse the connection."""
    upload = b"x" * (8 << 20)

    def handler(conn: socket.socket) -> None:
        head, _ = read_request_head(conn)
        if b"/ok " in head:
            conn.sendall(OK)
            return
        conn.sendall(
            b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )

    with scripted_server(handler) as server:

        def sync_script(client: Any) -> None:
            assert client.post(server.url + "/up", content=upload).status_code == 413
            assert_pool_clean(client)
            assert client.get(server.url + "/ok").status_code == 200

        async def async_script(client: Any) -> None:
            assert (await client.post(server.url + "/up", content=upload)).status_code == 413
            assert_pool_clean(client)
            assert (await client.get(server.url + "/ok")).status_code == 200

        fault.with_client(async_script if fault.is_async else sync_script)


def test_network_stream_answers_after_the_server_closed(fault: Fault) -> None:
    """A response's `network_stream` still tells its addresses once the server has closed the
    connection and the client has closed its socket (the CLI's -v asks after the fact)."""

    def once(conn: socket.socket) -> None:
        read_request_head(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with scripted_server(once) as server:

        def check(response: Any) -> None:
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", server.port)
            client_addr = stream.get_extra_info("client_addr")
            assert client_addr[0] == "127.0.0.1"
            assert client_addr[1] > 0
            stream.get_extra_info("socket")  # the closed socket, or None: never raises
            assert stream.get_extra_info("ssl_object") is None

        def sync_script(client: Any) -> None:
            check(client.get(server.url))
            check(client.get(server.url))

        async def async_script(client: Any) -> None:
            check(await client.get(server.url))
            check(await client.get(server.url))

        fault.with_client(async_script if fault.is_async else sync_script)
        assert server.connections_accepted == 2


def test_a_close_mid_upload_without_an_answer_is_a_disconnect(fault: Fault) -> None:
    """The server reads the head and closes without answering or reading the upload (a
    reload): our body write fails, and the outcome is the missing answer, the same on every
    runtime: `RemoteProtocolError`, not the broken pipe of our own write. A POST whose body
    went out may have been acted on, so it is not resent."""

    def handler(conn: socket.socket) -> None:
        head, _ = read_request_head(conn)
        if b"/ok " in head:
            conn.sendall(OK)

    with scripted_server(handler) as server:
        fault.expect(
            RemoteProtocolError,
            server.url + "/up",
            method="POST",
            content=b"x" * (8 << 20),
            then=server.url + "/ok",
            match="without sending a response",
        )
