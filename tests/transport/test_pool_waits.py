"""Requests queued for a pool slot: each times out at its own pool timeout, whatever the order
the waits began in, and a queue far longer than the pool is served to the last request (the
asyncio backend times every wait of a transport with one timer; see `wait_effect`)."""

from __future__ import annotations

import pytest

from httplib._config import Limits
from httplib._exceptions import PoolTimeout
from servers.raw import scripted_server
from transport.test_pool import routed
from transport.transport_harness import Mode, Runner, timeouts


def test_each_waiter_times_out_at_its_own_pool_timeout(run_async: Runner) -> None:
    with scripted_server(routed) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport(limits=Limits(max_connections=1))
            held = await client.send("GET", server.url + "/partial")
            outcomes: list[str] = []

            async def wait(name: str, pool: float) -> None:
                try:
                    await client.get(f"{server.url}/{name}", extensions=timeouts(5, pool=pool))
                except PoolTimeout:
                    outcomes.append(f"{name} timed out")
                    return
                outcomes.append(f"{name} served")

            async def short_then_release() -> None:
                await wait("short", 0.2)
                await client.close_response(held)

            # The long wait queues first (asyncio's gather starts tasks in order), so the timer
            # armed for it must be moved earlier for the short one.
            results = await mode.gather([lambda: wait("long", 10.0), short_then_release])
            assert results == [None, None]
            assert outcomes == ["short timed out", "long served"]
            _, body = await client.get(server.url + "/after")
            assert body == b"/after"
            await client.close()

        run_async(case)


@pytest.mark.parametrize("waiting", [1500])
def test_a_long_queue_of_timed_waits_is_served_and_still_times_out(
    run_async: Runner, waiting: int
) -> None:
    with scripted_server(routed) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport(limits=Limits(max_connections=2))

            async def one(i: int) -> bytes:
                _, body = await client.get(f"{server.url}/ok{i}", extensions=timeouts(10, pool=10))
                return body

            bodies = await mode.gather([lambda i=i: one(i) for i in range(waiting)])  # type: ignore[misc]
            assert bodies == [f"/ok{i}".encode() for i in range(waiting)]
            # Every one of those waits was woken before its deadline: a new wait still times
            # out at its own, in bounded time.
            held = [await client.send("GET", server.url + "/partial") for _ in range(2)]
            with pytest.raises(PoolTimeout):
                await client.send("GET", server.url + "/x", extensions=timeouts(5, pool=0.2))
            for response in held:
                await client.close_response(response)
            _, body = await client.get(server.url + "/after")
            assert body == b"/after"
            await client.close()

        run_async(case)
