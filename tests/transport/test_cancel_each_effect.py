"""Cancel one request at each effect its flow performs, in turn: afterwards the pool holds no
stream, waiter or half-open connection, and the next request on the same transport works.

The drivers' performer tables are wrapped so the cancellation lands exactly at effect number
`at`: a task cancellation under asyncio and uvloop, a cancel scope under trio (both delivered at
that effect's await), and a `KeyboardInterrupt` raised by the effect on blocking sockets.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from types import CoroutineType
from typing import Any

import pytest
import trio

from httplib._core.effects import BODY_CLOSE, CLOSE, WRITE_SHIELDED
from httplib._io import sync_driver
from httplib._models import Request
from httplib._transports.default import AsyncHTTPTransport, HTTPTransport
from servers.app import pattern_bytes
from servers.asgi_servers import RunningServer

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows / PyPy
    uvloop = None

TIMEOUTS = {"timeout": {"connect": 10, "read": 10, "write": 10, "pool": 10}}
BODY = [b"a" * 100, b"b" * 200, b"c" * 300]
RUNTIMES = ["sync", "asyncio", "uvloop", "trio"]
# Effects a cancellation cannot interrupt (trio runs them shielded; asyncio hands the bytes to
# the transport before it can suspend): the cancellation lands right after them instead.
SHIELDED = {WRITE_SHIELDED, CLOSE, BODY_CLOSE}


class Counter:
    """Counts the effects performed; `at` (1-based) is the one to cancel at, 0 for none."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.performed = 0

    def hit(self) -> bool:
        self.performed += 1
        return self.performed == self.at


def _request(url: str, is_async: bool) -> Request:
    """A POST with a streamed (iterator) body: every kind of request effect is exercised."""

    def chunks() -> Iterator[bytes]:
        yield from BODY

    async def achunks() -> AsyncIterator[bytes]:
        for chunk in BODY:
            yield chunk

    content = achunks() if is_async else chunks()
    return Request("POST", url + "/echo", content=content, extensions=TIMEOUTS)


async def _performed(result: Any) -> Any:
    """A performer's result: a coroutine is awaited, anything else was ready at once."""
    return await result if type(result) is CoroutineType else result


def _pool_is_clean(transport: Any) -> None:
    counts = transport._driver.engine.pool.counts()
    assert counts["streams"] == 0, counts
    assert counts["waiting"] == 0, counts
    assert counts["connecting"] == 0, counts


def run_sync(url: str, context: ssl.SSLContext, http2: bool, at: int) -> int:
    counter = Counter(at)
    original = sync_driver.PERFORM

    def wrap(perform: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def performer(effect: Any) -> Any:
            if not counter.hit():
                return perform(effect)
            if effect[0] in SHIELDED:
                perform(effect)
            raise KeyboardInterrupt

        return performer

    transport = HTTPTransport(verify=context, http2=http2)
    sync_driver.PERFORM = tuple(wrap(p) for p in original)
    try:
        response = transport.handle_request(_request(url, False))
        b"".join(response.stream)  # type: ignore[union-attr]
        response.close()
    except KeyboardInterrupt:
        assert at > 0
    finally:
        sync_driver.PERFORM = original
    _pool_is_clean(transport)
    response = transport.handle_request(Request("GET", url + "/bytes/10", extensions=TIMEOUTS))
    assert b"".join(response.stream) == pattern_bytes(10)  # type: ignore[union-attr]
    response.close()
    transport.close()
    return counter.performed


async def after_cancel(url: str, transport: AsyncHTTPTransport) -> None:
    _pool_is_clean(transport)
    response = await transport.handle_async_request(
        Request("GET", url + "/bytes/10", extensions=TIMEOUTS)
    )
    assert await response.aread() == pattern_bytes(10)
    await transport.aclose()


def run_runtime(runtime: str, url: str, context: ssl.SSLContext, http2: bool, at: int) -> int:
    """Run one cancelled request under `runtime`; returns the effects performed."""
    if runtime == "sync":
        return run_sync(url, context, http2, at)
    if runtime == "trio":

        async def trio_main() -> int:
            with trio.CancelScope() as scope:

                async def cancel() -> None:
                    scope.cancel()
                    await trio.lowlevel.checkpoint()

                holder: dict[str, Any] = {}
                performed = await _tracked(url, context, http2, at, cancel, holder)
            assert scope.cancelled_caught == (at > 0)
            await after_cancel(url, holder["transport"])
            return holder["counter"].performed if at else performed

        return trio.run(trio_main)

    async def asyncio_main() -> int:
        holder: dict[str, Any] = {}

        async def cancel() -> None:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(0)

        task = asyncio.ensure_future(_tracked(url, context, http2, at, cancel, holder))
        try:
            performed = await task
        except asyncio.CancelledError:
            assert at > 0
            performed = holder["counter"].performed
        await after_cancel(url, holder["transport"])
        return performed

    if runtime == "uvloop":
        if uvloop is None:
            pytest.skip("uvloop is not installed")
        return uvloop.run(asyncio_main())
    return asyncio.run(asyncio_main())


async def _tracked(
    url: str,
    context: ssl.SSLContext,
    http2: bool,
    at: int,
    cancel: Callable[[], Any],
    holder: dict[str, Any],
) -> int:
    """`run_async`, keeping the transport and counter where the caller finds them."""
    counter = Counter(at)
    transport = AsyncHTTPTransport(verify=context, http2=http2)
    holder["transport"], holder["counter"] = transport, counter
    driver = transport._driver
    driver._start()
    original = driver._perform

    def wrap(perform: Callable[[Any], Any]) -> Callable[[Any], Any]:
        async def performer(effect: Any) -> Any:
            if not counter.hit():
                return await _performed(perform(effect))
            if effect[0] not in SHIELDED:
                await cancel()
            result = await _performed(perform(effect))
            await cancel()  # a shielded effect completes; the next await sees the cancellation
            return result

        return performer

    driver._perform = tuple(wrap(p) for p in original)
    try:
        response = await transport.handle_async_request(_request(url, True))
        async for _ in response.stream:  # type: ignore[union-attr]
            pass
        await response.aclose()
    finally:
        driver._perform = original
    return counter.performed


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("http2", [False, True], ids=["http1", "http2"])
def test_cancelling_at_each_effect_leaks_nothing(
    runtime: str,
    http2: bool,
    hypercorn_tls_server: RunningServer,
    client_ssl_context: ssl.SSLContext,
) -> None:
    url = hypercorn_tls_server.url
    total = run_runtime(runtime, url, client_ssl_context, http2, 0)
    # Connect, TLS, (the HTTP/2 handshake,) the head, the streamed body, the response.
    assert total >= 8
    for at in range(1, total + 1):
        run_runtime(runtime, url, client_ssl_context, http2, at)
