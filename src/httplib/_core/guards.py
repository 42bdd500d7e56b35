"""The client's circuit breaker and rate limiter around one send, written once for the client's
fast path and for the flow.

A send is `admit`ted first (the breaker may fail it at once; the limiter books its slot and
says how long to wait), then, after any wait (`confirm` once it has been slept), performed,
and its outcome reported to both (`settled` with a response, `failed` with an error). The
client's fast path admits and reports itself when the wait is nothing; only a request that
must wait goes through the flow, which sleeps with a `SLEEP` effect.

Armed but never triggered, a send costs little: its origin is worked out once per URL object
(a client reuses the URL of a repeated address), an origin that may send at once gets one
shared, never-changing `Ticket`, the limiter books the slot with a few float operations under
its lock, and a report of a response reads no clock unless a policy has something to record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._exceptions import RateLimitTimeout
from .breaker import Admission, CircuitBreaker
from .plan import DEFAULT_PORTS
from .ratelimit import _GO, WATCHED_FIELDS, RateLimit, Reservation

if TYPE_CHECKING:  # pragma: no cover
    from .._models import Request, Response
    from .._urls import URL

__all__ = ["Guards", "Ticket"]

# Statuses whose Retry-After the limiter heeds (RFC 6585 section 4, RFC 9110 section 15.6.4).
_PAUSE_STATUSES = frozenset({429, 503})
Origin = tuple[str, str, int]


class Ticket:
    """One admitted send: its origin, the breaker's admission, the limiter's reservation and
    `wait`, the seconds still to sleep before sending (0.0: send now).

    The fast path hands every send to an origin that may go at once the same ticket (wait 0.0,
    an ordinary admission, no deadline): such a ticket is never changed, and `deadline` and
    `total` are read only by `confirm`, which a ticket without a wait never reaches."""

    __slots__ = ("admission", "deadline", "origin", "reservation", "total", "wait")

    def __init__(
        self,
        origin: Origin,
        admission: Admission | None,
        reservation: Reservation | None,
        deadline: float | None,
        total: float | None,
    ) -> None:
        self.origin = origin
        self.admission = admission
        self.reservation = reservation
        self.wait = 0.0 if reservation is None else reservation.wait
        self.deadline = deadline
        self.total = total


class Guards:
    """A client's `CircuitBreaker` and `RateLimit` (either may be None, not both)."""

    __slots__ = ("_exact", "_last", "breaker", "limiter")

    def __init__(self, breaker: CircuitBreaker | None, limiter: RateLimit | None) -> None:
        self.breaker = breaker
        self.limiter = limiter
        # The fast path reads the policies' state itself; a subclass may decide differently
        # (the breaker's `is_failure` is documented as overridable), so it gets every call.
        self._exact = (breaker is None or type(breaker) is CircuitBreaker) and (
            limiter is None or type(limiter) is RateLimit
        )
        # The last URL object admitted and its origin's shared go-ahead ticket: one tuple,
        # replaced whole, so threads read a consistent pair; it holds the URL, whose identity
        # is the key, alive.
        self._last: tuple[URL | None, Ticket | None] = (None, None)

    def admit(self, request: Request, now: float) -> Ticket:
        """Let `request` through the breaker (or raise `CircuitOpenError`) and book its slot
        with the limiter (or raise `RateLimitTimeout` when the wait is over `max_wait` or would
        pass the total deadline). Breaker first: a request it fails must not take a slot."""
        url = request.url
        last_url, go = self._last
        if last_url is not url or go is None:
            go = self._go_ticket(url)
        if self._exact:
            breaker = self.breaker
            # Closed with no failure counted: the breaker keeps no state for the origin and
            # its admission is the ordinary one the shared ticket holds (`before`'s first line).
            if breaker is None or not breaker._circuits or go.origin not in breaker._circuits:
                limiter = self.limiter
                if limiter is None:
                    return go
                timeouts = request.extensions.get("timeout")
                deadline = timeouts.get("deadline") if timeouts else None
                if limiter._take(go.origin, now, deadline):
                    return go
        return self._admit(request, go.origin, now)

    def _go_ticket(self, url: URL) -> Ticket:
        scheme = url.scheme
        origin = (scheme, url.host, url.port or DEFAULT_PORTS.get(scheme, 0))
        admission = None if self.breaker is None else Admission(origin, 0)
        go = Ticket(origin, admission, None if self.limiter is None else _GO, None, None)
        self._last = (url, go)
        return go

    def _admit(self, request: Request, origin: Origin, now: float) -> Ticket:
        """`admit` through the policies' public methods: a wait, a probe, an open circuit."""
        timeouts = request.extensions.get("timeout") or {}
        ticket = Ticket(origin, None, None, timeouts.get("deadline"), timeouts.get("total"))
        breaker = self.breaker
        if breaker is not None:
            ticket.admission = breaker.before(origin, now)
        if self.limiter is not None:
            try:
                self._book(self.limiter.reserve(origin, now, ticket.deadline), ticket)
            except BaseException:
                self._release(ticket)
                raise
        return ticket

    def confirm(self, ticket: Ticket, now: float) -> None:
        """After sleeping `ticket.wait`: what is left of it (a pause the server announced
        meanwhile may move the slot later)."""
        assert self.limiter is not None
        assert ticket.reservation is not None
        try:
            self._book(self.limiter.confirm(ticket.reservation, now, ticket.deadline), ticket)
        except BaseException:
            self._release(ticket)
            raise

    def settled(
        self,
        ticket: Ticket,
        response: Response,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        notable: bool = True,
    ) -> None:
        """The send was answered: the breaker counts the status, the limiter reads what the
        server said. The clocks are read only when one of them has something to record.
        `notable` False: the caller found none of `WATCHED_FIELDS` in the response."""
        status = response.status_code
        breaker = self.breaker
        admission = ticket.admission
        # A success of an ordinary request to an origin with no state changes nothing
        # (`record`'s first line): skip the call and the clock.
        if (
            breaker is not None
            and admission is not None
            and not (
                self._exact
                and status not in breaker.failure_statuses
                and not admission.probe
                and (not breaker._circuits or admission.origin not in breaker._circuits)
            )
        ):
            breaker.report(admission, clock(), status=status)
        limiter = self.limiter
        # Most responses say nothing about rates: skip decoding their fields for that.
        if limiter is not None and (
            status in _PAUSE_STATUSES or (notable and response.headers._has_any(WATCHED_FIELDS))
        ):
            fields: Any = response.headers.multi_items()
            limiter.observe(ticket.origin, status, fields, clock(), wall_clock())

    def failed(self, ticket: Ticket, error: BaseException, clock: Callable[[], float]) -> None:
        """The send raised `error`: the breaker judges it (the limiter has nothing to read)."""
        breaker = self.breaker
        if breaker is not None and ticket.admission is not None:
            breaker.report(ticket.admission, clock(), error=error)

    @staticmethod
    def _book(reservation: Reservation | None, ticket: Ticket) -> None:
        if reservation is None:
            scheme, host, port = ticket.origin
            raise RateLimitTimeout(
                f"The rate limit's wait for {scheme}://{host}:{port} would pass the total "
                f"deadline of {ticket.total} s (Timeout(total=...)).",
                origin=ticket.origin,
            )
        ticket.reservation = reservation
        ticket.wait = reservation.wait

    def _release(self, ticket: Ticket) -> None:
        if self.breaker is not None and ticket.admission is not None:
            self.breaker.release(ticket.admission)
