"""The runtimes the async tests run under: asyncio, uvloop and trio (plus "sync" for fixtures
that also cover the blocking classes).

`run_async(name, fn)` runs the coroutine function `fn` to completion on runtime `name` and
returns its result; inside it, `gather(name, factories)` runs coroutine functions concurrently
(tasks on asyncio and uvloop, a nursery on trio). `params(*names)` gives fixture parameters;
uvloop's is skipped, never an error, where uvloop cannot be imported (Windows, PyPy: the dev
extra leaves it out there).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest
import trio

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows or PyPy
    uvloop = None

T = TypeVar("T")

ASYNC_RUNTIMES = ("asyncio", "uvloop", "trio")
ALL_RUNTIMES = ("sync", *ASYNC_RUNTIMES)
ASYNCIO_LOOPS = ("asyncio", "uvloop")
"""The runtimes that are asyncio (the default loop, or uvloop's): asyncio APIs work on both."""

NO_UVLOOP = "uvloop is not installed (it is not available on Windows or PyPy)"


def params(*names: str) -> list[Any]:
    """Fixture parameters for `names`; uvloop's carries a skip mark where it is missing."""
    skip_uvloop = pytest.mark.skipif(uvloop is None, reason=NO_UVLOOP)
    return [pytest.param(name, marks=skip_uvloop) if name == "uvloop" else name for name in names]


def run_async(name: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run `fn()` on a fresh event loop of runtime `name` ("asyncio", "uvloop" or "trio")."""
    if name == "trio":
        return trio.run(fn)
    if name == "asyncio":
        return asyncio.run(_awaited(fn))
    if name == "uvloop":
        if uvloop is None:  # pragma: no cover - the fixtures skip before getting here
            pytest.skip(NO_UVLOOP)
        return uvloop.run(_on_uvloop(fn))
    raise ValueError(f"not an async runtime: {name!r}")


async def gather(name: str, factories: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run `factories` concurrently on the running loop of runtime `name` ("sync": each in a
    thread of its own, whose blocking calls then overlap); their results, or the exceptions
    they raised, in order."""
    results: list[Any] = [None] * len(factories)

    async def one(i: int) -> None:
        try:
            results[i] = await factories[i]()
        except Exception as exc:
            results[i] = exc

    if name == "sync":
        threads = [
            threading.Thread(target=asyncio.run, args=(one(i),)) for i in range(len(factories))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    elif name in ASYNCIO_LOOPS:
        await asyncio.gather(*(one(i) for i in range(len(factories))))
    elif name == "trio":
        async with trio.open_nursery() as nursery:
            for i in range(len(factories)):
                nursery.start_soon(one, i)
    else:
        raise ValueError(f"not an async runtime: {name!r}")
    return results


async def _awaited(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


async def _on_uvloop(fn: Callable[[], Awaitable[T]]) -> T:
    # A guard against a "uvloop" case that silently ran on the default loop.
    loop = asyncio.get_running_loop()
    assert uvloop is not None
    assert isinstance(loop, uvloop.Loop), f"expected a uvloop loop, got {loop!r}"
    return await fn()
