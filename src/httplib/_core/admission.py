"""Admission: a FIFO gate in front of an async transport's pool queue, as pure state.

Theory of operation
-------------------
A request waiting for a pool slot holds its `Request`, its plan, the engine's flow and the
driver's coroutine: about 2.7 KB, and objects the garbage collector walks again and again once
they have lived long enough to be promoted. A crawler that starts 100,000 requests on one
client with 100 connections keeps 99,900 of them waiting (issue 15's scale rows). The gate lets
at most `limit` requests wait in the pool's queue; the rest wait at the gate before their
request is even built, each holding its caller's arguments, a waker and a queue entry.

A request holds its place from `enter` (or being let in) until the pool has answered it with a
connection or a stream (one it waited for, reused or opened), or it failed. Serving requests
do not count, so the gate never limits how many streams an HTTP/2 pool multiplexes,
and a streamed response held open does not hold a place.

* ``gate.enter()`` is True when the request may go in at once (room inside; then nobody is
  waiting, as a freed place goes straight to the oldest waiter), and counts it inside.
  Otherwise the shell makes a waker, ``waiter = gate.join(waker)``, and waits on it.
* ``gate.leave()`` when a request inside no longer waits for the pool, or fails, or turns out
  not to need the pool. Its place is handed to the oldest waiter still waiting (returned: wake
  its waker), so nobody can overtake the queue between the wake and the waiter's resumption;
  None when nobody waits.
* ``gate.give_up(waiter)`` when a waiter stops waiting (its timeout, a cancellation) or is done
  before it went in. When the gate had handed it a place meanwhile, the place goes on to the
  next waiter (returned, to wake), so no place leaks. Safe to call once per waiter whatever
  happened.

Removal is lazy (a waiter that gave up is skipped when it reaches the front), so giving up is
O(1) and a burst of timeouts costs no scan. The state is not thread-safe: one event loop drives
a transport's engine (`_io/async_driver.py`).

Each request let in from the gate waits twice (at the gate, then in the pool), so the gate
costs some CPU where it engages; the pool's own queue stays long enough (`limit`, at least a
connection's worth per connection) that a freed connection always finds a built request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from .._exceptions import PoolTimeout
from .plan import POOL_TIMED_OUT, deadline_message

__all__ = [
    "ADMISSION_BURST",
    "ADMISSION_BURST_PER_CONNECTION",
    "ADMISSION_FLOOR",
    "Admission",
    "Waiter",
    "admission_for",
    "admission_timeout",
    "admission_timed_out",
]

# How many requests may wait in the pool's queue while others wait at the gate: one per
# connection, and at least `ADMISSION_FLOOR`. And how many may go in while nobody waits at the
# gate (a burst): `ADMISSION_BURST`, or `ADMISSION_BURST_PER_CONNECTION` per connection.
# Measured (CPU per request, 100 connections, against no gate): with 100,000 in flight, a
# pool queue kept at 100 costs 5-9% less (fewer long-lived objects for the collector to walk),
# one kept at 1,000 about 4% more, one of 10,000 about 25% more (a second wake per request,
# and the collector); with 10,000 in flight the gate's double wait costs 5%, so a burst of that
# size goes straight to the pool as before.
ADMISSION_FLOOR = 100
ADMISSION_BURST = 10_000
ADMISSION_BURST_PER_CONNECTION = 10

_WAITING, _ADMITTED, _GONE = range(3)


class Waiter:
    """One request queued at the gate: its waker, and whether it was let in or gave up."""

    __slots__ = ("state", "waker")

    def __init__(self, waker: Any) -> None:
        self.waker = waker
        self.state = _WAITING

    @property
    def admitted(self) -> bool:
        return self.state == _ADMITTED


class Admission:
    """The gate's state: how many requests are inside, and the FIFO of those waiting. While
    nobody waits, up to `burst` may go in; once some wait, a place comes free for them only
    as the requests inside fall below `limit` (so the pool's queue drains to `limit`)."""

    __slots__ = ("_queue", "burst", "inside", "limit")

    def __init__(self, limit: int, burst: int | None = None) -> None:
        if limit < 1:
            raise ValueError(f"an admission gate needs room for one request, got {limit}")
        self.limit = limit
        self.burst = max(limit, burst or limit)
        self.inside = 0
        self._queue: deque[Waiter] = deque()

    def enter(self) -> bool:
        """Count a request inside when there is room for it and nobody waits before it."""
        inside = self.inside
        if inside < self.limit:  # (then nobody waits: a place below `limit` goes to them)
            if self._queue:  # (only waiters that gave up, left behind by lazy removal)
                self._queue.clear()
            self.inside = inside + 1
            return True
        if inside < self.burst:
            queue = self._queue
            while queue and queue[0].state != _WAITING:
                queue.popleft()
            if not queue:
                self.inside = inside + 1
                return True
        return False

    def join(self, waker: Any) -> Waiter:
        """Queue a request that `enter` turned away; it waits on `waker`."""
        waiter = Waiter(waker)
        self._queue.append(waiter)
        return waiter

    def leave(self) -> Any | None:
        """A request inside is done with the engine's queue: the waker of the waiter its place
        goes to, or None (the place is free)."""
        self.inside -= 1
        return self._admit_next() if self._queue else None

    def give_up(self, waiter: Waiter) -> Any | None:
        """`waiter` stops waiting or is finished: when it had been let in, its place goes on
        (the next waker to wake is returned); otherwise it is skipped when it comes up."""
        state, waiter.state = waiter.state, _GONE
        if state == _ADMITTED:
            return self.leave()
        return None

    def _admit_next(self) -> Any | None:
        # Invariant: a waiter still waiting is queued only while `limit` or more are inside; a
        # place below `limit` goes to it at once, never to a newcomer's `enter`.
        queue = self._queue
        while queue and self.inside < self.limit:
            waiter = queue.popleft()
            if waiter.state == _WAITING:
                waiter.state = _ADMITTED
                self.inside += 1
                return waiter.waker
        return None

    @property
    def waiting(self) -> int:
        """How many queued waiters have not given up (a scan: for tests and reprs)."""
        return sum(1 for waiter in self._queue if waiter.state == _WAITING)

    def __repr__(self) -> str:
        return (
            f"<Admission inside={self.inside} limit={self.limit} burst={self.burst} "
            f"waiting={self.waiting}>"
        )


def admission_for(max_connections: int | None) -> Admission | None:
    """The gate for a pool of `max_connections` (None, no limit on connections: no gate)."""
    if max_connections is None:
        return None
    return Admission(
        max(ADMISSION_FLOOR, max_connections),
        max(ADMISSION_BURST, ADMISSION_BURST_PER_CONNECTION * max_connections),
    )


def admission_timeout(timeouts: Mapping[str, Any] | None) -> tuple[float | None, bool]:
    """How long a request with `timeouts` (its "timeout" extension) may wait at the gate: its
    pool timeout (which also bounds its wait in the pool after: the engine is told how long it
    queued), or its whole-request deadline (`Timeout(total=...)`) when that is shorter; and
    whether the deadline is the bound."""
    if not timeouts:
        return None, False
    pool, total = timeouts.get("pool"), timeouts.get("total")
    if total is not None and (pool is None or total <= pool):
        return total, True
    return pool, False


def admission_timed_out(timeouts: Mapping[str, Any] | None, by_deadline: bool) -> PoolTimeout:
    """The error of a request whose wait at the gate ran out: the engine's own for a pool
    timeout, or the deadline's message."""
    if by_deadline and timeouts:
        return PoolTimeout(deadline_message(timeouts.get("total")))
    return PoolTimeout(POOL_TIMED_OUT)
