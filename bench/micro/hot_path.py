"""µs per 1 KiB GET on a kept-alive loopback connection: httplib and httpx against raw sockets.

A keep-alive server in a separate process answers a prebuilt 1 KiB response to every request
head it sees; each row sends sequential requests over one connection (plus two rows at 16
concurrent requests). Rounds are interleaved and medians reported with the ratio of the raw
loop's time to the row's (1.0 = as fast as the raw loop), for wall time and for the client
process's CPU time (on a shared machine the wall time also counts waiting for a core). With 2+
cores the server and client are pinned to different ones. Run:

    python bench/micro/hot_path.py [--rounds N] [--requests N] [--profile]

`--profile` instead profiles `Client.get` against an in-memory fake socket (no kernel time),
printing the CPU per request plain and with every resilience policy armed but never triggered,
then the top functions by own time (of the armed client with `--armed`); `--profile-async`
does the same for the async rows over an in-memory asyncio transport. The "armed" rows
configure retries, a total deadline, a rate limit and a circuit breaker that never act.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing
import os
import pstats
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

import httplib
from httplib._models import Request

BODY = b"x" * 1024
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: bench\r\n"
    b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(BODY)
) + BODY
CONCURRENCY = 16
WIDE_CONCURRENCY = 128
# Issue 11's resilience policies, all configured, none of them ever acting (the rate is far
# above what one client sends, the breaker never sees a failure).
_ARMED: dict[str, Any] = {
    "retries": 3,
    "timeout": httplib.Timeout(5.0, total=30.0),
    "rate_limit": httplib.RateLimit(1e9),
    "circuit_breaker": httplib.CircuitBreaker(),
}


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {core})


class _Answer(asyncio.Protocol):
    """Answers RESPONSE to every `\\r\\n\\r\\n`-terminated request head (bodyless GETs only)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        count = buf.count(b"\r\n\r\n")
        if count:
            self.transport.write(RESPONSE * count)
            buf = buf[buf.rfind(b"\r\n\r\n") + 4 :]
        self.buf = buf


def _serve(sock: socket.socket) -> None:
    _pin(0)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Answer, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


# ----------------------------------------------------------------------------------- sync rows


def raw_sync(url: str, port: int, n: int) -> None:
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            sock.sendall(head)
            buf = b""
            while (end := buf.find(b"\r\n\r\n")) < 0:
                buf += sock.recv(65536)
            start = buf.lower().find(b"\r\ncontent-length:", 0, end)
            length = int(buf[start + 17 : buf.find(b"\r\n", start + 2)])
            body = buf[end + 4 :]
            while len(body) < length:
                body += sock.recv(65536)
            assert len(body) == length


def httplib_transport(url: str, port: int, n: int) -> None:
    with httplib.HTTPTransport() as transport:
        for _ in range(n):
            response = transport.handle_request(Request("GET", url))
            assert len(response.read()) == 1024


def httplib_client(url: str, port: int, n: int) -> None:
    with httplib.Client() as client:
        for _ in range(n):
            assert len(client.get(url).content) == 1024


def httplib_client_armed(url: str, port: int, n: int) -> None:
    with httplib.Client(**_ARMED) as client:
        for _ in range(n):
            assert len(client.get(url).content) == 1024


def httpx_client(url: str, port: int, n: int) -> None:
    with httpx.Client() as client:
        for _ in range(n):
            assert len(client.get(url).content) == 1024


# ---------------------------------------------------------------------------------- async rows


class _RawClient(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end >= 0 and self.waiter is not None:
            start = self.buf.lower().find(b"\r\ncontent-length:", 0, end)
            length = int(self.buf[start + 17 : self.buf.find(b"\r\n", start + 2)])
            if len(self.buf) - end - 4 >= length:
                self.buf = self.buf[end + 4 + length :]
                self.waiter.set_result(None)


async def raw_async(url: str, port: int, n: int) -> None:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_connection(_RawClient, "127.0.0.1", port)
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
    for _ in range(n):
        proto.waiter = loop.create_future()
        transport.write(head)
        await proto.waiter
    transport.close()


async def httplib_async(url: str, port: int, n: int) -> None:
    async with httplib.AsyncClient() as client:
        for _ in range(n):
            assert len((await client.get(url)).content) == 1024


async def httplib_async_armed(url: str, port: int, n: int) -> None:
    async with httplib.AsyncClient(**_ARMED) as client:
        for _ in range(n):
            assert len((await client.get(url)).content) == 1024


async def httpx_async(url: str, port: int, n: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(n):
            assert len((await client.get(url)).content) == 1024


async def _gather(client: Any, url: str, n: int, concurrency: int = CONCURRENCY) -> None:
    async def one() -> None:
        assert len((await client.get(url)).content) == 1024

    for _ in range(n // concurrency):
        await asyncio.gather(*(one() for _ in range(concurrency)))


async def httplib_async16(url: str, port: int, n: int) -> None:
    async with httplib.AsyncClient(limits=httplib.Limits(max_connections=CONCURRENCY)) as c:
        await _gather(c, url, n)


async def httplib_async128(url: str, port: int, n: int) -> None:
    """128 requests in flight over 16 connections: 112 of them wait on the pool each round."""
    async with httplib.AsyncClient(limits=httplib.Limits(max_connections=CONCURRENCY)) as c:
        await _gather(c, url, n, WIDE_CONCURRENCY)


async def httpx_async16(url: str, port: int, n: int) -> None:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY)) as c:
        await _gather(c, url, n)


Row = Callable[[str, int, int], Any]
ROWS: list[tuple[str, Row, str]] = [
    # (name, runner, raw row it is compared with)
    ("raw sync socket", raw_sync, "raw sync socket"),
    ("httplib HTTPTransport", httplib_transport, "raw sync socket"),
    ("httplib Client.get", httplib_client, "raw sync socket"),
    ("httplib Client.get armed", httplib_client_armed, "raw sync socket"),
    ("httpx Client.get", httpx_client, "raw sync socket"),
    ("raw asyncio Protocol", raw_async, "raw asyncio Protocol"),
    ("httplib AsyncClient.get", httplib_async, "raw asyncio Protocol"),
    ("httplib AsyncClient.get armed", httplib_async_armed, "raw asyncio Protocol"),
    ("httpx AsyncClient.get", httpx_async, "raw asyncio Protocol"),
    ("httplib async x16", httplib_async16, "raw asyncio Protocol"),
    ("httpx async x16", httpx_async16, "raw asyncio Protocol"),
    ("httplib async x128 (16 conns)", httplib_async128, "raw asyncio Protocol"),
]


def _measure(row: Row, url: str, port: int, n: int) -> tuple[float, float]:
    """Wall-clock and client-CPU µs per request of `n` requests.

    On a shared machine the wall time includes time the client waited for a core; its CPU time
    (user + system, this process only) is what the client itself spends per request.
    """
    start, cpu = time.perf_counter(), time.process_time()
    result = row(url, port, n)
    if isinstance(result, Awaitable):
        asyncio.run(result)  # type: ignore[arg-type]
    return (time.perf_counter() - start) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def run(rounds: int, requests: int) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(listener,))
    server.start()
    listener.close()
    _pin(1)
    try:
        walls: dict[str, list[float]] = {name: [] for name, _, _ in ROWS}
        cpus: dict[str, list[float]] = {name: [] for name, _, _ in ROWS}
        for _ in range(rounds):
            for name, row, _ in ROWS:
                wall, cpu = _measure(row, url, port, requests)
                walls[name].append(wall)
                cpus[name].append(cpu)
        wall_med = {name: statistics.median(values) for name, values in walls.items()}
        cpu_med = {name: statistics.median(values) for name, values in cpus.items()}
        print(f"medians of {rounds} rounds x {requests} requests; raw/row: 1.0 = as fast as raw")
        print(f"{'row':30} {'wall µs':>8} {'raw/row':>8} {'cpu µs':>8} {'raw/row':>8}")
        for name, _, raw in ROWS:
            print(
                f"{name:30} {wall_med[name]:8.1f} {wall_med[raw] / wall_med[name]:8.2f}"
                f" {cpu_med[name]:8.1f} {cpu_med[raw] / cpu_med[name]:8.2f}"
            )
    finally:
        server.terminate()
        server.join(5)


# ---------------------------------------------------------------------------------- profiling


class _FakeSocket:
    """An in-memory socket: every send is answered by RESPONSE on the next recv."""

    def __init__(self, *_: object) -> None:
        self.pending = 0
        # A real descriptor that never turns readable, for the pool's idle-connection probe.
        self._idle, self._peer = socket.socketpair()

    def fileno(self) -> int:
        return self._idle.fileno()

    def close(self) -> None:
        self._idle.close()
        self._peer.close()

    def sendall(self, data: bytes) -> None:
        self.pending += data.count(b"\r\n\r\n")

    send = sendall

    def recv(self, size: int) -> bytes:
        count, self.pending = self.pending, 0
        return RESPONSE * count

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _fake_rate(send: Callable[[], Any], requests: int) -> float:
    """CPU µs per call of `send`, best of three runs (no kernel time: the socket is fake)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(requests):
            send()
        best = min(best, (time.process_time() - start) / requests * 1e6)
    return best


def _transport_get(transport: httplib.HTTPTransport, url: str) -> bytes:
    return transport.handle_request(Request("GET", url)).read()


def profile(requests: int, armed_profile: bool = False) -> None:
    url = "http://127.0.0.1:9/"
    original = socket.create_connection
    socket.create_connection = lambda *a, **k: _FakeSocket()  # type: ignore[assignment]
    try:
        with httplib.HTTPTransport() as transport, httplib.Client() as client:
            client.get(url)
            bare = _fake_rate(lambda: _transport_get(transport, url), requests)
            full = _fake_rate(lambda: client.get(url), requests)
            print(f"fake socket CPU µs/req: HTTPTransport {bare:.1f}, Client.get {full:.1f}")
            print(f"client layer over the bare transport: {(full / bare - 1) * 100:.0f}%")
            with httplib.Client(**_ARMED) as armed_client:
                armed_client.get(url)
                armed = _fake_rate(lambda: armed_client.get(url), requests)
                print(
                    f"Client.get with retries, total deadline, rate limit and breaker armed but "
                    f"never triggered: {armed:.1f} ({(armed / full - 1) * 100:+.0f}% over plain)"
                )
                profiled = armed_client if armed_profile else client
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(requests):
                    profiled.get(url).read()
                profiler.disable()
    finally:
        socket.create_connection = original
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


class _FakeTransport(asyncio.Transport):
    """An in-memory asyncio transport: each write's request heads are answered by RESPONSE in
    the next loop iteration, as a socket's readiness would be (one delivery per iteration)."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._protocol = protocol
        self._pending = 0
        self._closing = False

    def write(self, data: Any) -> None:
        count = bytes(data).count(b"\r\n\r\n")
        if count and not self._pending:
            asyncio.get_running_loop().call_soon(self._deliver)
        self._pending += count

    def _deliver(self) -> None:
        count, self._pending = self._pending, 0
        if not self._closing:
            self._protocol.data_received(RESPONSE * count)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    abort = close

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


async def _fake_create_connection(factory: Callable[[], Any], *_: Any, **__: Any) -> Any:
    protocol = factory()
    transport = _FakeTransport(protocol)
    protocol.connection_made(transport)
    return transport, protocol


async def _async_fake_rates(requests: int) -> dict[str, float]:
    """CPU µs per request, best of three, of the async rows over `_FakeTransport`."""
    loop = asyncio.get_running_loop()
    loop.create_connection = _fake_create_connection  # type: ignore[assignment,method-assign]
    url = "http://127.0.0.1:9/"
    rows: dict[str, Callable[[str, int, int], Awaitable[None]]] = {
        "raw asyncio Protocol": raw_async,
        "httplib AsyncClient.get": httplib_async,
        "httplib AsyncClient.get armed": httplib_async_armed,
        "httplib async x16": httplib_async16,
    }  # (httpx's anyio streams need a real socket: compare with it on loopback only)
    rates = {}
    for name, row in rows.items():
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            await row(url, 9, requests)
            best = min(best, (time.process_time() - start) / requests * 1e6)
        rates[name] = best
    return rates


def profile_async(requests: int) -> None:
    """Fake-transport CPU µs/request of the async rows, then a profile of AsyncClient.get."""
    rates = asyncio.run(_async_fake_rates(requests))
    raw = rates["raw asyncio Protocol"]
    for name, rate in rates.items():
        print(f"fake transport CPU µs/req: {name:30} {rate:6.1f}  raw/row {raw / rate:.2f}")
    plain, armed = rates["httplib AsyncClient.get"], rates["httplib AsyncClient.get armed"]
    print(f"policies armed but never triggered: {(armed / plain - 1) * 100:+.0f}% over plain")

    async def profiled() -> None:
        asyncio.get_running_loop().create_connection = _fake_create_connection  # type: ignore
        await httplib_async("http://127.0.0.1:9/", 9, 10)
        profiler.enable()
        await httplib_async("http://127.0.0.1:9/", 9, requests)
        profiler.disable()

    profiler = cProfile.Profile()
    asyncio.run(profiled())
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-async", action="store_true")
    parser.add_argument("--armed", action="store_true", help="--profile the armed client")
    args = parser.parse_args()
    if args.profile_async:
        profile_async(args.requests)
    elif args.profile:
        profile(args.requests, args.armed)
    else:
        run(args.rounds, args.requests)


if __name__ == "__main__":
    main()
