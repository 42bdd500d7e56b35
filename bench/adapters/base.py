"""What every client adapter provides, so the harness drives all clients the same way."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Sink = Callable[[bytes], None]


class NotYet(Exception):
    """httplib lacks the capability today; its row says "not yet" until it lands."""


class Unsupported(Exception):
    """The client cannot run this scenario by design (e.g. no HTTP/2 in aiohttp)."""


class Unavailable(Exception):
    """The client is not installed here (e.g. pycurl did not build)."""


@dataclass(frozen=True)
class ClientConfig:
    """Per-scenario settings; anything not set here stays at the client's own default."""

    ca_file: str
    http2: bool = False
    http1: bool = True  # False with http2: HTTP/2 with prior knowledge (h2c)
    max_connections: int | None = None
    proxy: str | None = None  # an http:// forward proxy every request goes through
    # No client-side timeouts (the scale rows: a request may queue for a pool slot far longer
    # than a default pool or connect timeout while tens of thousands are in flight).
    no_timeouts: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


class SyncClient(Protocol):
    def get(self, url: str) -> tuple[int, bytes]: ...
    def stream(self, url: str, sink: Sink) -> int: ...
    def post(self, url: str, body: bytes) -> tuple[int, bytes]: ...
    def http_version(self, url: str) -> str: ...
    def close(self) -> None: ...


class AsyncClient(Protocol):
    async def get(self, url: str) -> tuple[int, bytes]: ...
    async def stream(self, url: str, sink: Sink) -> int: ...
    async def post(self, url: str, body: bytes) -> tuple[int, bytes]: ...
    async def http_version(self, url: str) -> str: ...
    async def close(self) -> None: ...


class Adapter:
    """A client library as the bench sees it; subclasses override what the library can do."""

    # Set when the library has no asyncio API / no blocking API.
    no_sync: str | None = None
    no_async: str | None = None
    # Raised when a capability is missing: "not yet" for httplib, "unsupported" for peers.
    gap: type[Exception] = Unsupported
    # The event loop to run async scenarios on (None: asyncio's default loop).
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None

    def open_sync(self, cfg: ClientConfig) -> SyncClient:
        raise Unsupported(self.no_sync or "no sync API")

    async def open_async(self, cfg: ClientConfig) -> AsyncClient:
        raise Unsupported(self.no_async or "no async API")

    def create_close(self) -> None:
        """Build one client with its defaults, as a user would, and close it (scenario 9)."""
        raise Unsupported("no client object")

    async def acreate_close(self) -> None:
        raise Unsupported("no client object")

    def thread_safe(self) -> str | None:
        """None if one sync client may be shared by threads, else the reason it may not."""
        return None
