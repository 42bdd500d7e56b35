"""Blocking sockets: the sync shell's byte stream. It only moves bytes and waits."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

from .errors import CONNECT, READ, WRITE, raise_mapped
from .streams import SocketExtraInfo, SocketOption, set_socket_options, socket_is_readable

__all__ = ["SyncBackend", "SyncStream"]


class SyncStream(SocketExtraInfo):
    """A connected socket (plain or TLS) with per-call timeouts.

    `settimeout` only touches the socket when the value changes, so a connection that keeps
    one read timeout pays no extra syscall per read.
    """

    __slots__ = ("_sock", "_timeout")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout: float | None = sock.gettimeout()

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
        return SyncStream(tls)

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

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> SyncStream:
        source = (local_address, 0) if local_address else None
        try:
            sock = socket.create_connection((host, port), timeout, source_address=source)
        except OSError as exc:
            raise_mapped(exc, CONNECT)
        return _configured(sock, socket_options, tcp=True)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> SyncStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise_mapped(exc, CONNECT)
        return _configured(sock, socket_options, tcp=False)


def _configured(
    sock: socket.socket, socket_options: Iterable[SocketOption] | None, *, tcp: bool
) -> SyncStream:
    if tcp:
        # Request heads and small bodies go out in separate writes; Nagle would hold the
        # second one for a delayed ACK (~40 ms).
        socket_options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), *(socket_options or ())]
    set_socket_options(sock, socket_options, sock.close)
    return SyncStream(sock)
