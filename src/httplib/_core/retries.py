"""The retry policy (`Retry`) and the per-client retry budget (`RetryBudget`), as decisions.

Theory of operation. `Retry` is frozen configuration, named after urllib3's `Retry` where urllib3
has a name. A client that has one gives each `send` a `RetryRun`, which the flow
(`_core/flow.py` `_exchange`) consults around every exchange (each redirect hop or auth round is
one): after an exchange raised or answered, the run returns a `Decision`, either "sleep `delay`
seconds, then send the same request again" or "give up" with the reason. The flow performs the
sleep as a `SLEEP` effect, so blocking sockets, asyncio and trio share every line here. Nothing
in this module reads a clock or draws randomness itself: `now` (the client's monotonic clock,
the scale of `Timeout(total=...)`'s deadline), `wall_now` (epoch seconds, for HTTP-dates) and a
`random.Random` are passed in, so the rules are tested with a fake clock and a seeded random.

What is retried (each only while the counts allow, and never a request whose body is a one-shot
iterator, which cannot be sent twice):

* **connect errors** (`ConnectError`, `ConnectTimeout`): the request never left, so any method;
* **a connection lost before the response head** (`ReadError`, `WriteError`, or the server
  closing without a byte of response): methods in `allowed_methods` only (idempotent ones by
  default, RFC 9110 section 9.2.2), since the server may have acted on the request;
* **a connection lost under a final response's body** that the client reads for its caller
  (not streamed, so nobody has seen any of it; `resend.mark_body_cut`): as a connection lost
  before the head, since for the caller that response never arrived (the hand-written
  wrapper around `client.get()` that this policy replaces retries it too);
* **read and write timeouts** only with `retry_on_timeout=True`, for `allowed_methods`
  (a read timeout in such a body too);
* **statuses in `status_forcelist`**, for `allowed_methods`; when the retries run out the last
  response is returned (so `raise_for_status()` still works). A 413, 429 or 503 carrying a
  usable `Retry-After` is retried too (as urllib3), after the wait it asks for.

Nothing else is: a body that fails while the caller streams it (some of it may have been used),
a malformed response or body, a pool timeout, a refused TLS certificate. Backoff before the
n-th retry of an exchange is `backoff_factor * 2 ** (n - 1)` capped by `backoff_max`, with full
jitter by default (a uniform draw between 0 and that value), which spreads the retries of many
clients that failed together. A wait that would end past the request's total deadline is not
taken: the response is returned, or the phase's timeout raised, at once.

The retry budget bounds what retries add to a client's load, whatever each call's `Retry`
allows: over a sliding window, retries may number at most `min_per_second * window` (the
floor, so a quiet or new client can always retry a few times) plus `ratio` times the requests
sent. When a dependency fails outright, every caller's retries would otherwise multiply its load
by `total + 1` (a retry storm); with the budget spent, failures are returned or raised at once.
Finagle's RetryBudget, Envoy's retry budgets and gRPC's retry throttling do the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import KW_ONLY, dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Literal, NamedTuple

from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadTimeout,
    RemoteProtocolError,
    TimeoutException,
    WriteError,
    WriteTimeout,
)
from .http11 import DISCONNECTED_BEFORE_RESPONSE
from .resend import (
    IDEMPOTENT_METHODS,
    is_body_cut,
    is_connection_cut,
    is_refused,
    response_had_started,
)

if TYPE_CHECKING:  # pragma: no cover
    from random import Random

__all__ = [
    "BUDGET",
    "DEADLINE",
    "FULL_JITTER",
    "BudgetState",
    "Decision",
    "Retry",
    "RetryBudget",
    "RetryRun",
    "deadline_exceeded",
    "error_kind",
]

FULL_JITTER: Literal["full"] = "full"

# What went wrong, as the counts see it (`connect=`, `read=`, `status=`).
CONNECT, LOST, TIMEOUT, STATUS = "connect", "lost", "timeout", "status"


def error_kind(exc: BaseException) -> str | None:
    """What kind of retryable failure `exc` (raised before the response head, or marked
    `resend.mark_body_cut`) is, or None."""
    if is_body_cut(exc):  # (a final response's body the caller has seen none of)
        return TIMEOUT if isinstance(exc, ReadTimeout) else LOST
    if response_had_started(exc):  # a partial head: the server had begun to answer
        return None
    if isinstance(exc, (ConnectError, ConnectTimeout)):
        return CONNECT
    if isinstance(exc, (ReadTimeout, WriteTimeout)):
        return TIMEOUT
    if isinstance(exc, WriteError) or is_refused(exc) or is_connection_cut(exc):
        # (a refused HTTP/2 stream was never processed; a cut one, a `ReadError` among them,
        # may have been)
        return LOST
    # A connection closed before any byte of response; every other RemoteProtocolError is a
    # malformed response, which a resend would not fix.
    if isinstance(exc, RemoteProtocolError) and str(exc) == DISCONNECTED_BEFORE_RESPONSE:
        return LOST
    return None


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """How much extra load retries may add per client: over the last `window` seconds, at most
    `min_per_second * window` retries plus `ratio` times the requests sent (first attempts).

    The defaults allow 20% extra load, and 10 retries per 10 s on a quiet client, so one call's
    few retries always go through while a failing dependency sees no retry storm.
    """

    ratio: float = 0.2
    min_per_second: float = 1.0
    window: float = 10.0

    def __post_init__(self) -> None:
        for name in ("ratio", "min_per_second", "window"):
            value = getattr(self, name)
            if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"RetryBudget({name}={value!r}): must be a finite number of at least 0."
                )
        if self.window <= 0:
            raise ValueError(f"RetryBudget(window={self.window!r}): must be above 0 seconds.")


class BudgetState:
    """One client's account for a `RetryBudget`: requests and retries counted in `SLOTS`
    buckets that slide over the window. Safe for threads sharing a client: the buckets change
    only under `lock`, which is never held across an effect (so on an event loop it is never
    contended).

    Every request of a client with retries deposits, so a deposit into the newest bucket takes
    no lock: it draws one number from the `_sent` counter (`next` on an `itertools.count` is a
    single C call, atomic under the GIL), and whoever next takes the lock folds the numbers
    drawn since into the newest bucket before it slides or sums the buckets."""

    SLOTS = 10
    __slots__ = (
        "_folded",
        "_lock",
        "_newest",
        "_requests",
        "_retries",
        "_sent",
        "_width",
        "budget",
        "floor",
    )

    def __init__(self, budget: RetryBudget, lock: AbstractContextManager[object]) -> None:
        self.budget = budget
        self.floor = budget.min_per_second * budget.window
        self._lock = lock
        self._width = budget.window / self.SLOTS
        self._requests = [0] * self.SLOTS
        self._retries = [0] * self.SLOTS
        self._newest: int | None = None  # the absolute number of the newest bucket
        self._sent = count()  # deposits into the newest bucket not folded into it yet
        self._folded = 0  # numbers of `_sent` accounted for (deposits and folds' own draws)

    def _fold(self) -> None:
        """Under the lock: add the lock-free deposits made since the last fold to the newest
        bucket (they were all made while it was the newest)."""
        drawn = next(self._sent)  # (this draw takes a number too)
        newest = self._newest
        if newest is not None:
            self._requests[newest % self.SLOTS] += drawn - self._folded
        self._folded = drawn + 1

    def _advance(self, now: float) -> int:
        """The index of `now`'s bucket, emptying those that slid out of the window."""
        self._fold()
        current = int(now // self._width)
        newest = self._newest
        if newest is None or current > newest:
            # Empty the buckets between the newest and now (all of them after a long silence).
            first = (
                current - self.SLOTS + 1
                if newest is None
                else max(newest + 1, current - self.SLOTS + 1)
            )
            for number in range(first, current + 1):
                self._requests[number % self.SLOTS] = 0
                self._retries[number % self.SLOTS] = 0
            self._newest = current
        else:
            # (a monotonic clock does not go back; a clock read before another thread's
            # advance can be one bucket late: count it in the newest)
            current = newest
        return current % self.SLOTS

    def deposit(self, now: float) -> None:
        """A request's first attempt was sent."""
        if int(now // self._width) == self._newest:
            # (every request of a client with retries comes here: the usual case, the same
            # bucket as the last one, draws a number and takes no lock; a thread that read
            # `_newest` just before another advanced it counts in the next bucket, as below)
            next(self._sent)
            return
        with self._lock:
            self._requests[self._advance(now)] += 1

    def withdraw(self, now: float) -> bool:
        """Take one retry from the budget; False (and nothing taken) when it is spent."""
        with self._lock:
            index = self._advance(now)
            allowed = self.floor + self.budget.ratio * sum(self._requests)
            if sum(self._retries) + 1 > allowed:
                return False
            self._retries[index] += 1
            return True

    def usage(self, now: float) -> tuple[int, int, float]:
        """(requests, retries, retries allowed) in the window ending at `now`, for log lines."""
        with self._lock:
            self._advance(now)
            requests, retries = sum(self._requests), sum(self._retries)
        return requests, retries, self.floor + self.budget.ratio * requests


DEFAULT_BUDGET = RetryBudget()


def _count(name: str, value: int | None) -> int | None:
    if value is None or (type(value) is int and value >= 0):
        return value
    raise ValueError(f"Retry({name}={value!r}): must be None or an int of at least 0.")


def _seconds(name: str, value: float) -> float:
    if type(value) in (int, float) and math.isfinite(value) and value >= 0:
        return float(value)
    raise ValueError(f"Retry({name}={value!r}): must be a finite number of seconds, at least 0.")


@dataclass(frozen=True, slots=True)
class Retry:
    """When and how often a request is sent again; off unless a client is given one.

    `total`: retries at most, per request (across its redirects and auth rounds); None leaves
    only the per-kind counts (`connect`, `read`, `status`: None means only `total` bounds that
    kind). `allowed_methods`: methods retried after they may have reached the server (lost
    connection, timeout, status); None means every method. The default (the idempotent ones)
    also admits a request of any method that carries an `Idempotency-Key` header. Connect
    errors are retried for any method: the request never left. `status_forcelist`: statuses
    retried (the last response is returned when the retries run out). `backoff_factor`,
    `backoff_max`: the sleep before the n-th retry is `backoff_factor * 2 ** (n - 1)`, at most
    `backoff_max`; `backoff_jitter`: "full" (the default) draws the sleep uniformly between 0
    and that value, 0.0 sleeps it exactly, a positive float adds up to that many random seconds
    (as urllib3).
    `respect_retry_after_header`: for 413, 429 and 503, wait what `Retry-After` asks (seconds or
    an HTTP-date) instead of the backoff; a wait longer than `retry_after_max` is not taken (the
    response is returned). `retry_on_timeout`: also retry read and write timeouts.
    `budget`: the client's `RetryBudget` for these retries (None: unbounded by load).

    A client's final response has `extensions["attempts"]`: how many times its request was
    sent; an error raised after retries carries a note saying so. Each exchange (a redirect hop,
    an auth round) backs off on its own; event hooks run once per exchange, not per attempt.
    """

    DEFAULT_ALLOWED_METHODS = frozenset(IDEMPOTENT_METHODS)
    DEFAULT_STATUS_FORCELIST = frozenset({429, 502, 503, 504})
    # RFC 9110 section 10.2.3 (and 15.5.14 for 413, 15.6.4 for 503; RFC 6585 section 4 for 429).
    RETRY_AFTER_STATUS_CODES = frozenset({413, 429, 503})
    DEFAULT_BACKOFF_MAX = 30.0
    DEFAULT_RETRY_AFTER_MAX = 60.0

    total: int | None = 3
    _: KW_ONLY
    connect: int | None = None
    read: int | None = None
    status: int | None = None
    allowed_methods: Collection[str] | None = DEFAULT_ALLOWED_METHODS
    status_forcelist: Collection[int] = DEFAULT_STATUS_FORCELIST
    backoff_factor: float = 0.5
    backoff_max: float = DEFAULT_BACKOFF_MAX
    backoff_jitter: float | Literal["full"] = FULL_JITTER
    respect_retry_after_header: bool = True
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX
    retry_on_timeout: bool = False
    budget: RetryBudget | None = field(default=DEFAULT_BUDGET)

    def __post_init__(self) -> None:
        for name in ("total", "connect", "read", "status"):
            _count(name, getattr(self, name))
        for name in ("backoff_factor", "backoff_max", "retry_after_max"):
            object.__setattr__(self, name, _seconds(name, getattr(self, name)))
        jitter = self.backoff_jitter
        if jitter != FULL_JITTER:
            object.__setattr__(self, "backoff_jitter", _seconds("backoff_jitter", jitter))
        methods = self.allowed_methods
        if methods is not None:
            if isinstance(methods, str):
                raise TypeError(f"Retry(allowed_methods={methods!r}): give a collection of names.")
            object.__setattr__(self, "allowed_methods", frozenset(m.upper() for m in methods))
        statuses = frozenset(self.status_forcelist)
        if any(type(code) is not int or not 100 <= code <= 599 for code in statuses):
            raise ValueError(f"Retry(status_forcelist={self.status_forcelist!r}): status codes.")
        object.__setattr__(self, "status_forcelist", statuses)
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise TypeError(f"Retry(budget={self.budget!r}): a RetryBudget or None.")

    def backoff(self, retry: int, rng: Random) -> float:
        """Seconds to sleep before the `retry`-th retry (1-based) of one exchange."""
        # (2 ** 62 already exceeds any sane cap; a bigger power would overflow a float)
        ceiling = min(self.backoff_max, self.backoff_factor * 2.0 ** min(retry - 1, 62))
        jitter = self.backoff_jitter
        if jitter == FULL_JITTER:
            return rng.random() * ceiling
        if jitter:
            return min(self.backoff_max, ceiling + rng.random() * jitter)
        return ceiling


# Why a run gave up (the reason of a `Decision` that does not retry).
NOT_RETRYABLE = "not retryable"
EXHAUSTED = "retries exhausted"
METHOD = "method not in allowed_methods"
ONE_SHOT = "body cannot be replayed"
TOO_LONG = "Retry-After beyond retry_after_max"
DEADLINE = "the wait would pass the total deadline"
BUDGET = "retry budget spent"


class Decision(NamedTuple):
    """After an exchange: `retry` after sleeping `delay` seconds, or give up for `reason`."""

    retry: bool
    delay: float = 0.0
    reason: str = ""


# (the common answers built once: every response of a client with retries is asked about)
_FINAL = Decision(False, reason=NOT_RETRYABLE)
_NOT_ALLOWED = Decision(False, reason=METHOD)


class RetryRun:
    """One `send`'s retries: the counts it has used and the attempt of its current exchange.

    The flow calls `start` before each exchange's first attempt, then `after_error` or
    `after_response` after every attempt. The clocks and the random are the client's, kept here
    for the flow to read; the decisions take their values as arguments.
    """

    __slots__ = (
        "attempt",
        "budget",
        "clock",
        "counted",
        "idempotent",
        "method",
        "policy",
        "replayable",
        "rng",
        "used",
        "wall_clock",
    )

    def __init__(
        self,
        policy: Retry,
        budget: BudgetState | None,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        rng: Random,
        *,
        counted: bool = False,
    ) -> None:
        self.policy = policy
        self.budget = budget
        # The first exchange's request was counted for the budget already (by the client, when
        # the send started): `start` counts the exchanges after it.
        self.counted = counted
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng
        self.used: dict[str, int] | None = None  # per kind, from the first retry on
        self.method = "GET"
        self.idempotent = True
        self.replayable = True
        self.attempt = 0

    def start(self, method: str, replayable: bool, now: float, *, idempotent: bool = False) -> None:
        """A new exchange (the first, a redirect hop or an auth round) is about to be sent.
        `idempotent`: the request says so whatever its method (`resend.is_idempotent`)."""
        self.method = method
        self.idempotent = idempotent
        self.replayable = replayable
        self.attempt = 1
        if self.counted:
            self.counted = False
        elif self.budget is not None:
            self.budget.deposit(now)

    def after_error(self, exc: BaseException, *, now: float, deadline: float | None) -> Decision:
        """The attempt raised `exc` before its response head arrived."""
        kind = error_kind(exc)
        policy = self.policy
        if kind is None or (kind == TIMEOUT and not policy.retry_on_timeout):
            return _FINAL
        if kind != CONNECT and not self._method_allowed():
            return _NOT_ALLOWED
        return self._retry(CONNECT if kind == CONNECT else LOST, None, now, deadline)

    def after_response(
        self, status: int, retry_after: str | None, *, now: float, wall_now: float,
        deadline: float | None,
    ) -> Decision:  # fmt: skip
        """The attempt was answered `status` (with this `Retry-After` header value, if any)."""
        policy = self.policy
        waited: float | None = None
        if (
            retry_after is not None
            and policy.respect_retry_after_header
            and status in policy.RETRY_AFTER_STATUS_CODES
        ):
            # (imported here: its date parsing loads `email`, which `import httplib` avoids)
            from .server_hints import retry_after_seconds

            waited = retry_after_seconds(retry_after, wall_now)
        if waited is None and status not in policy.status_forcelist:
            return _FINAL
        if not self._method_allowed():
            return _NOT_ALLOWED
        if waited is not None and waited > policy.retry_after_max:
            return Decision(False, reason=TOO_LONG)
        return self._retry(STATUS, waited, now, deadline)

    def _method_allowed(self) -> bool:
        methods = self.policy.allowed_methods
        if methods is None or self.method in methods:
            return True
        # The default set means "what is safe to repeat", which includes a request carrying an
        # Idempotency-Key; a set the user wrote is taken as written.
        return self.idempotent and methods == Retry.DEFAULT_ALLOWED_METHODS

    def _retry(
        self, kind: str, delay: float | None, now: float, deadline: float | None
    ) -> Decision:
        policy = self.policy
        if not self.replayable:
            return Decision(False, reason=ONE_SHOT)
        used = self.used
        if used is None:
            used = self.used = {CONNECT: 0, LOST: 0, STATUS: 0}  # (TIMEOUT counts as LOST)
        limit = getattr(policy, "read" if kind == LOST else kind)
        if (policy.total is not None and sum(used.values()) >= policy.total) or (
            limit is not None and used[kind] >= limit
        ):
            return Decision(False, reason=EXHAUSTED)
        if delay is None:
            delay = policy.backoff(self.attempt, self.rng)
        if deadline is not None and now + delay >= deadline:
            return Decision(False, delay, DEADLINE)
        if self.budget is not None and not self.budget.withdraw(now):
            return Decision(False, delay, BUDGET)
        used[kind] += 1
        self.attempt += 1
        return Decision(True, delay)

    @property
    def retries(self) -> int:
        """Retries this run has made so far (every exchange together)."""
        return 0 if self.used is None else sum(self.used.values())


def deadline_exceeded(
    exc: BaseException, decision: Decision, total: float | None, attempt: int
) -> TimeoutException:
    """The timeout to raise when a retry after `exc` would sleep past the total deadline: the
    failed phase's (connect, write, or read), naming the deadline; `exc` becomes its cause."""
    if isinstance(exc, (ConnectError, ConnectTimeout)):
        error: type[TimeoutException] = ConnectTimeout
    elif isinstance(exc, (WriteError, WriteTimeout)):
        error = WriteTimeout
    else:
        error = ReadTimeout
    named = "" if total is None else f" of {total} s"
    return error(
        f"The total deadline{named} for this request leaves no time for the {decision.delay:.2f} s "
        f"wait before a retry (Timeout(total=...)); attempt {attempt} failed with "
        f"{type(exc).__name__}: {exc}"
    )
