"""Resources after many failures: every failing request closes its socket at once, on every
runtime, whatever failed (refused, reset, garbage, truncated, bad gzip, TLS rejected, connect
and read timeouts, cancellation).

A socket or transport left for the garbage collector warns (ResourceWarning, "unclosed
transport" or "unclosed socket") when collected; `filterwarnings = error` turns that into a
failure. Each loop ends with a collection, and where the platform lists open descriptors the
count must come back to where it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any

import pytest
import trio

from faults.conftest import Fault, assert_pool_clean, cancelled_after, pool_counts
from httplib._config import Limits, Timeout
from httplib._exceptions import (
    ConnectError,
    ConnectTimeout,
    DecodingError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
)
from servers.raw import read_request_head, read_until, scripted_server
from support.runtimes import gather

# Rounds of the whole set of failures: enough that a path leaking now and then shows, and few
# enough that a runtime's loop stays around a second.
ROUNDS = 12
SHORT = 0.02  # the timeouts the timing-out cases run into


def _open_fds() -> int | None:
    """How many descriptors this process holds, where the platform says (Linux)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return None


def _reset(conn: socket.socket) -> None:
    read_until(conn, b"\r\n\r\n")
    # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _garbage(conn: socket.socket) -> None:
    read_until(conn, b"\r\n\r\n")
    conn.sendall(b"NOT HTTP\r\n\r\n")


def _truncated(conn: socket.socket) -> None:
    read_until(conn, b"\r\n\r\n")
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")


def _bad_gzip(conn: socket.socket) -> None:
    read_until(conn, b"\r\n\r\n")
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!")


def _silent(conn: socket.socket) -> None:
    # Says nothing until the client goes away (a TLS client waits for the handshake forever).
    read_until(conn, b"never")


def _plaintext(conn: socket.socket) -> None:
    # An HTTP/1.1 answer where the client expects a TLS ServerHello.
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _hang_up(conn: socket.socket) -> None:
    pass  # closes at once: the TLS client sees EOF before or during its handshake


def _ok(conn: socket.socket) -> None:
    read_until(conn, b"\r\n\r\n")
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


class Targets:
    """One server per failure, started once for the whole loop."""

    def __init__(self, stack: ExitStack, server_ssl_context: ssl.SSLContext) -> None:
        def start(handler: Callable[[socket.socket], None], **kw: Any) -> str:
            return str(stack.enter_context(scripted_server(handler, **kw)).url)

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        self.refused = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        listener.close()
        self.reset = start(_reset)
        self.garbage = start(_garbage)
        self.truncated = start(_truncated)
        self.bad_gzip = start(_bad_gzip)
        self.silent = start(_silent)
        # The client does not trust this certificate (it verifies with the system's CAs).
        self.untrusted = start(_ok, ssl_context=server_ssl_context)
        self.tls_stall = self.silent.replace("http://", "https://")
        self.plaintext = start(_plaintext).replace("http://", "https://")
        self.hang_up = start(_hang_up).replace("http://", "https://")
        self.ok = start(_ok)

    def cases(self) -> list[tuple[type[Exception], str, dict[str, Any]]]:
        """(error, url, request arguments) for each failure."""
        short_connect = {"timeout": Timeout(10.0, connect=SHORT)}
        return [
            (ConnectError, self.refused, {}),
            (ReadError, self.reset, {}),
            (RemoteProtocolError, self.garbage, {}),
            (RemoteProtocolError, self.truncated, {}),
            (DecodingError, self.bad_gzip, {}),
            (ConnectError, self.untrusted, {}),
            (ConnectError, self.plaintext, {}),
            (ConnectError, self.hang_up, {}),
            (ConnectTimeout, self.tls_stall, short_connect),
            (ReadTimeout, self.silent, {"timeout": Timeout(10.0, read=SHORT)}),
        ]


@pytest.fixture
def targets(server_ssl_context: ssl.SSLContext) -> Iterator[Targets]:
    with ExitStack() as stack:
        yield Targets(stack, server_ssl_context)


def test_many_failures_leave_no_socket_behind(fault: Fault, targets: Targets) -> None:
    cases = targets.cases()
    gc.collect()
    before = _open_fds()
    started = time.monotonic()

    def sync_script(client: Any) -> None:
        for _ in range(ROUNDS):
            for error, url, kwargs in cases:
                with pytest.raises(error):
                    client.get(url, **kwargs)
        assert_pool_clean(client)
        assert client.get(targets.ok).status_code == 200

    async def async_script(client: Any) -> None:
        for _ in range(ROUNDS):
            for error, url, kwargs in cases:
                with pytest.raises(error):
                    await client.get(url, **kwargs)
            await _cancel_mid_request(fault.runtime, client, targets.silent)
            await _cancel_mid_request(fault.runtime, client, targets.tls_stall)
        assert_pool_clean(client)
        assert (await client.get(targets.ok)).status_code == 200

    fault.with_client(async_script if fault.is_async else sync_script)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"{len(cases) * ROUNDS} failures took {elapsed:.1f}s"
    gc.collect()  # an unclosed transport warns here, and the warning fails the test
    after = _open_fds()
    if before is not None and after is not None:
        # The servers' own sockets close on their threads; allow a few still closing.
        assert after - before <= 4, (before, after)


async def _cancel_mid_request(runtime: str, client: Any, url: str) -> None:
    """Cancel a request while it waits (for the TLS handshake or the response head) with its
    socket open."""
    await cancelled_after(runtime, SHORT, partial(client.get, url))


@pytest.mark.skipif(_open_fds() is None, reason="needs /proc/self/fd to count descriptors")
def test_the_socket_is_closed_when_the_error_reaches_the_caller(fault: Fault) -> None:
    """Closing is not left to a later callback of the loop (asyncio closes an aborted socket in
    one): when the failing call returns, its descriptor is gone. The servers hold their side
    open, so each failure adds exactly their one descriptor."""
    hold = threading.Event()
    arrived = threading.Semaphore(0)  # released once per connection the servers hold

    def garbage_then_hold(conn: socket.socket) -> None:
        arrived.release()
        read_until(conn, b"\r\n\r\n")
        conn.sendall(b"NOT HTTP\r\n\r\n")
        hold.wait(10)

    def hold_silently(conn: socket.socket) -> None:
        arrived.release()
        hold.wait(10)

    short_read = {"timeout": Timeout(10.0, read=SHORT)}
    short_connect = {"timeout": Timeout(10.0, connect=SHORT)}
    with scripted_server(garbage_then_hold) as garbage, scripted_server(hold_silently) as quiet:
        tls_quiet = quiet.url.replace("http://", "https://")
        cases = [
            (RemoteProtocolError, garbage.url, {}),
            (ReadTimeout, quiet.url, short_read),
            (ConnectTimeout, tls_quiet, short_connect),
        ]

        checks = 0

        def check(before: int) -> None:
            nonlocal checks
            checks += 1
            assert arrived.acquire(timeout=5)  # the server's side of it exists
            if checks > len(cases):
                assert _open_fds() == before + 1, "the client's socket is still open"

        # The first round warms up what a runtime opens once (uvloop's resolver thread pool
        # wakes through a descriptor of its own); the second is measured.
        def sync_script(client: Any) -> None:
            for error, url, kwargs in cases * 2:
                before = _open_fds() or 0
                with pytest.raises(error):
                    client.get(url, **kwargs)
                check(before)

        async def async_script(client: Any) -> None:
            for error, url, kwargs in cases * 2:
                before = _open_fds() or 0
                with pytest.raises(error):
                    await client.get(url, **kwargs)
                check(before)
            before = _open_fds() or 0
            await _cancel_mid_request(fault.runtime, client, quiet.url)
            check(before)

        try:
            fault.with_client(async_script if fault.is_async else sync_script)
        finally:
            hold.set()


def test_random_cancellation_under_contention_leaves_a_usable_pool(fault: Fault) -> None:
    """httpcore #1093's shape, bounded: 3 connections, 12 concurrent tasks, each cancelled after
    a random short delay (queued for a slot, connecting, writing, waiting for the head, reading
    the body). Afterwards no slot is owned by nobody, and every request of a last full wave
    succeeds without PoolTimeout. (Threads: 12 share the client,
    a third of their requests failing, httpcore #550 and #613.)"""
    import random

    rng = random.Random(1093)

    def slow_ok(conn: socket.socket) -> None:
        while True:
            head, _ = read_request_head(conn)
            if not head:
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
            conn.sendall(b"body")

    limits = Limits(max_connections=3)
    timeout = Timeout(5.0, pool=2.0)
    with scripted_server(slow_ok) as server, scripted_server(_garbage) as garbage:
        url = server.url + "/"

        async def one(client: Any, delay: float) -> None:
            if fault.runtime == "trio":
                with trio.move_on_after(delay):
                    await client.get(url)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client.get(url), delay)

        async def async_script(client: Any) -> None:
            for _ in range(6):
                delays = [rng.uniform(0, 0.01) for _ in range(12)]
                await gather(fault.runtime, [partial(one, client, d) for d in delays])
            counts = pool_counts(client)
            assert (counts["streams"], counts["waiting"], counts["connecting"]) == (0, 0, 0)
            results = await gather(fault.runtime, [partial(client.get, url) for _ in range(12)])
            assert [r.status_code for r in results] == [200] * 12

        def sync_script(client: Any) -> None:
            def worker(n: int) -> None:
                for i in range(10):
                    if (n + i) % 3 == 0:  # a failure holding one of the 3 slots meanwhile
                        with pytest.raises(RemoteProtocolError):
                            client.get(garbage.url)
                    else:
                        assert client.get(url).status_code == 200

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            assert_pool_clean(client)
            assert client.get(url).status_code == 200

        fault.with_client(
            async_script if fault.is_async else sync_script, limits=limits, timeout=timeout
        )
