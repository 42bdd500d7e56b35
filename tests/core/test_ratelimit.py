"""RateLimit: token buckets per origin, fair queueing, max_wait, deadlines and the server's
Retry-After and quota headers, with a fake clock (the policy never reads one)."""

from __future__ import annotations

import email.utils
import heapq
import logging
import threading

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import httplib
from httplib._core.ratelimit import WATCHED_FIELDS, RateLimit, Reservation

A = ("https", "a.test", 443)
B = ("https", "b.test", 443)
V6 = ("http", "::1", 8080)
WALL = 1_780_000_000.0  # a fixed "wall clock" for HTTP-dates and epoch resets


def waits(limit: RateLimit, origin: tuple[str, str, int], now: float, n: int) -> list[float]:
    """The waits of `n` requests asking at the same moment."""
    result = []
    for _ in range(n):
        reservation = limit.reserve(origin, now)
        assert reservation is not None
        result.append(reservation.wait)
    return result


def wait_of(limit: RateLimit, origin: tuple[str, str, int], now: float) -> float:
    reservation = limit.reserve(origin, now)
    assert reservation is not None
    return reservation.wait


# -- the bucket


def test_requests_are_spaced_by_the_interval_by_default() -> None:
    limit = RateLimit(10)  # burst 1: one request every 0.1 s
    assert waits(limit, A, 0.0, 4) == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_burst_banks_idle_time_up_to_burst_and_no_more() -> None:
    limit = RateLimit(2, per=1.0, burst=3)  # one token every 0.5 s, at most 3 banked
    assert waits(limit, A, 0.0, 4) == pytest.approx([0.0, 0.0, 0.0, 0.5])
    # Idle for long: the bucket is full again, but holds no more than `burst`.
    assert waits(limit, A, 100.0, 4) == pytest.approx([0.0, 0.0, 0.0, 0.5])


def test_the_bucket_refills_at_the_rate() -> None:
    limit = RateLimit(2, per=1.0, burst=3)
    assert waits(limit, A, 0.0, 3) == [0.0, 0.0, 0.0]
    # Half a second later one token is back, not more.
    assert waits(limit, A, 0.5, 2) == pytest.approx([0.0, 0.5])
    # 1.5 s after that, three intervals have passed, but one slot was already promised.
    assert waits(limit, A, 2.0, 3) == pytest.approx([0.0, 0.0, 0.5])


def test_rate_per_period() -> None:
    limit = RateLimit(100, per=60)  # one every 0.6 s
    assert waits(limit, A, 5.0, 3) == pytest.approx([0.0, 0.6, 1.2])


def test_concurrent_reservers_queue_with_increasing_waits() -> None:
    limit = RateLimit(5)
    reservations = [limit.reserve(A, 0.0) for _ in range(10)]
    got = [r.wait for r in reservations if r is not None]
    assert got == pytest.approx([0.2 * k for k in range(10)])
    # Each one, waking at its slot, is told to go; nobody's turn moved.
    for reservation in reservations[1:]:
        assert reservation is not None
        confirmed = limit.confirm(reservation, reservation.wait)
        assert confirmed is not None
        assert confirmed.wait == 0.0


def test_a_sleeper_woken_early_is_told_what_is_left() -> None:
    limit = RateLimit(1)
    limit.reserve(A, 0.0)
    reservation = limit.reserve(A, 0.0)
    assert reservation is not None
    assert reservation.wait == pytest.approx(1.0)
    early = limit.confirm(reservation, 0.75)
    assert early is not None
    assert early.wait == pytest.approx(0.25)
    # Confirming again keeps the same slot: it does not queue the request a second time.
    assert wait_of(limit, A, 0.75) == pytest.approx(1.25)
    done = limit.confirm(early, 1.0)
    assert done is not None
    assert done.wait == 0.0


def test_origins_are_isolated() -> None:
    limit = RateLimit(1)
    assert waits(limit, A, 0.0, 3) == pytest.approx([0.0, 1.0, 2.0])
    assert wait_of(limit, B, 0.0) == 0.0
    assert wait_of(limit, V6, 0.0) == 0.0
    limit.observe(A, 429, [("Retry-After", "60")], 0.0, WALL)
    assert wait_of(limit, B, 0.5) == pytest.approx(0.5)
    assert wait_of(limit, A, 0.5) == pytest.approx(59.5)


def test_an_immediate_request_allocates_nothing() -> None:
    limit = RateLimit(1000, burst=10)
    first, second = limit.reserve(A, 0.0), limit.reserve(B, 0.0)
    assert first is second
    assert isinstance(first, Reservation)
    assert first.wait == 0.0
    assert limit.confirm(first, 5.0) is first


# -- max_wait and deadlines


def test_a_wait_over_max_wait_raises_at_once_and_reserves_nothing() -> None:
    limit = RateLimit(1, max_wait=2.5)
    assert waits(limit, A, 0.0, 3) == pytest.approx([0.0, 1.0, 2.0])
    with pytest.raises(httplib.RateLimitTimeout) as info:
        limit.reserve(A, 0.0)
    exc = info.value
    assert isinstance(exc, httplib.TimeoutException)
    assert isinstance(exc, httplib.TransportError)
    assert not isinstance(exc, httplib.PoolTimeout)
    assert exc.origin == A
    assert exc.wait == pytest.approx(3.0)
    message = str(exc)
    assert "https://a.test:443" in message
    assert "3 s" in message
    assert "max_wait=2.5" in message
    # The refused request took no slot: the next one still finds slot 3 s.
    with pytest.raises(httplib.RateLimitTimeout, match="3 s"):
        limit.reserve(A, 0.0)
    assert wait_of(limit, A, 1.0) == pytest.approx(2.0)


def test_max_wait_zero_never_waits() -> None:
    limit = RateLimit(1, max_wait=0)
    assert wait_of(limit, A, 0.0) == 0.0
    with pytest.raises(httplib.RateLimitTimeout):
        limit.reserve(A, 0.5)
    assert wait_of(limit, A, 1.0) == 0.0


def test_a_slot_after_the_deadline_is_not_reserved() -> None:
    limit = RateLimit(1)
    assert limit.reserve(A, 0.0, deadline=10.0) is not None
    assert limit.reserve(A, 0.0, deadline=0.5) is None  # its slot would be at 1.0
    # Nothing was taken: the next caller gets slot 1.0, and a deadline exactly there is met.
    reservation = limit.reserve(A, 0.0, deadline=1.0)
    assert reservation is not None
    assert reservation.wait == pytest.approx(1.0)


def test_max_wait_counts_from_the_first_reserve_across_a_requeue() -> None:
    limit = RateLimit(1, max_wait=10.0)
    limit.reserve(A, 0.0)
    reservation = limit.reserve(A, 0.0)
    assert reservation is not None
    assert reservation.wait == pytest.approx(1.0)
    limit.observe(A, 503, [("Retry-After", "9")], 0.5, WALL)  # paused until 9.5
    # Woken at 1.0 inside the pause: queued again at 9.5, 9.5 s after it first asked.
    again = limit.confirm(reservation, 1.0)
    assert again is not None
    assert again.wait == pytest.approx(8.5)
    limit.observe(A, 503, [("Retry-After", "10")], 0.5, WALL)  # paused until 10.5
    with pytest.raises(httplib.RateLimitTimeout, match="Retry-After") as info:
        limit.confirm(again, 1.0)  # its turn would now come 10.5 s after it first asked
    assert info.value.wait == pytest.approx(10.5)


def test_a_pause_longer_than_max_wait_fails_fast_naming_the_server() -> None:
    limit = RateLimit(10, max_wait=5.0)
    limit.observe(A, 429, [("retry-after", "30")], 0.0, WALL)
    with pytest.raises(httplib.RateLimitTimeout, match="paused by the server's Retry-After"):
        limit.reserve(A, 1.0)


# -- Retry-After


def test_retry_after_seconds_pauses_the_origin() -> None:
    limit = RateLimit(10)
    limit.observe(A, 429, [("Content-Type", "text/plain"), ("Retry-After", "5")], 10.0, WALL)
    assert wait_of(limit, A, 10.0) == pytest.approx(5.0)
    # After the pause requests are spaced again, starting with one at the pause's end.
    assert wait_of(limit, A, 10.0) == pytest.approx(5.1)
    assert wait_of(limit, A, 20.0) == 0.0


def test_retry_after_on_503_pauses_too() -> None:
    limit = RateLimit(10)
    limit.observe(A, 503, [("Retry-After", "2")], 0.0, WALL)
    assert wait_of(limit, A, 0.0) == pytest.approx(2.0)


def test_retry_after_http_date() -> None:
    limit = RateLimit(10)
    date = email.utils.formatdate(WALL + 20, usegmt=True)
    limit.observe(A, 429, [("Retry-After", date)], 100.0, WALL)
    assert wait_of(limit, A, 100.0) == pytest.approx(20.0, abs=1.0)


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", "", "99999999999999999999", "Mon, 99"])
def test_garbage_retry_after_is_ignored(value: str) -> None:
    limit = RateLimit(10)
    limit.observe(A, 429, [("Retry-After", value)], 0.0, WALL)
    assert wait_of(limit, A, 0.0) == 0.0


@pytest.mark.parametrize("status", [200, 301, 413, 500, 502])
def test_retry_after_on_other_statuses_is_ignored(status: int) -> None:
    limit = RateLimit(10)
    limit.observe(A, status, [("Retry-After", "30")], 0.0, WALL)
    assert wait_of(limit, A, 0.0) == 0.0


def test_a_pause_is_capped_by_max_pause() -> None:
    limit = RateLimit(10, max_pause=60.0)
    limit.observe(A, 429, [("Retry-After", "86400")], 0.0, WALL)
    assert wait_of(limit, A, 0.0) == pytest.approx(60.0)


def test_a_shorter_pause_does_not_shorten_a_longer_one() -> None:
    limit = RateLimit(10)
    limit.observe(A, 429, [("Retry-After", "30")], 0.0, WALL)
    limit.observe(A, 429, [("Retry-After", "5")], 1.0, WALL)
    limit.observe(A, 429, [("Retry-After", "0")], 2.0, WALL)
    assert wait_of(limit, A, 2.0) == pytest.approx(28.0)


def test_sleepers_whose_slot_falls_in_a_pause_queue_again_after_it() -> None:
    limit = RateLimit(1)
    queued = [limit.reserve(A, 0.0) for _ in range(4)]  # slots 0, 1, 2, 3
    limit.observe(A, 429, [("Retry-After", "10")], 0.5, WALL)  # paused until 10.5
    sends = []
    for reservation in queued[1:]:
        assert reservation is not None
        woken = reservation.wait
        again = limit.confirm(reservation, woken)
        assert again is not None
        sends.append(woken + again.wait)
    # Nobody sends into the pause; they go one per interval after it, in their old order.
    assert sends == pytest.approx([10.5, 11.5, 12.5])
    # A newcomer during the pause goes behind them.
    assert wait_of(limit, A, 5.0) == pytest.approx(8.5)


def test_slots_already_after_a_short_pause_stand() -> None:
    limit = RateLimit(1)
    queued = [limit.reserve(A, 0.0) for _ in range(4)]  # slots 0, 1, 2, 3
    limit.observe(A, 429, [("Retry-After", "1")], 0.0, WALL)  # paused until 1.0
    last = queued[3]
    assert last is not None
    confirmed = limit.confirm(last, 3.0)
    assert confirmed is not None
    assert confirmed.wait == 0.0


def test_observe_takes_any_iterable_of_pairs() -> None:
    limit = RateLimit(10)
    limit.observe(A, 429, iter([("Retry-After", "3")]), 0.0, WALL)
    assert wait_of(limit, A, 0.0) == pytest.approx(3.0)


def test_a_plain_response_changes_nothing() -> None:
    limit = RateLimit(10)
    assert waits(limit, A, 0.0, 2) == pytest.approx([0.0, 0.1])
    limit.observe(A, 200, [("Content-Length", "5")], 0.0, WALL)
    limit.observe(A, 429, [], 0.0, WALL)  # no Retry-After: nothing to go on (retries back off)
    assert wait_of(limit, A, 0.0) == pytest.approx(0.2)
    assert b"retry-after" in WATCHED_FIELDS
    assert b"x-ratelimit-remaining" in WATCHED_FIELDS


# -- quota headers


def test_quota_headers_spread_the_remaining_requests_until_the_reset() -> None:
    limit = RateLimit(100)  # would allow one every 0.01 s
    headers = [("X-RateLimit-Remaining", "10"), ("X-RateLimit-Reset", "20")]
    limit.observe(A, 200, headers, 0.0, WALL)
    assert waits(limit, A, 0.0, 3) == pytest.approx([0.0, 2.0, 4.0])
    assert wait_of(limit, B, 0.0) == 0.0  # only that origin
    # After the reset the configured rate applies again.
    assert waits(limit, A, 30.0, 2) == pytest.approx([0.0, 0.01])


@pytest.mark.parametrize(
    "headers",
    [
        [("RateLimit", '"default";r=5;t=10')],
        [("RateLimit-Remaining", "5"), ("RateLimit-Reset", "10")],
        [("x-ratelimit-remaining", "5"), ("x-ratelimit-reset", str(int(WALL) + 10))],  # epoch
    ],
)
def test_every_quota_header_form_slows_the_origin(headers: list[tuple[str, str]]) -> None:
    limit = RateLimit(100)
    limit.observe(A, 200, headers, 0.0, WALL)
    assert waits(limit, A, 0.0, 2) == pytest.approx([0.0, 2.0])


def test_a_quota_never_speeds_the_origin_past_the_configured_rate() -> None:
    limit = RateLimit(1)
    limit.observe(A, 200, [("RateLimit", '"q";r=1000;t=1')], 0.0, WALL)
    assert waits(limit, A, 0.0, 3) == pytest.approx([0.0, 1.0, 2.0])


def test_no_burst_while_the_quota_is_tight() -> None:
    limit = RateLimit(100, burst=50)
    limit.observe(A, 200, [("RateLimit", '"q";r=4;t=2')], 0.0, WALL)
    assert waits(limit, A, 0.0, 3) == pytest.approx([0.0, 0.5, 1.0])


def test_a_used_up_quota_pauses_until_the_reset() -> None:
    limit = RateLimit(100)
    limit.observe(A, 200, [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "7")], 1.0, WALL)
    assert wait_of(limit, A, 1.0) == pytest.approx(7.0)
    limit.observe(B, 200, [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "9999")], 0, WALL)
    assert wait_of(limit, B, 0.0) == pytest.approx(300.0)  # max_pause's default


def test_a_used_up_quota_longer_than_max_wait_fails_fast_naming_it() -> None:
    limit = RateLimit(100, max_wait=1.0)
    limit.observe(A, 200, [("RateLimit", '"q";r=0;t=60')], 0.0, WALL)
    with pytest.raises(httplib.RateLimitTimeout, match="server's rate-limit quota, used up"):
        limit.reserve(A, 0.0)


def test_the_newest_quota_statement_wins() -> None:
    limit = RateLimit(100)
    limit.observe(A, 200, [("RateLimit", '"q";r=2;t=10')], 0.0, WALL)
    assert waits(limit, A, 0.0, 2) == pytest.approx([0.0, 5.0])
    limit.observe(A, 200, [("RateLimit", '"q";r=500;t=1')], 0.0, WALL)  # a new window
    assert waits(limit, A, 10.0, 2) == pytest.approx([0.0, 0.01])


@pytest.mark.parametrize(
    "headers",
    [
        [("X-RateLimit-Remaining", "3")],  # no reset: nothing to spread over
        [("X-RateLimit-Reset", "30")],  # no count
        [("X-RateLimit-Remaining", "many"), ("X-RateLimit-Reset", "soon")],
        [("RateLimit", "garbage;;;")],
    ],
)
def test_incomplete_or_garbage_quota_headers_are_ignored(headers: list[tuple[str, str]]) -> None:
    limit = RateLimit(100)
    limit.observe(A, 200, headers, 0.0, WALL)
    assert waits(limit, A, 0.0, 2) == pytest.approx([0.0, 0.01])


# -- memory


def test_idle_buckets_are_dropped_so_memory_stays_bounded() -> None:
    limit = RateLimit(10)
    per_round = 200
    for round_ in range(30):
        now = round_ * 10.0
        for n in range(per_round):
            assert wait_of(limit, ("https", f"h{round_}-{n}.test", 443), now) == 0.0
            assert len(limit._buckets) <= 2 * per_round + 64


def test_a_paused_or_busy_bucket_is_never_dropped() -> None:
    limit = RateLimit(1, max_pause=3600)
    limit.observe(A, 429, [("Retry-After", "1000")], 0.0, WALL)
    waits(limit, B, 0.0, 3)  # B's queue runs to 3.0
    for n in range(2000):
        wait_of(limit, ("https", f"h{n}.test", 443), 1.0 + n * 0.001)
    assert wait_of(limit, A, 10.0) == pytest.approx(990.0)
    assert wait_of(limit, B, 2.9) > 0


# -- configuration, logging, threads


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rate": 0}, ValueError, "rate"),
        ({"rate": -1}, ValueError, "rate"),
        ({"rate": float("inf")}, ValueError, "finite"),
        ({"rate": "10"}, TypeError, "rate"),
        ({"rate": True}, TypeError, "rate"),
        ({"rate": 1, "per": 0}, ValueError, "per"),
        ({"rate": 1, "burst": 0}, ValueError, "burst"),
        ({"rate": 1, "burst": 1.5}, TypeError, "burst"),
        ({"rate": 1, "max_wait": -1}, ValueError, "max_wait"),
        ({"rate": 1, "max_pause": float("nan")}, ValueError, "max_pause"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RateLimit(**kwargs)  # type: ignore[arg-type]


def test_repr_shows_the_configuration() -> None:
    assert repr(RateLimit(100, per=60)) == "RateLimit(100.0, per=60.0, burst=1)"
    assert repr(RateLimit(5, burst=2, max_wait=3)) == (
        "RateLimit(5.0, per=1.0, burst=2, max_wait=3.0)"
    )


def test_the_rate_is_fixed_at_construction() -> None:
    limit = RateLimit(10, per=2.0, burst=3)
    assert (limit.rate, limit.per, limit.burst) == (10.0, 2.0, 3)
    with pytest.raises(AttributeError):
        limit.rate = 20  # type: ignore[misc]


def test_pauses_and_slowdowns_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    limit = RateLimit(100)
    with caplog.at_level(logging.DEBUG, logger="httplib"):
        limit.observe(V6, 429, [("Retry-After", "30")], 0.0, WALL)
        limit.observe(A, 200, [("RateLimit", '"q";r=2;t=10')], 0.0, WALL)
        limit.observe(A, 200, [("RateLimit", '"q";r=1;t=9')], 1.0, WALL)  # already slowed
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("httplib", "INFO", "Rate limit: pausing http://[::1]:8080 for 30 s (Retry-After)"),
        (
            "httplib",
            "DEBUG",
            "Rate limit: slowing https://a.test:443 to one request per 5 s for 10 s (server quota)",
        ),
    ]


@pytest.mark.usefixtures("fast_switching")
def test_threads_sharing_a_limiter_each_get_their_own_slot() -> None:
    limit = RateLimit(1000)
    threads_n, each = 8, 1000
    barrier = threading.Barrier(threads_n)
    results: list[list[float]] = [[] for _ in range(threads_n)]

    def work(index: int) -> None:
        barrier.wait(timeout=10)
        for _ in range(each):
            reservation = limit.reserve(A, 0.0)
            assert reservation is not None
            results[index].append(reservation.slot if reservation.wait else 0.0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    slots = sorted(slot for result in results for slot in result)
    # Every slot handed out exactly once: no two threads got the same turn, none was skipped.
    assert len(slots) == threads_n * each
    assert slots == pytest.approx([k * 0.001 for k in range(threads_n * each)])


# -- invariants under random use


class RateLimitMachine(RuleBasedStateMachine):
    """Random reservations, sleeps, confirmations and server responses on a fake clock never let
    more through than the bucket allows, never send into a pause the server asked for, and
    never make anyone wait past max_wait."""

    def __init__(self) -> None:
        super().__init__()
        self.limit = RateLimit(1)
        self.now = 0.0
        self.sleepers: list[tuple[float, int, Reservation]] = []  # (wake time, order, reservation)
        self.order = 0
        self.sends: dict[tuple[str, str, int], list[float]] = {A: [], B: []}
        self.pauses: dict[tuple[str, str, int], list[tuple[float, float]]] = {A: [], B: []}

    @initialize(
        rate=st.sampled_from([1, 3, 10]),
        per=st.sampled_from([1.0, 2.0]),
        burst=st.sampled_from([1, 2, 5]),
        max_wait=st.sampled_from([None, 0.5, 3.0]),
    )
    def configure(self, rate: int, per: float, burst: int, max_wait: float | None) -> None:
        self.limit = RateLimit(rate, per=per, burst=burst, max_wait=max_wait, max_pause=4.0)

    def settle(
        self, origin: tuple[str, str, int], reservation: Reservation | None, at: float
    ) -> None:
        if reservation is None:
            return
        if reservation.wait == 0.0:
            self.send(origin, at)
            return
        assert reservation.wait > 0
        assert reservation.origin == origin
        max_wait = self.limit.max_wait
        if max_wait is not None:
            assert reservation.slot - reservation.since <= max_wait + 1e-9
        self.order += 1
        heapq.heappush(self.sleepers, (at + reservation.wait, self.order, reservation))

    def send(self, origin: tuple[str, str, int], at: float) -> None:
        for start, until in self.pauses[origin]:
            assert not start <= at < until, f"sent at {at} inside a pause {start}..{until}"
        self.sends[origin].append(at)

    @rule(origin=st.sampled_from([A, B]), deadline=st.sampled_from([None, 0.0, 0.7, 5.0]))
    def reserve(self, origin: tuple[str, str, int], deadline: float | None) -> None:
        absolute = None if deadline is None else self.now + deadline
        refused: httplib.RateLimitTimeout | None = None
        try:
            reservation = self.limit.reserve(origin, self.now, absolute)
        except httplib.RateLimitTimeout as exc:
            refused = exc
        if refused is not None:
            assert self.limit.max_wait is not None
            assert refused.wait is not None
            assert refused.wait > self.limit.max_wait
            return
        if reservation is None:
            assert absolute is not None
            return
        if absolute is not None:
            assert self.now + reservation.wait <= absolute
        self.settle(origin, reservation, self.now)

    @rule(seconds=st.sampled_from([0.0, 0.05, 0.3, 1.0, 5.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self.sleepers and self.sleepers[0][0] <= self.now:
            at, _, reservation = heapq.heappop(self.sleepers)
            origin = reservation.origin
            assert origin is not None
            try:
                again = self.limit.confirm(reservation, at)
            except httplib.RateLimitTimeout:
                assert self.limit.max_wait is not None
                continue
            self.settle(origin, again, at)

    @rule(
        origin=st.sampled_from([A, B]),
        response=st.sampled_from(
            [
                (429, [("Retry-After", "2")]),
                (503, [("Retry-After", "10")]),  # capped at max_pause=4
                (429, [("Retry-After", "later")]),
                (200, [("RateLimit", '"q";r=2;t=3')]),
                (200, [("RateLimit", '"q";r=0;t=1')]),
                (200, [("RateLimit", '"q";r=1000;t=1')]),
                (200, []),
            ]
        ),
    )
    def observe(
        self, origin: tuple[str, str, int], response: tuple[int, list[tuple[str, str]]]
    ) -> None:
        status, headers = response
        self.limit.observe(origin, status, headers, self.now, WALL)
        pause = None
        if status in (429, 503) and headers[0][1].isdigit():
            pause = min(float(headers[0][1]), 4.0)
        elif headers and headers[0][1].endswith("r=0;t=1"):
            pause = 1.0
        if pause:
            self.pauses[origin].append((self.now, self.now + pause))

    @invariant()
    def never_faster_than_the_bucket(self) -> None:
        # n requests sent within d seconds: n <= burst + d / interval, for every pair of sends.
        interval = self.limit.per / self.limit.rate
        for times in self.sends.values():
            ordered = sorted(times)
            for i in range(len(ordered)):
                for j in range(i, len(ordered)):
                    span = ordered[j] - ordered[i]
                    assert j - i + 1 <= self.limit.burst + span / interval + 1e-6, (i, j, ordered)


TestRateLimitMachine = RateLimitMachine.TestCase
TestRateLimitMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
