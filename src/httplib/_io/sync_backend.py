"""Blocking sockets: the sync shell's byte stream. It only moves bytes and waits.

A TLS stream inside a TLS stream (an origin reached through an https:// proxy's tunnel) cannot
wrap the socket a second time: `SyncTlsStream` runs the inner session over memory BIOs
(tls_bio.py) and moves its records through the outer stream.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from .._core.plan import Endpoint
from .errors import CONNECT, READ, WRITE, raise_mapped
from .streams import SocketExtraInfo, set_socket_options, socket_is_readable
from .tls_bio import (
    RECORD_READ_SIZE,
    WANT_READ,
    TlsBio,
    deadline_after,
    handshake_failed,
    remaining,
)

__all__ = ["SharedTlsStream", "SyncBackend", "SyncStream", "SyncTlsStream"]

# How long close() may wait for room to send a close_notify alert (a peer that stopped
# reading must not hold up a close).
_CLOSE_NOTIFY_WAIT = 0.05


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
        except _WOULD_WAIT as exc:
            raise_mapped(_would_wait(exc), READ)
        except (OSError, ssl.SSLError) as exc:
            raise_mapped(exc, READ)

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if not data:
            return
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            self._sock.sendall(data)
        except _WOULD_WAIT as exc:
            raise_mapped(_would_wait(exc), WRITE)
        except (OSError, ssl.SSLError) as exc:
            raise_mapped(exc, WRITE)

    def sends_files(self, timeout: float | None) -> bool:
        """Whether `send_file` can be used: a plain TCP socket (TLS encrypts in user space),
        where the OS has sendfile(2), and a timeout that lets a call wait (the stdlib's
        `sendfile` takes no non-blocking socket)."""
        return type(self._sock) is socket.socket and _HAS_SENDFILE and timeout != 0

    def send_file(self, file: Any, offset: int, count: int, timeout: float | None) -> int:
        """Up to `count` bytes of the regular `file` from `offset`, sent by the kernel; the
        bytes sent (fewer when the file ends first). The timeout bounds each wait for the
        socket to take more, as it bounds each write of a body read in pieces."""
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            return self._sock.sendfile(file, offset, count)
        except OSError as exc:
            raise_mapped(exc, WRITE)

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncStream | SyncTlsStream:
        """Wrap this socket in TLS and complete the handshake (a ConnectError on failure);
        over a TLS socket already (an https:// proxy's tunnel), TLS inside it."""
        sock = self._sock
        if isinstance(sock, ssl.SSLSocket):
            # The inner session's reader and writer use this socket from two threads.
            shared = (
                self
                if isinstance(self, SharedTlsStream)
                else SharedTlsStream(sock, self._addresses)
            )
            return SyncTlsStream.handshake(shared, ssl_context, server_hostname, timeout)
        try:
            self._set_timeout(timeout)
            tls = ssl_context.wrap_socket(sock, server_hostname=server_hostname)
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise_mapped(exc, CONNECT)
        if tls.selected_alpn_protocol() == "h2":
            return SharedTlsStream(tls, self._addresses)
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


_HAS_SENDFILE = hasattr(os, "sendfile")

# What a call on a socket with a zero timeout (non-blocking) raises when it would wait.
_WOULD_WAIT = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def _would_wait(exc: OSError) -> TimeoutError:
    """A zero timeout makes the socket non-blocking: a call that would wait fails (EAGAIN, or
    TLS's want-read/want-write), which is that timeout passing (the async runtimes report a
    zero timeout so too)."""
    error = TimeoutError("timed out (a zero timeout: the call would have waited)")
    error.__cause__ = exc
    return error


class SharedTlsStream(SyncStream):
    """A TLS socket one thread reads while another writes: HTTP/2 (its reader and writer),
    or the records of a TLS session inside it.

    OpenSSL forbids using one SSL object from two threads at once (openssl/openssl#20446): a
    write racing a read can make the read report a false EOF. Here every SSL call runs under
    a lock on the non-blocking socket, and the waits for readiness run outside it, so a
    stalled write never holds up a read.
    """

    __slots__ = ("_lock",)

    def __init__(self, sock: ssl.SSLSocket, addresses: tuple[Any, Any] | None = None) -> None:
        super().__init__(sock, addresses)
        self._lock = threading.Lock()
        self._set_timeout(0.0)

    def _call(self, operation: Callable[[], Any], deadline: float | None) -> Any:
        while True:
            with self._lock:
                try:
                    return operation()
                except ssl.SSLWantReadError:
                    writable = False
                except ssl.SSLWantWriteError:
                    writable = True
            if not _wait_ready(self._sock, writable, remaining(deadline)):
                raise TimeoutError("The operation timed out")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes`; b"" when the peer closed."""
        try:
            data: bytes = self._call(partial(self._sock.recv, max_bytes), deadline_after(timeout))
        except OSError as exc:
            raise_mapped(exc, READ)
        return data

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        view, deadline = memoryview(data), deadline_after(timeout)
        try:
            while view:
                # (after SSLWantWriteError OpenSSL wants the same bytes again: `view` stays)
                view = view[self._call(partial(self._sock.send, view), deadline) :]
        except OSError as exc:
            raise_mapped(exc, WRITE)

    def is_readable(self) -> bool:
        with self._lock:
            if self._sock.pending():  # type: ignore[attr-defined]
                return True
        return socket_is_readable(self._sock)


def _wait_ready(sock: socket.socket, writable: bool, timeout: float | None) -> bool:
    """Wait until `sock` is readable (or writable); False when `timeout` passed first."""
    if _poll is None:  # pragma: no cover - Windows
        ready = select.select([] if writable else [sock], [sock] if writable else [], [], timeout)
        return bool(ready[0] or ready[1])
    poller = _poll()
    poller.register(sock, select.POLLOUT if writable else select.POLLIN)
    # (poll, unlike select, takes descriptors past FD_SETSIZE; its timeout is in ms)
    return bool(poller.poll(None if timeout is None else timeout * 1000))


_poll = getattr(select, "poll", None)


class SyncTlsStream(SocketExtraInfo):
    """TLS over another stream that is TLS itself (tls_bio.py), through that stream's read
    and write. A call's timeout bounds the whole call, however many records it moves.

    HTTP/2 reads in one thread while another writes: the TLS state is used under a lock (held
    for CPU work only), and the records it produces are queued under it and sent in that
    order by one thread at a time, so two writers never interleave or reorder records.
    """

    __slots__ = ("_inner", "_sending", "_state", "_tls", "_unsent")

    def __init__(self, inner: SyncStream | SyncTlsStream, tls: TlsBio) -> None:
        self._inner = inner
        self._tls = tls
        self._state = threading.Lock()
        self._sending = threading.Lock()
        self._unsent: list[bytes] = []
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
            stream = cls(inner, TlsBio(ssl_context, server_hostname))
            stream._pump(stream._tls.ssl_object.do_handshake, deadline_after(timeout))
        except Exception as exc:
            inner.close()
            handshake_failed(exc)
        except BaseException:
            inner.close()
            raise
        return stream

    def _pump(self, operation: Callable[[], Any], deadline: float | None) -> Any:
        """Run `operation` until it stops wanting the peer's bytes, moving records both ways
        (the handshake, or the one reader)."""
        tls, inner = self._tls, self._inner
        while True:
            with self._state:
                result, outgoing = tls.attempt(operation)
                if outgoing:
                    self._unsent.append(outgoing)
            if outgoing:
                self._send_unsent(deadline)
            if result is not WANT_READ:
                return result
            data = inner.read(RECORD_READ_SIZE, remaining(deadline))
            with self._state:
                tls.feed(data)

    def _send_unsent(self, deadline: float | None) -> None:
        with self._sending:
            with self._state:
                data = b"".join(self._unsent)
                self._unsent.clear()
            if data:
                self._inner.write(data, remaining(deadline))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes`; b"" when the peer closed."""
        try:
            data: bytes = self._pump(partial(self._tls.read, max_bytes), deadline_after(timeout))
        except OSError as exc:  # the TLS layer's errors, or the call's own timeout
            raise_mapped(exc, READ)
        return data

    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None:
        if not data:
            return
        try:
            with self._state:
                self._unsent.append(self._tls.encrypt(data))
            self._send_unsent(deadline_after(timeout))
        except OSError as exc:
            raise_mapped(exc, WRITE)

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncTlsStream:
        """TLS inside this one as well."""
        return SyncTlsStream.handshake(self, ssl_context, server_hostname, timeout)

    def is_readable(self) -> bool:
        """True when bytes wait in the TLS layer, or the stream below is readable."""
        return self._tls.has_buffered() or self._inner.is_readable()

    def _socket(self) -> socket.socket:
        return self._inner._socket()

    def _ssl_object(self) -> ssl.SSLObject:
        return self._tls.ssl_object

    def close(self) -> None:
        """Send close_notify if there is room for it at once, then close the stream below."""
        try:
            with self._state:
                self._unsent.append(self._tls.close_notify())
            self._send_unsent(deadline_after(_CLOSE_NOTIFY_WAIT))
        except Exception:  # (best effort: the connection may be broken already)
            pass
        self._inner.close()


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
