"""`Client(rate_limit=...)` and `Client(circuit_breaker=...)` end to end, on every runtime: the
limiter spaces requests per origin and obeys the server's Retry-After, the breaker fails an
unwell origin fast and lets a probe through after its recovery time. The policies' own rules
are tested with a fake clock in tests/core; these check the clients wire them in."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from faults.conftest import Fault, assert_pool_clean
from faults.routes import OK, response_with, routed_server
from httplib import CircuitBreaker, CircuitOpenError, RateLimit, RateLimitTimeout, Timeout

UNAVAILABLE = response_with(b"down", status=503)


def _get_all(fault: Fault, urls: list[str], **client: Any) -> tuple[list[Any], float]:
    """GET each URL in turn on one client; the outcomes (status or exception) and the time."""

    def sync_script(c: Any) -> list[Any]:
        out: list[Any] = []
        for url in urls:
            try:
                out.append(c.get(url).status_code)
            except Exception as exc:
                out.append(exc)
        assert_pool_clean(c)
        return out

    async def async_script(c: Any) -> list[Any]:
        out: list[Any] = []
        for url in urls:
            try:
                out.append((await c.get(url)).status_code)
            except Exception as exc:
                out.append(exc)
        assert_pool_clean(c)
        return out

    started = time.monotonic()
    outcomes = fault.with_client(async_script if fault.is_async else sync_script, **client)
    return outcomes, time.monotonic() - started


def test_the_rate_limit_spaces_requests_to_one_origin(
    fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    with routed_server({}) as server, caplog.at_level(logging.DEBUG, logger="httplib"):
        outcomes, elapsed = _get_all(
            fault, [server.url + "/a"] * 5, rate_limit=RateLimit(25, per=1.0)
        )
    assert outcomes == [200] * 5
    assert elapsed >= 4 / 25 * 0.9  # four waits of 40 ms after the first request
    waits = [r for r in caplog.records if r.getMessage().startswith("Rate limit: request to")]
    assert len(waits) >= 4  # every wait is logged


def test_the_rate_limit_keeps_origins_apart(fault: Fault) -> None:
    with routed_server({}) as first, routed_server({}) as second:
        limit = RateLimit(1, per=60.0)  # one request a minute per origin
        outcomes, elapsed = _get_all(fault, [first.url + "/a", second.url + "/b"], rate_limit=limit)
    assert outcomes == [200, 200]
    assert elapsed < 5  # the second origin did not wait for the first one's minute


def test_a_wait_over_max_wait_fails_at_once(fault: Fault) -> None:
    with routed_server({}) as server:
        limit = RateLimit(1, per=60.0, max_wait=0.5)
        outcomes, elapsed = _get_all(fault, [server.url + "/a"] * 2, rate_limit=limit)
    assert outcomes[0] == 200
    assert type(outcomes[1]) is RateLimitTimeout
    assert elapsed < 5
    assert len(server.seen) == 1


def test_a_wait_past_the_total_deadline_fails_at_once(fault: Fault) -> None:
    with routed_server({}) as server:
        outcomes, elapsed = _get_all(
            fault,
            [server.url + "/a"] * 2,
            rate_limit=RateLimit(1, per=60.0),
            timeout=Timeout(5.0, total=2.0),
        )
    assert outcomes[0] == 200
    assert type(outcomes[1]) is RateLimitTimeout
    assert "total deadline of 2.0 s" in str(outcomes[1])
    assert elapsed < 5


def test_the_rate_limit_obeys_retry_after(fault: Fault) -> None:
    busy = response_with(b"slow down", b"Retry-After: 1\r\n", status=429)
    with routed_server({"/busy": busy}) as server:
        outcomes, elapsed = _get_all(
            fault,
            [server.url + "/busy", server.url + "/a"],
            rate_limit=RateLimit(1000, per=1.0),
        )
    assert outcomes == [429, 200]
    assert elapsed >= 0.9  # the second request waited out the server's pause


class FakeClock:
    """The client's policy clock, moved by hand (the transport keeps its own)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_fails_fast_then_probes_and_closes(fault: Fault) -> None:
    state = {"down": True}

    def flaky(conn: socket.socket) -> None:
        conn.sendall(UNAVAILABLE if state["down"] else OK)

    with routed_server({"/svc": flaky}) as server, routed_server({}) as other:
        url = server.url + "/svc"
        breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=30.0)
        clock = FakeClock()

        def sync_script(c: Any) -> None:
            c._clock = clock
            assert [c.get(url).status_code for _ in range(3)] == [503] * 3
            with pytest.raises(CircuitOpenError, match="after 3 consecutive failures"):
                c.get(url)
            assert c.get(other.url + "/x").status_code == 200  # another origin is not affected
            state["down"] = False
            clock.now += 31  # past the recovery timeout: one probe goes through
            assert c.get(url).status_code == 200
            assert c.get(url).status_code == 200  # closed again
            assert_pool_clean(c)

        async def async_script(c: Any) -> None:
            c._clock = clock
            assert [(await c.get(url)).status_code for _ in range(3)] == [503] * 3
            with pytest.raises(CircuitOpenError, match="after 3 consecutive failures"):
                await c.get(url)
            assert (await c.get(other.url + "/x")).status_code == 200
            state["down"] = False
            clock.now += 31
            assert (await c.get(url)).status_code == 200
            assert (await c.get(url)).status_code == 200
            assert_pool_clean(c)

        fault.with_client(async_script if fault.is_async else sync_script, circuit_breaker=breaker)
    # The request failed fast never reached the server.
    assert len(server.seen) == 5


def test_the_breaker_counts_connection_failures(fault: Fault) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # refused from now on
    url = f"http://127.0.0.1:{port}/"
    outcomes, _ = _get_all(fault, [url] * 3, circuit_breaker=CircuitBreaker(failure_threshold=2))
    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds == ["ConnectError", "ConnectError", "CircuitOpenError"]


class NotFoundIsFailure(CircuitBreaker):
    """A breaker whose own rule (`is_failure`, documented as overridable) counts 404s."""

    def is_failure(self, status: int | None = None, error: BaseException | None = None) -> bool:
        return status == 404 or super().is_failure(status, error)


def test_a_breaker_subclass_judges_every_response(fault: Fault) -> None:
    # The clients' fast path skips the breaker for a success it knows changes nothing; a
    # subclass's own rule must still see every outcome.
    missing = response_with(b"gone", status=404)
    with routed_server({"/gone": missing}) as server:
        outcomes, _ = _get_all(
            fault,
            [server.url + "/gone"] * 3,
            circuit_breaker=NotFoundIsFailure(failure_threshold=2),
        )
    assert outcomes[:2] == [404, 404]
    assert isinstance(outcomes[2], CircuitOpenError)
    assert len(server.seen) == 2


def test_bad_policy_arguments_are_refused() -> None:
    from httplib import Client

    with pytest.raises(TypeError, match="rate_limit= must be a RateLimit"):
        Client(rate_limit=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="circuit_breaker= must be a CircuitBreaker"):
        Client(circuit_breaker="yes")  # type: ignore[arg-type]
