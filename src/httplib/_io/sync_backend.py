"""Blocking sockets: the sync shell's byte stream. It only moves bytes and waits."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from .._core.plan import Endpoint
from .errors import CONNECT, READ, WRITE, raise_mapped
from .streams import SocketExtraInfo, set_socket_options, socket_is_readable

__all__ = ["SyncBackend", "SyncStream"]


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

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncStream:
        """Wrap this socket in TLS and complete the handshake (a ConnectError on failure)."""
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
