"""One `AsyncClient` across event loops: kept between `asyncio.run` calls (or pytest's loop per
test), it goes on on the new loop with new connections, whichever runtime each loop is; a loop
that ends closes the client's connections on it; used from a second loop while the first still
runs requests on it, it refuses with a clear error."""

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
from transport.transport_harness import ok, serve_each, serve_path_echo

T = TypeVar("T")


@contextmanager
def nothing_left_open() -> Iterator[None]:
    """No connection warns as collected: each loop that ended closed the client's connections
    on it, as it shut down (a connection left open would warn when the next loop drops it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


@contextmanager
def connections_left_open() -> Iterator[None]:
    """A loop closed by hand, without `shutdown_asyncgens`, leaves the client's connections
    open (asyncio closes no transport when it closes a loop): dropped on the next loop, each
    one warns as collected."""
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

    with nothing_left_open():
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

    loop = asyncio.new_event_loop()
    with connections_left_open():
        assert loop.run_until_complete(get()) == 200
        loop.close()  # (by hand: nothing closes the client's connections on it)
        asyncio.run(client.aclose())  # (the old loop's connections cannot be closed from here)
        del loop  # (its transports are collected, and warn, in here)
    assert client.is_closed


@pytest.mark.parametrize("runtime", params(*ASYNC_RUNTIMES))
def test_a_loop_that_ends_closes_the_clients_connections_on_it(runtime: str) -> None:
    closed = threading.Event()  # the server saw the client's side of the connection close

    def handler(conn: socket.socket) -> None:
        serve_path_echo(conn)
        closed.set()

    with scripted_server(handler) as server:
        client = AsyncClient(base_url=server.url)

        async def get() -> bytes:
            return (await client.get("/first")).content

        with nothing_left_open():
            assert run_async(runtime, get) == b"/first"
            # The client is kept (and is not closed), yet its loop's shutdown closed it.
            assert closed.wait(10)
            assert asyncio.run(then_closed(client, client.get("/next"))).content == b"/next"


@pytest.mark.parametrize("runtime", params(*ASYNC_RUNTIMES))
def test_a_client_collected_while_its_loop_runs_leaves_nothing_to_warn(
    uvicorn_server: RunningServer, runtime: str
) -> None:
    """(trio warns for every async generator of its run collected unfinished: the one that
    closes the client's connections at the loop's end must be finished with the client.)"""

    async def use_and_drop() -> None:
        client = AsyncClient(base_url=uvicorn_server.url)
        assert (await client.get("/json")).status_code == 200
        await client.aclose()
        del client
        gc.collect()

    with nothing_left_open():
        run_async(runtime, use_and_drop)


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
        with nothing_left_open():
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

    with nothing_left_open():
        run_async(first, leave_a_response_open)
        assert asyncio.run(then_closed(client, get())) == 200
        left_open.clear()  # (its socket is collected, and warns, in here)
