"""urllib3: one `PoolManager`, as its docs recommend; blocking only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

import urllib3

from adapters.base import Adapter, ClientConfig, Sink, Unsupported

CHUNK = 64 * 1024


class _Sync:
    def __init__(self, cfg: ClientConfig) -> None:
        kwargs: dict[str, Any] = {"ca_certs": cfg.ca_file}
        if cfg.max_connections is not None:
            # urllib3's docs: raise maxsize to the number of threads sharing the pool.
            kwargs["maxsize"] = cfg.max_connections
        if cfg.proxy is not None:
            self.pool: urllib3.PoolManager = urllib3.ProxyManager(cfg.proxy, **kwargs)
        else:
            self.pool = urllib3.PoolManager(**kwargs)

    def get(self, url: str) -> tuple[int, bytes]:
        r = self.pool.request("GET", url)
        return r.status, r.data

    def stream(self, url: str, sink: Sink) -> int:
        r = self.pool.request("GET", url, preload_content=False)
        for chunk in r.stream(CHUNK):
            sink(chunk)
        r.release_conn()
        return r.status

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        r = self.pool.request("POST", url, body=body)
        return r.status, r.data

    def post_file(self, url: str, f: IO[bytes], length: int) -> tuple[int, bytes]:
        r = self.pool.request("POST", url, body=f, headers={"Content-Length": str(length)})
        return r.status, r.data

    def post_gen(
        self, url: str, pieces: Callable[[], Iterator[bytes]], length: int
    ) -> tuple[int, bytes]:
        headers = {"Content-Length": str(length)}
        r = self.pool.request("POST", url, body=pieces(), headers=headers)
        return r.status, r.data

    def http_version(self, url: str) -> str:
        raise Unsupported("no HTTP/2 support")

    def close(self) -> None:
        self.pool.clear()


class Urllib3(Adapter):
    no_async = "sync only"

    def open_sync(self, cfg: ClientConfig) -> _Sync:
        if cfg.http2:
            raise Unsupported("no HTTP/2 support")
        return _Sync(cfg)

    def create_close(self) -> None:
        urllib3.PoolManager().clear()


def load(_: str) -> Urllib3:
    return Urllib3()
