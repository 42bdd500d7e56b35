"""httpx, httpx2 and httplib: one pooled `Client`/`AsyncClient`, as httpx's docs recommend.

httplib is written against httpx's public API and gated by capability detection, so its rows
turn from "not yet" into numbers as soon as `Client`/`AsyncClient` land, with no bench change.
`load("httplib:armed")` is httplib with its resilience policies configured (see `ARMED`).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import IO, Any

from adapters.base import Adapter, ClientConfig, NotYet, Sink, Unsupported

PIECE = 64 * 1024  # an async file upload's read size


def armed_policies(lib: ModuleType) -> dict[str, Any]:
    """httplib's resilience policies (retries, a total deadline, a rate limit, a circuit
    breaker), all configured and none ever acting against a healthy local server: what they
    cost per request when they are not needed (issue 11's bar: at most 5% over plain)."""
    return {
        "retries": lib.Retry(total=3),
        "timeout": lib.Timeout(5.0, total=30.0),
        "rate_limit": lib.RateLimit(1e9),  # far above any rate one client reaches
        "circuit_breaker": lib.CircuitBreaker(),
    }


def _kwargs(lib: ModuleType, cfg: ClientConfig, armed: bool = False) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"verify": cfg.ssl_context()}
    if armed:
        kwargs.update(armed_policies(lib))
    if cfg.http2:
        kwargs["http2"] = True
        if not cfg.http1:
            kwargs["http1"] = False  # prior knowledge: h2c
    if cfg.proxy is not None:
        kwargs["proxy"] = cfg.proxy
    if cfg.no_timeouts:
        kwargs["timeout"] = None
    if cfg.max_connections is not None:
        n = cfg.max_connections
        kwargs["limits"] = lib.Limits(max_connections=n, max_keepalive_connections=n)
    return kwargs


class _Sync:
    def __init__(self, lib: ModuleType, cfg: ClientConfig, armed: bool) -> None:
        self.client = lib.Client(**_kwargs(lib, cfg, armed))

    def get(self, url: str) -> tuple[int, bytes]:
        r = self.client.get(url)
        return r.status_code, r.content

    def stream(self, url: str, sink: Sink) -> int:
        with self.client.stream("GET", url) as r:
            for chunk in r.iter_bytes():
                sink(chunk)
            return int(r.status_code)

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        r = self.client.post(url, content=body)
        return r.status_code, r.content

    def lines(self, url: str) -> tuple[int, int, int]:
        count = chars = 0
        with self.client.stream("GET", url) as r:
            for line in r.iter_lines():
                count += 1
                chars += len(line)
            return int(r.status_code), count, chars

    def post_file(self, url: str, f: IO[bytes], length: int) -> tuple[int, bytes]:
        r = self.client.post(url, content=f)
        return r.status_code, r.content

    def post_gen(
        self, url: str, pieces: Callable[[], Iterator[bytes]], length: int
    ) -> tuple[int, bytes]:
        r = self.client.post(url, content=pieces(), headers={"Content-Length": str(length)})
        return r.status_code, r.content

    def http_version(self, url: str) -> str:
        return str(self.client.get(url).http_version)

    def close(self) -> None:
        self.client.close()


class _Async:
    def __init__(self, lib: ModuleType, cfg: ClientConfig, armed: bool) -> None:
        self.client = lib.AsyncClient(**_kwargs(lib, cfg, armed))

    async def get(self, url: str) -> tuple[int, bytes]:
        r = await self.client.get(url)
        return r.status_code, r.content

    async def stream(self, url: str, sink: Sink) -> int:
        async with self.client.stream("GET", url) as r:
            async for chunk in r.aiter_bytes():
                sink(chunk)
            return int(r.status_code)

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        r = await self.client.post(url, content=body)
        return r.status_code, r.content

    async def lines(self, url: str) -> tuple[int, int, int]:
        count = chars = 0
        async with self.client.stream("GET", url) as r:
            async for line in r.aiter_lines():
                count += 1
                chars += len(line)
            return int(r.status_code), count, chars

    async def post_file(self, url: str, f: IO[bytes], length: int) -> tuple[int, bytes]:
        # An AsyncClient takes no blocking file: the file is read by an async generator.
        async def pieces() -> AsyncIterator[bytes]:
            while piece := f.read(PIECE):
                yield piece

        return await self.post_gen(url, pieces, length)

    async def post_gen(
        self, url: str, pieces: Callable[[], AsyncIterator[bytes]], length: int
    ) -> tuple[int, bytes]:
        headers = {"Content-Length": str(length)}
        r = await self.client.post(url, content=pieces(), headers=headers)
        return r.status_code, r.content

    async def http_version(self, url: str) -> str:
        return str((await self.client.get(url)).http_version)

    async def close(self) -> None:
        await self.client.aclose()


class HttpxLike(Adapter):
    def __init__(self, lib: ModuleType, ours: bool, armed: bool = False) -> None:
        self.lib = lib
        self.armed = armed
        # A capability httplib lacks today is "not yet"; one a peer lacks is "unsupported".
        self.gap: type[Exception] = NotYet if ours else Unsupported

    def _need(self, name: str) -> None:
        if not hasattr(self.lib, name):
            raise self.gap(f"no {self.lib.__name__}.{name} yet")

    def _need_policies(self) -> None:
        if self.armed:
            for name in ("Retry", "RateLimit", "CircuitBreaker"):
                self._need(name)

    def open_sync(self, cfg: ClientConfig) -> _Sync:
        self._need("Client")
        self._need_policies()
        return _Sync(self.lib, cfg, self.armed)

    async def open_async(self, cfg: ClientConfig) -> _Async:
        self._need("AsyncClient")
        self._need_policies()
        return _Async(self.lib, cfg, self.armed)

    def create_close(self) -> None:
        self._need("Client")
        self.lib.Client().close()


def load(name: str) -> HttpxLike:
    """`module[:armed|:uvloop]`: the library, with its policies armed or on uvloop."""
    module, _, variant = name.partition(":")
    adapter = HttpxLike(
        importlib.import_module(module), ours=module == "httplib", armed=variant == "armed"
    )
    if variant == "uvloop":
        import uvloop

        adapter.loop_factory = uvloop.new_event_loop
    return adapter
