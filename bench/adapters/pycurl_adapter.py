"""pycurl: one reused `Curl` easy handle (libcurl keeps its connection alive); blocking only."""

from __future__ import annotations

import io
from collections.abc import Callable

import pycurl

from adapters.base import Adapter, ClientConfig, Sink


class _Sync:
    def __init__(self, cfg: ClientConfig) -> None:
        self.curl = pycurl.Curl()
        self.curl.setopt(pycurl.CAINFO, cfg.ca_file)
        if cfg.http2:
            version = (
                pycurl.CURL_HTTP_VERSION_2TLS
                if cfg.http1
                else pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
            )
            self.curl.setopt(pycurl.HTTP_VERSION, version)
        if cfg.proxy is not None:
            self.curl.setopt(pycurl.PROXY, cfg.proxy)

    def _perform(self, url: str, write: Callable[[bytes], object]) -> int:
        c = self.curl
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.WRITEFUNCTION, write)
        c.perform()
        return int(c.getinfo(pycurl.RESPONSE_CODE))

    def get(self, url: str) -> tuple[int, bytes]:
        self.curl.setopt(pycurl.HTTPGET, 1)
        buf = io.BytesIO()
        status = self._perform(url, buf.write)
        return status, buf.getvalue()

    def stream(self, url: str, sink: Sink) -> int:
        self.curl.setopt(pycurl.HTTPGET, 1)
        return self._perform(url, sink)

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        self.curl.setopt(pycurl.POSTFIELDSIZE, len(body))
        self.curl.setopt(pycurl.POSTFIELDS, body)
        buf = io.BytesIO()
        status = self._perform(url, buf.write)
        return status, buf.getvalue()

    def http_version(self, url: str) -> str:
        self.get(url)
        version = self.curl.getinfo(pycurl.INFO_HTTP_VERSION)
        return "HTTP/2" if version == pycurl.CURL_HTTP_VERSION_2_0 else "HTTP/1.1"

    def close(self) -> None:
        self.curl.close()


class Pycurl(Adapter):
    no_async = "no asyncio API"

    def open_sync(self, cfg: ClientConfig) -> _Sync:
        return _Sync(cfg)

    def create_close(self) -> None:
        pycurl.Curl().close()

    def thread_safe(self) -> str | None:
        return "a Curl handle must not be shared between threads"


def load(_: str) -> Pycurl:
    return Pycurl()
