"""For tests that step the engine's flows by hand, answering each effect themselves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from httplib._core.effects import Flow, Runtime


def thread_runtime(
    clock: Callable[[], float] = lambda: 0.0,
    probe_after: float = 1000.0,
    peek: Callable[[Any], bool] | None = None,
) -> Runtime:
    """A runtime lending what the blocking driver lends (a lock, `threading.Event` wakers)
    with the clock and probing the test chooses."""
    return Runtime(
        lock=threading.Lock(),
        new_waker=threading.Event,
        wake=threading.Event.set,
        clock=clock,
        probe_after=probe_after,
        peek=peek,
    )


def no_pool_changes(conn: Any) -> Flow:
    """An `Http2Connection`'s `on_change` with no pool behind it (the tests read the state)."""
    return
    yield
