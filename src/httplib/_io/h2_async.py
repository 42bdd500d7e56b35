"""One HTTP/2 connection shared by many tasks: `Http2State` over an asyncio or trio stream.

Theory of operation
-------------------
No background task (trio would need a nursery the transport does not own): as in `h2_sync`, a
task that needs something from the connection checks its stream's queue and, when nobody else
is reading, becomes the reader for one chunk; it feeds the state, flushes and wakes the tasks
whose streams were touched, each parked on its own waker (a loop future or a `trio.Event`, from
the driver's runtime). One event loop drives the connection, so the state needs no lock; writes
take the *writer* role instead: a task that finds another writing leaves its frames in the
state's buffer, and the writer drains the buffer before it gives the role up, so frames leave in
order without a runtime-specific lock.

Cancelling a task at any await leaves the connection healthy: a cancelled reader wakes another
waiter to take over, and the driver's `close_stream` sends RST_STREAM(CANCEL) for that stream only.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, TypeVar

from .._core.exchange import READ_SIZE
from .._core.http2 import ConnectionEvent, Http2State, ResponseProgress, StreamEvent
from .._exceptions import ReadError, ReadTimeout, TransportError, WriteError
from .streams import AsyncNetworkStream

__all__ = ["AsyncHttp2Connection"]

T = TypeVar("T")
ChangeCallback = Callable[["AsyncHttp2Connection", list[ConnectionEvent]], Awaitable[None]]


class AsyncHttp2Connection:
    """A pooled HTTP/2 connection: the async stream, its `Http2State`, and the waiters.

    `runtime` provides `new_waker()`, `wake(waker)` and `await wait(waker, timeout) -> bool`.
    """

    __slots__ = (
        "_on_change",
        "_reading",
        "_runtime",
        "_waiters",
        "_writing",
        "entry",
        "state",
        "stream",
    )

    def __init__(self, stream: AsyncNetworkStream, runtime: Any, on_change: ChangeCallback) -> None:
        self.stream = stream
        self.state = Http2State()
        self.entry: object = None  # the pool's PoolConnection, set by the driver
        self._runtime = runtime
        self._on_change = on_change
        self._reading = False
        self._writing = False
        self._waiters: dict[int, Any] = {}

    async def handshake(self, timeout: float | None) -> int:
        """Send the preface, read until the server's SETTINGS; returns its stream limit."""
        state = self.state
        await self.stream.write(state.initiate(), timeout)
        while not state.has_peer_settings:
            state.receive_data(await self.stream.read(READ_SIZE, timeout))
            if state.error is not None:
                raise state.error
        await self.stream.write(state.data_to_send(), timeout)
        return state.max_streams

    # ----------------------------------------------------------------------------- sending

    async def start(
        self,
        head: tuple[bytes, bytes, bytes, bytes, list[tuple[bytes, bytes]]],
        body: bytes | None,
        chunks: AsyncIterable[bytes] | None,
        timeout: float | None,
        progress: ResponseProgress | None = None,
    ) -> int:
        """Open a stream with `head` (method, scheme, authority, path, fields) and send the
        body: `body` in memory, or `chunks` when streamed (both None or b"": no body). The
        stream id goes to `progress.sid` at once, so a failed send can still close it."""
        empty = not body and chunks is None
        sid = self.state.start_request(*head, end_stream=empty)
        if progress is not None:
            progress.sid = sid
        try:
            await self._flush(timeout)
            if not empty:
                await self._send_request_body(sid, body, chunks, timeout)
        except WriteError as exc:  # (a failed read already failed the connection)
            await self._lost(exc)
            raise
        return sid

    async def _send_request_body(
        self,
        sid: int,
        body: bytes | None,
        chunks: AsyncIterable[bytes] | None,
        timeout: float | None,
    ) -> None:
        if body is not None:
            if not await self._send_body(sid, body, timeout):
                return
        else:
            assert chunks is not None
            async for chunk in chunks:
                if not await self._send_body(sid, chunk, timeout):
                    return  # the server answered or reset already: stop sending
        self.state.end_stream(sid)
        await self._flush(timeout)

    async def _send_body(self, sid: int, data: bytes, timeout: float | None) -> bool:
        """Send `data` as the peer's windows allow; False if the stream has news instead."""
        view = memoryview(data)
        state = self.state
        while view:
            if state.has_events(sid):
                return False
            sent = state.send_data(sid, view)
            if sent:
                view = view[sent:]
                await self._flush(timeout)
            else:
                await self._wait(sid, timeout)
        return True

    async def _flush(self, timeout: float | None) -> None:
        """Write what the state has queued, unless another task is writing (it will)."""
        if self._writing:
            return
        self._writing = True
        try:
            while out := self.state.data_to_send():
                await self.stream.write(out, timeout)
        finally:
            self._writing = False

    # --------------------------------------------------------------------------- receiving

    async def receive(self, sid: int, progress: ResponseProgress, timeout: float | None) -> None:
        """Wait until stream `sid` has events, and apply them (a reset raises)."""
        state = self.state
        events: list[StreamEvent] = state.take(sid)
        while not events:
            await self._wait(sid, timeout)
            events = state.take(sid)
        if state.error is None:
            await self._flush(timeout)  # WINDOW_UPDATEs for the data just taken
        progress.apply(events)

    async def close_stream(self, sid: int) -> None:
        """Done with `sid`: RST_STREAM(CANCEL) if it is still open; never raises."""
        self._waiters.pop(sid, None)
        self.state.close_stream(sid)
        if self.state.error is None:
            try:
                await self._flush(CLOSE_WRITE_TIMEOUT)
            except TransportError:
                pass  # a broken connection fails its other streams through the reader

    # ---------------------------------------------------------------------------- internals

    async def _wait(self, sid: int, timeout: float | None) -> None:
        """Return once `sid` may have news: after reading one chunk, or when woken."""
        if not self._reading:
            await self._read_once(sid, timeout)
            return
        waker = self._waiters[sid] = self._runtime.new_waker()
        try:
            woken = await self._runtime.wait(waker, timeout)
        finally:
            if self._waiters.get(sid) is waker:
                del self._waiters[sid]
        if not woken:
            raise ReadTimeout("The read operation timed out")

    async def _read_once(self, sid: int, timeout: float | None) -> None:
        """Be the reader for one chunk: read, feed, flush, wake."""
        self._reading = True
        try:
            data = await self.stream.read(READ_SIZE, timeout)
        except BaseException as exc:
            self._reading = False
            self._hand_on(sid)
            if isinstance(exc, ReadError):
                await self._lost(exc)
            raise
        self._reading = False
        state = self.state
        touched, events = state.receive_data(data)
        wake = self._runtime.wake
        waiters = self._waiters
        for touched_sid in touched:
            waker = waiters.pop(touched_sid, None)
            if waker is not None:
                wake(waker)
        if sid in touched or state.error is not None:
            self._hand_on(sid)
        if events or state.error is not None:
            await self._on_change(self, events)
        if state.error is None:
            await self._flush(timeout)  # acks for PING and SETTINGS

    async def _lost(self, error: TransportError) -> None:
        """The socket failed: fail every stream with `error`, wake them, tell the pool."""
        wake = self._runtime.wake
        for touched_sid in self.state.connection_lost(error):
            waker = self._waiters.pop(touched_sid, None)
            if waker is not None:
                wake(waker)
        await self._on_change(self, [])

    def _hand_on(self, sid: int) -> None:
        """Wake one other waiter so it takes over reading."""
        for other in self._waiters:
            if other != sid:
                self._runtime.wake(self._waiters.pop(other))
                return

    def __repr__(self) -> str:
        return f"<AsyncHttp2Connection streams={self.state.open_streams}>"


# Sending RST_STREAM for a stream given up on is best effort: never wait long for it.
CLOSE_WRITE_TIMEOUT = 1.0
