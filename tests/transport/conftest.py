"""Fixtures choosing the runtime each transport case runs under (see transport_harness).

"uvloop" is skipped where uvloop cannot be imported (Windows, PyPy); see support.runtimes.
"""

from __future__ import annotations

import pytest

from support.runtimes import params
from transport.transport_harness import Runner, runner


@pytest.fixture(params=params("sync", "asyncio", "uvloop", "trio"))
def run(request: pytest.FixtureRequest) -> Runner:
    """Every case for the blocking and the async transport, on every runtime."""
    return runner(request.param)


@pytest.fixture(params=params("sync", "asyncio", "uvloop", "trio"))
def run_all(request: pytest.FixtureRequest) -> Runner:
    """The smoke subset; the same runtimes as `run` (kept as a name for those cases)."""
    return runner(request.param)


@pytest.fixture(params=params("asyncio", "uvloop", "trio"))
def run_async(request: pytest.FixtureRequest) -> Runner:
    """Cases that need task cancellation."""
    return runner(request.param)
