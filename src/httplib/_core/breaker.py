"""Circuit breaking per origin, as sans-I/O state: fail fast while an origin keeps failing.

Theory of operation
-------------------
`CircuitBreaker` never reads a clock or waits: the caller passes `now` (monotonic seconds, the
client's clock), asks before each request and reports after it. The flow's lines are::

    admission = breaker.before(origin, now)            # raises CircuitOpenError
    try:
        response = yield SEND, request
    except BaseException as exc:
        breaker.report(admission, clock(), error=exc)
        raise
    breaker.report(admission, clock(), status=response.status_code)

`report` classifies with `is_failure` and calls `record` (a verdict on the server) or `release`
(none: a cancellation, or an error of our own such as a full pool), which callers may also
use directly.

Each origin (scheme, host, port) has its own circuit:

    closed ──failure_threshold consecutive failures──▶ open
    open ──recovery_timeout passed, next request──▶ half-open (that request is a probe)
    half-open ──a probe succeeds──▶ closed
    half-open ──a probe fails──▶ open (the recovery timeout starts again)

Closed lets everything through and counts consecutive failures (a success resets the count).
Open fails every request at once with `CircuitOpenError`, naming the origin and when a probe
will be let through. Half-open lets at most `half_open_max_calls` probes be in flight and fails
the rest fast. A probe that has not reported within `recovery_timeout` is taken as lost: it
frees its slot and its late report is ignored, so a caller that vanished cannot hold the circuit
half-open for ever.

Only what an admission of the current state says counts: the report of a request let through
while the circuit was closed, arriving after it opened (requests in flight when the threshold
was reached), changes nothing; in half-open, only probes decide.

Memory: an origin whose circuit is closed with no failure counted holds no state (so the common
path takes no lock; the client's fast path, `_core/guards.py`, relies on it to skip `before` and
a success's `record` for an origin absent from `_circuits`). At most `max_origins` origins are
remembered; past that, the one touched least recently is forgotten (it starts afresh, closed).

Concurrency: one breaker is shared by every thread or task of a client; its lock guards only the
circuits' fields and is never held across a wait or a log call.
"""

from __future__ import annotations

import math
from _thread import allocate_lock
from collections import OrderedDict
from collections.abc import Iterable
from itertools import count
from typing import Final, NamedTuple

from .._exceptions import (
    CircuitOpenError,
    ConnectTimeout,
    NetworkError,
    ProxyError,
    RateLimitTimeout,
    ReadTimeout,
    RemoteProtocolError,
    WriteTimeout,
)
from .._logging import circuit_closed, circuit_half_open, circuit_opened, origin_text

__all__ = ["DEFAULT_FAILURE_ERRORS", "Admission", "CircuitBreaker", "Origin"]

Origin = tuple[str, str, int]

# Errors that say the origin (or the way to it) is unwell. Left out: PoolTimeout (our own pool
# is full), LocalProtocolError and UnsupportedProtocol (our request is wrong), decoding errors
# (the exchange itself worked).
DEFAULT_FAILURE_ERRORS: Final[tuple[type[BaseException], ...]] = (
    ConnectTimeout,
    ReadTimeout,
    WriteTimeout,
    NetworkError,
    RemoteProtocolError,
    ProxyError,
)
# Raised by the client itself before a byte is sent: never evidence against the server.
_NEVER_FAILURES: Final = (CircuitOpenError, RateLimitTimeout)

_CLOSED, _OPEN, _HALF_OPEN = "closed", "open", "half-open"


class Admission(NamedTuple):
    """What `before` let through: the origin, and the probe's number in half-open (0 for an
    ordinary request). Hand it back to `record` or `release`."""

    origin: Origin
    probe: int


class _Circuit:
    """One origin's circuit; absent while closed with no failure counted."""

    __slots__ = ("failures", "probes", "retry_at", "state")

    def __init__(self) -> None:
        self.state = _CLOSED
        self.failures = 0  # consecutive, while closed; kept for the message while open
        self.retry_at = -math.inf  # open: when the next request becomes a probe
        self.probes: dict[int, float] = {}  # half-open: probe number -> when it was let through


class CircuitBreaker:
    """Per-origin circuit breaking: after `failure_threshold` consecutive failures to an origin
    (scheme, host, port), requests to it fail at once with `CircuitOpenError` for
    `recovery_timeout` seconds; then up to `half_open_max_calls` probe requests go through, and
    the first to succeed closes the circuit again (a failed one reopens it for another
    `recovery_timeout`).

    A failure is, by default, any 5xx status (500 included) or one of `DEFAULT_FAILURE_ERRORS`
    (connect, read and write timeouts, network errors, a server breaking the protocol, a proxy
    failing); `failure_statuses` and `failure_errors` replace those sets, and a subclass may
    override `is_failure` for anything else. 4xx statuses, 429 included, are successes: the
    server is up and answering. `max_origins` bounds the origins remembered.

    Clients take it as `Client(circuit_breaker=CircuitBreaker())` and
    `AsyncClient(circuit_breaker=...)`; the client flow (`_core/flow.py`, `_send`) drives it
    with `before` and `report`, the time passed in.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        *,
        half_open_max_calls: int = 1,
        failure_statuses: Iterable[int] = range(500, 600),
        failure_errors: Iterable[type[BaseException]] = DEFAULT_FAILURE_ERRORS,
        max_origins: int = 10_000,
    ) -> None:
        self.failure_threshold = _count_at_least_one("failure_threshold", failure_threshold)
        if isinstance(recovery_timeout, bool) or not isinstance(recovery_timeout, int | float):
            raise TypeError(
                f"CircuitBreaker(recovery_timeout=...) must be a number, not {recovery_timeout!r}"
            )
        if not (math.isfinite(recovery_timeout) and recovery_timeout > 0):
            raise ValueError(
                "CircuitBreaker(recovery_timeout=...) must be a positive, finite number of "
                f"seconds, not {recovery_timeout!r}"
            )
        self.recovery_timeout = float(recovery_timeout)
        self.half_open_max_calls = _count_at_least_one("half_open_max_calls", half_open_max_calls)
        self.max_origins = _count_at_least_one("max_origins", max_origins)
        statuses = frozenset(failure_statuses)
        bad = [s for s in statuses if isinstance(s, bool) or not isinstance(s, int)]
        if bad or any(not 100 <= s <= 599 for s in statuses):
            raise ValueError(
                "CircuitBreaker(failure_statuses=...) must hold status codes from 100 to 599, "
                f"not {sorted(statuses, key=repr)!r}"
            )
        self.failure_statuses = statuses
        errors = tuple(failure_errors)
        if not all(isinstance(e, type) and issubclass(e, BaseException) for e in errors):
            raise TypeError(
                f"CircuitBreaker(failure_errors=...) must hold exception classes, not {errors!r}"
            )
        self.failure_errors = errors
        self._circuits: OrderedDict[Origin, _Circuit] = OrderedDict()
        self._probe_numbers = count(1)
        # `threading.Lock` under its own name (see `_core/ratelimit.py` for why `_thread`).
        self._lock = allocate_lock()

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failure_threshold={self.failure_threshold!r}, "
            f"recovery_timeout={self.recovery_timeout!r}, "
            f"half_open_max_calls={self.half_open_max_calls!r})"
        )

    def is_failure(self, status: int | None = None, error: BaseException | None = None) -> bool:
        """Whether an outcome counts against the origin: the response's `status`, or the
        `error` the request raised (an error wins when both are given)."""
        if error is not None:
            return isinstance(error, self.failure_errors) and not isinstance(error, _NEVER_FAILURES)
        return status is not None and status in self.failure_statuses

    def state(self, origin: Origin, now: float) -> str:
        """The circuit's state for `origin` as a request would find it now: "closed", "open" or
        "half-open" (an open circuit whose recovery timeout has passed is half-open). Changes
        nothing."""
        circuit = self._circuits.get(origin)
        if circuit is None:
            return _CLOSED
        with self._lock:
            if circuit.state == _OPEN and now >= circuit.retry_at:
                return _HALF_OPEN
            return circuit.state

    # -- before a request

    def before(self, origin: Origin, now: float) -> Admission:
        """Let a request to `origin` through, or raise `CircuitOpenError` when its circuit is
        open, or half-open with every probe slot taken. In half-open the request let through is
        a probe: its `record` decides the circuit."""
        if origin not in self._circuits:  # closed, nothing counted: the common case, lock-free
            return Admission(origin, 0)
        half_opened = False
        error: CircuitOpenError | None = None
        number = 0
        with self._lock:
            circuit = self._circuits.get(origin)
            if circuit is None or circuit.state == _CLOSED:
                return Admission(origin, 0)
            self._circuits.move_to_end(origin)
            if circuit.state == _OPEN:
                if now < circuit.retry_at:
                    raise self._open_error(origin, circuit, circuit.retry_at - now)
                circuit.state = _HALF_OPEN
                circuit.probes = {}
                half_opened = True
            probes = circuit.probes
            lost_before = now - self.recovery_timeout
            for number in [n for n, at in probes.items() if at <= lost_before]:
                del probes[number]  # a probe that never reported stops counting
            if len(probes) >= self.half_open_max_calls:
                # A slot frees when a probe reports, at the latest when the oldest is lost.
                retry_in = min(probes.values()) + self.recovery_timeout - now
                error = self._busy_error(origin, len(probes), retry_in)
            else:
                number = next(self._probe_numbers)
                probes[number] = now
        if half_opened:
            circuit_half_open(origin)
        if error is not None:
            raise error
        return Admission(origin, number)

    def _open_error(self, origin: Origin, circuit: _Circuit, retry_in: float) -> CircuitOpenError:
        cause = (
            f"after {circuit.failures} consecutive failures"
            if circuit.failures
            else "after a failed probe"
        )
        return CircuitOpenError(
            f"Circuit open for {origin_text(origin)} {cause}; the next probe request will be "
            f"let through in {retry_in:.3g} s (CircuitBreaker(recovery_timeout="
            f"{self.recovery_timeout!r})).",
            origin=origin,
            retry_in=retry_in,
        )

    def _busy_error(self, origin: Origin, probes: int, retry_in: float) -> CircuitOpenError:
        return CircuitOpenError(
            f"Circuit half-open for {origin_text(origin)}: {probes} probe request(s) in flight "
            f"(CircuitBreaker(half_open_max_calls={self.half_open_max_calls!r})); the next "
            f"probe will be let through when one succeeds, or in {retry_in:.3g} s at the latest.",
            origin=origin,
            retry_in=retry_in,
        )

    # -- after a request

    def record(self, admission: Admission, ok: bool, now: float) -> None:
        """Report how the request `admission` let through ended: `ok` False for a failure (see
        `is_failure`), True otherwise."""
        origin, probe = admission
        if ok and probe == 0 and origin not in self._circuits:
            return  # closed with nothing counted stays so: lock-free
        event: tuple[str, int] | None = None
        with self._lock:
            circuit = self._circuits.get(origin)
            if circuit is None:
                if ok or probe:
                    return  # a stale probe's news (its circuit was closed and forgotten)
                circuit = self._remember(origin)
            else:
                self._circuits.move_to_end(origin)
            state = circuit.state
            if state == _CLOSED:
                if probe:
                    return  # a probe of an earlier half-open period
                if ok:
                    del self._circuits[origin]
                    return
                circuit.failures += 1
                if circuit.failures >= self.failure_threshold:
                    circuit.state = _OPEN
                    circuit.retry_at = now + self.recovery_timeout
                    event = (_OPEN, circuit.failures)
            elif state == _HALF_OPEN:
                admitted_at = circuit.probes.pop(probe, None)
                if admitted_at is None or admitted_at <= now - self.recovery_timeout:
                    return  # not one of this half-open period's live probes
                if ok:
                    del self._circuits[origin]
                    event = (_CLOSED, 0)
                else:
                    circuit.state = _OPEN
                    circuit.failures = 0
                    circuit.probes = {}
                    circuit.retry_at = now + self.recovery_timeout
                    event = (_OPEN, 0)
            # Open: a request let through before it opened; the circuit already decided.
        if event is not None:
            if event[0] == _OPEN:
                circuit_opened(origin, event[1], self.recovery_timeout)
            else:
                circuit_closed(origin)

    def report(
        self,
        admission: Admission,
        now: float,
        *,
        status: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        """How the request `admission` let through ended, as `is_failure` judges it: a response
        `status`, or the `error` it raised. A failure is recorded; an error that is not one (a
        cancellation, our own pool or request at fault) is no verdict and only `release`s; any
        other status is a success."""
        if self.is_failure(status, error):
            self.record(admission, False, now)
        elif error is not None:
            self.release(admission)
        else:
            self.record(admission, True, now)

    def release(self, admission: Admission) -> None:
        """The request `admission` let through ended without a verdict on the server (it was
        cancelled, or failed before sending): a probe's slot is freed, nothing is counted."""
        origin, probe = admission
        if not probe:
            return
        with self._lock:
            circuit = self._circuits.get(origin)
            if circuit is not None and circuit.state == _HALF_OPEN:
                circuit.probes.pop(probe, None)

    def _remember(self, origin: Origin) -> _Circuit:
        """Under the lock: a new closed circuit for `origin`, forgetting the least recently
        touched one beyond `max_origins`."""
        circuits = self._circuits
        circuit = circuits[origin] = _Circuit()
        if len(circuits) > self.max_origins:
            circuits.popitem(last=False)
        return circuit


def _count_at_least_one(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"CircuitBreaker({name}=...) must be an int, not {value!r}")
    if value < 1:
        raise ValueError(f"CircuitBreaker({name}=...) must be at least 1, not {value}")
    return value
