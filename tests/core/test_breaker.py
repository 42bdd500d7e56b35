"""CircuitBreaker: closed, open, half-open and back per origin, probe limits, what counts as a
failure, its messages and logs, and its state shared by threads, with a fake clock."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import httplib
from httplib._core.breaker import Admission, CircuitBreaker

A = ("https", "a.test", 443)
B = ("https", "b.test", 443)
V6 = ("http", "::1", 8080)


def fail(breaker: CircuitBreaker, origin: tuple[str, str, int], now: float, n: int = 1) -> None:
    for _ in range(n):
        breaker.record(breaker.before(origin, now), False, now)


def succeed(breaker: CircuitBreaker, origin: tuple[str, str, int], now: float) -> None:
    breaker.record(breaker.before(origin, now), True, now)


# -- transitions


def test_a_closed_circuit_lets_everything_through_and_counts_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=5)
    fail(breaker, A, 0.0, 4)
    succeed(breaker, A, 0.0)  # resets the count
    fail(breaker, A, 0.0, 4)
    assert breaker.state(A, 0.0) == "closed"
    assert breaker.before(A, 0.0) == Admission(A, 0)


def test_threshold_consecutive_failures_open_the_circuit() -> None:
    breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=30.0)
    fail(breaker, A, 10.0, 3)
    assert breaker.state(A, 10.0) == "open"
    with pytest.raises(httplib.CircuitOpenError) as info:
        breaker.before(A, 22.5)
    exc = info.value
    assert isinstance(exc, httplib.TransportError)
    assert not isinstance(exc, httplib.TimeoutException)
    assert exc.origin == A
    assert exc.retry_in == pytest.approx(17.5)
    message = str(exc)
    assert "https://a.test:443" in message
    assert "after 3 consecutive failures" in message
    assert "in 17.5 s" in message
    assert "recovery_timeout=30.0" in message


def test_open_becomes_half_open_after_the_recovery_timeout_and_a_success_closes_it() -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=5.0)
    fail(breaker, A, 0.0)
    with pytest.raises(httplib.CircuitOpenError):
        breaker.before(A, 4.999)
    assert breaker.state(A, 5.0) == "half-open"
    probe = breaker.before(A, 5.0)
    assert probe.origin == A
    assert probe.probe != 0
    with pytest.raises(httplib.CircuitOpenError, match="half-open") as info:
        breaker.before(A, 5.5)  # one probe at a time by default
    assert "1 probe request(s) in flight" in str(info.value)
    assert "half_open_max_calls=1" in str(info.value)
    assert info.value.retry_in == pytest.approx(4.5)  # when the lost-probe guard frees it
    breaker.record(probe, True, 6.0)
    assert breaker.state(A, 6.0) == "closed"
    assert [breaker.before(A, 6.0).probe for _ in range(3)] == [0, 0, 0]


def test_a_failed_probe_reopens_and_restarts_the_recovery_timeout() -> None:
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=10.0)
    fail(breaker, A, 0.0, 2)
    probe = breaker.before(A, 10.0)
    breaker.record(probe, False, 12.0)
    assert breaker.state(A, 12.0) == "open"
    with pytest.raises(httplib.CircuitOpenError, match="after a failed probe") as info:
        breaker.before(A, 21.0)
    assert info.value.retry_in == pytest.approx(1.0)  # 10 s from the failure, not the probe
    assert breaker.before(A, 22.0).probe != 0


def test_half_open_lets_at_most_the_probe_limit_through() -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=3)
    fail(breaker, A, 0.0)
    probes = [breaker.before(A, 1.0) for _ in range(3)]
    assert len({p.probe for p in probes}) == 3
    assert all(p.probe for p in probes)
    with pytest.raises(httplib.CircuitOpenError, match="3 probe request"):
        breaker.before(A, 1.0)
    breaker.record(probes[0], True, 1.5)  # the first success closes it
    assert breaker.state(A, 1.5) == "closed"
    # The other probes' later news is about a period that is over: it changes nothing.
    breaker.record(probes[1], False, 1.6)
    breaker.record(probes[2], False, 1.6)
    assert breaker.state(A, 1.6) == "closed"
    fail(breaker, A, 1.7)  # threshold 1: a fresh failure still opens it
    assert breaker.state(A, 1.7) == "open"


def test_a_late_probe_does_not_count_as_a_closed_circuit_failure() -> None:
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=1.0, half_open_max_calls=2)
    fail(breaker, A, 0.0, 2)
    first, second = breaker.before(A, 1.0), breaker.before(A, 1.0)
    breaker.record(first, True, 1.1)
    fail(breaker, A, 1.2)  # one failure counted in the new closed period
    breaker.record(second, False, 1.3)  # the old probe's failure is not the second
    assert breaker.state(A, 1.3) == "closed"
    fail(breaker, A, 1.4)
    assert breaker.state(A, 1.4) == "open"


def test_a_released_probe_frees_its_slot_without_a_verdict() -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=1.0)
    fail(breaker, A, 0.0)
    probe = breaker.before(A, 1.0)
    breaker.release(probe)  # cancelled
    assert breaker.state(A, 1.0) == "half-open"
    second = breaker.before(A, 1.0)
    assert second.probe not in (0, probe.probe)
    breaker.release(breaker.before(B, 1.0))  # an ordinary admission: nothing to free
    breaker.record(second, True, 1.1)
    assert breaker.state(A, 1.1) == "closed"


def test_a_probe_that_never_reports_stops_counting_after_the_recovery_timeout() -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=4.0)
    fail(breaker, A, 0.0)
    lost = breaker.before(A, 4.0)
    with pytest.raises(httplib.CircuitOpenError):
        breaker.before(A, 7.9)
    replacement = breaker.before(A, 8.0)
    assert replacement.probe != lost.probe
    breaker.record(lost, True, 8.5)  # the lost one turns up: no longer a probe of this period
    assert breaker.state(A, 8.5) == "half-open"
    breaker.record(replacement, True, 9.0)
    assert breaker.state(A, 9.0) == "closed"


def test_requests_let_through_while_closed_do_not_decide_an_open_circuit() -> None:
    breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=10.0)
    in_flight = [breaker.before(A, 0.0) for _ in range(6)]
    for admission in in_flight[:3]:
        breaker.record(admission, False, 1.0)
    assert breaker.state(A, 1.0) == "open"
    breaker.record(in_flight[3], False, 5.0)  # would restart the timeout if it counted
    breaker.record(in_flight[4], True, 5.0)  # would close it if it counted
    with pytest.raises(httplib.CircuitOpenError) as info:
        breaker.before(A, 5.0)
    assert info.value.retry_in == pytest.approx(6.0)
    probe = breaker.before(A, 11.0)
    breaker.record(in_flight[5], True, 11.5)  # half-open: only the probe decides
    assert breaker.state(A, 11.5) == "half-open"
    breaker.record(probe, True, 12.0)
    assert breaker.state(A, 12.0) == "closed"


def test_origins_are_isolated() -> None:
    breaker = CircuitBreaker(failure_threshold=2)
    fail(breaker, A, 0.0, 2)
    fail(breaker, B, 0.0)
    assert breaker.state(A, 0.0) == "open"
    assert breaker.state(B, 0.0) == "closed"
    assert breaker.before(B, 0.0).probe == 0
    fail(breaker, V6, 0.0, 2)
    with pytest.raises(httplib.CircuitOpenError, match=r"http://\[::1\]:8080"):
        breaker.before(V6, 0.0)


def test_state_only_reports() -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=1.0)
    fail(breaker, A, 0.0)
    assert breaker.state(A, 2.0) == "half-open"
    assert breaker.state(A, 0.5) == "open"  # asking did not move it to half-open
    assert breaker.before(A, 2.0).probe != 0


# -- what counts as a failure


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        *[(status, True) for status in (500, 502, 503, 504, 599)],
        *[(status, False) for status in (200, 204, 301, 404, 429, 499)],
    ],
)
def test_every_5xx_status_is_a_failure_and_nothing_else(status: int, failure: bool) -> None:
    assert CircuitBreaker().is_failure(status=status) is failure


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (httplib.ConnectError("refused"), True),
        (httplib.ConnectTimeout("slow"), True),
        (httplib.ReadTimeout("slow"), True),
        (httplib.WriteTimeout("slow"), True),
        (httplib.ReadError("reset"), True),
        (httplib.WriteError("broken pipe"), True),
        (httplib.CloseError("close"), True),
        (httplib.RemoteProtocolError("garbage"), True),
        (httplib.ProxyError("502 from proxy"), True),
        (httplib.PoolTimeout("our pool is full"), False),
        (httplib.LocalProtocolError("our bad header"), False),
        (httplib.UnsupportedProtocol("ftp://"), False),
        (httplib.CircuitOpenError("open"), False),
        (httplib.RateLimitTimeout("too long"), False),
        (httplib.DecodingError("bad gzip"), False),
        (ValueError("a bug"), False),
    ],
)
def test_transport_failures_count_and_our_own_refusals_do_not(
    error: BaseException, failure: bool
) -> None:
    breaker = CircuitBreaker()
    assert breaker.is_failure(error=error) is failure
    assert breaker.is_failure(status=200, error=error) is failure  # the error decides
    assert breaker.is_failure() is False


def test_failure_sets_are_configurable() -> None:
    breaker = CircuitBreaker(failure_statuses={503, 429}, failure_errors=(httplib.TransportError,))
    assert breaker.is_failure(status=503)
    assert breaker.is_failure(status=429)
    assert not breaker.is_failure(status=500)
    assert breaker.is_failure(error=httplib.PoolTimeout("full"))
    # Raised by the client itself, before a byte is sent: never evidence against the server.
    assert not breaker.is_failure(error=httplib.CircuitOpenError("open"))
    assert not breaker.is_failure(error=httplib.RateLimitTimeout("wait"))


def test_a_subclass_may_classify_anything() -> None:
    class OnlyTimeouts(CircuitBreaker):
        def is_failure(self, status: int | None = None, error: BaseException | None = None) -> bool:
            return isinstance(error, httplib.TimeoutException)

    breaker = OnlyTimeouts()
    assert breaker.is_failure(error=httplib.ReadTimeout("slow"))
    assert not breaker.is_failure(status=500)


def test_report_records_failures_and_successes_and_releases_on_no_verdict() -> None:
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=1.0)
    breaker.report(breaker.before(A, 0.0), 0.0, error=httplib.ConnectError("refused"))
    breaker.report(breaker.before(A, 0.0), 0.0, status=404)  # a success: the count restarts
    breaker.report(breaker.before(A, 0.0), 0.0, status=503)
    assert breaker.state(A, 0.0) == "closed"
    breaker.report(breaker.before(A, 0.0), 0.0, error=httplib.ReadTimeout("slow"))
    assert breaker.state(A, 0.0) == "open"
    # In half-open, errors that say nothing about the server free the probe's slot without
    # closing or reopening the circuit.
    for error in (KeyboardInterrupt(), httplib.PoolTimeout("our pool"), ValueError("a bug")):
        breaker.report(breaker.before(A, 1.0), 1.0, error=error)
        assert breaker.state(A, 1.0) == "half-open"
    breaker.report(breaker.before(A, 1.0), 1.0, status=200)
    assert breaker.state(A, 1.0) == "closed"


# -- configuration, memory, logging


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"failure_threshold": 0}, ValueError, "failure_threshold"),
        ({"failure_threshold": 2.5}, TypeError, "failure_threshold"),
        ({"failure_threshold": True}, TypeError, "failure_threshold"),
        ({"recovery_timeout": 0}, ValueError, "recovery_timeout"),
        ({"recovery_timeout": float("inf")}, ValueError, "recovery_timeout"),
        ({"recovery_timeout": "30"}, TypeError, "recovery_timeout"),
        ({"half_open_max_calls": 0}, ValueError, "half_open_max_calls"),
        ({"max_origins": 0}, ValueError, "max_origins"),
        ({"failure_statuses": [500, 700]}, ValueError, "failure_statuses"),
        ({"failure_statuses": ["500"]}, ValueError, "failure_statuses"),
        ({"failure_errors": [ValueError, "oops"]}, TypeError, "failure_errors"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]


def test_repr_shows_the_configuration() -> None:
    assert repr(CircuitBreaker(3, 10)) == (
        "CircuitBreaker(failure_threshold=3, recovery_timeout=10.0, half_open_max_calls=1)"
    )


def test_healthy_origins_hold_no_state_and_failing_ones_are_bounded() -> None:
    breaker = CircuitBreaker(failure_threshold=2, max_origins=100)
    for n in range(1000):
        origin = ("https", f"h{n}.test", 443)
        fail(breaker, origin, 0.0)
        succeed(breaker, origin, 0.0)
    assert len(breaker._circuits) == 0
    for n in range(1000):
        fail(breaker, ("https", f"h{n}.test", 443), 0.0, 2)
        assert len(breaker._circuits) <= 100
    # The most recent are remembered; the least recently touched were forgotten.
    assert breaker.state(("https", "h999.test", 443), 0.0) == "open"
    assert breaker.state(("https", "h0.test", 443), 0.0) == "closed"


def test_transitions_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=5.0)
    with caplog.at_level(logging.INFO, logger="httplib"):
        fail(breaker, A, 0.0, 2)
        breaker.record(breaker.before(A, 5.0), False, 5.0)
        breaker.record(breaker.before(A, 10.0), True, 10.0)
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        (
            "httplib",
            "WARNING",
            "Circuit breaker open for https://a.test:443: after 2 consecutive failures; "
            "next probe in 5 s",
        ),
        (
            "httplib",
            "INFO",
            "Circuit breaker half-open for https://a.test:443: letting a probe through",
        ),
        (
            "httplib",
            "WARNING",
            "Circuit breaker open for https://a.test:443: a probe failed; next probe in 5 s",
        ),
        (
            "httplib",
            "INFO",
            "Circuit breaker half-open for https://a.test:443: letting a probe through",
        ),
        ("httplib", "INFO", "Circuit breaker closed for https://a.test:443: a probe succeeded"),
    ]


def test_nothing_is_logged_when_the_logger_is_off(caplog: pytest.LogCaptureFixture) -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=1.0)
    with caplog.at_level(logging.CRITICAL, logger="httplib"):
        fail(breaker, A, 0.0)
        breaker.record(breaker.before(A, 1.0), True, 1.0)
    assert caplog.records == []
    assert breaker.state(A, 1.0) == "closed"


# -- threads


@pytest.mark.usefixtures("fast_switching")
def test_threads_sharing_a_breaker_open_it_once_and_share_the_probe_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    threads_n, each = 8, 300
    breaker = CircuitBreaker(
        failure_threshold=threads_n * each, recovery_timeout=10.0, half_open_max_calls=3
    )
    barrier = threading.Barrier(threads_n)
    admitted: list[Admission] = []
    refused: list[httplib.CircuitOpenError] = []

    def failing() -> None:
        barrier.wait(timeout=10)
        for _ in range(each):
            breaker.record(breaker.before(A, 0.0), False, 0.0)

    def probing() -> None:
        barrier.wait(timeout=10)
        for _ in range(each):
            try:
                admitted.append(breaker.before(A, 10.0))
            except httplib.CircuitOpenError as exc:
                refused.append(exc)

    def run(target: object) -> None:
        threads = [threading.Thread(target=target) for _ in range(threads_n)]  # type: ignore[arg-type]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
            assert not thread.is_alive()

    with caplog.at_level(logging.WARNING, logger="httplib"):
        run(failing)
    # Every failure counted once: exactly the threshold was reached, once.
    assert breaker.state(A, 0.0) == "open"
    assert len([r for r in caplog.records if "open for" in r.getMessage()]) == 1
    run(probing)
    assert len(admitted) == 3
    assert len({a.probe for a in admitted}) == 3
    assert len(refused) == threads_n * each - 3
    breaker.record(admitted[0], True, 10.5)
    assert breaker.before(A, 10.5).probe == 0


# -- invariants under random use


@dataclass
class Model:
    """The reference: one origin's circuit as the state diagram describes it."""

    state: str = "closed"
    failures: int = 0
    retry_at: float = 0.0
    probes: dict[int, float] = field(default_factory=dict)  # live probe -> admitted at


class BreakerMachine(RuleBasedStateMachine):
    """Random requests, outcomes, cancellations and clock steps against a reference model of
    the state diagram: the breaker never admits while open before the recovery time, never has
    more than the probe limit in flight in half-open, and moves exactly as the diagram says."""

    def __init__(self) -> None:
        super().__init__()
        self.breaker = CircuitBreaker()
        self.now = 0.0
        self.in_flight: list[Admission] = []
        self.model = {A: Model(), B: Model()}

    @initialize(
        threshold=st.sampled_from([1, 2, 3]),
        recovery=st.sampled_from([1.0, 5.0]),
        probes=st.sampled_from([1, 2]),
    )
    def configure(self, threshold: int, recovery: float, probes: int) -> None:
        self.breaker = CircuitBreaker(threshold, recovery, half_open_max_calls=probes)

    def live_probes(self, circuit: Model) -> dict[int, float]:
        lost_before = self.now - self.breaker.recovery_timeout
        for number in [n for n, at in circuit.probes.items() if at <= lost_before]:
            del circuit.probes[number]
        return circuit.probes

    @rule(origin=st.sampled_from([A, B]))
    def before(self, origin: tuple[str, str, int]) -> None:
        circuit = self.model[origin]
        if circuit.state == "open" and self.now >= circuit.retry_at:
            circuit.state, circuit.probes = "half-open", {}
        refused: httplib.CircuitOpenError | None = None
        try:
            admission = self.breaker.before(origin, self.now)
        except httplib.CircuitOpenError as exc:
            refused = exc
        if refused is not None:
            assert refused.origin == origin
            assert refused.retry_in is not None
            assert refused.retry_in > 0
            if circuit.state == "open":
                assert refused.retry_in == pytest.approx(circuit.retry_at - self.now)
            else:
                assert circuit.state == "half-open"
                assert len(self.live_probes(circuit)) >= self.breaker.half_open_max_calls
            return
        assert circuit.state != "open", "admitted while open before the recovery time"
        if circuit.state == "half-open":
            probes = self.live_probes(circuit)
            assert admission.probe
            assert admission.probe not in probes
            probes[admission.probe] = self.now
            assert len(probes) <= self.breaker.half_open_max_calls
        else:
            assert admission.probe == 0
        self.in_flight.append(admission)

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), ok=st.booleans(), cancelled=st.booleans())
    def finish(self, data: st.DataObject, ok: bool, cancelled: bool) -> None:
        admission = data.draw(st.sampled_from(self.in_flight))
        self.in_flight.remove(admission)
        circuit = self.model[admission.origin]
        probes = self.live_probes(circuit) if circuit.state == "half-open" else {}
        if cancelled:
            self.breaker.release(admission)
            probes.pop(admission.probe, None)
            return
        self.breaker.record(admission, ok, self.now)
        threshold, recovery = self.breaker.failure_threshold, self.breaker.recovery_timeout
        if circuit.state == "closed" and admission.probe == 0:
            circuit.failures = 0 if ok else circuit.failures + 1
            if circuit.failures >= threshold:
                circuit.state, circuit.retry_at = "open", self.now + recovery
        elif circuit.state == "half-open" and admission.probe in probes:
            circuit.failures, circuit.probes = 0, {}
            if ok:
                circuit.state = "closed"
            else:
                circuit.state, circuit.retry_at = "open", self.now + recovery

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.0, 3.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def states_match_the_model(self) -> None:
        for origin, circuit in self.model.items():
            expected = circuit.state
            if expected == "open" and self.now >= circuit.retry_at:
                expected = "half-open"
            assert self.breaker.state(origin, self.now) == expected


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
