"""asyncio: the async shell's byte stream over an `asyncio.Protocol`.

Why a Protocol and not `asyncio.open_connection`: streams add a StreamReader, a StreamWriter
and a drain lock per connection and copy every chunk through a bytearray; a Protocol hands
the received `bytes` object straight to the reader, a read that finds data buffered returns
without suspending, and a write that the transport buffers does not suspend either. (A
`BufferedProtocol` copying out of a shared buffer was measured too: cheaper for small
responses only until the read size below was set, and dearer for large bodies.) Only
asyncio's public interfaces are used, so any conforming loop (uvloop) works.

Timeouts cost no timer per wait: each connection keeps one lazy timer that, when it fires,
fails the current wait if that wait's deadline has passed and otherwise moves itself to that
deadline, so a connection busy with short waits re-arms it about once per timeout period
instead of scheduling and cancelling a handle for every read.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import operator
import os
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NoReturn, cast

from .._core.effects import Runtime
from .._core.plan import Endpoint
from .errors import CONNECT, HANDSHAKE_TIMED_OUT, READ, WRITE, mapped_error, raise_mapped
from .streams import SocketOption, read_into, set_socket_options
from .tls_bio import RECORD_READ_SIZE, WANT_READ, TlsBio, handshake_failed

__all__ = ["AsyncioBackend", "AsyncioStream", "AsyncioTlsStream"]

# Stop reading from the socket while this much received data waits for the reader.
READ_HIGH_WATER = 1 << 20
# A selector transport reads up to its `max_size` (256 KiB) per `recv`, and CPython allocates
# that much for every read, however little arrived: above glibc's initial mmap threshold
# (128 KiB) every small response then cost an mmap, a page fault and an munmap (+28 µs CPU per
# request at 16 in flight). 64 KiB, the sync backend's read size and the engine's `READ_SIZE`,
# stays on the heap. (uvloop reads into its own buffer and has no such attribute.)
TRANSPORT_READ_SIZE = 64 * 1024
# The loop's own TLS handshake timeout must never beat ours (see `start_tls`): set past it, and
# when the user asked for no timeout, far enough to mean none (it must be a positive number).
_HANDSHAKE_BACKSTOP_MARGIN = 1.0
_HANDSHAKE_BACKSTOP = 7 * 24 * 3600.0
# The stdlib's SSL transport can carry another TLS session (`start_tls` over it) since 3.11,
# but until 3.11.8 and 3.12.2 an inner session's fatal error (a bad certificate) raised
# TypeError inside the loop and left the connection hanging (CPython gh-113214).
# Timed waits kept before the woken ones among them are swept out (see `wait_effect`).
_COMPACT_MIN = 1024
_STDLIB_NESTS_TLS = sys.version_info >= (3, 12, 2) or (3, 11, 8) <= sys.version_info < (3, 12)


class _ByteProtocol(asyncio.BaseProtocol):
    """Buffers received chunks and wakes the one reader or writer waiting on this connection.

    (A `BaseProtocol` with `data_received`, which every loop calls as it would an
    `asyncio.Protocol`'s: uvloop would refuse the buffered reads of `_UvloopTlsProtocol`, its
    TLS form, from an `asyncio.Protocol`.)"""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        # The transport paused while too much waits for the reader: the connection's, or under
        # uvloop's TLS the TCP transport beneath it (see `_UvloopTlsProtocol`).
        self.paused_transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self.read_waiter: asyncio.Future[Any] | None = None
        # Nonzero while `read_effect`'s reader waits: its future then takes the data itself
        # (up to this many bytes), or b"" at EOF, or the mapped error.
        self.read_direct = 0
        # Set with `read_direct` while `read_into_effect`'s reader waits: the data goes to its
        # `feed` instead (the HTTP/1.1 exchange: the response is parsed in this callback), and
        # the future resolves with None, or fails with the parse error.
        self.parser: Any = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self.paused_reading = False
        self.paused_writing = False
        self.read_deadline: float | None = None  # of the read wait in progress, if timed
        self.drain_deadline: float | None = None  # of the drain wait in progress, if timed
        # (a Handle, not always a TimerHandle: uvloop's call_at with a deadline already past
        # returns a plain Handle without `when()`, so the deadline is kept beside it)
        self.timer: asyncio.Handle | None = None
        self.timer_at = 0.0
        self.lost = False  # connection_lost ran: the socket is closed
        # The loop's clock: asyncio's own loops read `time.monotonic` (called directly, it
        # costs no Python frame per timed read); any other loop (uvloop) is asked.
        self.clock: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Typed, not checked: uvloop's transports implement asyncio.Transport's methods without
        # subclassing it, and any conforming loop must work.
        self.transport = self.paused_transport = transport  # type: ignore[assignment]
        if getattr(transport, "max_size", 0) > TRANSPORT_READ_SIZE:
            transport.max_size = TRANSPORT_READ_SIZE  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        waiter = self.read_waiter  # (`_wake_reader` written out: every response comes here)
        if waiter is not None:
            self.read_waiter = None
            direct, self.read_direct = self.read_direct, 0
            parser, self.parser = self.parser, None
            if not waiter.done():
                if direct:
                    # The waiting reader had nothing buffered: the data goes straight to it.
                    if len(data) <= direct:
                        _hand(waiter, parser, data)
                        return
                    _hand(waiter, parser, data[:direct])
                    data = data[direct:]
                else:
                    waiter.set_result(None)
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > READ_HIGH_WATER and not self.paused_reading and self.paused_transport:
            self.paused_reading = True
            self.paused_transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        # Returning False closes our side too: HTTP/1.1 never half-closes a response.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, OSError) and not self.eof:
            self._read_left_behind()
        self.eof = True
        self.error = exc
        self.lost = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._wake_reader()
        waiter, self.drain_waiter = self.drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc or ConnectionResetError("Connection lost"))

    def _read_left_behind(self) -> None:
        """Take what the server sent before it reset the connection and is still unread (an
        HTTP/2 GOAWAY, an early HTTP/1.1 answer): Linux keeps it readable after the reset, but
        when a *write* meets the reset, asyncio's transport stops reading and closes the socket
        right after this callback. Only on asyncio's own loops (the socket is still open here;
        uvloop may have closed the descriptor, which another connection could then reuse) and
        a plain socket (a TLS transport's bytes are still encrypted). Bounded by the read
        high-water mark."""
        transport = self.transport
        if (
            transport is None
            or not _is_stdlib_loop(self.loop)
            or transport.get_extra_info("ssl_object") is not None
        ):
            return
        sock = transport.get_extra_info("socket")
        fd = -1 if sock is None else sock.fileno()
        while fd >= 0 and self.buffered < READ_HIGH_WATER:
            try:
                data = os.read(fd, TRANSPORT_READ_SIZE)
            except OSError:  # (nothing more: EAGAIN, or the reset itself)
                return
            if not data:
                return
            self.data_received(data)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        waiter, self.drain_waiter = self.drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_reader(self) -> None:
        """At EOF or when the connection is lost: wake the waiting reader (a direct one gets
        b"" or the error, as `AsyncioStream.read` would return or raise)."""
        waiter, self.read_waiter = self.read_waiter, None
        direct, self.read_direct = self.read_direct, 0
        parser, self.parser = self.parser, None
        if waiter is None or waiter.done():
            return
        if not direct:
            waiter.set_result(None)
            return
        error = self.eof_error()
        if error is not None:
            waiter.set_exception(error)
        else:
            _hand(waiter, parser, b"")

    def eof_error(self) -> BaseException | None:
        """What a read at EOF raises (mapped), or None when it returns b"". A broken pipe is
        our *write* failing (the peer had closed): for reading, that is the end of what the
        server sent, and the exchange says what the EOF means there."""
        error = self.error
        if error is None or isinstance(error, BrokenPipeError):
            return None
        return mapped_error(error, READ)

    def take_buffered(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` of the buffered data (there is some)."""
        chunk = self.chunks[0]
        if len(chunk) <= max_bytes and not self.paused_reading:  # (`take`'s usual case)
            self.chunks.popleft()
            self.buffered -= len(chunk)
            return chunk
        return self.take(max_bytes)

    def wait_for_data(
        self, direct: int, timeout: float | None, parser: Any = None
    ) -> asyncio.Future[Any]:
        """The future a reader with nothing buffered awaits, timed out after `timeout`.
        `direct` nonzero: the future takes up to that many bytes itself (`read_direct`), or
        with a `parser` they go to its `feed` and the future takes None."""
        waiter = self.read_waiter = self.loop.create_future()
        self.read_direct = direct
        self.parser = parser
        if timeout is None:
            self.read_deadline = None
        else:
            deadline = self.read_deadline = self.clock() + timeout
            if self.timer is None or self.timer_at > deadline:
                self._arm(deadline)
        return waiter

    def take(self, max_bytes: int) -> bytes:
        chunk = self.chunks.popleft()
        if len(chunk) > max_bytes:
            self.chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self.buffered -= len(chunk)
        if self.paused_reading and self.buffered <= READ_HIGH_WATER // 2 and self.paused_transport:
            self.paused_reading = False
            self.paused_transport.resume_reading()
        return chunk

    def start_drain_wait(self, timeout: float | None) -> asyncio.Future[None]:
        """A future for the writer to await (then `end_drain_wait`): woken by the transport's
        drain or by connection loss, failed with TimeoutError after `timeout`. (Readers wait
        through `wait_for_data`.)"""
        waiter = self.drain_waiter = self.loop.create_future()
        self.drain_deadline = None if timeout is None else self.clock() + timeout
        if self.drain_deadline is not None:
            self._arm(self.drain_deadline)
        return waiter

    def end_drain_wait(self, waiter: asyncio.Future[None]) -> None:
        if self.drain_waiter is waiter:
            self.drain_waiter = self.drain_deadline = None

    def _arm(self, deadline: float) -> None:
        """Make the lazy timer fire no later than `deadline` (it stays put if it fires sooner)."""
        timer = self.timer
        if timer is None or self.timer_at > deadline:
            if timer is not None:
                timer.cancel()
            self.timer = self.loop.call_at(deadline, self._on_timer)
            self.timer_at = deadline

    def _on_timer(self) -> None:
        """Time out each wait whose deadline has come; re-arm for the ones still running."""
        # The deadline it was armed for, not the loop's time: a loop may run it a little early
        # (asyncio rounds to its clock resolution), and the wait is due then all the same.
        now = self.timer_at
        self.timer = None
        pending = []
        for waiter, deadline, direct in (
            (self.read_waiter, self.read_deadline, self.read_direct),
            (self.drain_waiter, self.drain_deadline, 0),
        ):
            if waiter is None or deadline is None or waiter.done():
                continue
            if deadline <= now:
                error: BaseException = TimeoutError()
                if direct:
                    # (`read_effect`'s future: no coroutine is there to map the error)
                    self.read_direct = 0
                    self.parser = None
                    error = mapped_error(error, READ)
                waiter.set_exception(error)
            else:
                pending.append(deadline)
        if pending:
            self._arm(min(pending))


class _UvloopTlsProtocol(_ByteProtocol):
    """`_ByteProtocol` under uvloop's TLS, which decrypts into the buffer `get_buffer` lends.

    Without it uvloop reads each record into a new 256 KiB bytes object (its
    `SSL_READ_MAX_SIZE`) and shrinks it: above glibc's mmap threshold, and never freed at full
    size, so the threshold never adapts and every response costs an mmap, page faults and an
    munmap (HTTPS GET 1 KiB at 16 in flight: 112 µs of CPU per request before, 83 after;
    asyncio's TLS layer frees one such object per read, so glibc's threshold adapts there).
    The buffer lives for one read, so an idle connection holds none. A connection takes this
    class when `start_tls` hands it to uvloop.

    The buffer takes all that uvloop says is pending (`sizehint`: the ciphertext it holds plus
    256 bytes, more than its plaintext), never less: when a buffer fills, uvloop leaves the
    remaining records undecrypted for a later turn of the loop, and a TCP EOF arriving first
    makes it shut the connection without them (uvloop 0.23 `SSLProtocol.eof_received`), which
    cut a response a server sent whole and then closed on. For the same reason reading pauses
    on the TCP transport beneath (`paused_transport`), never on the TLS one: uvloop would keep
    reading records while the TLS transport is paused and drop those it holds at the TCP EOF
    (uvloop issue 661); paused below, it reads no EOF before it has decrypted all it read."""

    read_buffer: bytearray | None = None

    def get_buffer(self, sizehint: int) -> bytearray:
        buffer = self.read_buffer = bytearray(max(sizehint, 1024))
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        buffer, self.read_buffer = self.read_buffer, None
        assert buffer is not None
        self.data_received(bytes(memoryview(buffer)[:nbytes]))


class AsyncioStream:
    """One connection; reads return buffered data without suspending when there is some."""

    __slots__ = ("_addresses", "_protocol", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: _ByteProtocol,
        addresses: tuple[Any, Any] | None = None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        # Read once, now: uvloop asks the socket on every call, and a socket the server has
        # closed (or one we closed) cannot answer any more.
        self._addresses = addresses or (
            transport.get_extra_info("sockname"),
            transport.get_extra_info("peername"),
        )

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes`; b"" when the peer closed."""
        protocol = self._protocol
        if not protocol.chunks:
            if protocol.eof:
                return self._at_eof()
            waiter = protocol.wait_for_data(0, timeout)
            try:
                await waiter
            except TimeoutError as exc:
                raise_mapped(exc, READ)
            finally:
                if protocol.read_waiter is waiter:
                    protocol.read_waiter = protocol.read_deadline = None
            if not protocol.chunks:
                return self._at_eof()
        return protocol.take_buffered(max_bytes)

    def _at_eof(self) -> bytes:
        error = self._protocol.eof_error()
        if error is not None:
            raise error
        return b""

    def write_nowait(self, data: bytes | memoryview) -> bool:
        """Hand `data` to the transport; True when the caller must still await `drain`."""
        protocol = self._protocol
        if protocol.error is not None or self._transport.is_closing():
            self.write_failed()
        self._transport.write(data)
        if self._transport.is_closing():
            self.write_failed()
        return protocol.paused_writing

    def write_failed(self) -> NoReturn:
        """Raise the `WriteError` of a connection that cannot take bytes: it was lost or is
        closing, or the transport closed itself inside `write` because the socket refused them
        (the server had reset or closed the connection). asyncio reports the latter only later,
        to `connection_lost`; without a check right after `write`, the write would look done
        and the failure would surface as the next read's, hiding that the request never left."""
        raise_mapped(self._protocol.error or BrokenPipeError("Connection closed"), WRITE)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until the transport's buffer falls below its low-water mark."""
        protocol = self._protocol
        if not protocol.paused_writing:
            return
        waiter = protocol.start_drain_wait(timeout)
        try:
            await waiter
        except (TimeoutError, OSError) as exc:
            raise_mapped(exc, WRITE)
        finally:
            protocol.end_drain_wait(waiter)

    async def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if data and self.write_nowait(data):
            await self.drain(timeout)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncioStream | AsyncioTlsStream:
        """Upgrade to TLS in place (also inside an https:// proxy's TLS): ConnectError on
        failure, ConnectTimeout when the handshake does not finish within `timeout`."""
        loop = self._protocol.loop
        if not _loop_nests_tls(loop) and self._transport.get_extra_info("ssl_object"):
            return await AsyncioTlsStream.handshake(self, ssl_context, server_hostname, timeout)
        if self._transport.is_closing() or self._protocol.eof:
            # The peer closed before the handshake (uvloop would hand back a dead TLS transport,
            # asyncio may wait out the handshake timeout): a failed connect, as for the others.
            await self.aclose()
            raise_mapped(ConnectionResetError("The server closed the connection"), CONNECT)
        if self._protocol.chunks:
            # TLS has the client speak first (RFC 8446 section 2): bytes already here are not a
            # handshake and never a response (CVE-2023-40217). The TLS layer would not see them
            # (they reached this protocol before it existed) and uvloop would then wait out the
            # whole connect timeout for a ServerHello.
            await self.aclose()
            raise_mapped(ConnectionError("The server sent data before the TLS handshake"), CONNECT)
        stdlib_tls = _is_stdlib_loop(loop)
        if not stdlib_tls:
            # uvloop (or another loop's TLS) may decrypt into a buffer of ours, and reading
            # pauses on the TCP transport beneath: see the class.
            self._protocol.__class__ = _UvloopTlsProtocol
        try:
            # Our own deadline bounds the handshake, so it ends as TimeoutError (ConnectTimeout);
            # the loop's `ssl_handshake_timeout` (60 s when not given) would fire first or
            # instead and end it as ConnectionAbortedError, a ConnectError. It is set past ours.
            async with asyncio.timeout(timeout):
                new_transport = await loop.start_tls(
                    self._transport,
                    self._protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=_HANDSHAKE_BACKSTOP
                    if timeout is None
                    else timeout + _HANDSHAKE_BACKSTOP_MARGIN,
                )
        except TimeoutError:
            await self.aclose()
            raise_mapped(TimeoutError(HANDSHAKE_TIMED_OUT), CONNECT)
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise_mapped(exc, CONNECT)
        except BaseException:
            await self.aclose()
            raise
        if new_transport is None or new_transport.is_closing():
            # (uvloop returns a closed transport, without raising, when the peer closed
            # during the handshake)
            await self.aclose()
            raise_mapped(ConnectionResetError("Connection lost during the TLS handshake"), CONNECT)
        self._protocol.transport = new_transport
        if stdlib_tls:
            self._protocol.paused_transport = new_transport
        return AsyncioStream(new_transport, self._protocol, self._addresses)

    def is_readable(self) -> bool:
        """True when the peer sent data or closed: an idle connection so marked is not reused."""
        protocol = self._protocol
        return bool(protocol.chunks) or protocol.eof or self._transport.is_closing()

    def get_extra_info(self, name: str) -> Any:
        """`ssl_object`, `client_addr`, `server_addr`, `socket` or `is_readable`; else None.
        Never raises: the addresses were read at connect time."""
        if name == "client_addr":
            return self._addresses[0]
        if name == "server_addr":
            return self._addresses[1]
        if name == "ssl_object" or name == "socket":
            try:
                return self._transport.get_extra_info(name)
            except (OSError, RuntimeError, ValueError):  # (uvloop, once the socket is closed)
                return None
        if name == "is_readable":
            return self.is_readable()
        return None

    async def aclose(self) -> None:
        """Close now, and let the loop run the callback that closes the socket before going on.

        abort(): a pooled connection is closed when it is broken or expired, where a graceful
        TLS close_notify would only wait on a peer that is gone. asyncio closes the socket in a
        callback it schedules at once (`call_soon`); one turn of the loop runs it before this
        task resumes, so a loop stopped right after a request cannot leave the socket to the
        garbage collector. (uvloop closes the descriptor inside abort() itself.)
        """
        if self._protocol.lost:
            return  # closed already
        try:
            self._transport.abort()
        except AttributeError:
            # asyncio's transports detach their loop once closed; one that finished closing
            # without our protocol hearing of it fails inside abort() (seen in the soak).
            return
        if not self._protocol.lost:
            await asyncio.sleep(0)


class AsyncioTlsStream:
    """TLS over an asyncio stream that is TLS itself, run over memory BIOs (tls_bio.py):
    for loops whose `start_tls` cannot stack TLS on their TLS transport (see
    `_loop_nests_tls`). Reads and writes go through the outer stream's own."""

    __slots__ = ("_inner", "_tls")

    def __init__(self, inner: AsyncioStream | AsyncioTlsStream, tls: TlsBio) -> None:
        self._inner = inner
        self._tls = tls

    @classmethod
    async def handshake(
        cls,
        inner: AsyncioStream | AsyncioTlsStream,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
    ) -> AsyncioTlsStream:
        """A TLS stream over `inner` once its handshake is done: ConnectError on failure,
        ConnectTimeout after `timeout`; `inner` is closed then."""
        try:
            stream = cls(inner, TlsBio(ssl_context, server_hostname))
            async with asyncio.timeout(timeout):
                await stream._pump(stream._tls.ssl_object.do_handshake)
        except Exception as exc:
            await inner.aclose()
            handshake_failed(exc)
        except BaseException:
            await inner.aclose()
            raise
        return stream

    async def _pump(self, operation: Callable[[], Any]) -> Any:
        """Run `operation` until it stops wanting the peer's bytes, moving records both ways
        (the caller bounds the time)."""
        tls, inner = self._tls, self._inner
        while True:
            result, outgoing = tls.attempt(operation)
            if outgoing:
                await inner.write(outgoing)
            if result is not WANT_READ:
                return result
            tls.feed(await inner.read(RECORD_READ_SIZE))

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes`; b"" when the peer closed."""
        operation = partial(self._tls.read, max_bytes)
        try:
            # Plaintext already decrypted, or a record already here: no timer needed.
            data, outgoing = self._tls.attempt(operation)
            if data is WANT_READ or outgoing:
                async with asyncio.timeout(timeout):
                    if outgoing:
                        await self._inner.write(outgoing)
                    if data is WANT_READ:
                        data = await self._pump(operation)
        except OSError as exc:  # the TLS layer's errors, or the call's own timeout
            raise_mapped(exc, READ)
        return cast(bytes, data)

    def write_nowait(self, data: bytes | memoryview) -> bool:
        """Encrypt `data` and hand it to the stream below; True when the caller must still
        await `drain`."""
        try:
            outgoing = self._tls.encrypt(data)
        except OSError as exc:
            raise_mapped(exc, WRITE)
        return self._inner.write_nowait(outgoing)

    async def drain(self, timeout: float | None = None) -> None:
        await self._inner.drain(timeout)

    async def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if data and self.write_nowait(data):
            await self.drain(timeout)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncioTlsStream:
        """TLS inside this one as well."""
        return await AsyncioTlsStream.handshake(self, ssl_context, server_hostname, timeout)

    def is_readable(self) -> bool:
        """True when bytes wait in the TLS layer, or the stream below is readable."""
        return self._tls.has_buffered() or self._inner.is_readable()

    def get_extra_info(self, name: str) -> Any:
        """The inner TLS session's `ssl_object`; the rest as the stream below answers."""
        if name == "ssl_object":
            return self._tls.ssl_object
        if name == "is_readable":
            return self.is_readable()
        return self._inner.get_extra_info(name)

    async def aclose(self) -> None:
        """Hand a close_notify to the transport if it takes it at once (best effort), then
        close the stream below."""
        try:
            self._inner.write_nowait(self._tls.close_notify())
        except Exception:  # (the connection may be broken already)
            pass
        await self._inner.aclose()


class AsyncioBackend:
    """Opens asyncio connections over `_ByteProtocol`; times the engine's `WAIT`s."""

    # What `wait_effect` returns, for the driver to await.
    future_type = asyncio.Future

    def __init__(self) -> None:
        # Timed `WAIT`s: (deadline, order, waker), earliest first, and one loop timer for the
        # earliest. A waiting request then costs its waker and this entry, not a coroutine and
        # a timer handle each (issue 15: 100,000 requests queued for a pool slot).
        self._waits: list[tuple[float, int, asyncio.Future[bool]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._compact_at = _COMPACT_MIN

    async def connect(self, endpoint: Endpoint, timeout: float | None = None) -> AsyncioStream:
        """A connected stream to `endpoint`, its options set (asyncio sets TCP_NODELAY itself)."""
        loop = asyncio.get_running_loop()
        local = endpoint.local_address
        try:
            async with asyncio.timeout(timeout):
                if endpoint.uds is None:
                    transport, protocol = await loop.create_connection(
                        lambda: _ByteProtocol(loop),
                        endpoint.host,
                        endpoint.port,
                        local_addr=(local, 0) if local else None,
                    )
                else:
                    transport, protocol = await loop.create_unix_connection(
                        lambda: _ByteProtocol(loop), endpoint.uds
                    )
        except (OSError, TimeoutError) as exc:
            raise_mapped(exc, CONNECT)
        return _configured(transport, protocol, endpoint.socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    @staticmethod
    def write_effect(effect: tuple[Any, ...]) -> Any:
        """The WRITE effect without a coroutine when the transport buffers the bytes; a drain
        to await only when the transport asked its writer to pause (`pause_writing`)."""
        stream: AsyncioStream = effect[1]
        data = effect[2]
        if type(stream) is AsyncioStream:  # (`write_nowait` written out: every request's head)
            protocol, transport = stream._protocol, stream._transport
            if data and protocol.error is None and not transport.is_closing():
                transport.write(data)
                if transport.is_closing():
                    stream.write_failed()
                return stream.drain(effect[3]) if protocol.paused_writing else None
        if data and stream.write_nowait(data):
            return stream.drain(effect[3])
        return None

    @staticmethod
    def read_effect(effect: tuple[Any, ...]) -> Any:
        """The READ effect without a coroutine: the data when some is buffered, else a future
        that the protocol resolves with the data itself (`read_direct`), b"" at EOF, or fails
        with the mapped error or `ReadTimeout`. (One frame and one resumption less per
        response than awaiting `AsyncioStream.read`.)"""
        stream = effect[1]
        if type(stream) is not AsyncioStream:
            return stream.read(effect[2], effect[3])
        return _read_now(stream, effect[2], effect[3], None)

    @staticmethod
    def read_into_effect(effect: tuple[Any, ...]) -> Any:
        """The READ_INTO effect without a coroutine, as `read_effect`: the parser is fed the
        buffered data at once, or by `data_received` itself when it comes (so a response is
        parsed in the loop's read callback, and its reader wakes once it is filed)."""
        stream = effect[1]
        if type(stream) is not AsyncioStream:
            return read_into(stream, effect[2], effect[3], effect[4])
        return _read_now(stream, effect[3], effect[4], effect[2])

    def wait_effect(self, effect: tuple[Any, ...]) -> asyncio.Future[bool]:
        """The WAIT effect as its waker itself, no coroutine: `_wake` resolves it with True,
        the backend's wait timer with False once `timeout` has passed."""
        waker: asyncio.Future[bool] = effect[1]
        timeout = effect[2]
        if timeout is not None and not waker.done():
            loop = waker.get_loop()
            deadline = loop.time() + timeout
            waits = self._waits
            if loop is not self._timer_loop:  # (a transport used from a new event loop)
                self._timer_loop, self._timer = loop, None
                waits.clear()
            # Woken and cancelled waits leave their entry behind: drop those that come first
            # (pool waiters are woken in order), and now and then all of them.
            while waits and waits[0][2].done():
                heapq.heappop(waits)
            if len(waits) >= self._compact_at:
                waits[:] = [entry for entry in waits if not entry[2].done()]
                heapq.heapify(waits)
                self._compact_at = max(_COMPACT_MIN, 2 * len(waits))
            heapq.heappush(waits, (deadline, next(self._order), waker))
            if self._timer is None or self._timer_at > deadline:
                self._arm_wait_timer(loop, deadline)
        return waker

    def _arm_wait_timer(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(deadline, self._wait_timer)
        self._timer_at = deadline

    def _wait_timer(self) -> None:
        """Resolve with False every wait whose deadline has come; re-arm for the next."""
        self._timer = None
        now = self._timer_at  # (the loop may run a timer a little early: it is due all the same)
        waits = self._waits
        while waits and (waits[0][0] <= now or waits[0][2].done()):
            waker = heapq.heappop(waits)[2]
            if not waker.done():
                waker.set_result(False)
        if waits and self._timer_loop is not None:
            self._arm_wait_timer(self._timer_loop, waits[0][0])

    def runtime(self) -> Runtime:
        # Probing a Protocol-based stream costs no system call: peek on every reuse.
        return Runtime(
            lock=threading.Lock(),
            new_waker=_new_future,
            wake=_wake,
            clock=time.monotonic,
            probe_after=0.0,
            peek=operator.methodcaller("is_readable"),
        )

    async def wait(self, waker: asyncio.Future[bool], timeout: float | None) -> bool:
        """Wait until `waker` is woken (True) or `timeout` passes (False)."""
        if timeout is None:
            await waker
            return True
        handle = waker.get_loop().call_later(timeout, _expire, waker)
        try:
            await waker
        except TimeoutError:
            return False
        finally:
            handle.cancel()
        return True

    def shield(self) -> contextlib.nullcontext[None]:
        # asyncio delivers a cancellation once: the clean-up's own awaits run normally.
        return contextlib.nullcontext()


def _read_now(stream: AsyncioStream, max_bytes: int, timeout: float | None, parser: Any) -> Any:
    """READ (`parser` None) or READ_INTO on a plain connection: what is buffered, or b"" (or
    the error) at EOF, at once, fed to `parser` when there is one; else the future the
    protocol resolves when data comes (`wait_for_data`)."""
    protocol = stream._protocol
    if protocol.chunks:
        data = protocol.take_buffered(max_bytes)
    elif protocol.eof:
        data = stream._at_eof()
    else:
        return protocol.wait_for_data(max_bytes, timeout, parser)
    if parser is None:
        return data
    parser.feed(data)
    return None


def _hand(waiter: asyncio.Future[Any], parser: Any, data: bytes) -> None:
    """Resolve a direct reader's future with `data`, or with None once its `parser` took it
    (the parser's error is raised at the reader's await instead)."""
    if parser is None:
        waiter.set_result(data)
        return
    try:
        parser.feed(data)
    except Exception as exc:
        waiter.set_exception(exc)
    else:
        waiter.set_result(None)


def _loop_nests_tls(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether `loop.start_tls` can put TLS over its own TLS transport: uvloop can, and the
    stdlib's loops on the releases `_STDLIB_NESTS_TLS` names."""
    return _STDLIB_NESTS_TLS or not _is_stdlib_loop(loop)


def _is_stdlib_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether `loop` is one of asyncio's own (not uvloop or another conforming loop)."""
    return isinstance(loop, asyncio.BaseEventLoop)


def _new_future() -> asyncio.Future[bool]:
    return asyncio.get_running_loop().create_future()


def _wake(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(True)


def _expire(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _configured(
    transport: asyncio.Transport,
    protocol: _ByteProtocol,
    socket_options: Iterable[SocketOption] | None,
) -> AsyncioStream:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # asyncio already sets TCP_NODELAY on TCP sockets; user options come on top.
        set_socket_options(sock, socket_options, transport.abort)
    return AsyncioStream(transport, protocol)
