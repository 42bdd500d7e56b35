"""One fixture runs each client test with `Client` and with `AsyncClient` on every runtime.

A test describes requests as data; `Runner.session` sends them through one client of the kind
under test and returns the responses, bodies read, with the client closed afterwards. The
`runner` fixture is "sync" (`Client`) or "asyncio", "uvloop", "trio" (`AsyncClient` on that
event loop); `async_runner` is the three async ones, for tests of `AsyncClient` alone. uvloop
is skipped where it cannot be imported (see support.runtimes).
"""

from __future__ import annotations

import pytest

from support.clients import Call, Runner
from support.runtimes import ALL_RUNTIMES, ASYNC_RUNTIMES, params

__all__ = ["Call", "Runner"]


@pytest.fixture(params=params(*ALL_RUNTIMES))
def runner(request: pytest.FixtureRequest) -> Runner:
    return Runner(request.param)


@pytest.fixture(params=params(*ASYNC_RUNTIMES))
def async_runner(request: pytest.FixtureRequest) -> Runner:
    """`AsyncClient` only, on asyncio, uvloop and trio."""
    return Runner(request.param)
