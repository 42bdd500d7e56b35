"""aiohttp: one `ClientSession` over a `TCPConnector`, as its docs recommend; asyncio only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import IO, Any

import aiohttp

from adapters.base import Adapter, ClientConfig, Sink, Unsupported

CHUNK = 64 * 1024
# nginx answers POST /upload from the Content-Length header before reading the body; aiohttp
# then stops sending a streamed body (a file or a generator) and the row would time nothing.
EARLY_ANSWER = "stops a streamed upload when the server answers early (nginx's /upload does)"


class _Async:
    def __init__(self, cfg: ClientConfig) -> None:
        kwargs: dict[str, Any] = {"ssl": cfg.ssl_context()}
        if cfg.max_connections is not None:
            kwargs["limit"] = cfg.max_connections
        # A session-wide proxy, as aiohttp's docs show (`ClientSession(proxy=...)`).
        extra: dict[str, Any] = {"proxy": cfg.proxy} if cfg.proxy is not None else {}
        if cfg.no_timeouts:
            extra["timeout"] = aiohttp.ClientTimeout(total=None)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(**kwargs), **extra)

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

    async def lines(self, url: str) -> tuple[int, int, int]:
        # aiohttp splits on b"\n" only and hands out bytes; each line is decoded here.
        count = chars = 0
        async with self.session.get(url) as r:
            async for line in r.content:
                count += 1
                chars += len(line.decode().rstrip("\r\n"))
            return r.status, count, chars

    async def post_file(self, url: str, f: IO[bytes], length: int) -> tuple[int, bytes]:
        raise Unsupported(EARLY_ANSWER)

    async def post_gen(
        self, url: str, pieces: Callable[[], AsyncIterator[bytes]], length: int
    ) -> tuple[int, bytes]:
        raise Unsupported(EARLY_ANSWER)

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


def load(loop: str) -> Aiohttp:
    """aiohttp on asyncio's default loop, or on uvloop when `loop` says so."""
    adapter = Aiohttp()
    if loop == "uvloop":
        import uvloop

        adapter.loop_factory = uvloop.new_event_loop
    return adapter
