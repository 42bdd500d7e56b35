"""One `AsyncClient` across event loops: kept between `asyncio.run` calls (or pytest's loop per
test), it goes on on the new loop with new connections, whichever runtime each loop is; used
from a second loop while the first still runs requests on it, it refuses with a clear error."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import warnings
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

from httplib import AsyncClient
from servers.asgi_servers import RunningServer
from servers.raw import scripted_server
from support.runtimes import ASYNC_RUNTIMES, params, run_async
from transport.transport_harness import ok, serve_each

T = TypeVar("T")


@contextmanager
def connections_left_open() -> Iterator[None]:
    """A client left open when its loop ended leaves its connections open (asyncio closes no
    transport when it closes a loop); dropped on the next loop, each one warns as collected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield
        gc.collect()


async def then_closed(client: AsyncClient, call: Awaitable[T]) -> T:
    """`call`'s result, the client closed on the same loop (so nothing is left open)."""
    try:
        return await call
    finally:
        await client.aclose()


@pytest.mark.parametrize("second", params(*ASYNC_RUNTIMES))
@pytest.mark.parametrize("first", params(*ASYNC_RUNTIMES))
def test_a_client_goes_on_on_the_next_event_loop(
    uvicorn_server: RunningServer, first: str, second: str
) -> None:
    client = AsyncClient(base_url=uvicorn_server.url)
    peers: list[object] = []

    async def get() -> bytes:
        response = await client.get("/bytes/2048")
        peers.append(response.extensions["network_stream"].get_extra_info("client_addr"))
        return await response.aread()

    with connections_left_open():
        assert len(run_async(first, get)) == 2048
        assert len(run_async(first, get)) == 2048  # a new loop of the same runtime too
        assert len(run_async(second, lambda: then_closed(client, get()))) == 2048
    assert len(set(peers)) == 3  # a connection of each loop's own


def test_closing_the_client_on_the_next_loop_drops_the_old_connections(
    uvicorn_server: RunningServer,
) -> None:
    client = AsyncClient(base_url=uvicorn_server.url)

    async def get() -> int:
        return (await client.get("/json")).status_code

    with connections_left_open():
        assert asyncio.run(get()) == 200
        asyncio.run(client.aclose())  # (the old loop's connections cannot be closed from here)
    assert client.is_closed


def test_a_client_busy_on_a_running_loop_is_refused_on_another() -> None:
    done = threading.Event()  # the held response may finish

    def respond(conn: socket.socket, head: bytes) -> bool:
        if head.split(b" ")[1] != b"/held":
            conn.sendall(ok(b"plain"))
            return True
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        done.wait(10)
        conn.sendall(b"world")
        return True

    streaming = threading.Event()  # the other loop holds a response half read

    with scripted_server(serve_each(respond)) as server:
        client = AsyncClient(base_url=server.url)

        async def hold_a_response() -> None:
            async with client.stream("GET", "/held") as response:
                chunks = response.aiter_raw()  # (held: a loop finalizes an abandoned one)
                assert await anext(chunks) == b"hello"
                streaming.set()
                await asyncio.get_running_loop().run_in_executor(None, done.wait, 10)
                assert [chunk async for chunk in chunks] == [b"world"]

        async def get() -> bytes:
            return (await client.get("/plain")).content

        other = threading.Thread(target=asyncio.run, args=(hold_a_response(),))
        other.start()
        try:
            assert streaming.wait(10)
            with pytest.raises(RuntimeError, match="requests in progress on another event loop"):
                asyncio.run(get())
        finally:
            done.set()
            other.join(10)
        assert not other.is_alive()

        # The other loop finished its requests (and ended): this one takes the client over.
        with connections_left_open():
            assert asyncio.run(then_closed(client, get())) == b"plain"


@pytest.mark.parametrize("first", params(*ASYNC_RUNTIMES))
def test_a_response_left_open_by_an_ended_loop_does_not_hold_the_client(
    uvicorn_server: RunningServer, first: str
) -> None:
    """Requests the old loop left unfinished (a response never closed) died with it: the next
    loop goes on (an ended trio run is told from a live one by its token)."""
    client = AsyncClient(base_url=uvicorn_server.url)
    left_open = []

    async def leave_a_response_open() -> None:
        request = client.build_request("GET", "/bytes/1048576")
        left_open.append(await client.send(request, stream=True))

    async def get() -> int:
        return (await client.get("/json")).status_code

    with connections_left_open():
        run_async(first, leave_a_response_open)
        assert asyncio.run(then_closed(client, get())) == 200
        left_open.clear()  # (its socket is collected, and warns, in here)
