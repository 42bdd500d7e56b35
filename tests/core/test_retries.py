"""The retry policy and the retry budget as pure decisions: a fake clock, a seeded random, and
what happened (an error or a status) in; sleep-and-retry or give-up-because out."""

from __future__ import annotations

import email.utils
import random
import threading
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib import Retry, RetryBudget
from httplib._core.retries import (
    BUDGET,
    DEADLINE,
    EXHAUSTED,
    METHOD,
    NOT_RETRYABLE,
    ONE_SHOT,
    TOO_LONG,
    BudgetState,
    RetryRun,
    deadline_exceeded,
)
from httplib._exceptions import (
    ConnectError,
    ConnectTimeout,
    DecodingError,
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    WriteError,
    WriteTimeout,
)

WALL = 1_780_000_000.0  # a fixed epoch "now" for HTTP-dates
EXACT = {"backoff_factor": 0.5, "backoff_jitter": 0.0}


def run_of(
    policy: Retry,
    method: str = "GET",
    replayable: bool = True,
    seed: int = 1,
    idempotent: bool | None = None,
) -> RetryRun:
    budget = None if policy.budget is None else BudgetState(policy.budget, threading.Lock())
    run = RetryRun(policy, budget, lambda: 0.0, lambda: WALL, random.Random(seed))
    if idempotent is None:
        idempotent = method in Retry.DEFAULT_ALLOWED_METHODS
    run.start(method, replayable, 0.0, idempotent=idempotent)
    return run


def status(run: RetryRun, code: int, retry_after: str | None = None, now: float = 0.0,
           deadline: float | None = None):  # fmt: skip
    return run.after_response(code, retry_after, now=now, wall_now=WALL, deadline=deadline)


def error(run: RetryRun, exc: BaseException, now: float = 0.0, deadline: float | None = None):  # type: ignore[no-untyped-def]
    return run.after_error(exc, now=now, deadline=deadline)


# --- backoff -------------------------------------------------------------------------------


def test_backoff_doubles_from_the_factor_and_stops_at_the_cap() -> None:
    policy = Retry(backoff_factor=0.5, backoff_max=3.0, backoff_jitter=0.0)
    rng = random.Random(0)
    assert [policy.backoff(n, rng) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(10_000, rng) == 3.0  # no overflow for absurd retry numbers


def test_full_jitter_is_the_default_and_stays_between_zero_and_the_capped_value() -> None:
    policy = Retry(backoff_factor=1.0, backoff_max=5.0)
    assert policy.backoff_jitter == "full"
    draws = [policy.backoff(n, random.Random(seed)) for seed in range(200) for n in (1, 2, 4)]
    ceilings = [min(5.0, 2.0 ** (n - 1)) for _ in range(200) for n in (1, 2, 4)]
    assert all(0.0 <= d <= c for d, c in zip(draws, ceilings, strict=True))
    # Spread over the whole range rather than pinned at an end.
    fourth = [d for d, c in zip(draws, ceilings, strict=True) if c == 5.0]
    assert min(fourth) < 1.0
    assert max(fourth) > 4.0


def test_a_seeded_random_gives_the_same_sleeps() -> None:
    policy = Retry(backoff_factor=0.5)
    first = [policy.backoff(n, random.Random(7)) for n in range(1, 4)]
    assert first == [policy.backoff(n, random.Random(7)) for n in range(1, 4)]


def test_a_positive_jitter_adds_up_to_that_many_seconds_within_the_cap() -> None:
    policy = Retry(backoff_factor=1.0, backoff_max=4.5, backoff_jitter=1.0)
    for seed in range(100):
        assert 1.0 <= policy.backoff(1, random.Random(seed)) <= 2.0
        assert 4.0 <= policy.backoff(3, random.Random(seed)) <= 4.5


def test_a_run_backs_off_per_exchange() -> None:
    run = run_of(Retry(total=5, **EXACT))
    assert [status(run, 503).delay for _ in range(3)] == [0.5, 1.0, 2.0]
    run.start("GET", True, 0.0)  # a redirect hop: its own backoff, the same total
    assert [status(run, 503).delay for _ in range(2)] == [0.5, 1.0]
    assert status(run, 503).reason == EXHAUSTED
    assert run.retries == 5


# --- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [413, 429, 503])
def test_retry_after_seconds_replace_the_backoff(code: int) -> None:
    decision = status(run_of(Retry(**EXACT)), code, "3")
    assert (decision.retry, decision.delay) == (True, 3.0)


def test_retry_after_as_an_http_date() -> None:
    date = email.utils.formatdate(WALL + 7, usegmt=True)
    decision = status(run_of(Retry(**EXACT)), 503, date)
    assert decision.retry
    assert decision.delay == pytest.approx(7.0, abs=1.0)


@pytest.mark.parametrize("garbage", ["soon", "-1", "1.5", "", "Mon, 99 Foo 2026 99:99:99 GMT"])
def test_garbage_retry_after_falls_back_to_the_backoff(garbage: str) -> None:
    assert status(run_of(Retry(**EXACT)), 503, garbage).delay == 0.5
    # 413 is not in the forcelist: only a usable Retry-After makes it retryable.
    assert status(run_of(Retry(**EXACT)), 413, garbage).reason == NOT_RETRYABLE


def test_retry_after_on_other_statuses_is_not_honoured() -> None:
    assert status(run_of(Retry(**EXACT)), 502, "9").delay == 0.5
    assert status(run_of(Retry(**EXACT)), 500, "1").reason == NOT_RETRYABLE


def test_a_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    run = run_of(Retry(retry_after_max=10.0, **EXACT))
    assert status(run, 429, "11").reason == TOO_LONG
    assert status(run, 429, "10").delay == 10.0


def test_retry_after_can_be_ignored() -> None:
    run = run_of(Retry(respect_retry_after_header=False, **EXACT))
    assert status(run, 503, "30").delay == 0.5
    assert status(run, 413, "1").reason == NOT_RETRYABLE


# --- what is retried -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "get", "post"),
    [
        (ConnectError("refused"), True, True),  # never left: any method
        (ConnectTimeout("slow"), True, True),
        (ReadError("reset"), True, False),
        (WriteError("broken pipe"), True, False),
        (RemoteProtocolError("Server disconnected without sending a response."), True, False),
        (RemoteProtocolError("Invalid status line: b'HTTB'"), False, False),  # malformed
        (ReadTimeout("timed out"), False, False),  # only when asked
        (WriteTimeout("timed out"), False, False),
        (PoolTimeout("no slot"), False, False),
        (DecodingError("bad gzip"), False, False),
        (ValueError("a bug"), False, False),
    ],
)
def test_errors_retried_per_method(exc: BaseException, get: bool, post: bool) -> None:
    assert error(run_of(Retry()), exc).retry is get
    assert error(run_of(Retry(), "POST"), exc).retry is post


def test_timeouts_when_asked_for_allowed_methods_only() -> None:
    policy = Retry(retry_on_timeout=True)
    assert error(run_of(policy), ReadTimeout("t")).retry
    assert error(run_of(policy), WriteTimeout("t")).retry
    assert error(run_of(policy, "POST"), ReadTimeout("t")).reason == METHOD


@pytest.mark.parametrize("code", [429, 502, 503, 504])
def test_the_default_forcelist(code: int) -> None:
    assert status(run_of(Retry()), code).retry
    assert status(run_of(Retry(), "POST"), code).reason == METHOD
    assert status(run_of(Retry(), "PATCH"), code).reason == METHOD


@pytest.mark.parametrize("code", [200, 301, 400, 401, 404, 500])
def test_other_statuses_are_final(code: int) -> None:
    assert status(run_of(Retry()), code).reason == NOT_RETRYABLE


def test_listed_methods_and_statuses() -> None:
    policy = Retry(allowed_methods=["post", "get"], status_forcelist=[500])
    assert policy.allowed_methods == frozenset({"POST", "GET"})
    assert status(run_of(policy, "POST"), 500).retry
    assert error(run_of(policy, "POST"), ReadError("reset")).retry
    assert status(run_of(policy, "PUT"), 500).reason == METHOD
    assert status(run_of(policy), 503).reason == NOT_RETRYABLE
    assert status(run_of(Retry(allowed_methods=None), "PATCH"), 503).retry  # None: any


def test_the_default_methods_admit_a_request_with_an_idempotency_key() -> None:
    """`idempotent`: the request carries an Idempotency-Key (`resend.is_idempotent`)."""
    assert status(run_of(Retry(), "POST", idempotent=True), 503).retry
    assert error(run_of(Retry(), "PATCH", idempotent=True), ReadError("reset")).retry
    # A list of the user's other than the default is taken as written.
    listed = Retry(allowed_methods=["GET"])
    assert status(run_of(listed, "POST", idempotent=True), 503).reason == METHOD
    same = Retry(allowed_methods=sorted(Retry.DEFAULT_ALLOWED_METHODS))
    assert status(run_of(same, "POST", idempotent=True), 503).retry


def test_a_one_shot_body_is_never_resent() -> None:
    for outcome in (lambda r: status(r, 503), lambda r: error(r, ConnectError("refused"))):
        decision = outcome(run_of(Retry(), "PUT", replayable=False))
        assert decision.reason == ONE_SHOT


def test_counts_per_kind_and_in_total() -> None:
    run = run_of(Retry(total=3, connect=1, status=5, **EXACT))
    assert error(run, ConnectError("x")).retry
    assert error(run, ConnectError("x")).reason == EXHAUSTED  # connect=1
    assert status(run, 503).retry
    assert status(run, 503).retry
    assert status(run, 503).reason == EXHAUSTED  # total=3
    run = run_of(Retry(total=None, read=1, **EXACT))
    assert error(run, ReadError("x")).retry
    assert error(run, ReadError("x")).reason == EXHAUSTED
    assert status(run_of(Retry(total=0)), 503).reason == EXHAUSTED


def test_attempts_count_each_send_of_an_exchange() -> None:
    run = run_of(Retry(**EXACT))
    assert run.attempt == 1
    status(run, 503)
    error(run, ConnectError("x"))
    assert run.attempt == 3
    status(run, 200)
    assert run.attempt == 3


# --- the deadline --------------------------------------------------------------------------


def test_a_wait_that_would_pass_the_deadline_is_not_taken() -> None:
    run = run_of(Retry(**EXACT))
    assert status(run, 503, now=10.0, deadline=10.6).retry  # 0.5 s fits
    decision = status(run, 503, now=10.5, deadline=11.0)  # 1.0 s does not
    assert (decision.retry, decision.reason, decision.delay) == (False, DEADLINE, 1.0)
    assert status(run, 429, "5", now=0.0, deadline=4.0).reason == DEADLINE
    assert run.retries == 1  # nothing spent on the refusals


@pytest.mark.parametrize(
    ("exc", "raised"),
    [
        (ConnectError("refused"), ConnectTimeout),
        (ReadError("reset"), ReadTimeout),
        (RemoteProtocolError("Server disconnected without sending a response."), ReadTimeout),
        (WriteError("broken"), WriteTimeout),
        (ReadTimeout("t"), ReadTimeout),
    ],
)
def test_the_deadline_error_is_the_phase_timeout_naming_it(
    exc: BaseException, raised: type[BaseException]
) -> None:
    run = run_of(Retry(retry_on_timeout=True, **EXACT))
    decision = error(run, exc, now=1.0, deadline=1.2)
    assert decision.reason == DEADLINE
    timeout = deadline_exceeded(exc, decision, 2.5, run.attempt)
    assert type(timeout) is raised
    assert "total deadline of 2.5 s" in str(timeout)
    assert type(exc).__name__ in str(timeout)


# --- the budget ----------------------------------------------------------------------------


def test_budget_floor_then_ratio() -> None:
    state = BudgetState(RetryBudget(ratio=0.5, min_per_second=0.2, window=10.0), threading.Lock())
    state.deposit(0.0)
    assert [state.withdraw(0.0) for _ in range(3)] == [True, True, False]  # floor 2 (+0.5)
    state.deposit(0.1)
    state.deposit(0.1)  # 3 requests: 2 + 1.5 allowed
    assert [state.withdraw(0.2) for _ in range(2)] == [True, False]
    assert state.usage(0.3) == (3, 3, 3.5)


def test_budget_window_slides() -> None:
    state = BudgetState(RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0), threading.Lock())
    state.deposit(0.0)
    assert state.withdraw(0.5)
    assert not state.withdraw(0.6)
    assert not state.withdraw(9.9)  # the retry at 0.5 s is still in the window
    assert state.withdraw(10.5)  # its bucket slid out
    assert not state.withdraw(11.0)
    assert state.withdraw(1000.0)  # a long silence empties everything
    assert state.usage(1000.0) == (0, 1, 1.0)


def test_a_refused_withdrawal_takes_nothing() -> None:
    state = BudgetState(RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0), threading.Lock())
    assert state.withdraw(0.0)
    for _ in range(5):
        assert not state.withdraw(0.0)
    assert state.usage(0.0) == (0, 1, 1.0)


def test_a_spent_budget_stops_a_run() -> None:
    run = run_of(Retry(budget=RetryBudget(ratio=0.0, min_per_second=0.1), **EXACT))
    assert status(run, 503).retry
    decision = status(run, 503)
    assert (decision.retry, decision.reason) == (False, BUDGET)
    assert run.retries == 1


def test_no_budget_means_no_load_bound() -> None:
    run = run_of(Retry(total=50, budget=None, backoff_factor=0.0, backoff_jitter=0.0))
    assert all(status(run, 503).retry for _ in range(50))


def test_the_budget_holds_for_threads_sharing_it() -> None:
    state = BudgetState(RetryBudget(ratio=0.25, min_per_second=0.5, window=10.0), threading.Lock())
    granted: list[bool] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(100):
            state.deposit(1.0)
            granted.append(state.withdraw(1.0))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # 800 requests: 5 (floor) + 0.25 * 800 retries at most; the last few withdrawals see
    # (nearly) all the deposits, so (nearly) all of that was granted, and counted once.
    assert 200 <= sum(granted) <= 205
    assert state.usage(1.0) == (800, sum(granted), 205.0)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.floats(0.0, 2.0),
    st.lists(st.tuples(st.floats(0.0, 3.0), st.booleans()), max_size=120),
)
def test_budget_never_grants_more_than_the_window_allows(
    ratio: float, floor_rate: float, steps: list[tuple[float, bool]]
) -> None:
    budget = RetryBudget(ratio=ratio, min_per_second=floor_rate, window=10.0)
    state = BudgetState(budget, threading.Lock())
    width = budget.window / BudgetState.SLOTS
    now = 0.0
    deposits: deque[float] = deque()
    grants: deque[float] = deque()
    for advance, is_retry in steps:
        now += advance
        if not is_retry:
            state.deposit(now)
            deposits.append(now)
        elif state.withdraw(now):
            grants.append(now)
            # The buckets cover at least the last `window - width` seconds and at most the
            # last `window`: grants in the short span never exceed what the long one allows.
            recent_grants = sum(1 for t in grants if t > now - (budget.window - width))
            recent_deposits = sum(1 for t in deposits if t > now - budget.window - width)
            allowed = budget.min_per_second * budget.window + ratio * recent_deposits
            assert recent_grants <= allowed + 1e-9
        # The counts are exactly those of the buckets still in the window.
        oldest = int(now // width) - BudgetState.SLOTS
        in_window = [sum(1 for t in ts if int(t // width) > oldest) for ts in (deposits, grants)]
        assert list(state.usage(now)[:2]) == in_window


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 6),
    st.floats(0.0, 2.0),
    st.floats(0.1, 10.0),
    st.one_of(st.just("full"), st.floats(0.0, 1.0)),
    st.lists(st.sampled_from([503, 429, 200, "connect", "read"]), max_size=20),
    st.integers(0, 2**32),
)
def test_a_run_stays_within_its_counts_and_caps(
    total: int,
    factor: float,
    cap: float,
    jitter: str | float,
    outcomes: list[int | str],
    seed: int,
) -> None:
    policy = Retry(total=total, backoff_factor=factor, backoff_max=cap, backoff_jitter=jitter,
                   retry_after_max=5.0, budget=None)  # fmt: skip
    run = run_of(policy, seed=seed)
    for outcome in outcomes:
        before = run.attempt
        if outcome == "connect":
            decision = error(run, ConnectError("x"))
        elif outcome == "read":
            decision = error(run, ReadError("x"))
        else:
            decision = status(run, int(outcome), "4" if outcome == 429 else None)
        assert run.retries <= total
        assert run.attempt == before + (1 if decision.retry else 0)
        if decision.retry:
            assert 0.0 <= decision.delay <= max(cap, 5.0)
        else:
            assert decision.reason in (EXHAUSTED, NOT_RETRYABLE)


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total": -1},
        {"connect": 1.5},
        {"backoff_factor": -0.1},
        {"backoff_max": float("inf")},
        {"backoff_jitter": "half"},
        {"retry_after_max": float("nan")},
        {"status_forcelist": [99]},
    ],
)
def test_bad_retry_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Retry"):
        Retry(**kwargs)  # type: ignore[arg-type]


def test_bad_retry_types_are_refused() -> None:
    with pytest.raises(TypeError, match="allowed_methods"):
        Retry(allowed_methods="GET")
    with pytest.raises(TypeError, match="budget"):
        Retry(budget=0.2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"ratio": -1}, {"window": 0}, {"min_per_second": float("inf")}, {"ratio": "x"}]
)
def test_bad_budget_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="RetryBudget"):
        RetryBudget(**kwargs)  # type: ignore[arg-type]


def test_defaults_match_the_documented_ones() -> None:
    policy = Retry()
    assert (policy.total, policy.backoff_factor, policy.backoff_max) == (3, 0.5, 30.0)
    assert policy.status_forcelist == {429, 502, 503, 504}
    assert policy.allowed_methods == {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}
    assert policy.budget == RetryBudget(ratio=0.2, min_per_second=1.0, window=10.0)
    assert Retry(5).total == 5  # total is positional, as in urllib3
    with pytest.raises(AttributeError):
        policy.total = 9  # type: ignore[misc]  # frozen: a policy can be shared safely
