"""One adapter per runtime, so every transport case is written once as a coroutine.

`run(case)` runs `case(mode)`; `mode.transport(**kwargs)` builds an adapter over
`HTTPTransport` (called directly: blocking inside the coroutine is fine) or
`AsyncHTTPTransport` (awaited on asyncio, uvloop or trio). `mode.gather` runs coroutines
concurrently: threads for sync, tasks for asyncio and uvloop, a nursery for trio.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from types import CoroutineType
from typing import Any

import trio

from httplib._models import Request, Response
from httplib._transports.default import AsyncHTTPTransport, HTTPTransport
from servers.raw import read_until, reset_on_close
from support.runtimes import ASYNCIO_LOOPS, gather, run_async

Factory = Callable[[], Awaitable[Any]]


def timeouts(seconds: float | None = 10.0, **phases: float) -> dict[str, Any]:
    value = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
    value.update(phases)
    return {"timeout": value}


class Adapter:
    """A transport plus helpers that hide sync versus async."""

    def __init__(self, mode: Mode, **kwargs: Any) -> None:
        self.mode = mode
        self.is_async = mode.name != "sync"
        cls = AsyncHTTPTransport if self.is_async else HTTPTransport
        self.transport: Any = cls(**kwargs)

    def body(self, chunks: list[bytes]) -> Any:
        """A request body iterator of the right kind (sent chunked)."""

        def sync_gen() -> Iterator[bytes]:
            yield from chunks

        async def async_gen() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return async_gen() if self.is_async else sync_gen()

    async def send(
        self,
        method: str,
        url: str,
        *,
        content: Any = None,
        headers: Any = None,
        extensions: dict[str, Any] | None = None,
    ) -> Response:
        request = Request(
            method,
            url,
            content=content,
            headers=headers,
            extensions=timeouts() if extensions is None else extensions,
        )
        if self.is_async:
            return await self.transport.handle_async_request(request)  # type: ignore[no-any-return]
        return self.transport.handle_request(request)  # type: ignore[no-any-return]

    async def read(self, response: Response) -> bytes:
        if self.is_async:
            return await response.aread()
        return response.read()

    async def chunks(self, response: Response) -> list[bytes]:
        if self.is_async:
            return [chunk async for chunk in response.aiter_raw()]
        return list(response.iter_raw())

    async def first_chunk(self, response: Response) -> bytes:
        if self.is_async:
            # Closed here, not left to the garbage collector: trio warns (ResourceWarning,
            # an error in this suite) about an async generator collected unexhausted.
            async with aclosing(response.aiter_raw()) as chunks:
                async for chunk in chunks:
                    return chunk
            return b""
        return next(iter(response.iter_raw()), b"")

    async def close_response(self, response: Response) -> None:
        if self.is_async:
            await response.aclose()
        else:
            response.close()

    async def get(self, url: str, **kwargs: Any) -> tuple[Response, bytes]:
        response = await self.send("GET", url, **kwargs)
        return response, await self.read(response)

    async def close(self) -> None:
        if self.is_async:
            await self.transport.aclose()
        else:
            self.transport.close()


class Mode:
    def __init__(self, name: str) -> None:
        self.name = name
        # uvloop is an asyncio event loop: every asyncio API below works on it unchanged.
        self.is_asyncio = name in ASYNCIO_LOOPS

    def transport(self, **kwargs: Any) -> Adapter:
        return Adapter(self, **kwargs)

    async def sleep(self, seconds: float) -> None:
        if self.name == "trio":
            await trio.sleep(seconds)
        elif self.is_asyncio:
            await asyncio.sleep(seconds)
        else:
            threading.Event().wait(seconds)

    async def gather(self, factories: list[Factory]) -> list[Any]:
        """Run the coroutines concurrently (threads for sync); results (or exceptions) in order."""
        return await gather(self.name, factories)

    async def cancel_at(
        self, client: Adapter, kinds: set[int], factory: Factory, occurrence: int = 1
    ) -> bool:
        """Run `factory()` and cancel it at the `occurrence`-th effect of `kinds` (from
        `httplib._core.effects`) that this task performs: the cancellation lands in that
        effect's wait, with no timer. True if it was cancelled."""
        driver = client.transport._driver
        original = driver._perform
        seen = 0
        target: Any = None
        cancel: Callable[[], None]

        def wrap(kind: int, perform: Callable[[Any], Any]) -> Callable[[Any], Any]:
            async def performer(effect: Any) -> Any:
                nonlocal seen
                if kind in kinds and self._current_task() is target:
                    seen += 1
                    if seen == occurrence:
                        cancel()
                result = perform(effect)
                return await result if type(result) is CoroutineType else result

            return performer

        driver._perform = tuple(wrap(kind, p) for kind, p in enumerate(original))
        try:
            if self.name == "trio":
                with trio.CancelScope() as scope:
                    target, cancel = trio.lowlevel.current_task(), scope.cancel
                    await factory()
                return scope.cancelled_caught

            async def run() -> Any:
                return await factory()

            task = asyncio.ensure_future(run())
            target, cancel = task, task.cancel
            try:
                await task
            except asyncio.CancelledError:
                return True
            return False
        finally:
            driver._perform = original

    def _current_task(self) -> Any:
        if self.name == "trio":
            return trio.lowlevel.current_task()
        return asyncio.current_task()


Case = Callable[[Mode], Awaitable[None]]
Runner = Callable[[Case], None]


def runner(name: str) -> Runner:
    def run(case: Case) -> None:
        async def main() -> None:
            await case(Mode(name))

        # "sync" cases block inside the coroutine; any loop runs them, asyncio's is used.
        run_async("asyncio" if name == "sync" else name, main)

    return run


# ------------------------------------------------------------------- scripted HTTP handlers


def read_request(conn: socket.socket, pending: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """(head, body, rest) of one request; head b"" when the peer closed first."""
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b"", b"", b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        while not rest.endswith(b"0\r\n\r\n") and (chunk := conn.recv(65536)):
            rest += chunk
        if not rest.endswith(b"0\r\n\r\n"):
            return b"", b"", b""  # the client gave up mid-body
        return head, _dechunk(rest), b""
    length = 0
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length and (chunk := conn.recv(65536)):
        rest += chunk
    return head, rest[:length], rest[length:]


def _dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def reset_the_first_upload(
    conn: socket.socket,
    state: dict[str, int],
    answer: Callable[[bytes], bytes] = lambda body: str(len(body)).encode(),
) -> None:
    """First connection: read the head, then reset (a restart dropping a connection it had
    just accepted). Later ones: answer `answer(body)` (by default the body's length)."""
    state["n"] += 1
    if state["n"] == 1:
        read_until(conn, b"\r\n\r\n")
        reset_on_close(conn)
        return
    _, body, _ = read_request(conn)
    conn.sendall(ok(answer(body)))


def serve_each(respond: Callable[[socket.socket, bytes], bool]) -> Callable[[socket.socket], None]:
    """A keep-alive handler: `respond(conn, head)` for every request until it returns False."""

    def handler(conn: socket.socket) -> None:
        pending = b""
        while True:
            head, _, pending = read_request(conn, pending)
            if not head or not respond(conn, head):
                return

    return handler


def _echo_target(conn: socket.socket, head: bytes) -> bool:
    conn.sendall(ok(head.split(b" ")[1]))
    return True


serve_path_echo = serve_each(_echo_target)
"""Keep-alive: answer every request with its target as the body."""


def hold(conn: socket.socket) -> None:
    """Read until the client goes away, never answering."""
    read_until(conn, b"\x00never\x00")
