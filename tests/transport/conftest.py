"""Fixtures choosing the runtime each transport case runs under (see transport_harness)."""

from __future__ import annotations

import pytest

from transport.transport_harness import Runner, runner


@pytest.fixture(params=["sync", "asyncio"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Every case for the blocking and the asyncio transport."""
    return runner(request.param)


@pytest.fixture(params=["sync", "asyncio", "trio"])
def run_all(request: pytest.FixtureRequest) -> Runner:
    """The smoke subset, also under trio."""
    return runner(request.param)


@pytest.fixture(params=["asyncio", "trio"])
def run_async(request: pytest.FixtureRequest) -> Runner:
    """Cases that need task cancellation."""
    return runner(request.param)
