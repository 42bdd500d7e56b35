"""The byte-stream interfaces every runtime implements: connect, read, write, start_tls, close.

Drivers depend on these protocols only, so a new runtime is one backend module and the
conformance suite in tests/io.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._core.effects import Runtime

__all__ = [
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "AsyncRuntimeBackend",
    "SocketOption",
    "SyncNetworkStream",
    "negotiated_alpn",
]

# `socket.setsockopt` arguments: (level, option, value) with an int, a buffer, or (None, len).
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


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
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream: ...
    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream: ...
    async def sleep(self, seconds: float) -> None: ...


class AsyncRuntimeBackend(AsyncNetworkBackend, Protocol):
    """An event loop's backend: streams, plus what the engine's flows wait on."""

    def runtime(self) -> Runtime: ...
    async def wait(self, waker: Any, timeout: float | None) -> bool: ...
    def shield(self) -> AbstractContextManager[Any]: ...


def negotiated_alpn(stream: SyncNetworkStream | AsyncNetworkStream) -> str | None:
    """The protocol TLS negotiated by ALPN on `stream` ("h2", "http/1.1"), None without TLS."""
    ssl_object = stream.get_extra_info("ssl_object")
    return None if ssl_object is None else ssl_object.selected_alpn_protocol()
