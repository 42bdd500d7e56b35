"""The client's circuit breaker and rate limiter around one send, written once for the client's
fast path and for the flow.

A send is `admit`ted first (the breaker may fail it at once; the limiter books its slot and
says how long to wait), then, after any wait (`confirm` once it has been slept), performed,
and its outcome `report`ed to both. The client's fast path admits and reports itself when the
wait is nothing, so a client with these policies armed but never triggered pays a few
attribute reads and two lock-free calls per request; only a request that must wait goes
through the flow, which sleeps with a `SLEEP` effect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._exceptions import RateLimitTimeout
from .breaker import Admission, CircuitBreaker
from .plan import DEFAULT_PORTS
from .ratelimit import WATCHED_FIELDS, RateLimit, Reservation

if TYPE_CHECKING:  # pragma: no cover
    from .._models import Request, Response

__all__ = ["Guards", "Ticket"]

# Statuses whose Retry-After the limiter heeds (RFC 6585 section 4, RFC 9110 section 15.6.4).
_PAUSE_STATUSES = frozenset({429, 503})
Origin = tuple[str, str, int]


class Ticket:
    """One admitted send: its origin, the breaker's admission and the limiter's reservation."""

    __slots__ = ("admission", "deadline", "origin", "reservation", "total")

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
        self.deadline = deadline
        self.total = total

    @property
    def wait(self) -> float:
        """Seconds still to sleep before sending (0.0: send now)."""
        reservation = self.reservation
        return 0.0 if reservation is None else reservation.wait


class Guards:
    """A client's `CircuitBreaker` and `RateLimit` (either may be None, not both)."""

    __slots__ = ("breaker", "limiter")

    def __init__(self, breaker: CircuitBreaker | None, limiter: RateLimit | None) -> None:
        self.breaker = breaker
        self.limiter = limiter

    def admit(self, request: Request, now: float) -> Ticket:
        """Let `request` through the breaker (or raise `CircuitOpenError`) and book its slot
        with the limiter (or raise `RateLimitTimeout` when the wait is over `max_wait` or would
        pass the total deadline). Breaker first: a request it fails must not take a slot."""
        url = request.url
        scheme = url.scheme
        origin = (scheme, url.host, url.port or DEFAULT_PORTS.get(scheme, 0))
        timeouts = request.extensions.get("timeout") or {}
        ticket = Ticket(origin, None, None, timeouts.get("deadline"), timeouts.get("total"))
        breaker = self.breaker
        if breaker is not None:
            ticket.admission = breaker.before(origin, now)
        if self.limiter is not None:
            try:
                ticket.reservation = self._booked(
                    self.limiter.reserve(origin, now, ticket.deadline), ticket
                )
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
            ticket.reservation = self._booked(
                self.limiter.confirm(ticket.reservation, now, ticket.deadline), ticket
            )
        except BaseException:
            self._release(ticket)
            raise

    def report(
        self,
        ticket: Ticket,
        now: float,
        wall_now: float,
        response: Response | None = None,
        error: BaseException | None = None,
    ) -> None:
        """How the send ended: the breaker counts it, the limiter reads what the server said."""
        breaker = self.breaker
        if breaker is not None and ticket.admission is not None:
            if response is not None:
                breaker.report(ticket.admission, now, status=response.status_code)
            else:
                breaker.report(ticket.admission, now, error=error)
        limiter = self.limiter
        if limiter is not None and response is not None:
            status = response.status_code
            # Most responses say nothing about rates: skip decoding their fields for that.
            if status in _PAUSE_STATUSES or response.headers._has_any(WATCHED_FIELDS):
                fields: Any = response.headers.multi_items()
                limiter.observe(ticket.origin, status, fields, now, wall_now)

    @staticmethod
    def _booked(reservation: Reservation | None, ticket: Ticket) -> Reservation:
        if reservation is None:
            scheme, host, port = ticket.origin
            raise RateLimitTimeout(
                f"The rate limit's wait for {scheme}://{host}:{port} would pass the total "
                f"deadline of {ticket.total} s (Timeout(total=...)).",
                origin=ticket.origin,
            )
        return reservation

    def _release(self, ticket: Ticket) -> None:
        if self.breaker is not None and ticket.admission is not None:
            self.breaker.release(ticket.admission)
