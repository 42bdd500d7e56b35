"""trio: the async shell's byte stream when the caller runs under trio (the `trio` extra)."""

from __future__ import annotations

import math
import ssl
import threading
from typing import Any

import trio

from .._core.effects import PROBE_IDLE_AFTER, Runtime
from .._core.plan import Endpoint
from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from .errors import HANDSHAKE_TIMED_OUT, extend_with, raise_mapped
from .streams import SocketExtraInfo, set_socket_options, socket_is_readable

__all__ = ["TrioBackend", "TrioStream"]

_TABLE = extend_with(
    {
        "connect": {
            trio.TooSlowError: ConnectTimeout,
            trio.BrokenResourceError: ConnectError,
        },
        "read": {
            trio.TooSlowError: ReadTimeout,
            trio.BrokenResourceError: ReadError,
            trio.ClosedResourceError: ReadError,
        },
        "write": {
            trio.TooSlowError: WriteTimeout,
            trio.BrokenResourceError: WriteError,
            trio.ClosedResourceError: WriteError,
        },
    }
)
CONNECT, READ, WRITE = _TABLE["connect"], _TABLE["read"], _TABLE["write"]


def _seconds(timeout: float | None) -> float:
    return math.inf if timeout is None else timeout


class TrioStream(SocketExtraInfo):
    """A trio `SocketStream` or `SSLStream` with per-call timeouts."""

    __slots__ = ("_stream", "_write_failed")

    def __init__(
        self,
        stream: trio.SocketStream | trio.SSLStream[Any],
        addresses: tuple[Any, Any] | None = None,
    ) -> None:
        self._stream = stream
        self._write_failed = False
        self._capture_addresses(None if addresses else self._socket(), addresses)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._write_failed:
            return await self._read_after_failed_write(max_bytes, timeout)
        try:
            with trio.fail_after(_seconds(timeout)):
                return bytes(await self._stream.receive_some(max_bytes))
        except (OSError, trio.TooSlowError, trio.BrokenResourceError) as exc:
            raise_mapped(exc, READ)
        except trio.ClosedResourceError as exc:
            raise_mapped(exc, READ)

    async def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if not data:
            return
        try:
            with trio.fail_after(_seconds(timeout)):
                await self._stream.send_all(data)
        except (
            OSError,
            trio.TooSlowError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
        ) as exc:
            self._write_failed = isinstance(self._stream, trio.SSLStream)
            raise_mapped(exc, WRITE)

    async def _read_after_failed_write(self, max_bytes: int, timeout: float | None) -> bytes:
        """Read a TLS stream whose write failed. trio then refuses every read of the SSLStream,
        but a server that closed after its last frames (HTTP/2 after GOAWAY) left them in our
        socket buffer, and our write into the close drew its reset: the other runtimes still
        read them. So decrypt from the transport here, through the stream's own TLS object
        (nothing is written any more). Reads `_ssl_object`/`_incoming`, trio's SSLStream
        internals; without them, the read fails as before."""
        tls: Any = self._stream
        ssl_object = getattr(tls, "_ssl_object", None)
        incoming = getattr(tls, "_incoming", None)
        if ssl_object is None or incoming is None:
            raise ReadError("The TLS stream failed on a write; it cannot be read any more.")
        try:
            with trio.fail_after(_seconds(timeout)):
                while True:
                    try:
                        return bytes(ssl_object.read(max_bytes))
                    except ssl.SSLWantReadError:
                        pass
                    except ssl.SSLZeroReturnError:
                        return b""  # close_notify
                    data = await tls.transport_stream.receive_some()
                    if not data:
                        return b""  # EOF without close_notify, as https_compatible reads it
                    incoming.write(data)
        except (
            OSError,
            trio.TooSlowError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            trio.BusyResourceError,
        ) as exc:
            raise_mapped(exc, READ)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> TrioStream:
        """TLS over this stream, which may be TLS already (an https:// proxy's tunnel: trio's
        SSLStream runs over any stream): ConnectError on failure, ConnectTimeout after
        `timeout`."""
        tls = trio.SSLStream(
            self._stream, ssl_context, server_hostname=server_hostname, https_compatible=True
        )
        try:
            with trio.fail_after(_seconds(timeout)):
                await tls.do_handshake()
        except trio.TooSlowError:
            await self.aclose()
            raise_mapped(TimeoutError(HANDSHAKE_TIMED_OUT), CONNECT)
        except (OSError, ssl.SSLError, trio.BrokenResourceError) as exc:
            await self.aclose()
            # trio wraps the ssl module's error (which names the reason, such as
            # CERTIFICATE_VERIFY_FAILED) in a BrokenResourceError that says nothing.
            cause = exc.__cause__
            raise_mapped(cause if isinstance(cause, OSError) else exc, CONNECT)
        return TrioStream(tls, self._addresses)

    def _socket(self) -> trio.socket.SocketType:
        stream: Any = self._stream
        while isinstance(stream, trio.SSLStream):  # (twice for TLS inside a TLS tunnel)
            stream = stream.transport_stream
        assert isinstance(stream, trio.SocketStream)
        return stream.socket

    def is_readable(self) -> bool:
        """True when the peer sent data or closed: an idle connection so marked is not reused."""
        return socket_is_readable(self._socket().fileno())

    def _ssl_object(self) -> Any:
        stream = self._stream
        return stream._ssl_object if isinstance(stream, trio.SSLStream) else None

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(self._stream)


class TrioBackend:
    """Opens trio connections."""

    async def connect(self, endpoint: Endpoint, timeout: float | None = None) -> TrioStream:
        """A connected stream to `endpoint`, its options set (trio sets TCP_NODELAY itself)."""
        stream: trio.SocketStream
        try:
            with trio.fail_after(_seconds(timeout)):
                if endpoint.uds is None:
                    stream = await trio.open_tcp_stream(
                        endpoint.host, endpoint.port, local_address=endpoint.local_address
                    )
                else:
                    stream = await trio.open_unix_socket(endpoint.uds)
        except (OSError, trio.TooSlowError) as exc:
            raise_mapped(exc, CONNECT)
        set_socket_options(stream, endpoint.socket_options, stream.socket.close)
        return TrioStream(stream)

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    def runtime(self) -> Runtime:
        # trio's clock, so a test's MockClock drives pool expiry too.
        return Runtime(
            lock=threading.Lock(),
            new_waker=trio.Event,
            wake=trio.Event.set,
            clock=trio.current_time,
            probe_after=PROBE_IDLE_AFTER,
        )

    async def wait(self, waker: trio.Event, timeout: float | None) -> bool:
        """Wait until `waker` is set (True) or `timeout` passes (False)."""
        with trio.move_on_after(_seconds(timeout)):
            await waker.wait()
            return True
        return False

    def shield(self) -> trio.CancelScope:
        return trio.CancelScope(shield=True)
