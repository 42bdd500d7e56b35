"""The READ and READ_INTO effects as the async driver performs them (`_performers`), on
asyncio, uvloop and trio: the asyncio backend answers them without a coroutine (buffered data at
once, else a future the protocol resolves with the data itself, or after feeding it to the
parser from `data_received`), and must lose, reorder or misreport nothing."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from types import CoroutineType
from typing import Any

import pytest

import httplib
from httplib._core.effects import READ, READ_INTO
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


class Recorder:
    """A parser for READ_INTO: keeps what it is fed; `bad` in the data is a parse error."""

    def __init__(self) -> None:
        self.fed: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self.fed.append(data)
        if b"bad" in data:
            raise httplib.RemoteProtocolError("bad byte")


async def perform_read_into(
    backend: Any, stream: Any, parser: Recorder, max_bytes: int, timeout: float | None
) -> None:
    """Perform one READ_INTO as `AsyncDriver.run` does."""
    value = _performers(backend)[READ_INTO]((READ_INTO, stream, parser, max_bytes, timeout))
    if type(value) is CoroutineType or hasattr(value, "__await__"):
        value = await value
    assert value is None


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


@pytest.mark.parametrize("effect", [READ, READ_INTO], ids=["read", "read_into"])
@pytest.mark.parametrize("run", ["asyncio", "uvloop"], indirect=True)
def test_a_read_given_up_before_data_arrives_loses_nothing(run: Run, effect: int) -> None:
    with scripted_server(answer_each_go(b"first answer")) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            abandoned = Recorder()
            if effect == READ:
                waiting = backend.read_effect((READ, stream, 65536, 5))
            else:
                waiting = backend.read_into_effect((READ_INTO, stream, abandoned, 65536, 5))
            waiting.cancel()  # (what a cancelled task does to the future it awaits)
            await stream.write(b"go", timeout=5)
            received = b""
            while len(received) < len(b"first answer"):
                received += await perform_read(backend, stream, 65536, 5)
            assert received == b"first answer"
            assert abandoned.fed == []  # (a READ_INTO given up feeds nothing)
            # The stream's own coroutine read works after it too.
            await stream.write(b"go", timeout=5)
            received = b""
            while len(received) < len(b"first answer"):
                received += await stream.read(65536, timeout=5)
            assert received == b"first answer"
            await stream.aclose()

        run(case)


async def perform_either(
    effect: int, backend: Any, stream: Any, max_bytes: int, timeout: float | None
) -> bytes:
    """Perform a READ, or a READ_INTO whose parser must then hold exactly what a READ would
    have returned."""
    if effect == READ:
        data: bytes = await perform_read(backend, stream, max_bytes, timeout)
        return data
    parser = Recorder()
    try:
        await perform_read_into(backend, stream, parser, max_bytes, timeout)
    except BaseException:
        assert parser.fed == []  # a failed read feeds nothing
        raise
    [fed] = parser.fed
    return fed


EFFECTS = pytest.mark.parametrize("effect", [READ, READ_INTO], ids=["read", "read_into"])


@EFFECTS
@pytest.mark.parametrize("run", ASYNC_RUNTIMES, indirect=True)
def test_a_waiting_read_times_out_as_read_timeout(run: Run, effect: int) -> None:
    with scripted_server(lambda conn: read_until(conn, b"never")) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ReadTimeout):
                await perform_either(effect, backend, stream, 65536, 0.05)
            await stream.aclose()

        run(case)


@EFFECTS
@pytest.mark.parametrize("run", ASYNC_RUNTIMES, indirect=True)
def test_a_waiting_read_gets_empty_bytes_at_eof_and_read_error_on_reset(
    run: Run, effect: int
) -> None:
    def close_or_reset(conn: socket.socket) -> None:
        request = read_until(conn, b"!")
        if request.startswith(b"reset"):
            # SO_LINGER on with 0 s: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with scripted_server(close_or_reset) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            await stream.write(b"close!", timeout=5)
            assert await perform_either(effect, backend, stream, 65536, 5) == b""
            await stream.aclose()
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            await stream.write(b"reset!", timeout=5)
            with pytest.raises(httplib.ReadError):
                await perform_either(effect, backend, stream, 65536, 5)
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


@pytest.mark.parametrize("run", ASYNC_RUNTIMES, indirect=True)
def test_read_into_feeds_each_read_in_order_at_most_max_bytes(run: Run) -> None:
    payload = bytes(range(200))
    with scripted_server(answer_each_go(payload)) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            parser = Recorder()
            await stream.write(b"go", timeout=5)
            for _ in range(len(payload)):
                await perform_read_into(backend, stream, parser, 7, 5)
                assert 0 < len(parser.fed[-1]) <= 7
                if sum(map(len, parser.fed)) == len(payload):
                    break
            assert b"".join(parser.fed) == payload
            # The same stream's plain reads go on after it.
            await stream.write(b"go", timeout=5)
            received = b""
            while len(received) < len(payload):
                received += await perform_read(backend, stream, 65536, 5)
            assert received == payload
            await stream.aclose()

        run(case)


@pytest.mark.parametrize("run", ASYNC_RUNTIMES, indirect=True)
def test_read_into_raises_the_parsers_error_and_feeds_b_at_eof(run: Run) -> None:
    def serve(conn: socket.socket) -> None:
        read_until(conn, b"go")
        conn.sendall(b"a bad answer")
        read_until(conn, b"go")  # then the client's close, or EOF

    with scripted_server(serve) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            parser = Recorder()
            await stream.write(b"go", timeout=5)
            with pytest.raises(httplib.RemoteProtocolError, match="bad byte"):
                await perform_read_into(backend, stream, parser, 65536, 5)
            assert parser.fed == [b"a bad answer"]
            await stream.write(b"go", timeout=5)
            eof = Recorder()
            await perform_read_into(backend, stream, eof, 65536, 5)
            assert eof.fed == [b""]
            await stream.aclose()

        run(case)
