"""Per-phase timeouts against servers that stall (reliability catalogue 3.B), for `Client` and
`AsyncClient` on every runtime: each phase's timeout ends the request with its own exception,
promptly, leaving the pool clean and the client usable.

Not here: a total deadline over the whole request (headers trickled a byte at a time, endless
1xx responses or trailers each inside the read timeout). httpx has none (httpx #1450) and
neither has httplib yet; it is a later policy of its own.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from faults.conftest import Fault, assert_pool_clean, cancelled_after
from httplib._config import Limits, Timeout
from httplib._exceptions import ConnectTimeout, PoolTimeout, ReadTimeout, WriteTimeout
from servers.raw import read_request_head, scripted_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
SHORT = 0.2
# Event-loop timers may fire a little early (uvloop keeps milliseconds): a wait of SHORT ends
# no sooner than this.
SHORT_AT_LEAST = SHORT - 0.005


@contextlib.contextmanager
def stalling_server(
    reply: bytes | None, *, ssl_context: ssl.SSLContext | None = None
) -> Iterator[Any]:
    """Answers /ok; to anything else sends `reply` (None: nothing at all, not even a TLS
    handshake) and then holds the connection open until the test ends."""
    hold = threading.Event()

    def handler(conn: socket.socket) -> None:
        if reply is None:
            hold.wait(10)
            return
        head, _ = read_request_head(conn)
        if b"/ok " in head:
            conn.sendall(OK)
            return
        conn.sendall(reply)
        hold.wait(10)

    with scripted_server(handler, ssl_context=ssl_context) as server:
        try:
            yield server
        finally:
            hold.set()


def test_a_silent_server_is_a_read_timeout(fault: Fault) -> None:
    with stalling_server(b"") as server:
        started = time.monotonic()
        fault.expect(
            ReadTimeout,
            server.url + "/",
            then=server.url + "/ok",
            client={"timeout": Timeout(10.0, read=SHORT)},
        )
        assert time.monotonic() - started >= SHORT


def test_a_body_that_stalls_is_a_read_timeout(fault: Fault) -> None:
    with stalling_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") as server:
        fault.expect(
            ReadTimeout,
            server.url + "/",
            then=server.url + "/ok",
            client={"timeout": Timeout(10.0, read=SHORT)},
        )


def test_a_tls_handshake_that_never_completes_is_a_connect_timeout(
    fault: Fault, server_ssl_context: ssl.SSLContext, client_ssl_context: ssl.SSLContext
) -> None:
    """The server accepts TCP and then says nothing: the connect timeout bounds the handshake
    (asyncio's own handshake timeout would end it as a ConnectError, 60 s later by default)."""
    with (
        stalling_server(None) as stall,
        stalling_server(b"", ssl_context=server_ssl_context) as good,
    ):
        exc = fault.expect(
            ConnectTimeout,
            stall.url.replace("http://", "https://") + "/",
            then=good.url + "/ok",
            client={"timeout": Timeout(10.0, connect=SHORT), "verify": client_ssl_context},
        )
        assert "handshake" in str(exc)


def test_a_tls_handshake_without_a_connect_timeout_waits_for_the_read_of_nothing(
    fault: Fault,
) -> None:
    """With no connect timeout at all, nothing of the loop's own (60 s) ends the handshake
    early as a ConnectError: it is cancelled from outside, here by the test's own bound."""
    if not fault.is_async:
        pytest.skip("a blocking handshake without a timeout cannot be interrupted")
    from httplib._client import AsyncClient

    with stalling_server(None) as stall:
        url = stall.url.replace("http://", "https://") + "/"

        async def main() -> None:
            async with AsyncClient(timeout=None) as client:
                await cancelled_after(fault.runtime, SHORT, lambda: client.get(url))
                assert_pool_clean(client)

        fault.run(main)


@contextlib.contextmanager
def full_backlog() -> Iterator[str]:
    """A URL whose TCP connect never completes: a listener that never accepts, its backlog
    filled, so the kernel drops further SYNs (Linux keeps backlog + 1 pending connections)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(listener.getsockname())
            fillers.append(filler)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_a_tcp_connect_that_never_completes_is_a_connect_timeout(fault: Fault) -> None:
    with full_backlog() as url, stalling_server(b"") as good:
        fault.expect(
            ConnectTimeout,
            url,
            then=good.url + "/ok",
            client={"timeout": Timeout(10.0, connect=SHORT)},
        )


def test_a_server_that_never_reads_the_upload_is_a_write_timeout(fault: Fault) -> None:
    """The server neither reads nor closes: the write timeout ends the request, and the
    connection is not reused."""
    with stalling_server(None) as stall, stalling_server(b"") as good:
        fault.expect(
            WriteTimeout,
            stall.url + "/up",
            method="POST",
            content=b"x" * (32 << 20),
            then=good.url + "/ok",
            client={"timeout": Timeout(10.0, write=SHORT)},
        )


def test_an_exhausted_pool_is_a_pool_timeout(fault: Fault) -> None:
    """One connection, held by an unread streamed response: the next request waits the pool
    timeout, no longer, then the held one still reads to the end."""
    with stalling_server(b"") as server:
        url = server.url + "/ok"
        timeout = Timeout(10.0, pool=SHORT)

        def sync_script(client: Any) -> None:
            with client.stream("GET", url) as held:
                started = time.monotonic()
                with pytest.raises(PoolTimeout):
                    client.get(url)
                assert SHORT_AT_LEAST <= time.monotonic() - started < 3
                assert held.read() == b"ok"
            assert client.get(url).status_code == 200
            assert_pool_clean(client)

        async def async_script(client: Any) -> None:
            async with client.stream("GET", url) as held:
                started = time.monotonic()
                with pytest.raises(PoolTimeout):
                    await client.get(url)
                assert SHORT_AT_LEAST <= time.monotonic() - started < 3
                assert await held.aread() == b"ok"
            assert (await client.get(url)).status_code == 200
            assert_pool_clean(client)

        fault.with_client(
            async_script if fault.is_async else sync_script,
            limits=Limits(max_connections=1),
            timeout=timeout,
        )
