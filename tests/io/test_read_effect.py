"""The READ effect as the async driver performs it (`_performers`), on asyncio, uvloop and
trio: the asyncio backend answers it without a coroutine (buffered data at once, else a future
the protocol resolves with the data itself), and must lose, reorder or misreport nothing."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from types import CoroutineType
from typing import Any

import pytest

import httplib
from httplib._core.effects import READ
from httplib._core.plan import Endpoint
from httplib._io import asyncio_backend
from httplib._io.async_driver import _performers
from servers.raw import read_until, scripted_server

Run = Callable[[Callable[[Any], Awaitable[None]]], None]
ASYNC_RUNTIMES = ["asyncio", "uvloop", "trio"]


async def perform_read(backend: Any, stream: Any, max_bytes: int, timeout: float | None) -> Any:
    """Perform one READ as `AsyncDriver.run` does: await what the performer returned."""
    value = _performers(backend)[READ]((READ, stream, max_bytes, timeout))
    if type(value) is CoroutineType or hasattr(value, "__await__"):
        value = await value
    return value


def answer_each_go(payload: bytes) -> Callable[[socket.socket], None]:
    """A server that sends `payload` each time the client writes "go", until it closes."""

    def serve(conn: socket.socket) -> None:
        while read_until(conn, b"go"):
            conn.sendall(payload)

    return serve


@pytest.mark.parametrize("run", ASYNC_RUNTIMES, indirect=True)
def test_a_waiting_read_gets_at_most_max_bytes_and_the_rest_stays_in_order(run: Run) -> None:
    payload = bytes(range(200))
    with scripted_server(answer_each_go(payload)) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            received = b""
            await stream.write(b"go", timeout=5)
            while len(received) < len(payload):
                chunk = await perform_read(backend, stream, 7, 5)
                assert 0 < len(chunk) <= 7
                received += chunk
            assert received == payload
            await stream.aclose()

        run(case)


@pytest.mark.parametrize("run", ["asyncio", "uvloop"], indirect=True)
def test_a_read_given_up_before_data_arrives_loses_nothing(run: Run) -> None:
    with scripted_server(answer_each_go(b"first answer")) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            waiting = backend.read_effect((READ, stream, 65536, 5))
            waiting.cancel()  # (what a cancelled task does to the future it awaits)
            await stream.write(b"go", timeout=5)
            received = b""
            while len(received) < len(b"first answer"):
                received += await perform_read(backend, stream, 65536, 5)
            assert received == b"first answer"
            # The stream's own coroutine read works after it too.
            await stream.write(b"go", timeout=5)
            received = b""
            while len(received) < len(b"first answer"):
                received += await stream.read(65536, timeout=5)
            assert received == b"first answer"
            await stream.aclose()

        run(case)


@pytest.mark.parametrize("run", ASYNC_RUNTIMES, indirect=True)
def test_a_waiting_read_times_out_as_read_timeout(run: Run) -> None:
    with scripted_server(lambda conn: read_until(conn, b"never")) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ReadTimeout):
                await perform_read(backend, stream, 65536, 0.05)
            await stream.aclose()

        run(case)


@pytest.mark.parametrize("run", ASYNC_RUNTIMES, indirect=True)
def test_a_waiting_read_gets_empty_bytes_at_eof_and_read_error_on_reset(run: Run) -> None:
    def close_or_reset(conn: socket.socket) -> None:
        request = read_until(conn, b"!")
        if request.startswith(b"reset"):
            # SO_LINGER on with 0 s: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with scripted_server(close_or_reset) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            await stream.write(b"close!", timeout=5)
            assert await perform_read(backend, stream, 65536, 5) == b""
            await stream.aclose()
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            await stream.write(b"reset!", timeout=5)
            with pytest.raises(httplib.ReadError):
                await perform_read(backend, stream, 65536, 5)
            await stream.aclose()

        run(case)


def test_data_for_a_reader_that_gave_up_is_kept_for_the_next_read() -> None:
    """The transport delivers data while a cancelled direct read is still registered (its task
    was cancelled and nothing has read since): the data is buffered, not dropped."""

    async def case() -> None:
        protocol = asyncio_backend._ByteProtocol(asyncio.get_running_loop())
        waiter = protocol.read_waiter = asyncio.get_running_loop().create_future()
        protocol.read_direct = 65536
        waiter.cancel()
        protocol.data_received(b"kept")
        assert list(protocol.chunks) == [b"kept"]
        assert protocol.read_direct == 0
        protocol.data_received(b" in order")
        assert protocol.take(65536) + protocol.take(65536) == b"kept in order"

    asyncio.run(case())
