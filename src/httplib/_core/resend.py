"""When a request that failed below the HTTP layer may be sent again, decided in one place.

Four cases, each bounded:

* **Stale keep-alive connection** (RFC 9112 section 9.3.1): a reused connection the server had
  already closed fails before any response byte. The request is resent when it is idempotent
  (`is_idempotent`: by its method, or by an `Idempotency-Key` header) or its body was not sent,
  and its body can be replayed, on a *fresh* connection (`fresh`): the idle connections opened
  before the dead one were most likely closed by the same server restart or idle timeout, and
  one more of them would fail the resend too. A failure on a fresh connection is real and is
  raised. HTTP/2 applies the same rule when the whole connection broke (not just one stream),
  counting a connection that had answered other streams as reused: a server restart cuts a new
  connection's unanswered streams too, while a server that breaks the connection on our
  request alone has answered nothing. An idempotent request whose own write failed (its head,
  or its body, met a connection the server had already closed or reset) counts as stale on a
  new connection too: the connection was dead before that write, so the failure is not this
  request's doing (a server restart closing connections it had just accepted does this). So
  does a request that already went again because its server was going away (refused, stale,
  cut while draining) and then meets a new connection cut before any answer: that is the same
  restart, its old process still accepting and then closing. At most `MAX_STALE_RESENDS` such
  resends per request.
* **Cut by a draining HTTP/2 server** before the response reached the caller: after GOAWAY
  the server closed or reset the connection under a stream it had accepted, or reset the
  stream itself (with any code but REFUSED_STREAM) (`mark_drain_cut`).
  An unanswered stream goes again under the stale-connection rule even on a new connection
  (the server said it was going away, so the cut is not the request's doing); one whose head
  came with the cut goes again when it is idempotent, at most `MAX_DRAIN_RESENDS` times.
* **Refused HTTP/2 stream** (RFC 9113 section 8.7): GOAWAY above the stream's id or
  REFUSED_STREAM means the server never processed it, so it is resent every time, on another
  connection: a server recycling its connections (nginx after `keepalive_requests`, a deploy
  draining them) may refuse one request more than once under load, and that must cost nothing.
  Only refusals by a connection that served nothing at all count against
  `MAX_REFUSED_RETRIES` (a server refusing everything); `MAX_RESENDS` bounds the loop against
  a livelock, far above what recycling causes.
* **Failed connect**: httpx's `retries=` backoff, `connect_retry_delay`; without it (the
  default `retries=0`), one more try at once when the connect or TLS handshake was reset
  (`is_connect_reset`), or up to `MAX_HANDSHAKE_CUTS` times when the server closed or reset a
  new HTTP/2 connection before its SETTINGS (`is_handshake_cut`): a server restarting resets
  the connections its old listener had queued, or closes those it had just accepted, and
  nothing of the request left. Both count as connect failures against `retries=`.

These are transport-level recoveries of requests the server never saw; the user-facing retry
policy (status codes, Retry-After, budgets) sits above the transport. One recovery sits in the
client's flow, because only the client knows that nobody has seen a response's body yet:

* **Body cut by a draining server**: after GOAWAY, the server closed or reset the connection
  (or reset the stream) under a stream it had accepted, in the middle of its response
  (graceful reloads of Apache, Caddy, lighttpd and nginx do this to long responses). The
  server said it was going away, so the cut is not the request's doing; an idempotent request
  (`is_idempotent`) with a replayable body whose body the client was reading for the caller
  (not streamed) is sent again, at most `MAX_DRAIN_RESENDS` times (`may_resend_drain_cut`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._content import ByteStream
from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    WriteError,
)

if TYPE_CHECKING:
    from .._models import Request
    from .http2 import Http2State
    from .plan import RequestPlan

__all__ = [
    "mark_response_started",
    "response_had_started",
    "CONNECT_RETRY_ERRORS",
    "IDEMPOTENT_METHODS",
    "MAX_REFUSED_RETRIES",
    "MAX_RESENDS",
    "MAX_DRAIN_RESENDS",
    "MAX_CONNECT_RESETS",
    "MAX_HANDSHAKE_CUTS",
    "MAX_STALE_RESENDS",
    "Resend",
    "can_retry_stale_connection",
    "connect_retries_at_once",
    "connect_retry_delay",
    "drain_cut_resendable",
    "is_body_cut",
    "is_connect_reset",
    "is_connection_cut",
    "is_handshake_cut",
    "is_drain_cut",
    "is_idempotent",
    "is_refused",
    "mark_body_cut",
    "mark_connection_cut",
    "mark_drain_cut",
    "mark_handshake_cut",
    "may_resend_drain_cut",
    "refused_error",
]

# RFC 9110 section 9.2.2: sending one of these twice has the same effect on the server
# as of one, so a request lost with a dead connection may be sent again.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# A request of any method carrying one of these says that the server dedupes it, so sending it
# twice acts once (the IETF httpapi draft "The Idempotency-Key HTTP Header Field"; Go's
# net/http resends such requests after a dead keep-alive connection, and accepts the X- form).
IDEMPOTENCY_KEY_FIELDS = ("Idempotency-Key", "X-Idempotency-Key")
# httpx's connect retries: the first retry at once, then 0.5 s doubling (0, 0.5, 1, 2, ...).
CONNECT_BACKOFF_FACTOR = 0.5
CONNECT_RETRY_ERRORS = (ConnectError, ConnectTimeout)
# Refusals by connections that served no request at all, before the refusal is the outcome.
MAX_REFUSED_RETRIES = 3
# Resends of one request in all: a bound against a livelock, never reached by recycling.
MAX_RESENDS = 100
# Resends after a dead connection: one restart costs one; more would repeat a request that
# may itself be what breaks the server.
MAX_STALE_RESENDS = 2
_STALE_ERRORS = (ReadError, WriteError, RemoteProtocolError)
# Fetches again of a response whose body a draining server cut: one per reload it meets.
MAX_DRAIN_RESENDS = 2
# Connects tried again at once without `retries=` (`connect_retries_at_once`): after a reset,
# once (the restarted listener takes the next); after a new HTTP/2 connection was cut before
# the server's SETTINGS, twice (a restarting server's old process may drop several it had
# accepted). None of the request has left; a server that drops every connection is down.
MAX_CONNECT_RESETS = 1
MAX_HANDSHAKE_CUTS = 2


def refused_error(message: str) -> RemoteProtocolError:
    """The error of an HTTP/2 stream the server did not process (GOAWAY above its last id,
    REFUSED_STREAM, or a stream limit it lowered): a plain `RemoteProtocolError`, since users
    only ever see httpx's classes, marked so the engine and the retry policy know the request
    may go again elsewhere."""
    error = RemoteProtocolError(message)
    _mark(error, "httplib_refused")
    return error


def is_refused(exc: BaseException) -> bool:
    """Whether `exc` came from `refused_error`: the server never processed the request."""
    return _marked(exc, "httplib_refused")


def is_idempotent(request: Request) -> bool:
    """Whether sending `request` twice has the effect of sending it once: an idempotent method
    (RFC 9110 section 9.2.2), or an `Idempotency-Key` header asking the server to dedupe it."""
    if request.method in IDEMPOTENT_METHODS:
        return True
    headers = request.headers
    return any(name in headers for name in IDEMPOTENCY_KEY_FIELDS)


def _mark(exc: BaseException, fact: str) -> None:
    """Record `fact` (an attribute name) on `exc`, for a policy that later sees it raised."""
    try:
        setattr(exc, fact, True)
    except AttributeError:  # (an exception type with __slots__: nothing to record on)
        pass


def _marked(exc: BaseException, fact: str) -> bool:
    return getattr(exc, fact, False) is True


def mark_response_started(exc: BaseException) -> None:
    """Record on `exc` that the server had begun its response when it was raised: such a
    request was processed (or may have been), so no policy may send it again."""
    _mark(exc, "httplib_response_started")


def response_had_started(exc: BaseException) -> bool:
    """Whether `mark_response_started` marked `exc`."""
    return _marked(exc, "httplib_response_started")


def mark_drain_cut(exc: BaseException) -> None:
    """Record on `exc` that it cut a processed stream's response after the server's GOAWAY."""
    _mark(exc, "httplib_drain_cut")


def is_drain_cut(exc: BaseException) -> bool:
    """Whether `mark_drain_cut` marked `exc`."""
    return _marked(exc, "httplib_drain_cut")


def may_resend_drain_cut(exc: BaseException, request: Request, resends: int) -> bool:
    """Whether a response whose body read raised `exc` may be fetched again: a cut by a
    draining server (`mark_drain_cut`), of an idempotent request whose body can be replayed,
    fetched again fewer than `MAX_DRAIN_RESENDS` times so far. The caller must not have seen
    any of the body (a non-streamed request)."""
    return (
        drain_cut_resendable(exc, resends)
        and isinstance(request.stream, ByteStream)
        and is_idempotent(request)
    )


def drain_cut_resendable(exc: BaseException, resends: int) -> bool:
    """Whether `exc` is a draining server's cut (`mark_drain_cut`) of a request sent again
    fewer than `MAX_DRAIN_RESENDS` times so far; the caller checks it is idempotent and
    replayable."""
    return resends < MAX_DRAIN_RESENDS and is_drain_cut(exc)


def mark_connection_cut(exc: BaseException) -> None:
    """Record on `exc` (a `RemoteProtocolError`) that the server closed the connection in the
    middle of a response (an HTTP/1.1 body short of its length or last chunk; an HTTP/2
    connection's EOF or reset): the connection was lost, the response is not malformed."""
    _mark(exc, "httplib_connection_cut")


def is_connection_cut(exc: BaseException) -> bool:
    """Whether `exc` lost the connection under a response: a `ReadError` (reset), or an
    error `mark_connection_cut` marked."""
    return isinstance(exc, ReadError) or _marked(exc, "httplib_connection_cut")


def mark_body_cut(exc: BaseException) -> bool:
    """Mark `exc`, raised while the client read a final response's body for its caller (a
    non-streamed request: nobody has seen any of it), when it lost the connection under the
    body (`is_connection_cut`) or timed out reading it; True when marked. The retry policy
    then counts it as a connection lost before the head (`retries.error_kind`): for the
    caller nothing of that response exists."""
    if not (is_connection_cut(exc) or isinstance(exc, ReadTimeout)):
        return False
    _mark(exc, "httplib_body_cut")
    return True


def is_body_cut(exc: BaseException) -> bool:
    """Whether `mark_body_cut` marked `exc`."""
    return _marked(exc, "httplib_body_cut")


def mark_handshake_cut(exc: BaseException) -> None:
    """Record on `exc` that the server closed or reset a new HTTP/2 connection during the
    connection preface (before its SETTINGS came, or as ours went out): no request had left."""
    _mark(exc, "httplib_handshake_cut")


def is_handshake_cut(exc: BaseException) -> bool:
    """Whether `mark_handshake_cut` marked `exc`."""
    return _marked(exc, "httplib_handshake_cut")


def is_connect_reset(exc: BaseException) -> bool:
    """Whether a failed connect was the server resetting it (ECONNRESET or EPIPE anywhere in
    its causes, TLS handshake included; trio gathers a connect's failures in an exception
    group), not a refusal, a timeout or a bad certificate."""
    todo: list[BaseException] = [exc]
    for _ in range(16):  # (a cause chain is a few links long; bounded all the same)
        if not todo:
            return False
        cause = todo.pop()
        # (an OSError made with ECONNRESET or EPIPE is one of these two classes)
        if isinstance(cause, (ConnectionResetError, BrokenPipeError)):
            return True
        if isinstance(cause, BaseExceptionGroup):
            todo.extend(cause.exceptions)
        link = cause.__cause__ or cause.__context__
        if link is not None:
            todo.append(link)
    return False


def connect_retries_at_once(exc: BaseException) -> int:
    """How often a connect that failed with `exc` may be tried again at once when no
    `retries=` was asked for: a handshake cut `MAX_HANDSHAKE_CUTS` times, a reset
    `MAX_CONNECT_RESETS` times, anything else (a refusal, a timeout, a bad certificate) never."""
    if is_handshake_cut(exc):
        return MAX_HANDSHAKE_CUTS
    return MAX_CONNECT_RESETS if is_connect_reset(exc) else 0


def connect_retry_delay(attempt: int, retries: int) -> float | None:
    """Seconds to wait before connect retry number `attempt` (1-based), or None: give up."""
    if attempt > retries:
        return None
    return 0.0 if attempt == 1 else CONNECT_BACKOFF_FACTOR * 2 ** (attempt - 2)


def can_retry_stale_connection(
    idempotent: bool,
    *,
    connection_reused: bool,
    response_started: bool,
    body_sent: bool,
) -> bool:
    """Whether a request that failed on a stale keep-alive connection may be resent.

    Only a *reused* connection can be stale (a failure on a fresh one is real, and the resend
    goes to a fresh one), only before any response byte arrived, and never for a
    non-idempotent request (`idempotent`: see `is_idempotent`) whose body was sent.
    """
    if not connection_reused or response_started:
        return False
    return idempotent or not body_sent


class Resend:
    """One request's resend allowance across the connections it tries."""

    __slots__ = ("drained", "fresh", "idempotent", "refusals", "replayable", "resends", "stale")

    def __init__(self, plan: RequestPlan) -> None:
        # (made at a request's first failure: a request that never fails looks at no header)
        self.idempotent = is_idempotent(plan.request)
        self.replayable = plan.replayable
        self.refusals = 0  # by connections that had served nothing
        self.resends = 0
        self.stale = 0  # resends after a dead connection
        self.drained = 0  # resends after a draining server cut an answered stream
        self.fresh = False  # the next attempt needs a fresh connection (after a stale one)

    def after_http11(
        self,
        exc: BaseException,
        *,
        reused: bool,
        response_started: bool,
        body_sent: bool,
        write_failed: bool = False,
    ) -> bool:
        """Whether an HTTP/1.1 exchange that raised `exc` may go again on a fresh connection;
        `write_failed`: a write of the request failed first (the error raised is then the
        missing answer's)."""
        if not isinstance(exc, _STALE_ERRORS):
            return False
        # An iterator body cannot be replayed once it has been started.
        if body_sent and not self.replayable:
            return False
        return self._stale(reused or self._not_ours(write_failed), response_started, body_sent)

    def after_http2(self, exc: BaseException, state: Http2State, sid: int | None) -> bool:
        """Whether an HTTP/2 request that raised `exc` may go again on another connection:
        refused unprocessed, or its whole connection broke while it was stale. Ask before the
        stream is closed (the state forgets the stream's facts then)."""
        if is_refused(exc):
            if not self.replayable or self.resends >= MAX_RESENDS:
                return False
            if not state.served:
                if self.refusals >= MAX_REFUSED_RETRIES:
                    return False
                self.refusals += 1
            self.resends += 1
            self.fresh = False
            return True
        if sid is None or not isinstance(exc, _STALE_ERRORS):
            return False
        if not (state.cut_off or is_drain_cut(exc)):  # (a draining server's reset is a cut)
            return False
        facts = state.stream_facts(sid)
        if facts is None or not self.replayable:
            return False
        reused, answered, body_sent = facts
        if answered:
            # The head came, then a cut: after GOAWAY that is the server draining (as for a body
            # it cut, `may_resend_drain_cut`), and nothing has reached the caller yet.
            if not (self.idempotent and drain_cut_resendable(exc, self.drained)):
                return False
            self.drained += 1
            self.resends += 1
            self.fresh = True
            return True
        # A cut after the server's GOAWAY is its draining, not this request's doing: on a new
        # connection too, an unanswered stream then goes again like one on a stale connection.
        # (a WriteError reaches a stream whose HEADERS or body the failed write carried, or
        # was to carry: `Http2State.write_failed`)
        stale = (
            reused
            or state.served
            or is_drain_cut(exc)
            or self._not_ours(isinstance(exc, WriteError))
        )
        return self._stale(stale, answered, body_sent)

    def _not_ours(self, write_failed: bool) -> bool:
        """Whether a cut on a new connection is not this request's doing, so the connection
        counts as stale: an idempotent request's own write failed (the server had closed or
        reset the connection before it), or the request already went again because its
        server was going away (a refusal, a stale connection, a cut while draining: this cut
        is most likely the same restart, its old process still accepting and then closing).
        A first read that fails is not enough: the server may have read the request and then
        broken the connection on it, and a request that breaks the server must not go
        again."""
        return (write_failed and self.idempotent) or self.resends > 0

    def _stale(self, reused: bool, response_started: bool, body_sent: bool) -> bool:
        if self.resends >= MAX_RESENDS or self.stale >= MAX_STALE_RESENDS:
            return False
        if not can_retry_stale_connection(
            self.idempotent,
            connection_reused=reused,
            response_started=response_started,
            body_sent=body_sent,
        ):
            return False
        self.resends += 1
        self.stale += 1
        self.fresh = True
        return True
