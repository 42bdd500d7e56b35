"""The async driver behind `AsyncHTTPTransport`: runs `Exchange`s over asyncio or trio streams.

It only moves bytes and waits; every decision is in `_core.exchange`. The runtime is asyncio
unless the first request runs under trio (checked without sniffio: trio must already be imported
and know the current task); the choice is kept per transport. One event loop drives the pool,
so it needs no lock. A waiter parks on a loop future (asyncio) or a `trio.Event`; cancellation
at any await (waiting, connecting, sending, reading) releases the ticket and closes a half-used
connection, so no pool slot leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .._config import Limits
from .._core.exchange import (
    CONNECT_RETRY_ERRORS,
    PROBE_IDLE_AFTER,
    READ_SIZE,
    ConnectionConfig,
    Exchange,
    Http2Handle,
    Http2ResponseBody,
    Http11Connection,
    connect_retry_delay,
    pool_timeout_error,
    streams_to_close,
)
from .._core.pool import Action, PoolConnection, PoolState, TicketStatus
from .._headers import Headers
from .._models import Request, Response
from .._types import AsyncByteStream
from .asyncio_backend import AsyncioBackend, AsyncioStream
from .errors import READ, raise_mapped
from .streams import AsyncNetworkBackend, AsyncNetworkStream

if TYPE_CHECKING:  # h2 is imported only once a connection speaks HTTP/2
    from .._core.http2 import ConnectionEvent
    from .h2_async import AsyncHttp2Connection

__all__ = ["AsyncDriver", "AsyncHttp2ResponseStream", "AsyncResponseStream"]

_monotonic = time.monotonic
_WAITING = TicketStatus.WAITING
_CONNECT = TicketStatus.CONNECT
_READY = TicketStatus.READY


class _Runtime:
    """What differs between asyncio and trio: the backend, a waiter, sleeping, probing cost,
    and a shield for the bounded clean-up a cancelled task still owes (trio cancels every
    await in a cancelled scope; asyncio cancels once)."""

    def __init__(
        self,
        backend: AsyncNetworkBackend,
        new_waker: Callable[[], Any],
        wake: Callable[[Any], None],
        wait: Callable[[Any, float | None], Awaitable[bool]],
        probe_after: float,
        shield: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> None:
        self.backend = backend
        self.new_waker = new_waker
        self.wake = wake
        self.wait = wait
        self.probe_after = probe_after
        self.shield = shield


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _wake_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _wait_future(future: asyncio.Future[None], timeout: float | None) -> bool:
    if timeout is None:
        await future
        return True
    handle = future.get_loop().call_later(timeout, _expire, future)
    try:
        await future
    except TimeoutError:
        return False
    finally:
        handle.cancel()
    return True


def _new_future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


def _asyncio_runtime() -> _Runtime:
    # The Protocol-based stream knows for free whether the peer closed: probe on every reuse.
    return _Runtime(AsyncioBackend(), _new_future, _wake_future, _wait_future, 0.0)


def _trio_runtime() -> _Runtime:
    import trio

    from .trio_backend import TrioBackend

    async def wait_event(event: trio.Event, timeout: float | None) -> bool:
        with trio.move_on_after(math.inf if timeout is None else timeout):
            await event.wait()
            return True
        return False

    def shield() -> trio.CancelScope:
        return trio.CancelScope(shield=True)

    return _Runtime(TrioBackend(), trio.Event, trio.Event.set, wait_event, PROBE_IDLE_AFTER, shield)


def _running_under_trio() -> bool:
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


class AsyncDriver:
    """A pool of async HTTP/1.1 and HTTP/2 connections and the loop that sends requests."""

    def __init__(self, config: ConnectionConfig, limits: Limits) -> None:
        self._config = config
        self._limits = limits
        self._pool = PoolState(limits)
        self._runtime: _Runtime | None = None

    def _get_runtime(self) -> _Runtime:
        runtime = self._runtime
        if runtime is None:
            runtime = _trio_runtime() if _running_under_trio() else _asyncio_runtime()
            self._runtime = runtime
        return runtime

    async def handle(self, request: Request) -> Response:
        """Send `request`; the response body is read from the socket as it is iterated."""
        runtime = self._runtime or self._get_runtime()
        ex = Exchange(request, self._config)
        while True:
            now = _monotonic()
            acts = ex.acquire(self._pool, now)
            conn = None if acts else self._idle_connection(ex, runtime, now)
            if conn is None:
                conn = await self._checkout(ex, runtime, acts)
            if type(conn) is not Http11Connection:
                response = await self._handle_http2(ex, conn)  # type: ignore[arg-type]
                if response is None:
                    continue  # refused unprocessed or stale: another connection
                return response
            stream = conn.stream
            try:
                if type(stream) is AsyncioStream and not ex.streams_body:
                    # Fast path: no write or read coroutines; data_received parses the reply.
                    if stream.write_nowait(ex.start(conn)):
                        await stream.drain(ex.write_timeout)
                    waiter = stream.head_waiter(ex, ex.read_timeout)
                    if waiter is not None:
                        try:
                            await waiter
                        except TimeoutError as exc:
                            raise_mapped(exc, READ)
                        finally:
                            stream.end_head_wait(waiter)
                else:
                    await self._send(ex, conn)
                while ex.head is None:  # (EOF, or data already buffered: the generic reads)
                    ex.feed(await stream.read(READ_SIZE, ex.read_timeout))
            except BaseException as exc:
                await self.release(ex, False)
                if ex.can_retry_stale(exc):
                    continue
                raise
            break
        status, headers, extensions = ex.response_args()
        if ex.ended:  # the whole body came with the head: the connection is free already
            now = _monotonic()
            acts = ex.release(now, ex.finish(now))
            if acts:  # (most releases have nothing to perform: no coroutine for them)
                await self._perform(acts)
        response = Response(status, stream=AsyncResponseStream(self, ex), extensions=extensions)
        response.headers = Headers._trusted(headers)  # (given to Response, it would be copied)
        return response

    async def aclose(self) -> None:
        """Close every connection; the transport stays usable, as httpx's does."""
        acts = self._pool.close_all()
        self._pool = PoolState(self._limits)
        await self._perform(acts)

    async def release(self, ex: Exchange, reusable: bool) -> None:
        acts = ex.release(_monotonic(), reusable)
        if acts:
            await self._perform(acts)

    async def _perform(self, acts: list[Action]) -> None:
        runtime = self._runtime or self._get_runtime()
        for stream in streams_to_close(acts, runtime.wake):
            await stream.aclose()

    # ------------------------------------------------------------------------------ HTTP/2

    async def _handle_http2(self, ex: Exchange, conn: AsyncHttp2Connection) -> Response | None:
        """Send `ex` on a new stream of `conn`; None when it may be resent
        elsewhere: refused unprocessed, or its reused connection turned out dead."""
        from .._core.http2 import ResponseProgress

        progress = ResponseProgress()
        try:
            body, chunks = ex.http2_body()
            sid = await conn.start(ex.http2_head(), body, chunks, ex.write_timeout, progress)
            while progress.head is None:
                await conn.receive(sid, progress, ex.read_timeout)
        except BaseException as exc:
            retry = ex.can_retry_http2(exc, conn.state, progress.sid)  # (before the stream ends)
            await self.end_stream(ex, conn, progress.sid)
            if retry:
                return None
            raise
        status, headers, extensions = ex.http2_response_args(conn, sid, progress)
        if progress.ended:  # the whole response came with the head: free the stream now
            await self.end_stream(ex, conn, sid)
        stream = AsyncHttp2ResponseStream(self, ex, conn, sid, progress)
        response = Response(status, stream=stream, extensions=extensions)
        response.headers = Headers._trusted(headers)
        return response

    async def end_stream(self, ex: Exchange, conn: AsyncHttp2Connection, sid: int | None) -> None:
        """Give the stream back: RST_STREAM(CANCEL) if unfinished, then the pool slot (even
        when cancelled meanwhile: the release itself never awaits)."""
        acts = ex.release(_monotonic(), ex.http2_reusable(conn))
        try:
            if sid is not None:
                with (self._runtime or self._get_runtime()).shield():  # bounded: RST_STREAM only
                    await conn.close_stream(sid)
        finally:
            if acts:
                await self._perform(acts)

    async def _start_http2(
        self, ex: Exchange, stream: AsyncNetworkStream, runtime: _Runtime
    ) -> tuple[AsyncHttp2Connection, int]:
        from .h2_async import AsyncHttp2Connection

        conn = AsyncHttp2Connection(stream, runtime, self._http2_changed)
        try:
            return conn, await conn.handshake(ex.connect_timeout)
        except BaseException:
            await stream.aclose()
            raise

    async def _http2_changed(
        self, conn: AsyncHttp2Connection, events: list[ConnectionEvent]
    ) -> None:
        """The peer's stream limit changed, GOAWAY, or the connection broke: tell the pool."""
        from .._core.http2 import pool_actions

        entry = conn.entry
        assert isinstance(entry, PoolConnection)
        acts = pool_actions(self._pool, entry, conn.state)
        if acts:
            await self._perform(acts)

    async def _send(self, ex: Exchange, conn: Http11Connection) -> None:
        stream, timeout = conn.stream, ex.write_timeout
        await stream.write(ex.start(conn), timeout)
        if ex.streams_body:
            body = ex.request.stream
            assert isinstance(body, AsyncByteStream)
            async for chunk in body:
                for buf in ex.frame(chunk):
                    await stream.write(buf, timeout)
            await stream.write(ex.end(), timeout)

    # ------------------------------------------------------------------------------ the pool

    @staticmethod
    def _idle_connection(
        ex: Exchange, runtime: _Runtime, now: float
    ) -> Http11Connection | Http2Handle | None:
        """The connection the ticket took at once when it needs nothing awaited (no probe
        found the peer gone); else None, and `_checkout` does the rest."""
        ticket = ex.ticket
        if ticket is None or ticket.status is not _READY:
            return None
        conn: Http11Connection | Http2Handle = ticket.entry.handle  # type: ignore[union-attr,assignment]
        if (
            type(conn) is Http11Connection
            and conn.needs_probe(now, runtime.probe_after)
            and conn.stream.is_readable()
        ):
            return None
        return conn

    async def _checkout(
        self, ex: Exchange, runtime: _Runtime, acts: list[Action]
    ) -> Http11Connection | Http2Handle:
        """A connection for `ex` (its ticket just taken, `acts` still to perform): reused,
        freshly opened, or after waiting for a slot."""
        while True:
            if ex.status is _WAITING:
                ex.ticket.waker = runtime.new_waker()  # type: ignore[union-attr]
            try:
                if acts:
                    await self._perform(acts)
                conn = await self._use_ticket(ex, runtime)
            except BaseException:
                await self.release(ex, False)
                raise
            if conn is not None:
                return conn
            acts = ex.acquire(self._pool, _monotonic())

    async def _use_ticket(
        self, ex: Exchange, runtime: _Runtime
    ) -> Http11Connection | Http2Handle | None:
        """Wait, connect or take the reserved connection; None means ask the pool again."""
        status = ex.status
        if status is _WAITING:
            if not await runtime.wait(ex.ticket.waker, ex.pool_timeout):  # type: ignore[union-attr]
                raise pool_timeout_error()
            status = ex.status
        if status is _CONNECT:
            return await self._connect(ex, runtime)
        conn = ex.ready_connection()
        if (
            type(conn) is Http11Connection  # (HTTP/2 connections are never probed)
            and conn.needs_probe(_monotonic(), runtime.probe_after)
            and conn.stream.is_readable()  # closed by the server while idle
        ):
            await self.release(ex, False)
            return None
        return conn  # None when REJECTED: the transport was closed meanwhile

    async def _connect(
        self, ex: Exchange, runtime: _Runtime
    ) -> Http11Connection | Http2Handle | None:
        attempt = 0
        while True:
            try:
                stream = await self._open(ex, runtime.backend)
                break
            except CONNECT_RETRY_ERRORS:
                attempt += 1
                delay = connect_retry_delay(attempt, self._config.retries)
                if delay is None:
                    raise
                await runtime.backend.sleep(delay)
        handle: Any = stream
        max_streams = None
        if ex.uses_http2(stream):
            handle, max_streams = await self._start_http2(ex, stream, runtime)
        acts = ex.connected(handle, _monotonic(), max_streams)
        if acts:
            await self._perform(acts)
        return ex.ready_connection()

    async def _open(self, ex: Exchange, backend: AsyncNetworkBackend) -> AsyncNetworkStream:
        config, timeout = self._config, ex.connect_timeout
        if config.uds is not None:
            stream = await backend.connect_unix_socket(config.uds, timeout, config.socket_options)
        else:
            stream = await backend.connect_tcp(
                ex.host, ex.port, timeout, config.local_address, config.socket_options
            )
        if ex.tls:
            try:
                stream = await stream.start_tls(config.tls_context(), ex.server_hostname, timeout)
            except BaseException:  # cancelled mid-handshake: the plain socket is ours to close
                await stream.aclose()
                raise
        return stream


class AsyncResponseStream(AsyncByteStream):
    """A response body read from the connection only as it is iterated (64 KiB reads);
    reaching the end or closing returns the connection, reusable only if it was complete."""

    def __init__(self, driver: AsyncDriver, ex: Exchange) -> None:
        self._driver = driver
        self._ex = ex

    async def __aiter__(self) -> AsyncIterator[bytes]:
        ex = self._ex
        try:
            while True:
                if ex.chunks:
                    for chunk in ex.take():
                        yield chunk
                if ex.ended:
                    break
                assert ex.conn is not None
                ex.feed(await ex.conn.stream.read(READ_SIZE, ex.read_timeout))
        except GeneratorExit:
            await self.aclose()
            raise
        except BaseException:
            await self._driver.release(ex, False)
            raise
        await self.aclose()

    def take_arrived(self) -> bytes | None:
        """The rest of the body when all of it has arrived (no read needed), else None."""
        return self._ex.take_arrived()

    async def aclose(self) -> None:
        ex = self._ex
        if ex.ticket is not None:
            await self._driver.release(ex, ex.finish(_monotonic()))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._ex.method} {self._ex.host}:{self._ex.port}>"


class AsyncHttp2ResponseStream(Http2ResponseBody, AsyncByteStream):
    """A response body read from its HTTP/2 stream as it is iterated; the end, an error,
    cancellation or closing early gives the stream back (RST_STREAM(CANCEL) if unfinished)."""

    _driver: AsyncDriver
    _conn: AsyncHttp2Connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        progress = self._progress
        try:
            while True:
                if progress.chunks:
                    for chunk in progress.take():
                        yield chunk
                if progress.ended:
                    break
                await self._conn.receive(self._sid, progress, self._ex.read_timeout)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._ex.ticket is not None:
            await self._driver.end_stream(self._ex, self._conn, self._sid)
