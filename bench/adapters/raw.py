"""The ceiling: minimal HTTP/1.1 clients written only to measure the limit of this machine.

A prebuilt request, a Content-Length body and nothing else: no header parsing beyond status and
length, no chunked encoding, no redirects. Every library row is reported as a fraction of these.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import deque
from urllib.parse import urlsplit

from adapters.base import Adapter, ClientConfig, Sink, Unsupported

RECV = 256 * 1024
NO_H2 = "no raw HTTP/2 client: ceiling not measured"
NO_PROXY = "the ceiling speaks to the origin directly"


def _origin(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or 80, parts.path or "/"


def _head(method: str, host: str, port: int, path: str, length: int | None) -> bytes:
    extra = f"Content-Length: {length}\r\n" if length is not None else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()


def _parse_head(head: bytes) -> tuple[int, int]:
    """Status code and Content-Length of a response head (without the blank line)."""
    start = head.lower().find(b"\r\ncontent-length:")
    if start < 0:
        raise ValueError(f"no Content-Length in {head[:200]!r}")
    end = head.find(b"\r\n", start + 2)
    return int(head[9:12]), int(head[start + 17 : end if end > 0 else None])


class _SyncConn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def exchange(self, head: bytes, body: bytes, sink: Sink | None) -> tuple[int, bytes]:
        sock = self.sock
        sock.sendall(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            sock.sendall(body)
        buf = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(RECV)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        status, length = _parse_head(buf[:end])
        rest = buf[end + 4 :]
        if sink is not None:
            return status, self._drain(rest, length, sink)
        body_buf = bytearray(length)
        body_buf[: len(rest)] = rest
        view, got = memoryview(body_buf), len(rest)
        while got < length:
            n = sock.recv_into(view[got:])
            if not n:
                raise ConnectionError("server closed the connection")
            got += n
        return status, bytes(body_buf) if length < 65536 else body_buf  # type: ignore[return-value]

    def _drain(self, rest: bytes, length: int, sink: Sink) -> bytes:
        if rest:
            sink(rest)
        remaining = length - len(rest)
        while remaining:
            chunk = self.sock.recv(min(remaining, RECV))
            if not chunk:
                raise ConnectionError("server closed the connection")
            sink(chunk)
            remaining -= len(chunk)
        return b""


class _RawSync:
    """Blocking socket loop; one connection per origin per thread (8 threads, 8 connections)."""

    def __init__(self, cfg: ClientConfig) -> None:
        self.ctx = cfg.ssl_context()
        self.local = threading.local()
        self.heads: dict[tuple[str, str, int], tuple[bytes, tuple[str, str, int]]] = {}

    def _conn(self, origin: tuple[str, str, int]) -> _SyncConn:
        conns: dict[tuple[str, str, int], _SyncConn] = self.local.__dict__.setdefault("conns", {})
        conn = conns.get(origin)
        if conn is None:
            scheme, host, port = origin
            sock = socket.create_connection((host, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self.ctx.wrap_socket(sock, server_hostname=host)
            conn = conns[origin] = _SyncConn(sock)
        return conn

    def _prep(
        self, method: str, url: str, length: int | None
    ) -> tuple[bytes, tuple[str, str, int]]:
        key = (method, url, length or 0)
        cached = self.heads.get(key)
        if cached is None:
            scheme, host, port, path = _origin(url)
            cached = self.heads[key] = (
                _head(method, host, port, path, length),
                (scheme, host, port),
            )
        return cached

    def get(self, url: str) -> tuple[int, bytes]:
        head, origin = self._prep("GET", url, None)
        return self._conn(origin).exchange(head, b"", None)

    def stream(self, url: str, sink: Sink) -> int:
        head, origin = self._prep("GET", url, None)
        return self._conn(origin).exchange(head, b"", sink)[0]

    def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        head, origin = self._prep("POST", url, len(body))
        return self._conn(origin).exchange(head, body, None)

    def http_version(self, url: str) -> str:
        raise Unsupported(NO_H2)

    def close(self) -> None:
        for conn in self.local.__dict__.get("conns", {}).values():
            conn.sock.close()


class _Proto(asyncio.Protocol):
    """One connection; one request in flight at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.fut: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = transport  # type: ignore[assignment]

    def exchange(
        self, head: bytes, body: bytes, sink: Sink | None
    ) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.fut = asyncio.get_running_loop().create_future()
        self.sink, self.buf, self.remaining, self.status = sink, b"", -1, 0
        self.parts: list[bytes] = []
        self.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.transport.write(body)
        return self.fut

    def data_received(self, data: bytes) -> None:
        if self.remaining < 0:
            buf = self.buf + data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            self.status, self.remaining = _parse_head(buf[:end])
            data, self.buf = buf[end + 4 :], b""
        if data:
            self.remaining -= len(data)
            if self.sink is not None:
                self.sink(data)
            else:
                self.parts.append(data)
        if self.remaining == 0 and self.fut is not None:
            self.fut.set_result((self.status, b"".join(self.parts)))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(exc or ConnectionError("server closed the connection"))


class _Pool:
    """At most `limit` connections to one origin; waiters are served first-come first-served."""

    def __init__(self, origin: tuple[str, str, int], ctx: ssl.SSLContext, limit: int) -> None:
        self.origin, self.ctx, self.limit = origin, ctx, limit
        self.idle: list[_Proto] = []
        self.count = 0
        self.waiters: deque[asyncio.Future[_Proto]] = deque()

    async def acquire(self) -> _Proto:
        if self.idle:
            return self.idle.pop()
        loop = asyncio.get_running_loop()
        if self.count < self.limit:
            self.count += 1
            scheme, host, port = self.origin
            tls = self.ctx if scheme == "https" else None
            try:
                _, proto = await loop.create_connection(_Proto, host, port, ssl=tls)
            except BaseException:
                self.count -= 1
                raise
            return proto
        waiter: asyncio.Future[_Proto] = loop.create_future()
        self.waiters.append(waiter)
        return await waiter

    def release(self, proto: _Proto) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(proto)
                return
        self.idle.append(proto)


class _RawAsync:
    """`asyncio.Protocol` client with N pooled connections (N = max_connections, default 100)."""

    def __init__(self, cfg: ClientConfig) -> None:
        self.ctx = cfg.ssl_context()
        self.limit = cfg.max_connections or 100
        self.pools: dict[tuple[str, str, int], _Pool] = {}
        self.heads: dict[tuple[str, str, int], tuple[bytes, _Pool]] = {}

    def _prep(self, method: str, url: str, length: int | None) -> tuple[bytes, _Pool]:
        key = (method, url, length or 0)
        cached = self.heads.get(key)
        if cached is None:
            scheme, host, port, path = _origin(url)
            origin = (scheme, host, port)
            pool = self.pools.setdefault(origin, _Pool(origin, self.ctx, self.limit))
            cached = self.heads[key] = (_head(method, host, port, path, length), pool)
        return cached

    async def _exchange(
        self, head: bytes, pool: _Pool, body: bytes, sink: Sink | None
    ) -> tuple[int, bytes]:
        proto = await pool.acquire()
        result = await proto.exchange(head, body, sink)
        pool.release(proto)
        return result

    async def get(self, url: str) -> tuple[int, bytes]:
        head, pool = self._prep("GET", url, None)
        return await self._exchange(head, pool, b"", None)

    async def stream(self, url: str, sink: Sink) -> int:
        head, pool = self._prep("GET", url, None)
        return (await self._exchange(head, pool, b"", sink))[0]

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        head, pool = self._prep("POST", url, len(body))
        return await self._exchange(head, pool, body, None)

    async def http_version(self, url: str) -> str:
        raise Unsupported(NO_H2)

    async def close(self) -> None:
        for pool in self.pools.values():
            for proto in pool.idle:
                if proto.transport is not None:
                    proto.transport.close()


class Raw(Adapter):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "uvloop":
            import uvloop

            self.loop_factory = uvloop.new_event_loop
        if kind == "sync":
            self.no_async = "the blocking ceiling; see raw-asyncio"
        else:
            self.no_sync = "the asyncio ceiling; see raw-sync"

    def open_sync(self, cfg: ClientConfig) -> _RawSync:
        if self.no_sync:
            raise Unsupported(self.no_sync)
        if cfg.http2:
            raise Unsupported(NO_H2)
        if cfg.proxy is not None:
            raise Unsupported(NO_PROXY)
        return _RawSync(cfg)

    async def open_async(self, cfg: ClientConfig) -> _RawAsync:
        if self.no_async:
            raise Unsupported(self.no_async)
        if cfg.http2:
            raise Unsupported(NO_H2)
        if cfg.proxy is not None:
            raise Unsupported(NO_PROXY)
        return _RawAsync(cfg)


def load(kind: str) -> Raw:
    return Raw(kind)
