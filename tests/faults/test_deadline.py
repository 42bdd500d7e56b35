"""`Timeout(total=...)`: one deadline for the whole request, which per-phase timeouts cannot
give. A server that trickles its head or body a byte at a time keeps every read inside the read
timeout; the deadline stops it, with the phase's own exception and a message naming the
deadline, on every runtime, and leaves the pool clean."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from faults.conftest import Fault, assert_pool_clean
from faults.routes import OK, routed_server
from httplib._config import Limits, Timeout
from httplib._exceptions import PoolTimeout, ReadTimeout

TOTAL = 0.4
DEADLINE = Timeout(5.0, total=TOTAL)
# Bounded by the deadline plus slack for a loaded machine, far below the 5 s phase timeouts.
WITHIN = 3.0
NAMED = r"total deadline of 0\.4 s"


def _trickle(first: bytes, drip: bytes) -> Any:
    """A reply that sends `first`, then one `drip` every 20 ms until the client goes away
    (bounded at 10 s): each read gets a byte well inside any read timeout."""

    def reply(conn: socket.socket) -> None:
        conn.sendall(first)
        stop = time.monotonic() + 10
        stopped = threading.Event()
        while time.monotonic() < stop:
            try:
                conn.sendall(drip)
            except OSError:
                return
            stopped.wait(0.02)

    return reply


def test_a_trickled_head_is_stopped_by_the_deadline(fault: Fault) -> None:
    trickle = _trickle(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")
    with routed_server({"/slow": trickle}) as server:
        fault.expect(
            ReadTimeout,
            server.url + "/slow",
            match=NAMED,
            within=WITHIN,
            then=server.url + "/ok",
            client={"timeout": DEADLINE},
        )


def test_a_trickled_body_is_stopped_while_streaming(fault: Fault) -> None:
    trickle = _trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"b")
    with routed_server({"/slow": trickle}) as server:
        url = server.url + "/slow"

        def sync_script(client: Any) -> float:
            started = time.monotonic()
            with client.stream("GET", url) as response, pytest.raises(ReadTimeout, match=NAMED):
                for _ in response.iter_bytes():
                    pass
            assert_pool_clean(client)
            return time.monotonic() - started

        async def async_script(client: Any) -> float:
            started = time.monotonic()
            async with client.stream("GET", url) as response:
                with pytest.raises(ReadTimeout, match=NAMED):
                    async for _ in response.aiter_bytes():
                        pass
            assert_pool_clean(client)
            return time.monotonic() - started

        script = async_script if fault.is_async else sync_script
        elapsed = fault.with_client(script, timeout=DEADLINE)
    assert TOTAL * 0.9 <= elapsed < WITHIN


def test_waiting_for_a_pool_slot_counts(fault: Fault) -> None:
    hold = _trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"c")
    with routed_server({"/held": hold}) as server:
        url = server.url

        def sync_script(client: Any) -> None:
            with (
                client.stream("GET", url + "/held", timeout=Timeout(5.0)),
                pytest.raises(PoolTimeout, match=NAMED),
            ):
                client.get(url + "/ok")

        async def async_script(client: Any) -> None:
            async with client.stream("GET", url + "/held", timeout=Timeout(5.0)):
                with pytest.raises(PoolTimeout, match=NAMED):
                    await client.get(url + "/ok")

        script = async_script if fault.is_async else sync_script
        fault.with_client(script, timeout=DEADLINE, limits=Limits(max_connections=1))


def test_the_deadline_spans_redirects(fault: Fault) -> None:
    def slow_redirect(n: int) -> Any:
        def reply(conn: socket.socket) -> None:
            threading.Event().wait(0.15)  # the server is slow to answer each hop
            target = f"/hop{n + 1}".encode()
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % target
            )

        return reply

    routes = {f"/hop{n}": slow_redirect(n) for n in range(10)}
    with routed_server(routes) as server:
        fault.expect(
            ReadTimeout,
            server.url + "/hop0",
            match=NAMED,
            within=WITHIN,
            client={"timeout": DEADLINE, "follow_redirects": True},
        )
        # Each hop alone is well inside the read timeout: only the deadline can have stopped it.
        assert 2 <= len(server.seen) <= 5


def test_without_total_nothing_changes(fault: Fault) -> None:
    with routed_server({"/ok": OK}) as server:

        def sync_script(client: Any) -> dict[str, Any]:
            return dict(client.get(server.url + "/ok").request.extensions["timeout"])

        async def async_script(client: Any) -> dict[str, Any]:
            return dict((await client.get(server.url + "/ok")).request.extensions["timeout"])

        script = async_script if fault.is_async else sync_script
        timeouts = fault.with_client(script, timeout=5.0)
    assert timeouts == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


def test_a_request_that_finishes_in_time_is_untouched(fault: Fault) -> None:
    with routed_server({"/ok": OK}) as server:

        def sync_script(client: Any) -> bytes:
            return bytes(client.get(server.url + "/ok").content)

        async def async_script(client: Any) -> bytes:
            return bytes((await client.get(server.url + "/ok")).content)

        script = async_script if fault.is_async else sync_script
        assert fault.with_client(script, timeout=Timeout(5.0, total=5.0)) == b"ok"
