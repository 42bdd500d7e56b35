"""TLS inside TLS, without I/O: one `ssl.SSLObject` over memory BIOs.

A socket that is TLS already (to an https:// proxy) cannot be wrapped again for the origin
inside its tunnel, and some event loops cannot stack their TLS transports. The inner session
then runs here: `attempt` runs one `SSLObject` operation and says what must go out and whether
it needs the peer's bytes first; `feed` hands it those. The shells
(`sync_backend.SyncTlsStream`, `asyncio_backend.AsyncioTlsStream`) only move the bytes, through
the outer stream's own read and write.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Final, NoReturn

from .._exceptions import TimeoutException
from .errors import HANDSHAKE_TIMED_OUT, INNER_HANDSHAKE, raise_mapped

__all__ = [
    "RECORD_READ_SIZE",
    "WANT_READ",
    "TlsBio",
    "deadline_after",
    "handshake_failed",
    "remaining",
]

# One TLS record's worth (RFC 8446 section 5.1: 2^14 bytes of plaintext plus overhead).
RECORD_READ_SIZE: Final = 17 * 1024


class _WantRead:
    def __repr__(self) -> str:
        return "WANT_READ"


WANT_READ: Final = _WantRead()
"""`TlsBio.attempt`'s result when the operation needs more of the peer's bytes first."""


class TlsBio:
    """The TLS state of one session whose records travel over another stream."""

    __slots__ = ("_incoming", "_outgoing", "ssl_object")

    def __init__(self, ssl_context: ssl.SSLContext, server_hostname: str | None) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.ssl_object = ssl_context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname
        )

    def attempt(self, operation: Callable[[], Any]) -> tuple[Any, bytes]:
        """Run `operation` (a method of `ssl_object`, or `read`): its result, or WANT_READ
        when it must be fed and run again; and the bytes to send now, in either case (a
        handshake sends before it waits). The TLS layer's own errors (`ssl.SSLError`)
        propagate for the shell to map for its phase."""
        try:
            result = operation()
        except ssl.SSLWantReadError:
            result = WANT_READ
        # (a memory BIO takes any amount, so SSLWantWriteError does not happen here)
        return result, self._outgoing.read()

    def encrypt(self, data: bytes | memoryview) -> bytes:
        """The records that carry `data`, to send in order after any produced before."""
        result, outgoing = self.attempt(partial(self.ssl_object.write, data))
        if result is WANT_READ:
            # Only a TLS 1.2 renegotiation makes a write wait for the peer; no HTTP client
            # allows one (RFC 9113 section 9.2.1 forbids it for HTTP/2), and a write that
            # read would race the connection's reader.
            raise ssl.SSLError("the server started a TLS renegotiation inside the tunnel")
        return outgoing

    def feed(self, data: bytes) -> None:
        """The peer's bytes, read from the stream below; b"" when it closed."""
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    def read(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` of plaintext (an operation for `attempt`); b"" at the peer's
        close_notify or at a close without one, as the outer TLS stream answers (it
        suppresses ragged EOFs): the HTTP parser decides whether that came too early."""
        try:
            return self.ssl_object.read(max_bytes)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    def has_buffered(self) -> bool:
        """Plaintext or records wait here: a read would not have to wait for the peer."""
        return bool(self.ssl_object.pending() or self._incoming.pending)

    def close_notify(self) -> bytes:
        """The close_notify alert to send (best effort: the peer's is never awaited)."""
        try:
            self.ssl_object.unwrap()
        except (ssl.SSLError, OSError):
            pass  # SSLWantReadError: waiting for the peer's alert, which we do not
        return self._outgoing.read()


def handshake_failed(exc: BaseException) -> NoReturn:
    """Raise what a TLS handshake over another stream raises when `exc` ended it:
    ConnectTimeout for a timeout (the call's, or the stream's read or write timeout),
    ConnectError for the TLS layer's errors and the stream's own."""
    raise_mapped(TimeoutError(HANDSHAKE_TIMED_OUT) if _timed_out(exc) else exc, INNER_HANDSHAKE)


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError | TimeoutException)


def deadline_after(timeout: float | None) -> float | None:
    """The monotonic time a call with `timeout` must end by (None: no bound)."""
    return None if timeout is None else time.monotonic() + timeout


def remaining(deadline: float | None) -> float | None:
    """Seconds left until `deadline`; TimeoutError once it has passed."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("The operation timed out")
    return left
