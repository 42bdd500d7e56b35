"""The `run` fixture of the backend conformance suite: a case written once as a coroutine
against the async stream interface runs on every runtime (the blocking backend through a thin
adapter; asyncio, uvloop and trio natively)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from httplib._core.plan import Endpoint
from httplib._io import asyncio_backend
from httplib._io.asyncio_backend import AsyncioBackend
from httplib._io.sync_backend import SyncBackend, SyncStream, SyncTlsStream
from httplib._io.trio_backend import TrioBackend
from support.runtimes import ALL_RUNTIMES, params, run_async


class SyncStreamAsAsync:
    """A blocking stream behind the async stream interface (each call blocks the loop)."""

    def __init__(self, stream: SyncStream | SyncTlsStream) -> None:
        self.stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, timeout)

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        self.stream.write(data, timeout)

    async def start_tls(
        self, ctx: ssl.SSLContext, hostname: str | None, timeout: float | None
    ) -> SyncStreamAsAsync:
        return SyncStreamAsAsync(self.stream.start_tls(ctx, hostname, timeout))

    def is_readable(self) -> bool:
        return self.stream.is_readable()

    def get_extra_info(self, name: str) -> Any:
        return self.stream.get_extra_info(name)

    async def aclose(self) -> None:
        self.stream.close()


class SyncBackendAsAsync:
    async def connect(self, endpoint: Endpoint, timeout: float | None = None) -> SyncStreamAsAsync:
        return SyncStreamAsAsync(SyncBackend().connect(endpoint, timeout))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


Case = Callable[[Any], Awaitable[None]]
Run = Callable[[Case], None]

BACKENDS: dict[str, Callable[[], Any]] = {
    "sync": SyncBackendAsAsync,
    "asyncio": AsyncioBackend,
    "uvloop": AsyncioBackend,
    "trio": TrioBackend,
}


@pytest.fixture(params=params(*ALL_RUNTIMES))
def run(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`run(case)`: `await case(backend)` on this runtime's loop ("sync" runs on asyncio).
    "asyncio-bio" and "uvloop-bio" (for a module's indirect parametrization) run TLS over TLS
    on memory BIOs even where the loop could stack its own TLS transports."""
    name: str = request.param
    if name.endswith("-bio"):
        monkeypatch.setattr(asyncio_backend, "_loop_nests_tls", lambda loop: False)
        name = name.removesuffix("-bio")

    def run_case(case: Case) -> None:
        async def main() -> None:
            await case(BACKENDS[name]())

        run_async("asyncio" if name == "sync" else name, main)

    return run_case
