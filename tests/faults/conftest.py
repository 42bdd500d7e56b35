"""The hostile-server suite's harness: every fault case runs for `Client` and `AsyncClient`.

A case scripts a raw-socket server (`servers.raw.scripted_server`), then calls
`fault.expect(error, url)`: the request must fail with exactly that exception type from the
httpx tree within a bounded time, the pool must hold no stream, waiter or half-open connection
afterwards, and (with `then=`) the next request on the same client must succeed. Each case ends
with a garbage collection, so a socket or transport left for the collector fails the test
(`filterwarnings = error` turns its ResourceWarning into an error).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from httplib._client import AsyncClient, Client
from support.clients import Runner
from support.runtimes import ALL_RUNTIMES, params

# Generous for a loaded CI box, far below the 10 s timeouts the cases set: a fault that should
# fail at once but waits for a timeout instead is caught.
PROMPT = 3.0
TIMEOUT = 10.0


def pool_counts(client: Client | AsyncClient) -> dict[str, int]:
    """The default transport's pool counts (streams, waiting, connecting, idle, ...)."""
    driver = client._transport._driver  # type: ignore[union-attr]
    if driver.engine is None:  # an AsyncHTTPTransport that never sent anything
        return {"streams": 0, "waiting": 0, "connecting": 0}
    counts: dict[str, int] = driver.engine.pool.counts()
    return counts


def assert_pool_clean(client: Client | AsyncClient) -> None:
    counts = pool_counts(client)
    assert (counts["streams"], counts["waiting"], counts["connecting"]) == (0, 0, 0), counts


class Fault(Runner):
    """Runs a fault case with a `Client` ("sync") or an `AsyncClient` on asyncio, uvloop, trio;
    clients get 10 s timeouts unless the case says otherwise."""

    def with_client(self, script: Callable[[Any], Any], **client_kwargs: Any) -> Any:
        client_kwargs.setdefault("timeout", TIMEOUT)
        return super().with_client(script, **client_kwargs)

    def expect(
        self,
        error: type[BaseException],
        url: str,
        *,
        method: str = "GET",
        then: str | None = None,
        within: float = PROMPT,
        match: str | None = None,
        client: dict[str, Any] | None = None,
        **request: Any,
    ) -> BaseException:
        """Send one request that must raise exactly `error` (not a subclass) within `within`
        seconds, leave the pool clean, and (with `then`) not spoil a next GET to `then`.
        Returns the exception, for checks on its message."""

        def check(exc_info: pytest.ExceptionInfo[BaseException], started: float) -> None:
            elapsed = time.monotonic() - started
            assert type(exc_info.value) is error, repr(exc_info.value)
            assert elapsed < within, f"took {elapsed:.2f}s (bound {within}s)"

        def sync_script(c: Client) -> BaseException:
            started = time.monotonic()
            with pytest.raises(error, match=match) as info:
                c.request(method, url, **request)
            check(info, started)
            assert_pool_clean(c)
            if then is not None:
                assert c.get(then).status_code == 200
                assert_pool_clean(c)
            return info.value

        async def async_script(c: AsyncClient) -> BaseException:
            started = time.monotonic()
            with pytest.raises(error, match=match) as info:
                await c.request(method, url, **request)
            check(info, started)
            assert_pool_clean(c)
            if then is not None:
                assert (await c.get(then)).status_code == 200
                assert_pool_clean(c)
            return info.value

        script: Callable[[Any], Any] = async_script if self.is_async else sync_script
        result: BaseException = self.with_client(script, **(client or {}))
        return result


async def cancelled_after(runtime: str, seconds: float, fn: Callable[[], Any]) -> None:
    """Await `fn()` on async `runtime` and cancel it from outside after `seconds` (a trio
    cancel scope, or asyncio's `wait_for`); it must still have been waiting by then."""
    if runtime == "trio":
        import trio

        with trio.move_on_after(seconds) as scope:
            await fn()
        assert scope.cancelled_caught
    else:
        import asyncio

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(fn(), seconds)


@pytest.fixture(params=params(*ALL_RUNTIMES))
def fault(request: pytest.FixtureRequest) -> Iterator[Fault]:
    yield Fault(request.param)
    # A socket or transport nobody closed warns when collected: make that happen inside the
    # test, where `filterwarnings = error` fails it.
    gc.collect()
