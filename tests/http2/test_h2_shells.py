"""The HTTP/2 connection flows (`Http2Connection`) run by the real drivers (threads, asyncio,
trio) against the scripted h2 peer."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trustme

from httplib._config import Limits
from httplib._core.effects import READ, WAIT, Flow
from httplib._core.h2_connection import Http2Connection
from httplib._core.http2 import ResponseProgress
from httplib._core.plan import ConnectionConfig, Endpoint
from httplib._core.resend import is_refused
from httplib._exceptions import RemoteProtocolError
from httplib._io import sync_driver
from httplib._io.async_driver import AsyncDriver
from httplib._io.sync_backend import SyncBackend
from servers.h2_peer import H2Peer, run_h2_peer
from support.stepping import no_pool_changes
from transport.transport_harness import Mode

Head = tuple[bytes, bytes, bytes, bytes, list[tuple[bytes, bytes]]]


def get(path: bytes) -> Head:
    return (b"GET", b"http", b"127.0.0.1", path, [])


class Conn:
    """One `Http2Connection` run by a real driver, behind a coroutine API whatever the runtime."""

    def __init__(self, mode: str, peer: H2Peer) -> None:
        self.mode = mode
        self.peer = peer
        self.raw: Any = None
        self.blocked: Any = None  # asyncio: set when a flow first waits on the connection

    async def open(self) -> int:
        if self.mode == "sync":
            stream = SyncBackend().connect(Endpoint("127.0.0.1", self.peer.port), 5)
            runtime = sync_driver.SyncDriver(ConnectionConfig(None), Limits()).engine.runtime
            self.raw = Http2Connection(stream, runtime, no_pool_changes)
            return sync_driver.run(self.raw.handshake(5))  # type: ignore[no-any-return]
        driver = AsyncDriver(ConnectionConfig(None), Limits())
        engine = driver._start()
        if self.mode == "asyncio":
            self.blocked = asyncio.Event()
            driver._perform = self._signalling(driver._perform)
        self.driver = driver
        stream = await driver.run(_connect(self.peer.port))
        self.raw = Http2Connection(stream, engine.runtime, no_pool_changes)
        max_streams: int = await driver.run(self.raw.handshake(5))
        if self.blocked is not None:
            self.blocked.clear()  # (the handshake read)
        return max_streams

    def _signalling(self, perform: tuple[Any, ...]) -> tuple[Any, ...]:
        table = list(perform)
        for kind in (READ, WAIT):
            original = table[kind]

            def signal(effect: Any, original: Any = original) -> Any:
                self.blocked.set()
                return original(effect)

            table[kind] = signal
        return tuple(table)

    async def call(self, name: str, *args: Any) -> Any:
        flow = getattr(self.raw, name)(*args)
        if self.mode == "sync":
            return sync_driver.run(flow)
        return await self.driver.run(flow)

    async def request(self, head: Head, body: bytes | None = None) -> ResponseProgress:
        progress = ResponseProgress()
        sid = await self.call("start", head, body, None, 5, progress)
        try:
            while not progress.ended:
                await self.call("receive", sid, progress, 5)
        finally:
            await self.call("close_stream", sid)
        return progress

    async def close(self) -> None:
        stream = self.raw.stream
        if self.mode == "sync":
            stream.close()
        else:
            await stream.aclose()

    async def gather(self, factories: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        return await Mode(self.mode).gather(factories)


def run(mode: str, case: Callable[[], Awaitable[None]]) -> None:
    if mode == "trio":
        trio.run(case)
    else:
        asyncio.run(case())


MODES = ["sync", "asyncio", "trio"]


@pytest.mark.parametrize("mode", MODES)
def test_many_concurrent_streams_share_one_connection(mode: str) -> None:
    with run_h2_peer(answer_after=100) as peer:

        async def case() -> None:
            conn = Conn(mode, peer)
            assert await conn.open() == 100
            paths = [b"/bytes/%d" % (i * 100) for i in range(100)]
            results = await conn.gather([lambda p=p: conn.request(get(p)) for p in paths])
            assert [b"".join(r.chunks) for r in results] == [b"x" * (i * 100) for i in range(100)]
            assert peer.connections == 1
            assert peer.max_open_streams == 100  # all in flight at once
            await conn.close()

        run(mode, case)


@pytest.mark.parametrize("mode", ["sync", "asyncio"])
def test_large_download_and_upload_through_flow_control(mode: str) -> None:
    with run_h2_peer() as peer:

        async def case() -> None:
            conn = Conn(mode, peer)
            await conn.open()
            download = await conn.request(get(b"/bytes/8388608"))
            assert sum(map(len, download.chunks)) == 8 * 1024 * 1024
            upload = await conn.request((b"POST", b"http", b"h", b"/upload", []), b"u" * 4194304)
            assert upload.chunks == [b"4194304"]
            await conn.close()

        run(mode, case)


@pytest.mark.parametrize("mode", ["sync", "asyncio"])
def test_goaway_refuses_later_streams_and_finishes_earlier_ones(mode: str) -> None:
    with run_h2_peer(goaway_after=3, answer_after=3) as peer:

        async def case() -> None:
            conn = Conn(mode, peer)
            await conn.open()
            paths = [b"/p%d" % i for i in range(6)]
            results = await conn.gather([lambda p=p: conn.request(get(p)) for p in paths])
            done = [r for r in results if isinstance(r, ResponseProgress)]
            refused = [r for r in results if isinstance(r, Exception) and is_refused(r)]
            assert len(done) == 3
            assert len(refused) == 3
            assert {b"".join(r.chunks) for r in done} <= set(paths)
            assert conn.raw.state.goaway is not None
            await conn.close()

        run(mode, case)


@pytest.mark.parametrize("mode", ["sync", "asyncio"])
def test_rst_stream_fails_one_stream_only(mode: str) -> None:
    with run_h2_peer(answer_after=3) as peer:

        async def case() -> None:
            conn = Conn(mode, peer)
            await conn.open()
            paths = [b"/a", b"/reset", b"/b"]
            a, reset, b = await conn.gather([lambda p=p: conn.request(get(p)) for p in paths])
            assert isinstance(reset, RemoteProtocolError)
            assert "INTERNAL_ERROR" in str(reset)
            assert a.chunks == [b"/a"]
            assert b.chunks == [b"/b"]
            await conn.close()

        run(mode, case)


@pytest.mark.parametrize("mode", ["sync", "asyncio"])
def test_trailers(mode: str) -> None:
    with run_h2_peer() as peer:

        async def case() -> None:
            conn = Conn(mode, peer)
            await conn.open()
            progress = await conn.request(get(b"/trailers"))
            assert progress.chunks == [b"body"]
            assert progress.trailers == [(b"x-checksum", b"abc")]
            await conn.close()

        run(mode, case)


def test_cancelling_one_stream_resets_it_and_keeps_the_others() -> None:
    with run_h2_peer() as peer:

        async def case() -> None:
            conn = Conn("asyncio", peer)
            await conn.open()
            held = asyncio.create_task(conn.request(get(b"/hold")))
            await conn.blocked.wait()  # its HEADERS are out and it waits for the answer
            others = [asyncio.create_task(conn.request(get(b"/o%d" % i))) for i in range(5)]
            held.cancel()
            with pytest.raises(asyncio.CancelledError):
                await held
            results = await asyncio.gather(*others)
            assert [r.chunks for r in results] == [[b"/o%d" % i] for i in range(5)]
            after = await conn.request(get(b"/after"))
            assert after.chunks == [b"/after"]
            assert (1, 8) in peer.resets_received  # stream 1, CANCEL
            await conn.close()

        asyncio.run(case())


def test_tls_with_alpn_h2(tls_ca: trustme.CA) -> None:
    server_ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1").configure_cert(server_ssl_context)
    server_ssl_context.set_alpn_protocols(["h2"])
    client_ssl_context = ssl.create_default_context()
    tls_ca.configure_trust(client_ssl_context)
    client_ssl_context.set_alpn_protocols(["h2", "http/1.1"])
    with run_h2_peer(server_ssl_context) as peer:
        stream = SyncBackend().connect(Endpoint("127.0.0.1", peer.port), 5)
        stream = stream.start_tls(client_ssl_context, "127.0.0.1", 5)
        assert stream.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        runtime = sync_driver.SyncDriver(ConnectionConfig(None), Limits()).engine.runtime
        conn = Http2Connection(stream, runtime, no_pool_changes)
        sync_driver.run(conn.handshake(5))
        progress = ResponseProgress()
        head = (b"GET", b"https", b"127.0.0.1", b"/tls", [])
        sid = sync_driver.run(conn.start(head, None, None, 5, progress))
        while not progress.ended:
            sync_driver.run(conn.receive(sid, progress, 5))
        assert progress.chunks == [b"/tls"]
        stream.close()


def _connect(port: int) -> Flow:
    from httplib._core.effects import CONNECT

    return (yield (CONNECT, Endpoint("127.0.0.1", port), 5))
