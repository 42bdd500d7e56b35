"""aiohttp: one `ClientSession` over a `TCPConnector`, as its docs recommend; asyncio only."""

from __future__ import annotations

from typing import Any

import aiohttp

from adapters.base import Adapter, ClientConfig, Sink, Unsupported

CHUNK = 64 * 1024


class _Async:
    def __init__(self, cfg: ClientConfig) -> None:
        kwargs: dict[str, Any] = {"ssl": cfg.ssl_context()}
        if cfg.max_connections is not None:
            kwargs["limit"] = cfg.max_connections
        # A session-wide proxy, as aiohttp's docs show (`ClientSession(proxy=...)`).
        proxy = {"proxy": cfg.proxy} if cfg.proxy is not None else {}
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(**kwargs), **proxy)

    async def get(self, url: str) -> tuple[int, bytes]:
        async with self.session.get(url) as r:
            return r.status, await r.read()

    async def stream(self, url: str, sink: Sink) -> int:
        async with self.session.get(url) as r:
            async for chunk in r.content.iter_chunked(CHUNK):
                sink(chunk)
            return r.status

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        async with self.session.post(url, data=body) as r:
            return r.status, await r.read()

    async def http_version(self, url: str) -> str:
        raise Unsupported("no HTTP/2 support")

    async def close(self) -> None:
        await self.session.close()


class Aiohttp(Adapter):
    no_sync = "asyncio only"

    async def open_async(self, cfg: ClientConfig) -> _Async:
        if cfg.http2:
            raise Unsupported("no HTTP/2 support")
        return _Async(cfg)

    async def acreate_close(self) -> None:
        await aiohttp.ClientSession().close()


def load(_: str) -> Aiohttp:
    return Aiohttp()
