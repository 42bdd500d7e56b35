"""`TokenCache`, the sans-I/O single-flight cache, driven by hand with a fake clock."""

from __future__ import annotations

import threading

import pytest

from httplib._core.token_auth import FETCH, USE, WAIT, Flight, Token, TokenCache


def token(name: str, refresh_at: float | None = None) -> Token:
    return Token(name, refresh_at, {"access_token": name})


def fetch(cache: TokenCache, now: float) -> Flight:
    decision, flight = cache.acquire(now)
    assert decision == FETCH
    assert isinstance(flight, Flight)
    return flight


def test_empty_cache_asks_the_first_caller_to_fetch_and_the_rest_to_wait() -> None:
    cache = TokenCache()
    flight = fetch(cache, 100.0)
    assert cache.acquire(100.5) == (WAIT, flight)
    assert cache.acquire(101.0) == (WAIT, flight)
    woken: list[str] = []
    assert flight.on_done(lambda: woken.append("a"))
    assert flight.on_done(lambda: woken.append("b"))
    new = token("t1", 500.0)
    cache.settle(flight, new)
    assert woken == ["a", "b"]
    assert flight.done
    assert flight.token is new
    assert cache.acquire(102.0) == (USE, new)
    # A flight that ended wakes nobody new: the caller reads its outcome at once.
    assert not flight.on_done(lambda: woken.append("late"))
    assert woken == ["a", "b"]


def test_token_is_used_until_refresh_at_then_fetched_once() -> None:
    cache = TokenCache(skew=30)
    refresh_at = cache.refresh_at(100.0 + 3600, 3600)
    assert refresh_at == 100.0 + 3600 - 30
    cached = token("t1", refresh_at)
    cache.settle(fetch(cache, 100.0), cached)
    assert cache.acquire(refresh_at - 0.001) == (USE, cached)
    flight = fetch(cache, refresh_at)
    assert cache.acquire(refresh_at + 1) == (WAIT, flight)


@pytest.mark.parametrize(
    ("skew", "lifetime", "expected_skew"),
    [
        (30, 3600, 30),  # the configured skew
        (30, 20, 10),  # a short-lived token: at most half its lifetime goes to the skew
        (0, 3600, 0),
        (30, None, 30),  # expiry given without a lifetime (a saved token's expires_at)
        (30, -5, 0),  # a nonsense lifetime takes nothing off
    ],
)
def test_refresh_at_subtracts_the_skew(
    skew: float, lifetime: float | None, expected_skew: float
) -> None:
    assert TokenCache(skew).refresh_at(1000.0, lifetime) == 1000.0 - expected_skew


def test_token_without_expiry_is_used_until_invalidated() -> None:
    cache = TokenCache()
    forever = token("t1")
    cache.settle(fetch(cache, 0.0), forever)
    assert cache.acquire(1e12) == (USE, forever)


def test_invalidate_drops_only_the_token_that_was_refused() -> None:
    cache = TokenCache()
    old = token("old")
    cache.settle(fetch(cache, 0.0), old)
    cache.invalidate(old)
    flight = fetch(cache, 1.0)
    new = token("new")
    cache.settle(flight, new)
    # A slower request that also got a 401 for the old token leaves the new one in place.
    cache.invalidate(old)
    assert cache.acquire(2.0) == (USE, new)


def test_failed_fetch_hands_its_error_to_waiters_and_the_next_caller_fetches_again() -> None:
    cache = TokenCache()
    flight = fetch(cache, 0.0)
    woken: list[bool] = []
    assert flight.on_done(lambda: woken.append(True))
    try:
        raise ValueError("token endpoint said no")
    except ValueError as exc:
        cache.fail(flight, exc)
    assert woken == [True]
    assert isinstance(flight.error, ValueError)
    assert flight.traceback is not None
    assert flight.token is None
    assert fetch(cache, 1.0) is not flight


def test_abandoned_fetch_wakes_waiters_without_an_error() -> None:
    cache = TokenCache()
    flight = fetch(cache, 0.0)
    woken: list[bool] = []
    assert flight.on_done(lambda: woken.append(True))
    cache.fail(flight, KeyboardInterrupt())  # cancelled or interrupted: not handed on
    assert woken == [True]
    assert flight.done
    assert flight.error is None
    assert flight.token is None
    fetch(cache, 1.0)


def test_a_flight_ends_once() -> None:
    cache = TokenCache()
    flight = fetch(cache, 0.0)
    first = token("t1")
    cache.settle(flight, first)
    cache.fail(flight, ValueError("late"))  # (a closed flow reports again: ignored)
    cache.settle(flight, token("t2"))
    assert flight.error is None
    assert cache.acquire(1.0) == (USE, first)


def test_negative_skew_is_refused() -> None:
    with pytest.raises(ValueError, match="skew"):
        TokenCache(skew=-1)


def test_threads_racing_for_an_empty_cache_elect_one_fetcher() -> None:
    cache = TokenCache()
    count = 16
    start = threading.Barrier(count)
    decisions: list[str] = []

    def racer() -> None:
        start.wait(10)
        decisions.append(cache.acquire(0.0)[0])

    threads = [threading.Thread(target=racer) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(decisions) == [FETCH] + [WAIT] * (count - 1)


def test_token_repr_masks_the_access_token() -> None:
    assert "t0ps3cret" not in repr(token("t0ps3cret", 5.0))
