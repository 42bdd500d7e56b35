"""Client-side rate limiting per origin: a token bucket each, as sans-I/O state.

Theory of operation
-------------------
`RateLimit` never sleeps and never reads a clock: the caller passes `now` (monotonic seconds,
the client's clock) and performs the waits it is told. The flow's loop is::

    reservation = limit.reserve(origin, now, deadline)      # may raise RateLimitTimeout
    while reservation is not None and reservation.wait > 0:
        rate_limit_wait(origin, reservation.wait)           # _logging, DEBUG
        yield SLEEP, reservation.wait
        reservation = limit.confirm(reservation, clock(), deadline)
    if reservation is None:
        ...  # the slot comes after the deadline: raise the deadline's timeout now
    ... send ...
    if status in (429, 503) or response.headers._has_any(WATCHED_FIELDS):
        limit.observe(origin, status, response.headers.multi_items(), clock(), wall_now)

With a `CircuitBreaker` as well, ask the breaker first (an open circuit then fails at once
instead of after a wait for a slot) and `release` its admission when the limiter refuses.

Each origin's bucket is kept in GCRA form (the "virtual scheduling" form of a token bucket,
ITU-T I.371): one number, `tat`, the time at which the bucket would be full again. A request
may go at `tat - tolerance`, where the tolerance `(burst - 1) * interval` is what idle time can
bank; each request pushes `tat` one `interval` (`per / rate`) further. Asking reserves the slot
at once, so concurrent callers queue: N callers asking together get waits 0, T, 2T, ... instead
of all waking at the same moment and racing. A reservation is never refunded (a request
cancelled while it waits costs its slot), so the limiter errs on the slow side.

The server's word slows an origin down, never speeds it up past the configured rate:

- a 429 or 503 with `Retry-After` (RFC 9110 section 10.2.3; RFC 6585 section 4) pauses the
  origin until then, capped by `max_pause`. Callers already asleep on a slot that now falls
  inside the pause are queued again by `confirm`, so nobody sends into it;
- quota headers (`RateLimit`, `RateLimit-Remaining`/`-Reset`, `X-RateLimit-*`, parsed by
  `server_hints.rate_limit_hint`): with `remaining` requests left for `reset` seconds, the
  origin is slowed to one request per `reset / remaining` seconds (when that is slower than the
  configured rate) until the reset, without bursts; `remaining == 0` pauses it until the reset.
  The newest response's statement replaces the previous one.

Memory: a bucket that is full again, with no pause or slowdown in force, is the same as no
bucket, so idle buckets are dropped (a sweep runs when the number of buckets has doubled since
the last one: amortised O(1) per new origin, at most about twice the active origins kept).

Concurrency: one `RateLimit` is shared by every thread or task of a client; its lock guards only
arithmetic on the buckets and is never held across a wait or a log call. It works on any one
clock: do not share an instance between clients whose clocks differ (trio's clock has an offset
from `time.monotonic()`).
"""

from __future__ import annotations

import math
from _thread import allocate_lock
from collections.abc import Iterable
from typing import Final

from .._exceptions import RateLimitTimeout
from .._logging import origin_text, rate_limit_paused, rate_limit_slowed

__all__ = ["WATCHED_FIELDS", "Origin", "RateLimit", "Reservation"]

Origin = tuple[str, str, int]

# Responses that can change a bucket: Retry-After on these statuses (RFC 6585 section 4 for
# 429, RFC 9110 section 15.6.4 for 503; on a 3xx or 413 it means something else).
_PAUSE_STATUSES: Final = frozenset({429, 503})
# Field names (lower-case bytes, as `Headers.raw` holds them) that `observe` reads. A response
# with none of them, and not a 429 or 503, changes nothing: a caller may skip `observe` for it.
WATCHED_FIELDS: Final = frozenset(
    {
        b"retry-after",
        b"ratelimit",
        b"ratelimit-remaining",
        b"ratelimit-reset",
        b"x-ratelimit-remaining",
        b"x-ratelimit-reset",
    }
)
_WATCHED_NAMES: Final = frozenset(name.decode() for name in WATCHED_FIELDS)
_MIN_SWEEP = 64  # buckets kept before the first sweep for idle ones
_NEVER = -math.inf


class Reservation:
    """A request's slot on its origin's schedule: `wait` seconds from when it was asked (0.0:
    send now). After sleeping `wait`, pass it to `RateLimit.confirm`."""

    __slots__ = ("origin", "since", "slot", "wait")

    def __init__(self, origin: Origin | None, wait: float, slot: float, since: float) -> None:
        self.origin = origin
        self.wait = wait
        self.slot = slot  # the time it may be sent at, on the caller's clock
        self.since = since  # when the caller first asked (max_wait counts from there)

    def __repr__(self) -> str:
        return f"<Reservation wait={self.wait:.3f}>"


# Returned for every request that may go at once, so the common case allocates nothing.
_GO: Final = Reservation(None, 0.0, _NEVER, _NEVER)


class _Bucket:
    """One origin's state; see the module docstring for the meaning of `tat`."""

    __slots__ = ("pause_reason", "paused_until", "slow_interval", "slow_until", "tat")

    def __init__(self) -> None:
        self.tat = _NEVER  # full
        self.paused_until = _NEVER
        self.pause_reason = ""
        self.slow_interval = 0.0
        self.slow_until = _NEVER


class RateLimit:
    """Client-side rate limiting per origin (scheme, host, port): at most `rate` requests per
    `per` seconds to each, a token bucket each; different origins never wait for one another.

    `burst` (default 1) is how many requests idle time may bank and send back to back. With 1
    requests are evenly spaced, so no window of `per` seconds ever holds more than `rate` of
    them; with `burst=b`, at most `rate + b - 1`. Requests wait for their turn rather than fail;
    when the wait would be longer than `max_wait` seconds (None: no bound) the request fails at
    once with `RateLimitTimeout` instead. The limiter also reacts to the server: see `observe`.
    `max_pause` caps how long a server may pause an origin (Retry-After, quota reset).

    Waiting for the limiter is not waiting for a pool slot: it counts against the whole-request
    deadline (`Timeout(total=...)`), never against `Timeout(pool=...)`.

    Clients take it as `Client(rate_limit=RateLimit(100, per=60))` and
    `AsyncClient(rate_limit=...)`; the client flow (`_core/flow.py`, `_send`) drives it with
    `reserve`, `confirm` and `observe`, the time passed in. One instance may be shared by
    clients on the same clock.
    """

    __slots__ = (
        "_buckets",
        "_burst",
        "_interval",
        "_lock",
        "_per",
        "_rate",
        "_sweep_at",
        "_tolerance",
        "max_pause",
        "max_wait",
    )

    def __init__(
        self,
        rate: float,
        per: float = 1.0,
        burst: int | None = None,
        max_wait: float | None = None,
        *,
        max_pause: float = 300.0,
    ) -> None:
        self._rate = _positive("rate", rate)
        self._per = _positive("per", per)
        if burst is None:
            burst = 1
        if isinstance(burst, bool) or not isinstance(burst, int):
            raise TypeError(f"RateLimit(burst=...) must be an int or None, not {burst!r}")
        if burst < 1:
            raise ValueError(f"RateLimit(burst=...) must be at least 1, not {burst}")
        self._burst = burst
        self.max_wait = None if max_wait is None else _non_negative("max_wait", max_wait)
        self.max_pause = _non_negative("max_pause", max_pause)
        self._interval = self._per / self._rate
        self._tolerance = (burst - 1) * self._interval
        self._buckets: dict[Origin, _Bucket] = {}
        self._sweep_at = _MIN_SWEEP
        # `_thread.allocate_lock` is `threading.Lock` (CPython defines one as the other) without
        # the `threading` module, which `_core` does not import: unlike the pool, whose lock
        # the runtime lends, a policy is shared by every client holding it (a Client and an
        # AsyncClient alike), so it owns its lock. It guards a few float operations and is
        # never held across a wait or a log call, so it never blocks an event loop.
        self._lock = allocate_lock()

    # Read-only: the bucket arithmetic is derived from them once.
    @property
    def rate(self) -> float:
        """Requests allowed per `per` seconds, to each origin."""
        return self._rate

    @property
    def per(self) -> float:
        """The period, in seconds, that `rate` is counted over."""
        return self._per

    @property
    def burst(self) -> int:
        """How many requests idle time may bank and send back to back."""
        return self._burst

    def __repr__(self) -> str:
        extra = "" if self.max_wait is None else f", max_wait={self.max_wait!r}"
        return f"RateLimit({self._rate!r}, per={self._per!r}, burst={self._burst!r}{extra})"

    # -- asking for a slot

    def reserve(
        self, origin: Origin, now: float, deadline: float | None = None
    ) -> Reservation | None:
        """Reserve the next slot for a request to `origin`; its `wait` is how long to sleep
        before sending (0.0: send now).

        None: the slot would come after `deadline` (absolute, on the same clock as `now`), and
        nothing is reserved: the caller raises its deadline's timeout at once rather than sleep
        in vain. Raises `RateLimitTimeout` (nothing reserved) when the wait is over `max_wait`.
        """
        return self._reserve(origin, now, deadline, now)

    def confirm(
        self, reservation: Reservation, now: float, deadline: float | None = None
    ) -> Reservation | None:
        """After sleeping `reservation.wait`: the same slot with what is left of its wait (0.0
        once it has come), or, when a pause began meanwhile over that slot, a new place in the
        queue after the pause (`max_wait` then counts from the first `reserve`). None and
        `RateLimitTimeout` as for `reserve`."""
        origin = reservation.origin
        if origin is None:  # the shared "go now"
            return reservation
        with self._lock:
            bucket = self._buckets.get(origin)
            paused_until = _NEVER if bucket is None else bucket.paused_until
        if reservation.slot >= paused_until:
            left = reservation.slot - now
            if left <= 0:
                return _GO
            return Reservation(origin, left, reservation.slot, reservation.since)
        return self._reserve(origin, now, deadline, reservation.since)

    def _take(self, origin: Origin, now: float, deadline: float | None) -> bool:
        """`reserve`'s common case for the client's fast path: when `origin` may send at once
        (its slot is now, no pause or slowdown in force, the deadline not passed), book the
        slot and return True; otherwise change nothing and return False (then ask `reserve`).
        """
        if deadline is not None and now > deadline:
            return False
        # (acquire and release rather than `with`: half the cost, on every request)
        lock = self._lock
        lock.acquire()
        try:
            bucket = self._buckets.get(origin)
            if bucket is None:
                bucket = self._new_bucket(origin, now)
            tat = bucket.tat
            if tat - self._tolerance > now or bucket.paused_until > now or bucket.slow_until > now:
                return False
            # (as `_reserve` with a slot of `now`: the tat moves one interval past it)
            bucket.tat = (tat if tat > now else now) + self._interval
            return True
        finally:
            lock.release()

    def _reserve(
        self, origin: Origin, now: float, deadline: float | None, since: float
    ) -> Reservation | None:
        with self._lock:
            bucket = self._buckets.get(origin)
            if bucket is None:
                bucket = self._new_bucket(origin, now)
            interval, tolerance = self._interval, self._tolerance
            if bucket.slow_until > now:
                interval, tolerance = max(interval, bucket.slow_interval), 0.0
            slot = max(now, bucket.tat - tolerance, bucket.paused_until)
            wait = slot - now
            max_wait = self.max_wait
            too_long = max_wait is not None and (now - since) + wait > max_wait
            late = deadline is not None and slot > deadline
            if not (too_long or late):
                bucket.tat = max(bucket.tat, slot) + interval
            reason = bucket.pause_reason if slot == bucket.paused_until else ""
        if too_long:
            raise self._timeout(origin, (now - since) + wait, reason)
        if late:
            return None
        if wait <= 0:
            return _GO
        return Reservation(origin, wait, slot, since)

    def _timeout(self, origin: Origin, wait: float, reason: str) -> RateLimitTimeout:
        cause = f", paused by the server's {reason}" if reason else ""
        return RateLimitTimeout(
            f"The rate limit for {origin_text(origin)} would hold this request for "
            f"{wait:.3g} s{cause}, over RateLimit(max_wait={self.max_wait!r}).",
            origin=origin,
            wait=wait,
        )

    # -- what the server said

    def observe(
        self,
        origin: Origin,
        status: int,
        headers: Iterable[tuple[str, str]],
        now: float,
        wall_now: float,
    ) -> None:
        """React to a response from `origin`: `status`, its header fields as (name, value)
        pairs, `now` on the client's clock and `wall_now` in seconds since the epoch (for an
        HTTP-date Retry-After and epoch resets).

        A 429 or 503 with a usable `Retry-After` pauses the origin that long (at most
        `max_pause`); quota headers slow it down or pause it until the quota resets (see the
        module docstring). Garbage in any of them is ignored. A response with none of
        `WATCHED_FIELDS` changes nothing.
        """
        fields = headers if type(headers) is list else list(headers)
        if status not in _PAUSE_STATUSES:
            # The common case, a response that says nothing about rates: one cheap pass.
            for name, _ in fields:
                if name.lower() in _WATCHED_NAMES:
                    break
            else:
                return
        # Imported here: server_hints loads `email`, which `import httplib` does not pay for.
        from .server_hints import rate_limit_hint, retry_after_seconds

        if status in _PAUSE_STATUSES:
            for name, value in fields:
                if name.lower() == "retry-after":
                    seconds = retry_after_seconds(value, wall_now)
                    if seconds is not None:
                        self._pause(origin, now, seconds, "Retry-After")
                    break
        hint = rate_limit_hint(fields, wall_now)
        if hint is None or hint.reset is None or hint.remaining is None:
            return  # without both, the quota cannot be spread over time
        if hint.remaining == 0:
            self._pause(origin, now, hint.reset, "rate-limit quota, used up until its reset")
        else:
            self._slow(origin, now, hint.reset / hint.remaining, hint.reset)

    def _pause(self, origin: Origin, now: float, seconds: float, reason: str) -> None:
        seconds = min(seconds, self.max_pause)
        if seconds <= 0:
            return
        until = now + seconds
        with self._lock:
            bucket = self._buckets.get(origin)
            if bucket is None:
                bucket = self._new_bucket(origin, now)
            if until <= bucket.paused_until:
                return
            bucket.paused_until = until
            bucket.pause_reason = reason
            tolerance = 0.0 if bucket.slow_until > now else self._tolerance
            # One request at `until`, then one per interval: after a pause the bucket starts
            # empty rather than bursting. Never earlier than it is already (no refund).
            bucket.tat = max(bucket.tat, until + tolerance)
        rate_limit_paused(origin, seconds, reason)

    def _slow(self, origin: Origin, now: float, interval: float, seconds: float) -> None:
        seconds = min(seconds, self.max_pause)
        with self._lock:
            bucket = self._buckets.get(origin)
            if interval <= self._interval or seconds <= 0:
                # The quota is looser than the configured rate: lift an earlier slowdown.
                if bucket is not None:
                    bucket.slow_until = _NEVER
                return
            if bucket is None:
                bucket = self._new_bucket(origin, now)
            was_slow = bucket.slow_until > now
            bucket.slow_interval = interval
            bucket.slow_until = now + seconds
        if not was_slow:
            rate_limit_slowed(origin, interval, seconds)

    # -- memory

    def _new_bucket(self, origin: Origin, now: float) -> _Bucket:
        """Under the lock: a fresh bucket for `origin`, after dropping idle ones if due."""
        buckets = self._buckets
        if len(buckets) >= self._sweep_at:
            tolerance = self._tolerance
            idle = [
                key
                for key, b in buckets.items()
                if b.tat - tolerance <= now and b.paused_until <= now and b.slow_until <= now
            ]
            for key in idle:
                del buckets[key]
            self._sweep_at = max(_MIN_SWEEP, 2 * len(buckets))
        bucket = buckets[origin] = _Bucket()
        return bucket


def _positive(name: str, value: float) -> float:
    number = _number(name, value)
    if not number > 0:
        raise ValueError(f"RateLimit({name}=...) must be a positive number, not {value!r}")
    return number


def _non_negative(name: str, value: float) -> float:
    number = _number(name, value)
    if not number >= 0:
        raise ValueError(f"RateLimit({name}=...) must be zero or more, not {value!r}")
    return number


def _number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"RateLimit({name}=...) must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"RateLimit({name}=...) must be finite, not {value!r}")
    return number
