"""httpx, httpx2 and httplib: one pooled `Client`/`AsyncClient`, as httpx's docs recommend.

httplib is written against httpx's public API and gated by capability detection, so its rows
turn from "not yet" into numbers as soon as `Client`/`AsyncClient` land, with no bench change.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from adapters.base import Adapter, ClientConfig, NotYet, Sink, Unsupported


def _kwargs(lib: ModuleType, cfg: ClientConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"verify": cfg.ssl_context()}
    if cfg.http2:
        kwargs["http2"] = True
    if cfg.max_connections is not None:
        n = cfg.max_connections
        kwargs["limits"] = lib.Limits(max_connections=n, max_keepalive_connections=n)
    return kwargs


class _Sync:
    def __init__(self, lib: ModuleType, cfg: ClientConfig) -> None:
        self.client = lib.Client(**_kwargs(lib, cfg))

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

    def http_version(self, url: str) -> str:
        return str(self.client.get(url).http_version)

    def close(self) -> None:
        self.client.close()


class _Async:
    def __init__(self, lib: ModuleType, cfg: ClientConfig) -> None:
        self.client = lib.AsyncClient(**_kwargs(lib, cfg))

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

    async def http_version(self, url: str) -> str:
        return str((await self.client.get(url)).http_version)

    async def close(self) -> None:
        await self.client.aclose()


class HttpxLike(Adapter):
    def __init__(self, lib: ModuleType, ours: bool) -> None:
        self.lib = lib
        # A capability httplib lacks today is "not yet"; one a peer lacks is "unsupported".
        self.gap: type[Exception] = NotYet if ours else Unsupported

    def _need(self, name: str) -> None:
        if not hasattr(self.lib, name):
            raise self.gap(f"no {self.lib.__name__}.{name} yet")

    def open_sync(self, cfg: ClientConfig) -> _Sync:
        self._need("Client")
        return _Sync(self.lib, cfg)

    async def open_async(self, cfg: ClientConfig) -> _Async:
        self._need("AsyncClient")
        return _Async(self.lib, cfg)

    def create_close(self) -> None:
        self._need("Client")
        self.lib.Client().close()


def load(name: str) -> HttpxLike:
    return HttpxLike(importlib.import_module(name), ours=name == "httplib")
