"""requests and niquests: one `Session`, as their docs recommend (niquests also `AsyncSession`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import IO, Any

from adapters.base import Adapter, ClientConfig, Sink, Unsupported

CHUNK = 64 * 1024


def _version(raw: Any) -> str:
    # requests exposes urllib3's int (11); niquests its own int (11, 20, 30).
    return {10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2", 30: "HTTP/3"}.get(raw, str(raw))


class _Sync:
    def __init__(self, lib: ModuleType, cfg: ClientConfig) -> None:
        if lib.__name__ == "niquests":
            n = cfg.max_connections
            self.session = lib.Session(**({"pool_maxsize": n} if n else {}))
        else:
            self.session = lib.Session()
            if cfg.max_connections:
                adapter = lib.adapters.HTTPAdapter(pool_maxsize=cfg.max_connections)
                self.session.mount("http://", adapter)
                self.session.mount("https://", adapter)
        self.session.verify = cfg.ca_file
        if cfg.proxy is not None:
            self.session.proxies = {"http": cfg.proxy, "https": cfg.proxy}
        self.niquests = lib.__name__ == "niquests"

    def get(self, url: str) -> tuple[int, bytes]:
        r = self.session.get(url)
        return int(r.status_code), r.content

    def stream(self, url: str, sink: Sink) -> int:
        with self.session.get(url, stream=True) as r:
            for chunk in r.iter_content(CHUNK):
                sink(chunk)
            return int(r.status_code)

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        r = self.session.post(url, data=body)
        return int(r.status_code), r.content

    def lines(self, url: str) -> tuple[int, int, int]:
        # Lines as requests hands them out: bytes, split on \r and \n.
        count = chars = 0
        with self.session.get(url, stream=True) as r:
            for line in r.iter_lines(CHUNK):
                count += 1
                chars += len(line)
            return int(r.status_code), count, chars

    def post_file(self, url: str, f: IO[bytes], length: int) -> tuple[int, bytes]:
        r = self.session.post(url, data=f)
        return int(r.status_code), r.content

    def post_gen(
        self, url: str, pieces: Callable[[], Iterator[bytes]], length: int
    ) -> tuple[int, bytes]:
        # requests sends a generator chunked even with a Content-Length header given (both
        # headers, which nginx refuses); the bench server's answer needs the length.
        raise Unsupported("a generator body is always sent chunked")

    def http_version(self, url: str) -> str:
        r = self.session.get(url)
        return _version(r.http_version if self.niquests else r.raw.version)

    def close(self) -> None:
        self.session.close()


class _Async:
    def __init__(self, lib: ModuleType, cfg: ClientConfig) -> None:
        n = cfg.max_connections
        self.session = lib.AsyncSession(**({"pool_maxsize": n} if n else {}))
        self.session.verify = cfg.ca_file
        if cfg.proxy is not None:
            self.session.proxies = {"http": cfg.proxy, "https": cfg.proxy}

    async def get(self, url: str) -> tuple[int, bytes]:
        r = await self.session.get(url)
        return int(r.status_code), r.content

    async def stream(self, url: str, sink: Sink) -> int:
        r = await self.session.get(url, stream=True)
        async for chunk in await r.iter_content(CHUNK):
            sink(chunk)
        return int(r.status_code)

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        r = await self.session.post(url, data=body)
        return int(r.status_code), r.content

    async def http_version(self, url: str) -> str:
        return _version((await self.session.get(url)).http_version)

    async def close(self) -> None:
        await self.session.close()


class RequestsLike(Adapter):
    def __init__(self, lib: ModuleType) -> None:
        self.lib = lib
        if not hasattr(lib, "AsyncSession"):
            self.no_async = "sync only"

    def open_sync(self, cfg: ClientConfig) -> _Sync:
        self._check_protocol(cfg)
        return _Sync(self.lib, cfg)

    async def open_async(self, cfg: ClientConfig) -> _Async:
        if self.no_async:
            raise Unsupported(self.no_async)
        self._check_protocol(cfg)
        return _Async(self.lib, cfg)

    def _check_protocol(self, cfg: ClientConfig) -> None:
        if cfg.http2 and self.lib.__name__ == "requests":
            raise Unsupported("no HTTP/2 support")
        if cfg.http2 and not cfg.http1:
            # niquests negotiates h2 by ALPN only; on an h2c port it speaks HTTP/1.1.
            raise Unsupported("no HTTP/2 with prior knowledge (h2c)")

    def create_close(self) -> None:
        self.lib.Session().close()


def load(name: str) -> RequestsLike:
    return RequestsLike(importlib.import_module(name))
