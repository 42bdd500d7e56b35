"""Blocking sockets: the sync shell's byte stream. It only moves bytes and waits.

A TLS stream inside a TLS stream (an origin reached through an https:// proxy's tunnel) cannot
wrap the socket a second time: `SyncTlsStream` runs the inner TLS as an `ssl.SSLObject` over
memory BIOs and moves its records through the outer stream.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .._core.plan import Endpoint
from .errors import CONNECT, HANDSHAKE_TIMED_OUT, READ, WRITE, raise_mapped
from .streams import SocketExtraInfo, set_socket_options, socket_is_readable

__all__ = ["SyncBackend", "SyncStream", "SyncTlsStream"]

T = TypeVar("T")

# How long close() may wait for room to send its close_notify alert (a peer that stopped
# reading must not hold up a close).
_CLOSE_NOTIFY_WAIT = 0.05
# One TLS record's worth (RFC 8446 section 5.1: at most 2^14 bytes of plaintext plus overhead).
_RECORD_READ_SIZE = 17 * 1024


class SyncStream(SocketExtraInfo):
    """A connected socket (plain or TLS) with per-call timeouts.

    `settimeout` only touches the socket when the value changes, so a connection that keeps
    one read timeout pays no extra syscall per read.
    """

    __slots__ = ("_sock", "_timeout")

    def __init__(self, sock: socket.socket, addresses: tuple[Any, Any] | None = None) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()
        self._capture_addresses(sock, addresses)

    def _set_timeout(self, timeout: float | None) -> None:
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes`; b"" when the peer closed."""
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            return self._sock.recv(max_bytes)
        except (OSError, ssl.SSLError) as exc:
            raise_mapped(exc, READ)

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if not data:
            return
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            self._sock.sendall(data)
        except (OSError, ssl.SSLError) as exc:
            raise_mapped(exc, WRITE)

    def _recv_raw(self, max_bytes: int, deadline: float | None) -> bytes:
        """`recv` by `deadline` (monotonic), raising the socket's own errors: for a TLS layer
        on top, which maps them for its own phase."""
        self._set_timeout(_remaining(deadline))
        return self._sock.recv(max_bytes)

    def _send_raw(self, data: bytes | memoryview, deadline: float | None) -> None:
        self._set_timeout(_remaining(deadline))
        self._sock.sendall(data)

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncStream | SyncTlsStream:
        """Wrap this socket in TLS and complete the handshake (a ConnectError on failure);
        over a TLS socket already (an https:// proxy's tunnel), TLS inside it."""
        if isinstance(self._sock, ssl.SSLSocket):
            return SyncTlsStream.handshake(self, ssl_context, server_hostname, timeout)
        try:
            self._set_timeout(timeout)
            tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise_mapped(exc, CONNECT)
        return SyncStream(tls, self._addresses)

    def is_readable(self) -> bool:
        """True when a read would not block: for an idle kept-alive connection that means the
        server closed it (or sent bytes it should not have), so it must not be reused."""
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
            return True
        return socket_is_readable(self._sock)

    def _socket(self) -> socket.socket:
        return self._sock

    def _ssl_object(self) -> ssl.SSLSocket | None:
        return self._sock if isinstance(self._sock, ssl.SSLSocket) else None

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:  # pragma: no cover - close of an already broken socket
            pass


class SyncTlsStream(SocketExtraInfo):
    """TLS over another stream that is TLS itself: an `ssl.SSLObject` whose records go
    through memory BIOs to `inner`. A call's timeout bounds the whole call, however many
    records it moves; errors are mapped for the call's phase (CONNECT during the handshake)."""

    __slots__ = ("_incoming", "_inner", "_outgoing", "_tls")

    def __init__(
        self, inner: SyncStream | SyncTlsStream, ssl_context: ssl.SSLContext, hostname: str | None
    ) -> None:
        self._inner = inner
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = ssl_context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname)
        self._capture_addresses(None, inner._addresses)

    @classmethod
    def handshake(
        cls,
        inner: SyncStream | SyncTlsStream,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
    ) -> SyncTlsStream:
        """A TLS stream over `inner` once its handshake is done: ConnectError on failure,
        ConnectTimeout after `timeout`; `inner` is closed then."""
        try:
            stream = cls(inner, ssl_context, server_hostname)
            stream._pump(stream._tls.do_handshake, _deadline(timeout))
        except TimeoutError:
            inner.close()
            raise_mapped(TimeoutError(HANDSHAKE_TIMED_OUT), CONNECT)
        except OSError as exc:  # (ssl.SSLError and CertificateError are OSErrors)
            inner.close()
            raise_mapped(exc, CONNECT)
        except BaseException:
            inner.close()
            raise
        return stream

    def _pump(self, operation: Callable[[], T], deadline: float | None) -> T:
        """Call `operation` on the TLS object, feeding it records from below while it wants
        to read and sending what it wrote; raises the socket's and the TLS layer's errors."""
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._flush(deadline)
                data = self._inner._recv_raw(_RECORD_READ_SIZE, deadline)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            self._flush(deadline)
            return result

    def _flush(self, deadline: float | None) -> None:
        # (a memory BIO never refuses a write, so SSLWantWriteError does not happen here)
        if self._outgoing.pending:
            self._inner._send_raw(self._outgoing.read(), deadline)

    def _read_record(self, max_bytes: int) -> bytes:
        try:
            return self._tls.read(max_bytes)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            # The peer's close_notify, or a close without one: b"" as the outer stream gives
            # (wrap_socket suppresses ragged EOFs); the HTTP parser decides if it was early.
            return b""

    def _recv_raw(self, max_bytes: int, deadline: float | None) -> bytes:
        return self._pump(lambda: self._read_record(max_bytes), deadline)

    def _send_raw(self, data: bytes | memoryview, deadline: float | None) -> None:
        self._pump(lambda: self._tls.write(data), deadline)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes`; b"" when the peer closed."""
        try:
            return self._recv_raw(max_bytes, _deadline(timeout))
        except OSError as exc:
            raise_mapped(exc, READ)

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if not data:
            return
        try:
            self._send_raw(data, _deadline(timeout))
        except OSError as exc:
            raise_mapped(exc, WRITE)

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncTlsStream:
        """TLS inside this one as well."""
        return SyncTlsStream.handshake(self, ssl_context, server_hostname, timeout)

    def is_readable(self) -> bool:
        """True when decrypted or raw bytes wait here, or the stream below is readable."""
        return bool(self._tls.pending() or self._incoming.pending) or self._inner.is_readable()

    def _socket(self) -> socket.socket:
        return self._inner._socket()

    def _ssl_object(self) -> ssl.SSLObject:
        return self._tls

    def close(self) -> None:
        """Send close_notify when it can go out at once (best effort: nothing waits for the
        peer's), then close the stream below."""
        try:
            self._tls.unwrap()
        except OSError:
            pass  # SSLWantReadError: the peer's close_notify, which is not awaited
        try:
            self._flush(_deadline(_CLOSE_NOTIFY_WAIT))
        except OSError:
            pass
        self._inner.close()


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    """Seconds left until `deadline`; TimeoutError once it has passed."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("The operation timed out")
    return left


class SyncBackend:
    """Opens blocking connections: TCP (with `local_address`, `socket_options`) or Unix sockets."""

    def connect(self, endpoint: Endpoint, timeout: float | None = None) -> SyncStream:
        """A connected socket to `endpoint`, its options set (a ConnectError on failure)."""
        options = endpoint.socket_options or ()
        try:
            if endpoint.uds is None:
                local = endpoint.local_address
                source = (local, 0) if local else None
                sock = socket.create_connection((endpoint.host, endpoint.port), timeout, source)
                # Request heads and small bodies go out in separate writes; Nagle would hold
                # the second one for a delayed ACK (~40 ms).
                options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), *options]
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(timeout)
                    sock.connect(endpoint.uds)
                except OSError:
                    sock.close()
                    raise
        except OSError as exc:
            raise_mapped(exc, CONNECT)
        set_socket_options(sock, options, sock.close)
        return SyncStream(sock)
