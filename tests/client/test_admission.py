"""The admission gate in front of `AsyncClient`'s pool (`_core/admission.py`), on every runtime.

Past the gate's limit, a request waits before its request is built, at the cost of a queue
entry; these tests make the gate small (one request in the pool's queue) so that a handful of
requests meet it. What a user sees must not change: every request is served, in the order it
came, one pool timeout bounds its whole wait for a connection, a total deadline counts from
the call, cancellation and errors leave no place behind, and the client goes on working.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import httplib
from httplib._core.admission import Admission
from servers.raw import scripted_server
from support.runtimes import ASYNC_RUNTIMES, gather, params, run_async
from transport.test_pool import route_by_path
from transport.transport_harness import serve_each


@pytest.fixture(params=params(*ASYNC_RUNTIMES))
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Recorder:
    """The pool tests' server by path (/hang never answers, /partial stalls mid-body, anything
    else is echoed), noting each request's target as it arrives."""

    def __init__(self) -> None:
        self.arrived: list[str] = []
        self._lock = threading.Lock()

    def respond(self, conn: socket.socket, head: bytes) -> bool:
        with self._lock:
            self.arrived.append(head.split(b" ")[1].decode())
        return route_by_path(conn, head)


def small_gate(client: httplib.AsyncClient, limit: int = 1, burst: int = 1) -> Admission:
    """Give `client`'s pooled transport a gate of `limit` (with `burst`) instead of its own
    (sized for thousands of requests)."""
    gate = Admission(limit, burst)
    driver = client._transport._driver  # type: ignore[attr-defined]
    driver.admission = gate
    if driver.engine is not None:
        driver.engine.admission = gate
    return gate


@asynccontextmanager
async def one_held_connection(url: str) -> AsyncIterator[tuple[httplib.AsyncClient, Any]]:
    """A client with one connection, held by a streamed response whose body never ends (closed
    on the way out), and a gate of one: the next request waits in the pool's queue, the ones
    after it at the gate. No client timeouts (under trio's MockClock a network wait must not
    be jumped over)."""
    limits = httplib.Limits(max_connections=1)
    async with httplib.AsyncClient(limits=limits, timeout=None) as client:
        small_gate(client)
        held = await client.send(client.build_request("GET", url + "/partial"), stream=True)
        try:
            yield client, held
        finally:
            await held.aclose()


def test_requests_past_the_gate_are_all_served_in_the_order_they_came(runtime: str) -> None:
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def case() -> None:
            async with httplib.AsyncClient(limits=httplib.Limits(max_connections=1)) as client:
                gate = small_gate(client)

                async def one(i: int) -> bytes:
                    response = await client.get(f"{server.url}/{i}")
                    return response.content

                bodies = await gather(runtime, [lambda i=i: one(i) for i in range(40)])  # type: ignore[misc]
                assert bodies == [f"/{i}".encode() for i in range(40)]
                assert gate.inside == 0
                assert gate.waiting == 0
                if runtime != "trio":  # (trio does not promise to start tasks in order)
                    assert recorder.arrived == [f"/{i}" for i in range(40)]
                assert server.connections_accepted == 1

        run_async(runtime, case)


def test_a_large_fan_out_through_a_small_gate_and_pool_is_served(runtime: str) -> None:
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def case() -> None:
            limits = httplib.Limits(max_connections=4)
            async with httplib.AsyncClient(limits=limits) as client:
                gate = small_gate(client, limit=4, burst=16)

                async def one(i: int) -> bytes:
                    return (await client.get(f"{server.url}/{i}")).content

                bodies = await gather(runtime, [lambda i=i: one(i) for i in range(1500)])  # type: ignore[misc]
                assert bodies == [f"/{i}".encode() for i in range(1500)]
                assert gate.inside == 0
                assert gate.waiting == 0

        run_async(runtime, case)


def test_cancelled_requests_at_the_gate_and_in_the_pool_leave_no_place_behind(
    runtime: str,
) -> None:
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def case() -> None:
            async with one_held_connection(server.url) as (client, held):
                gate = client._transport._driver.admission  # type: ignore[attr-defined]
                started = 0

                async def waits() -> None:
                    nonlocal started
                    started += 1
                    await client.get(server.url + "/queued")

                if runtime == "trio":
                    with trio.move_on_after(30) as scope:
                        async with trio.open_nursery() as nursery:
                            for _ in range(20):
                                nursery.start_soon(waits)
                            while started < 20 or gate.waiting < 19:
                                await trio.sleep(0)  # (bounded by the scope)
                            nursery.cancel_scope.cancel()
                    assert not scope.cancelled_caught
                else:
                    tasks = [asyncio.ensure_future(waits()) for _ in range(20)]
                    for _ in range(1000):
                        if started == 20 and gate.waiting == 19:
                            break
                        await asyncio.sleep(0)
                    assert gate.waiting == 19  # one in the pool's queue, the rest at the gate
                    for task in tasks:
                        task.cancel()
                    results = await asyncio.gather(*tasks, return_exceptions=True)
                    assert all(isinstance(r, asyncio.CancelledError) for r in results)
                assert gate.inside == 0
                assert gate.waiting == 0
                await held.aclose()
                response = await client.get(server.url + "/after")
                assert response.content == b"/after"
                assert "/queued" not in recorder.arrived

        run_async(runtime, case)


def test_one_pool_timeout_bounds_the_wait_at_the_gate_and_in_the_pool() -> None:
    """trio's MockClock: times are exact. The request behind the gate is let in when the one in
    the pool's queue times out, and then waits in the pool only what is left of its own."""
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def case() -> None:
            async with one_held_connection(server.url) as (client, held):
                start = trio.current_time()
                ended: dict[str, float] = {}

                async def wait(name: str, pool: float) -> None:
                    timeout = httplib.Timeout(5, pool=pool)
                    with pytest.raises(httplib.PoolTimeout) as caught:
                        await client.get(f"{server.url}/{name}", timeout=timeout)
                    assert caught.value.request.url.path == f"/{name}"
                    ended[name] = trio.current_time() - start

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait, "in-pool", 0.3)
                    await trio.testing.wait_all_tasks_blocked()
                    nursery.start_soon(wait, "at-gate", 0.5)
                assert ended == {"in-pool": pytest.approx(0.3), "at-gate": pytest.approx(0.5)}
                await held.aclose()
                assert (await client.get(server.url + "/after")).content == b"/after"

        trio.run(case, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_total_deadline_counts_from_the_call_not_from_the_gate() -> None:
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def case() -> None:
            async with one_held_connection(server.url) as (client, held):
                start = trio.current_time()
                errors: dict[str, tuple[float, str]] = {}

                async def wait(name: str, timeout: httplib.Timeout) -> None:
                    try:
                        await client.get(f"{server.url}/{name}", timeout=timeout)
                    except httplib.PoolTimeout as exc:
                        errors[name] = (trio.current_time() - start, str(exc))

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait, "in-pool", httplib.Timeout(5, pool=0.3))
                    await trio.testing.wait_all_tasks_blocked()
                    # Let in at 0.3 s, when the first gives up; its deadline is 0.4 s from now.
                    nursery.start_soon(wait, "let-in", httplib.Timeout(5, total=0.4))
                    await trio.testing.wait_all_tasks_blocked()
                    # Never let in: the deadline ends its wait at the gate.
                    nursery.start_soon(wait, "at-gate", httplib.Timeout(None, total=0.2))
                pool_message = "Timed out waiting for a connection from the pool."
                assert errors["in-pool"] == (pytest.approx(0.3), pool_message)
                for name in ("let-in", "at-gate"):
                    assert "total deadline" in errors[name][1]
                assert errors["let-in"][0] == pytest.approx(0.4)
                assert errors["at-gate"][0] == pytest.approx(0.2)
                await held.aclose()

        trio.run(case, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_request_let_in_that_fails_to_build_hands_its_place_on(runtime: str) -> None:
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def case() -> None:
            async with one_held_connection(server.url) as (client, held):
                gate = client._transport._driver.admission  # type: ignore[attr-defined]

                async def bad() -> Any:
                    return await client.get("http://[::1")  # (built only once let in)

                async def good() -> bytes:
                    return (await client.get(server.url + "/good")).content

                async def release_when_queued() -> None:
                    for _ in range(1000):
                        if gate.waiting == 2:
                            break
                        await (trio.sleep(0) if runtime == "trio" else asyncio.sleep(0))
                    await held.aclose()

                first = lambda: client.get(server.url + "/first")  # noqa: E731
                results = await gather(runtime, [first, bad, good, release_when_queued])
                assert results[0].content == b"/first"
                assert isinstance(results[1], httplib.InvalidURL)
                assert results[2] == b"/good"
                assert gate.inside == 0
                assert gate.waiting == 0

        run_async(runtime, case)


def test_a_request_waiting_at_the_gate_costs_a_fraction_of_one_waiting_in_the_pool() -> None:
    """tracemalloc, asyncio: 300 requests wait on one held connection, first with the gate far
    away (all in the pool's queue), then with the gate at one. Each includes the caller's own
    task and coroutine (about 700 B), which no client can save."""
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def per_waiting_request(gated: bool) -> float:
            limits = httplib.Limits(max_connections=1)
            async with httplib.AsyncClient(limits=limits, timeout=None) as client:
                gate = small_gate(client, 1, 1) if gated else small_gate(client, 10**6, 10**6)
                await client.get(server.url + "/warm")  # (the lazy imports, off the measure)
                partial = client.build_request("GET", server.url + "/partial")
                held = await client.send(partial, stream=True)
                gc.collect()
                tracemalloc.start()
                try:
                    before = tracemalloc.take_snapshot()
                    url = server.url + "/q"
                    tasks = [asyncio.ensure_future(client.get(url)) for _ in range(300)]
                    for _ in range(100):
                        await asyncio.sleep(0)
                    after = tracemalloc.take_snapshot()
                finally:
                    tracemalloc.stop()
                assert gate.waiting == (299 if gated else 0)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await held.aclose()
                return sum(s.size_diff for s in after.compare_to(before, "filename")) / 300

        def run(gated: bool) -> float:
            return asyncio.run(per_waiting_request(gated))

        in_pool, at_gate = run(False), run(True)
        assert at_gate < 0.6 * in_pool, (at_gate, in_pool)  # (measured: 1,470 B against 3,380)


def test_http2_streams_through_a_small_gate_are_all_served(
    runtime: str, hypercorn_tls_server: Any, client_ssl_context: Any
) -> None:
    """Over HTTP/2 the pool answers a request with a stream on the shared connection, so a
    request gives its place up as soon as it has one; the rest queue at the gate meanwhile."""

    async def case() -> None:
        async with httplib.AsyncClient(
            http2=True, verify=client_ssl_context, limits=httplib.Limits(max_connections=1)
        ) as client:
            gate = small_gate(client)

            async def one(i: int) -> tuple[str, str]:
                response = await client.get(f"{hypercorn_tls_server.url}/echo/{i}")
                return response.http_version, response.json()["path"]

            results = await gather(runtime, [lambda i=i: one(i) for i in range(60)])  # type: ignore[misc]
            assert results == [("HTTP/2", f"/echo/{i}") for i in range(60)]
            assert gate.inside == 0
            assert gate.waiting == 0

    run_async(runtime, case)


def test_a_tuple_given_to_send_fails_as_a_non_request_and_leaves_no_place(runtime: str) -> None:
    """The shortcuts hand `send` their arguments unbuilt, in a type of their own: a caller's
    tuple, even one of the same length, fails as httpx's `send` fails on it."""
    recorder = Recorder()
    with scripted_server(serve_each(recorder.respond)) as server:

        async def case() -> None:
            async with httplib.AsyncClient() as client:
                gate = small_gate(client, 4, 4)
                arguments = ("GET", server.url + "/tuple", *([None] * 9))
                with pytest.raises(AttributeError, match="extensions"):
                    await client.send(arguments)  # type: ignore[arg-type]
                assert gate.inside == 0
                assert (await client.get(server.url + "/after")).content == b"/after"
                assert recorder.arrived == ["/after"]

        run_async(runtime, case)
