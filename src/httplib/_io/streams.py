"""The stream interfaces: network streams every runtime implements (connect, read, write,
start_tls, close), and the response body streams the drivers hand to `Response`.

Drivers depend on these protocols only, so a new runtime is one backend module and the
conformance suite in tests/io.
"""

from __future__ import annotations

import select
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from .._headers import Headers
from .._models import Response
from .._types import AsyncByteStream, SyncByteStream
from .errors import CONNECT, raise_mapped

if TYPE_CHECKING:
    from .._core.effects import Flow, Runtime
    from .._core.engine import Http2Body, Http11Body, ResponseParts
    from .._core.plan import Endpoint

__all__ = [
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "AsyncResponseStream",
    "AsyncRuntimeBackend",
    "ResponseBody",
    "SocketOption",
    "SyncNetworkStream",
    "SyncResponseStream",
    "SocketExtraInfo",
    "set_socket_options",
    "socket_addresses",
    "socket_is_readable",
    "with_alpn",
    "read_into",
    "response_from",
]

# `socket.setsockopt` arguments: (level, option, value) with an int, a buffer, or (None, len).
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


async def read_into(stream: AsyncNetworkStream, parser: Any, max_bytes: int, timeout: Any) -> None:
    """The READ_INTO effect on any async stream: one read, fed to `parser`."""
    parser.feed(await stream.read(max_bytes, timeout))


class SyncNetworkStream(Protocol):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes: ...
    def write(self, data: bytes | memoryview, timeout: float | None = None) -> None: ...
    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SyncNetworkStream: ...
    def is_readable(self) -> bool: ...
    def get_extra_info(self, name: str) -> Any: ...
    def close(self) -> None: ...


class AsyncNetworkStream(Protocol):
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes: ...
    async def write(self, data: bytes | memoryview, timeout: float | None = None) -> None: ...
    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncNetworkStream: ...
    def is_readable(self) -> bool: ...
    def get_extra_info(self, name: str) -> Any: ...
    async def aclose(self) -> None: ...


class AsyncNetworkBackend(Protocol):
    async def connect(
        self, endpoint: Endpoint, timeout: float | None = None
    ) -> AsyncNetworkStream: ...
    async def sleep(self, seconds: float) -> None: ...


class AsyncRuntimeBackend(AsyncNetworkBackend, Protocol):
    """An event loop's backend: streams, plus what the engine's flows wait on."""

    def runtime(self) -> Runtime: ...
    async def wait(self, waker: Any, timeout: float | None) -> bool: ...
    def shield(self) -> AbstractContextManager[Any]: ...


def with_alpn(stream: Any) -> tuple[Any, str | None]:
    """A START_TLS result: the TLS stream and the protocol ALPN negotiated ("h2", "http/1.1")."""
    ssl_object = stream.get_extra_info("ssl_object")
    return stream, None if ssl_object is None else ssl_object.selected_alpn_protocol()


def set_socket_options(
    sock: Any, socket_options: Iterable[SocketOption] | None, close: Callable[[], object]
) -> None:
    """Apply `socket_options` to a new connection's socket; if one fails, `close()` the
    connection and raise `ConnectError` (the connection is unusable as configured)."""
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
    except OSError as exc:
        close()
        raise_mapped(exc, CONNECT)


def socket_is_readable(sock: Any) -> bool:
    """True when a read on `sock` (a socket or file descriptor) would not block: for an idle
    kept-alive connection, the server closed it (or sent bytes it should not have)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class SocketExtraInfo:
    """`get_extra_info` with httpcore's names, for a stream over a socket object.

    The addresses are read once, when the connection is made: `getpeername()` on a socket the
    server has since closed raises `OSError` (ENOTCONN, or EBADF once closed), and a response
    that outlived its connection must still say where it came from (the CLI's `-v` asks).
    """

    __slots__ = ("_addresses",)

    _addresses: tuple[Any, Any]

    def _capture_addresses(self, sock: Any, inherited: tuple[Any, Any] | None = None) -> None:
        """Remember (client_addr, server_addr) of `sock`; a TLS upgrade passes the plain
        stream's pair as `inherited`."""
        self._addresses = inherited or socket_addresses(sock)

    def _socket(self) -> Any:
        raise NotImplementedError

    def _ssl_object(self) -> Any:
        raise NotImplementedError

    def is_readable(self) -> bool:
        raise NotImplementedError

    def get_extra_info(self, name: str) -> Any:
        """`ssl_object`, `client_addr`, `server_addr`, `socket` or `is_readable`; else None.
        Never raises: after close, `socket` is the closed socket and the rest still answer."""
        if name == "ssl_object":
            return self._ssl_object()
        if name == "client_addr":
            return self._addresses[0]
        if name == "server_addr":
            return self._addresses[1]
        if name == "socket":
            return self._socket()
        if name == "is_readable":
            return self.is_readable()
        return None


def socket_addresses(sock: Any) -> tuple[Any, Any]:
    """(local address, peer address) of a connected socket; None for one it cannot tell (the
    peer may already have reset a just-made connection)."""
    try:
        local = sock.getsockname()
    except OSError:
        local = None
    try:
        peer = sock.getpeername()
    except OSError:
        peer = None
    return local, peer


class ResponseBody:
    """What both drivers' response streams share: the engine's body flow, and the runner
    (`sync_driver.run`, or the async driver's `run`) that performs its effects."""

    def __init__(self, run: Callable[[Flow], Any], body: Http11Body | Http2Body) -> None:
        self._run = run
        self._body = body

    def take_arrived(self) -> bytes | None:
        """The rest of the body when all of it has arrived (no read needed), else None."""
        return self._body.take_arrived()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._body!r}>"


def arrived_response(parts: ResponseParts, body: bytes) -> Response:
    """The `Response` for the engine's `parts` whose whole `body` arrived (`Engine.send`)."""
    return Response._arrived(parts[0], Headers._adopt(parts[1]), body, parts[2])


def response_from(parts: ResponseParts, stream: Any) -> Response:
    """The `Response` for the engine's `parts`, its body read through `stream`."""
    return Response._received(parts[0], Headers._adopt(parts[1]), stream, parts[2])


class SyncResponseStream(ResponseBody, SyncByteStream):
    """A response body read only as it is iterated; the end, an error or closing early gives
    the connection (or HTTP/2 stream) back."""

    def __iter__(self) -> Iterator[bytes]:
        body, run = self._body, self._run
        flow = body.chunks_flow()
        try:
            while (chunks := run(flow)) is not None:
                yield from chunks
        finally:
            if body.holds_connection:
                run(body.close())

    def close(self) -> None:
        if self._body.holds_connection:
            flow = self._body.release()
            if flow is not None:
                self._run(flow)


class AsyncResponseStream(ResponseBody, AsyncByteStream):
    """A response body read only as it is iterated; the end, an error, cancellation or closing
    early gives the connection (or HTTP/2 stream) back."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body, run = self._body, self._run
        flow = body.chunks_flow()
        try:
            while (chunks := await run(flow)) is not None:
                for chunk in chunks:
                    yield chunk
        finally:
            if body.holds_connection:
                await run(body.close())

    async def aclose(self) -> None:
        if self._body.holds_connection:
            flow = self._body.release()
            if flow is not None:
                await self._run(flow)
