"""Backend conformance: the blocking, asyncio and trio streams behave the same.

Each case is written once as a coroutine against the async stream interface; the blocking
backend runs through a thin adapter, so all three runtimes pass the same suite.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

import httplib
from httplib._core.plan import Endpoint
from httplib._io.asyncio_backend import AsyncioBackend
from httplib._io.sync_backend import SyncBackend, SyncStream
from httplib._io.trio_backend import TrioBackend
from servers.raw import read_until, scripted_server


class _SyncStreamAsAsync:
    def __init__(self, stream: SyncStream) -> None:
        self.stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, timeout)

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        self.stream.write(data, timeout)

    async def start_tls(
        self, ctx: ssl.SSLContext, hostname: str | None, timeout: float | None
    ) -> _SyncStreamAsAsync:
        return _SyncStreamAsAsync(self.stream.start_tls(ctx, hostname, timeout))

    def is_readable(self) -> bool:
        return self.stream.is_readable()

    def get_extra_info(self, name: str) -> Any:
        return self.stream.get_extra_info(name)

    async def aclose(self) -> None:
        self.stream.close()


class _SyncBackendAsAsync:
    async def connect(self, endpoint: Endpoint, timeout: float | None = None) -> _SyncStreamAsAsync:
        return _SyncStreamAsAsync(SyncBackend().connect(endpoint, timeout))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


Case = Callable[[Any], Awaitable[None]]

RUNNERS: dict[str, tuple[Callable[[], Any], Callable[[Callable[[], Awaitable[None]]], None]]] = {
    "sync": (_SyncBackendAsAsync, lambda fn: asyncio.run(fn())),
    "asyncio": (AsyncioBackend, lambda fn: asyncio.run(fn())),
    "trio": (TrioBackend, lambda fn: trio.run(fn)),
}


@pytest.fixture(params=sorted(RUNNERS))
def run(request: pytest.FixtureRequest) -> Callable[[Case], None]:
    make_backend, runner = RUNNERS[request.param]

    def run_case(case: Case) -> None:
        async def main() -> None:
            await case(make_backend())

        runner(main)

    return run_case


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def greet_then_close(conn: socket.socket) -> None:
    conn.sendall(b"bye")


def silent(conn: socket.socket) -> None:
    read_until(conn, b"never")


def test_write_then_read_echo(run: Callable[[Case], None]) -> None:
    with scripted_server(echo) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            await stream.write(b"hello", timeout=5)
            received = b""
            while len(received) < 5:
                received += await stream.read(65536, timeout=5)
            assert received == b"hello"
            assert stream.get_extra_info("server_addr")[1] == server.port
            assert stream.get_extra_info("ssl_object") is None
            await stream.aclose()

        run(case)


def test_read_returns_empty_bytes_when_the_peer_closes(run: Callable[[Case], None]) -> None:
    with scripted_server(greet_then_close) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            received = b""
            for _ in range(10):
                chunk = await stream.read(65536, timeout=5)
                if not chunk:
                    break
                received += chunk
            assert received == b"bye"
            assert await stream.read(65536, timeout=5) == b""
            await stream.aclose()

        run(case)


def test_read_timeout_raises_read_timeout(run: Callable[[Case], None]) -> None:
    with scripted_server(silent) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ReadTimeout):
                await stream.read(65536, timeout=0.05)
            await stream.aclose()

        run(case)


def test_connection_refused_is_a_connect_error(run: Callable[[Case], None]) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def case(backend: Any) -> None:
        with pytest.raises(httplib.ConnectError):
            await backend.connect(Endpoint("127.0.0.1", port), 5)

    run(case)


def test_tls_upgrade_and_echo(
    run: Callable[[Case], None],
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    with scripted_server(echo, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            stream = await plain.start_tls(client_ssl_context, "localhost", 5)
            assert stream.get_extra_info("ssl_object") is not None
            await stream.write(b"secret", timeout=5)
            received = b""
            while len(received) < 6:
                received += await stream.read(65536, timeout=5)
            assert received == b"secret"
            await stream.aclose()

        run(case)


def test_untrusted_certificate_is_a_connect_error(
    run: Callable[[Case], None], server_ssl_context: ssl.SSLContext
) -> None:
    with scripted_server(echo, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ConnectError):
                await plain.start_tls(httplib.create_ssl_context(), "localhost", 5)

        run(case)


def test_is_readable_reports_a_closed_idle_connection(run: Callable[[Case], None]) -> None:
    closed = threading.Event()

    def close_at_once(conn: socket.socket) -> None:
        conn.close()
        closed.set()

    with scripted_server(close_at_once) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            assert closed.wait(5)  # the FIN is on its way over loopback
            # An event loop notices it on its next turns: yield (no waiting) a bounded number
            # of times; a blocking socket or trio answers at once.
            for _ in range(50):
                if stream.is_readable():
                    break
                await backend.sleep(0)
            assert stream.is_readable()
            await stream.aclose()

        run(case)


def test_unix_socket_and_socket_options(run: Callable[[Case], None], tmp_path: Path) -> None:
    path = str(tmp_path / "echo.sock")
    with scripted_server(echo, unix_path=path):

        async def case(backend: Any) -> None:
            keepalive = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
            stream = await backend.connect(Endpoint("", 0, uds=path, socket_options=keepalive), 5)
            assert stream.get_extra_info("socket").getsockopt(
                socket.SOL_SOCKET, socket.SO_KEEPALIVE
            )
            await stream.write(b"over unix", timeout=5)
            received = b""
            while len(received) < 9:
                received += await stream.read(65536, timeout=5)
            assert received == b"over unix"
            await stream.aclose()

        run(case)


def test_tcp_socket_options_are_applied(run: Callable[[Case], None]) -> None:
    with scripted_server(echo) as server:

        async def case(backend: Any) -> None:
            keepalive = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
            endpoint = Endpoint("127.0.0.1", server.port, socket_options=keepalive)
            stream = await backend.connect(endpoint, 5)
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            await stream.aclose()

        run(case)
