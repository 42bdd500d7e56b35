"""One HTTP/2 connection shared by many threads: `Http2State` over a blocking stream.

Theory of operation
-------------------
There is no reader thread. One lock guards the state and every write (so frames leave in the
order the state produced them). A thread that needs something from the connection (its response
head, body, or send window) checks its stream's queue under the lock; if nothing is there and no
other thread is reading, it becomes the reader: it reads one chunk without the lock, feeds it to
the state under the lock, flushes what the state wants to send (acks, WINDOW_UPDATEs) and wakes
the threads whose streams were touched. Otherwise it sleeps on its own `threading.Event`. A
reader whose stream got what it waited for hands the reader role on by waking one other waiter,
so the socket is never left unread while someone waits.

Connection events (the peer's stream limit, GOAWAY, a broken connection) go to the `on_change`
callback outside the lock; the driver turns them into pool calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from .._core.exchange import READ_SIZE
from .._core.http2 import ConnectionEvent, Http2State, ResponseProgress
from .._exceptions import ReadError, ReadTimeout, TransportError, WriteError
from .sync_backend import SyncStream

__all__ = ["SyncHttp2Connection"]

T = TypeVar("T")
# Sending RST_STREAM for a stream given up on is best effort: never wait long for it.
CLOSE_WRITE_TIMEOUT = 1.0
ChangeCallback = Callable[["SyncHttp2Connection", list[ConnectionEvent]], None]


class SyncHttp2Connection:
    """A pooled HTTP/2 connection: the blocking stream, its `Http2State`, and the waiters."""

    __slots__ = ("_lock", "_on_change", "_reading", "_waiters", "entry", "state", "stream")

    def __init__(self, stream: SyncStream, on_change: ChangeCallback) -> None:
        self.stream = stream
        self.state = Http2State()
        self.entry: object = None  # the pool's PoolConnection, set by the driver
        self._on_change = on_change
        self._lock = threading.Lock()
        self._reading = False
        self._waiters: dict[int, threading.Event] = {}

    def handshake(self, timeout: float | None) -> int:
        """Send the preface, read until the server's SETTINGS; returns its stream limit."""
        state = self.state
        self.stream.write(state.initiate(), timeout)
        while not state.has_peer_settings:
            state.receive_data(self.stream.read(READ_SIZE, timeout))
            if state.error is not None:
                raise state.error
        self.stream.write(state.data_to_send(), timeout)
        return state.max_streams

    # ----------------------------------------------------------------------------- sending

    def start(
        self,
        head: tuple[bytes, bytes, bytes, bytes, list[tuple[bytes, bytes]]],
        body: bytes | None,
        chunks: Iterable[bytes] | None,
        timeout: float | None,
        progress: ResponseProgress | None = None,
    ) -> int:
        """Open a stream with `head` (method, scheme, authority, path, fields) and send the
        body: `body` in memory, or `chunks` when streamed (both None or b"": no body). The
        stream id goes to `progress.sid` at once, so a failed send can still close it."""
        empty = not body and chunks is None
        try:
            with self._lock:
                sid = self.state.start_request(*head, end_stream=empty)
                if progress is not None:
                    progress.sid = sid
                self.stream.write(self.state.data_to_send(), timeout)
            if not empty:
                self._send_request_body(sid, body, chunks, timeout)
        except WriteError as exc:  # (a failed read already failed the connection)
            self._lost(exc)
            raise
        return sid

    def _send_request_body(
        self, sid: int, body: bytes | None, chunks: Iterable[bytes] | None, timeout: float | None
    ) -> None:
        for chunk in (body,) if body is not None else chunks or ():
            if not self._send_body(sid, chunk, timeout):
                return  # the server answered or reset already: stop sending
        with self._lock:
            self.state.end_stream(sid)
            self.stream.write(self.state.data_to_send(), timeout)

    def _send_body(self, sid: int, data: bytes, timeout: float | None) -> bool:
        """Send `data` as the peer's windows allow; False if the stream has news instead."""
        view = memoryview(data)
        state = self.state

        def attempt() -> int | None:
            if state.has_events(sid):
                return -1
            sent = state.send_data(sid, view)
            self.stream.write(state.data_to_send(), timeout)
            return sent or None

        while view:
            sent = self._until(sid, timeout, attempt)
            if sent < 0:
                return False
            view = view[sent:]
        return True

    # --------------------------------------------------------------------------- receiving

    def receive(self, sid: int, progress: ResponseProgress, timeout: float | None) -> None:
        """Block until stream `sid` has events, and apply them (a reset raises)."""
        state = self.state

        def attempt() -> list[object] | None:
            events = state.take(sid)
            if not events:
                return None
            self.stream.write(state.data_to_send(), timeout)  # WINDOW_UPDATEs for taken data
            return events  # type: ignore[return-value]

        progress.apply(self._until(sid, timeout, attempt))  # type: ignore[arg-type]

    def close_stream(self, sid: int) -> None:
        """Done with `sid`: RST_STREAM(CANCEL) if it is still open; never raises."""
        with self._lock:
            self._waiters.pop(sid, None)
            self.state.close_stream(sid)
            try:
                self.stream.write(self.state.data_to_send(), CLOSE_WRITE_TIMEOUT)
            except TransportError:
                pass  # a broken connection fails its other streams through the reader

    # ---------------------------------------------------------------------------- internals

    def _until(self, sid: int, timeout: float | None, attempt: Callable[[], T | None]) -> T:
        """Run `attempt` under the lock until it returns something, reading or waiting."""
        while True:
            with self._lock:
                result = attempt()
                if result is not None:
                    return result
                if self._reading:
                    event = self._waiters.get(sid)
                    if event is None:
                        event = self._waiters[sid] = threading.Event()
                    event.clear()
                else:
                    self._reading = True
                    event = None
            if event is None:
                self._read_once(sid, timeout)
            elif not event.wait(timeout):
                with self._lock:
                    self._waiters.pop(sid, None)
                raise ReadTimeout("The read operation timed out")

    def _read_once(self, sid: int, timeout: float | None) -> None:
        """Be the reader for one chunk: read, feed, flush, wake."""
        try:
            data = self.stream.read(READ_SIZE, timeout)
        except BaseException as exc:
            with self._lock:
                self._reading = False
                self._hand_on(sid)
            if isinstance(exc, ReadError):
                self._lost(exc)
            raise
        with self._lock:
            self._reading = False
            touched, events = self.state.receive_data(data)
            out = self.state.data_to_send()
            if out and self.state.error is None:
                self.stream.write(out, timeout)
            waiters = self._waiters
            for touched_sid in touched:
                event = waiters.get(touched_sid)
                if event is not None:
                    event.set()
            if sid in touched or self.state.error is not None:
                self._hand_on(sid)
        if events or self.state.error is not None:
            self._on_change(self, events)

    def _lost(self, error: TransportError) -> None:
        """The socket failed: fail every stream with `error`, wake them, tell the pool."""
        with self._lock:
            touched = self.state.connection_lost(error)
            for touched_sid in touched:
                event = self._waiters.get(touched_sid)
                if event is not None:
                    event.set()
        self._on_change(self, [])

    def _hand_on(self, sid: int) -> None:
        """Wake one other waiter so it takes over reading (called under the lock)."""
        for other, event in self._waiters.items():
            if other != sid and not event.is_set():
                event.set()
                return

    def __repr__(self) -> str:
        return f"<SyncHttp2Connection streams={self.state.open_streams}>"
