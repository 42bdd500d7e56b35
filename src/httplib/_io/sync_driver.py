"""The blocking driver behind `HTTPTransport`: runs `Exchange`s over `SyncBackend` streams.

It only moves bytes and waits; every decision is in `_core.exchange`. One `threading.Lock`
guards the `PoolState`, so one transport serves many threads; a request that must wait for a
connection waits on its own `threading.Event` (created under the lock, so no wake-up is lost)
for at most `timeout["pool"]`. Sockets named by `Close` actions are closed outside the lock.
Any exception, `KeyboardInterrupt` included, releases the ticket, so no pool slot leaks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
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
from .._types import SyncByteStream
from .sync_backend import SyncBackend, SyncStream

if TYPE_CHECKING:  # h2 is imported only once a connection speaks HTTP/2
    from .._core.http2 import ConnectionEvent
    from .h2_sync import SyncHttp2Connection

__all__ = ["SyncDriver", "SyncHttp2ResponseStream", "SyncResponseStream"]

_monotonic = time.monotonic
_set_event = threading.Event.set
_WAITING = TicketStatus.WAITING
_READY = TicketStatus.READY
_CONNECT = TicketStatus.CONNECT


class SyncDriver:
    """A pool of blocking HTTP/1.1 and HTTP/2 connections and the loop that sends requests."""

    def __init__(self, config: ConnectionConfig, limits: Limits) -> None:
        self._config = config
        self._limits = limits
        self._backend = SyncBackend()
        self._lock = threading.Lock()
        self._pool = PoolState(limits)

    def handle(self, request: Request) -> Response:
        """Send `request`; the response body is read from the socket as it is iterated."""
        ex = Exchange(request, self._config)
        while True:
            conn = self._checkout(ex)
            if type(conn) is not Http11Connection:
                response = self._handle_http2(ex, conn)  # type: ignore[arg-type]
                if response is None:
                    continue  # refused unprocessed or stale: another connection
                return response
            try:
                self._send(ex, conn)
                stream, timeout = conn.stream, ex.read_timeout
                while ex.head is None:
                    ex.feed(stream.read(READ_SIZE, timeout))
            except BaseException as exc:
                self.release(ex, False)
                if ex.can_retry_stale(exc):
                    continue
                raise
            break
        status, headers, extensions = ex.response_args()
        if ex.ended:  # the whole body came with the head: the connection is free already
            now = _monotonic()
            with self._lock:
                acts = ex.release(now, ex.finish(now))
            if acts:
                self._perform(acts)
        response = Response(status, stream=SyncResponseStream(self, ex), extensions=extensions)
        response.headers = Headers._trusted(headers)  # (given to Response, it would be copied)
        return response

    def close(self) -> None:
        """Close every connection; requests still waiting retry on a fresh pool (as httpx's
        transport stays usable after close())."""
        with self._lock:
            acts = self._pool.close_all()
            self._pool = PoolState(self._limits)
        self._perform(acts)

    def release(self, ex: Exchange, reusable: bool) -> None:
        now = _monotonic()
        with self._lock:
            acts = ex.release(now, reusable)
        if acts:
            self._perform(acts)

    def _perform(self, acts: list[Action]) -> None:
        for stream in streams_to_close(acts, _set_event):
            stream.close()

    # ------------------------------------------------------------------------------ HTTP/2

    def _handle_http2(self, ex: Exchange, conn: SyncHttp2Connection) -> Response | None:
        """Send `ex` on a new stream of `conn`; None when it may be resent
        elsewhere: refused unprocessed, or its reused connection turned out dead."""
        from .._core.http2 import ResponseProgress

        progress = ResponseProgress()
        try:
            body, chunks = ex.http2_body()
            sid = conn.start(ex.http2_head(), body, chunks, ex.write_timeout, progress)
            while progress.head is None:
                conn.receive(sid, progress, ex.read_timeout)
        except BaseException as exc:
            retry = ex.can_retry_http2(exc, conn.state, progress.sid)  # (before the stream ends)
            self.end_stream(ex, conn, progress.sid)
            if retry:
                return None
            raise
        status, headers, extensions = ex.http2_response_args(conn, sid, progress)
        if progress.ended:  # the whole response came with the head: free the stream now
            self.end_stream(ex, conn, sid)
        stream = SyncHttp2ResponseStream(self, ex, conn, sid, progress)
        response = Response(status, stream=stream, extensions=extensions)
        response.headers = Headers._trusted(headers)
        return response

    def end_stream(self, ex: Exchange, conn: SyncHttp2Connection, sid: int | None) -> None:
        """Give the stream back: RST_STREAM(CANCEL) if unfinished, then the pool slot."""
        try:
            if sid is not None:
                conn.close_stream(sid)
        finally:
            self.release(ex, ex.http2_reusable(conn))

    def _start_http2(self, ex: Exchange, stream: SyncStream) -> tuple[SyncHttp2Connection, int]:
        from .h2_sync import SyncHttp2Connection

        conn = SyncHttp2Connection(stream, self._http2_changed)
        try:
            return conn, conn.handshake(ex.connect_timeout)
        except BaseException:
            stream.close()
            raise

    def _http2_changed(self, conn: SyncHttp2Connection, events: list[ConnectionEvent]) -> None:
        """The peer's stream limit changed, GOAWAY, or the connection broke: tell the pool."""
        from .._core.http2 import pool_actions

        entry = conn.entry
        assert isinstance(entry, PoolConnection)
        with self._lock:
            acts = pool_actions(self._pool, entry, conn.state)
        if acts:
            self._perform(acts)

    def _send(self, ex: Exchange, conn: Http11Connection) -> None:
        stream, timeout = conn.stream, ex.write_timeout
        stream.write(ex.start(conn), timeout)
        if ex.streams_body:
            body = ex.request.stream
            assert isinstance(body, SyncByteStream)
            for chunk in body:
                for buf in ex.frame(chunk):
                    stream.write(buf, timeout)
            stream.write(ex.end(), timeout)

    # ------------------------------------------------------------------------------ the pool

    def _checkout(self, ex: Exchange) -> Http11Connection | Http2Handle:
        """A connection for `ex`: reused, freshly opened, or after waiting for a slot."""
        while True:
            now = _monotonic()
            with self._lock:
                acts = ex.acquire(self._pool, now)
                status = ex.status
                if status is _WAITING:
                    ex.ticket.waker = threading.Event()  # type: ignore[union-attr]
            if status is _READY and not acts:  # an idle connection, taken without waiting
                conn = ex.ready_connection()
                if type(conn) is Http11Connection and not (
                    conn.needs_probe(now, PROBE_IDLE_AFTER) and conn.stream.is_readable()
                ):
                    return conn
            if acts:
                self._perform(acts)
            try:
                conn = self._use_ticket(ex)
            except BaseException:
                self.release(ex, False)
                raise
            if conn is not None:
                return conn

    def _use_ticket(self, ex: Exchange) -> Http11Connection | Http2Handle | None:
        """Wait, connect or take the reserved connection; None means ask the pool again."""
        status = ex.status
        if status is _WAITING:
            if not ex.ticket.waker.wait(ex.pool_timeout):  # type: ignore[union-attr]
                raise pool_timeout_error()
            status = ex.status
        if status is _CONNECT:
            return self._connect(ex)
        conn = ex.ready_connection()
        if (
            type(conn) is Http11Connection  # (HTTP/2 connections are never probed)
            and conn.needs_probe(_monotonic(), PROBE_IDLE_AFTER)
            and conn.stream.is_readable()  # closed by the server while idle
        ):
            self.release(ex, False)
            return None
        return conn  # None when REJECTED: the transport was closed meanwhile

    def _connect(self, ex: Exchange) -> Http11Connection | Http2Handle | None:
        attempt = 0
        while True:
            try:
                stream = self._open(ex)
                break
            except CONNECT_RETRY_ERRORS:
                attempt += 1
                delay = connect_retry_delay(attempt, self._config.retries)
                if delay is None:
                    raise
                time.sleep(delay)
        handle: Any = stream
        max_streams = None
        if ex.uses_http2(stream):
            handle, max_streams = self._start_http2(ex, stream)
        with self._lock:
            acts = ex.connected(handle, _monotonic(), max_streams)
        if acts:
            self._perform(acts)
        return ex.ready_connection()

    def _open(self, ex: Exchange) -> SyncStream:
        config, timeout = self._config, ex.connect_timeout
        if config.uds is not None:
            stream = self._backend.connect_unix_socket(config.uds, timeout, config.socket_options)
        else:
            stream = self._backend.connect_tcp(
                ex.host, ex.port, timeout, config.local_address, config.socket_options
            )
        if ex.tls:
            try:
                stream = stream.start_tls(config.tls_context(), ex.server_hostname, timeout)
            except BaseException:  # interrupted mid-handshake: the plain socket is ours to close
                stream.close()
                raise
        return stream


class SyncResponseStream(SyncByteStream):
    """A response body read from the socket only as it is iterated (64 KiB reads); reaching the
    end or closing returns the connection, reusable only if the response was complete."""

    def __init__(self, driver: SyncDriver, ex: Exchange) -> None:
        self._driver = driver
        self._ex = ex

    def __iter__(self) -> Iterator[bytes]:
        ex = self._ex
        try:
            while True:
                if ex.chunks:
                    yield from ex.take()
                if ex.ended:
                    break
                assert ex.conn is not None
                ex.feed(ex.conn.stream.read(READ_SIZE, ex.read_timeout))
        except GeneratorExit:
            self.close()
            raise
        except BaseException:
            self._driver.release(ex, False)
            raise
        self.close()

    def take_arrived(self) -> bytes | None:
        """The rest of the body when all of it has arrived (no read needed), else None."""
        return self._ex.take_arrived()

    def close(self) -> None:
        ex = self._ex
        if ex.ticket is not None:
            self._driver.release(ex, ex.finish(_monotonic()))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._ex.method} {self._ex.host}:{self._ex.port}>"


class SyncHttp2ResponseStream(Http2ResponseBody, SyncByteStream):
    """A response body read from its HTTP/2 stream as it is iterated; the end, an error or
    closing early gives the stream back (RST_STREAM(CANCEL) if unfinished)."""

    _driver: SyncDriver
    _conn: SyncHttp2Connection

    def __iter__(self) -> Iterator[bytes]:
        progress = self._progress
        try:
            while True:
                if progress.chunks:
                    yield from progress.take()
                if progress.ended:
                    break
                self._conn.receive(self._sid, progress, self._ex.read_timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self._ex.ticket is not None:
            self._driver.end_stream(self._ex, self._conn, self._sid)
