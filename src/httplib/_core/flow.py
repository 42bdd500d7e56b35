"""`send_flow`: auth, event hooks, cookies and redirects around each exchange, as one generator.

Theory of operation: the flow never performs I/O. It yields effects, `(kind, target)` pairs,
and receives their results; a failed effect is thrown back into it, so it can close the
responses it holds before the error goes on. The sync and async clients each run it with one
small loop (`FlowStepper`) and a table mapping each kind to a function that performs it:

    SEND        target: Request                 -> Response (headers in, body still streaming)
    READ        target: Response                -> None (body loaded)
    DISCARD     target: (Response, limit)       -> None (a redirect's body read raw, at most
                                                   `limit` bytes, never decoded; then closed)
    CLOSE       target: Response                -> None
    HOOKS       target: (hooks, Request | Response) -> None (each hook called or awaited)
    AUTH_OPEN   target: (Auth, Request)         -> the auth generator (sync or async flow)
    AUTH_NEXT   target: (generator, Response | None) -> next Request, or None when it ends
    AUTH_CLOSE  target: generator               -> None
    AUTH_WAIT   target: Flight                  -> None (a token auth waits for another
                                                   thread's or task's token fetch: a thread
                                                   event, or the running loop's own event,
                                                   woken by `Flight.on_done`)
    SLEEP       target: seconds (float)         -> None (the client's runtime sleeps: a blocking
                                                   sleep, asyncio's or trio's)

Retries (`Retry`, given as a `RetryRun` by a client that has one): each exchange, the first
request and every redirect hop or auth round, is `_exchange`: sent, and after a retryable
error or status sent again after a `SLEEP`, as `_core/retries.py` decides. Hooks run once per
exchange; cookies are stored from every attempt's response; a response that is retried is
discarded (its body read raw up to `MAX_REDIRECT_BODY`, so its connection can be reused) and
closed. The final response's `extensions["attempts"]` says how many times it was sent. A
final body read for the caller that loses its connection (`_read_final`) enters `_exchange`
again as that exchange's failed outcome, so the policy decides on it as on a connection lost
before the head (counted in the same run).

Auth runs through `Auth.sync_auth_flow` / `async_auth_flow` (which step `auth_flow` and read
bodies as its flags ask), so subclasses overriding those for I/O keep working, as in httpx.
The plain `Auth()` (no credentials) skips that machinery: it would only echo the request.
Token auths (`_core/token_auth.py`) also yield `AuthEffect` steps, performed here: the wall
clock, a token exchange (sent through this same flow, redirects not followed, body read, kept
out of `history`), and a wait for another flow's fetch (`AUTH_WAIT`).

Fast path: when no policy can act before the first response (`is_plain`: no auth, no hooks),
a client sends the request itself, and `settle_plain` says whether that response is final
(no redirect to build, and with a `Retry` no status it may retry); only otherwise does it hand
the response to `send_flow(..., response)`. With a `Retry`, an error from that first send goes
to `send_flow(..., error=exc)`, which decides whether to send again; so does a final body
the fast path was reading when the connection was lost under it (`mark_body_cut`). The
`RetryRun` is made there, by the flow: a request answered at its first attempt only counts for
the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._content import ByteStream
from .._cookies import Cookies
from .._exceptions import TooManyRedirects
from .._logging import drain_cut_resend, rate_limit_wait, retry_refused, retry_scheduled
from .auth import Auth, AuthEffect
from .guards import Guards, Ticket
from .ratelimit import WATCHED_FIELDS
from .redirects import MAX_REDIRECT_BODY, build_redirect_request
from .resend import is_idempotent, mark_body_cut, may_resend_drain_cut
from .retries import BUDGET, DEADLINE, Retry, RetryRun, deadline_exceeded
from .token_auth import READ_CLOCK, AwaitToken, TokenExchange

RETRY_AFTER_STATUS_CODES = Retry.RETRY_AFTER_STATUS_CODES

if TYPE_CHECKING:  # pragma: no cover
    from .._models import Request, Response
    from .._urls import URL

__all__ = [
    "AUTH_CLOSE",
    "AUTH_NEXT",
    "AUTH_OPEN",
    "AUTH_WAIT",
    "CLOSE",
    "DISCARD",
    "HOOKS",
    "READ",
    "SEND",
    "SLEEP",
    "Effect",
    "FlowStepper",
    "SendFlow",
    "is_plain",
    "send_flow",
    "settle_plain",
]

SEND, READ, CLOSE, HOOKS, AUTH_OPEN, AUTH_NEXT, AUTH_CLOSE, DISCARD, SLEEP, AUTH_WAIT = range(10)

Effect = tuple[int, Any]
_COOKIE_HEADERS = frozenset({b"set-cookie", b"set-cookie2"})
# The field names a plain first response is scanned for when a rate limiter reads responses
# too: one pass instead of two, since most responses carry none of them.
NOTABLE_FIELDS = _COOKIE_HEADERS | WATCHED_FIELDS
SendFlow = Generator[Effect, Any, "Response"]


class FlowSettings(Protocol):
    """What the flow reads from its client, at each step (a client may change them meanwhile)."""

    @property
    def cookies(self) -> Cookies: ...

    @property
    def event_hooks(self) -> Mapping[str, Sequence[Callable[..., Any]]]: ...

    max_redirects: int
    _guards: Guards | None

    def _clock(self) -> float: ...
    def _wall_clock(self) -> float: ...
    def _transport_for_url(self, url: URL) -> object: ...
    def _retry_run(self, policy: Retry) -> RetryRun: ...


def is_plain(client: FlowSettings, auth: Auth) -> bool:
    """Whether nothing acts before the first response: no auth, no hooks, redirects allowed
    (a rate limit or circuit breaker is applied by the client around that first send)."""
    hooks = client.event_hooks
    return (
        type(auth) is Auth
        and not hooks["request"]
        and not hooks["response"]
        and client.max_redirects >= 0
    )


def settle_plain(
    client: FlowSettings, response: Response, retry: Retry | None = None, notable: bool = True
) -> bool:
    """After a plain first exchange (see `is_plain`): store its cookies; True when it is the
    final response, False when `send_flow(..., response)` must build its redirect or, with a
    `retry` policy, decide on a status it may retry. `notable` False: the caller found none of
    `NOTABLE_FIELDS` in the response (so it sets no cookie)."""
    if notable:
        _store_cookies(client, response)
    if retry is not None:
        code = response.status_code
        if code in retry.status_forcelist or code in RETRY_AFTER_STATUS_CODES:
            return False
    if response.has_redirect_location:
        return False
    response.history = []
    if retry is not None:
        # Final at the first attempt: no run is needed (the client counted the request for
        # the retry budget when it started).
        response.extensions["attempts"] = 1
    return True


def _store_cookies(client: FlowSettings, response: Response) -> None:
    # The jar reads only these two headers; skipping it otherwise saves its setup cost.
    if response.headers._has_any(_COOKIE_HEADERS):
        client.cookies.extract_cookies(response)


def send_flow(
    client: FlowSettings,
    request: Request,
    auth: Auth,
    follow_redirects: bool,
    stream: bool,
    response: Response | None = None,
    retry: Retry | None = None,
    error: Exception | None = None,
    ticket: Ticket | None = None,
    resent: int = 0,
) -> SendFlow:
    """Send `request` as the client's policies say; the final response is the return value.

    `response`: the answer to `request` already received by a plain first exchange (see
    `settle_plain`), or `error` what that exchange raised (only with a `retry`, the request's
    retry policy at work; this send's `RetryRun` is made here). `ticket`: the rate limiter and
    breaker's admission of the first send, made by the client's fast path, when the limiter
    asked it to wait first. Unless `stream`, the final body is read; a response that fails on
    the way is closed. `resent`: how many times the client's fast path fetched the request
    again after a draining server cut its body (see `_read_final`).
    """
    run = None if retry is None else client._retry_run(retry)
    if type(auth) is Auth:
        first = response if error is None else error
        response = yield from _redirect_flow(
            client, request, follow_redirects, [], first, run, ticket
        )
    else:
        response = yield from _auth_flow(client, request, auth, follow_redirects, run)
    if not stream:
        response = yield from _read_final(client, response, follow_redirects, resent, run)
    return response


def _read_final(
    client: FlowSettings,
    response: Response,
    follow_redirects: bool,
    resent: int,
    run: RetryRun | None,
) -> SendFlow:
    """Read the final response's body, closing the response if that fails. Nobody has seen
    any of it yet, so a body a draining server cut is fetched again when
    `resend.may_resend_drain_cut` allows it (`resent`: the client's fast path fetched it again
    already), and a body that lost its connection goes to the retry policy (`run`) as a
    connection lost before the head would (`resend.mark_body_cut`)."""
    while True:
        try:
            yield (READ, response)
            return response
        except GeneratorExit:
            raise
        except BaseException as exc:
            yield (CLOSE, response)
            request = response.request
            failed: Exception | None = None
            if may_resend_drain_cut(exc, request, resent):
                resent += 1
                drain_cut_resend(request, resent)
            elif run is not None and isinstance(exc, Exception) and mark_body_cut(exc):
                failed = exc  # (the policy decides: `_exchange` retries it or raises it)
            else:
                raise
        # The same request again, as its own exchange (hooks, cookies, a redirect it may now
        # get), in the same place of the redirect chain.
        response = yield from _redirect_flow(
            client, request, follow_redirects, response.history, failed, run
        )


def _closing_on_error(response: Response, effect: Effect) -> Generator[Effect, Any, Any]:
    """Perform `effect`; if it (or anything thrown in) fails, close `response`, then re-raise."""
    try:
        return (yield effect)
    except GeneratorExit:
        raise
    except BaseException:
        yield (CLOSE, response)
        raise


def _auth_flow(
    client: FlowSettings,
    request: Request,
    auth: Auth,
    follow_redirects: bool,
    retry: RetryRun | None,
) -> SendFlow:
    """Run the auth generator around the exchanges, closing it however the flow ends."""
    steps = yield (AUTH_OPEN, (auth, request))
    try:
        response = yield from _auth_rounds(client, steps, follow_redirects, retry)
    except GeneratorExit:
        raise
    except BaseException:
        yield (AUTH_CLOSE, steps)
        raise
    yield (AUTH_CLOSE, steps)
    return response


def _auth_rounds(
    client: FlowSettings, steps: Any, follow_redirects: bool, retry: RetryRun | None
) -> SendFlow:
    """Alternate auth steps and exchanges until the auth generator ends (httpx's loop).

    Each response the auth flow answered with a new request (or a step of its own) is read
    and kept in `history`.
    """
    history: list[Response] = []
    response: Response | None = None  # the last response, while the auth flow decides
    answer: Any = None
    while True:
        step = (AUTH_NEXT, (steps, answer))
        if response is None:
            outgoing = yield step
        else:
            outgoing = yield from _closing_on_error(response, step)
        if outgoing is None:
            if response is None:
                if not history:
                    raise RuntimeError("The auth flow ended without yielding a request to send.")
                response = history.pop()
            return response
        if response is not None:
            response.history = list(history)
            yield from _closing_on_error(response, (READ, response))
            history.append(response)
            response = None
        if isinstance(outgoing, AuthEffect):
            answer = yield from _auth_effect(client, outgoing, retry)
        else:
            response = yield from _redirect_flow(
                client, outgoing, follow_redirects, history, None, retry
            )
            answer = response


def _auth_effect(
    client: FlowSettings, effect: AuthEffect, retry: RetryRun | None
) -> Generator[Effect, Any, Any]:
    """Perform a token auth's own step (`_core/token_auth.py`) and return its answer."""
    if effect is READ_CLOCK:
        return client._wall_clock()
    if isinstance(effect, AwaitToken):
        yield (AUTH_WAIT, effect.flight)
        return None
    if isinstance(effect, TokenExchange):
        try:
            # Never redirected: the client secret and refresh token go to the token URL only.
            response = yield from _redirect_flow(client, effect.request, False, [], None, retry)
            limit = response._max_content_size
            if limit is None or limit > effect.max_size:
                response._max_content_size = effect.max_size
            yield from _closing_on_error(response, (READ, response))
        except BaseException as exc:
            effect.failed(exc)
            raise
        return response
    raise TypeError(f"unknown auth step {effect!r}")


def _redirect_flow(
    client: FlowSettings,
    request: Request,
    follow_redirects: bool,
    history: list[Response],
    first: Response | Exception | None = None,
    retry: RetryRun | None = None,
    ticket: Ticket | None = None,
) -> SendFlow:
    """Send, run the hooks, store cookies, and follow (or hand back) redirects; `first` given
    is the first exchange's outcome, sent with no hooks (a response has its cookies stored; an
    error comes only with a `retry` to decide on it); `ticket`, the first send's admission."""
    response: Response | None = None
    if retry is None and not isinstance(first, Exception):
        response = first
    while True:
        hooks = client.event_hooks
        if first is not None and retry is not None:
            response = yield from _exchange(client, request, retry, first)
            first = None
        elif response is None:
            if len(history) > client.max_redirects:
                raise TooManyRedirects("Exceeded maximum allowed redirects.", request=request)
            if hooks["request"]:
                yield (HOOKS, (hooks["request"], request))
            if retry is None:
                response = yield from _send(client, request, ticket)
                _store_cookies(client, response)
            else:
                response = yield from _exchange(client, request, retry, None, ticket)
            ticket = None
        try:
            if hooks["response"]:
                yield (HOOKS, (hooks["response"], response))
            response.history = list(history)
            if not response.has_redirect_location:
                return response
            request = build_redirect_request(
                request, response, client.cookies, client._transport_for_url
            )
            history = [*history, response]
            if not follow_redirects:
                response.next_request = request
                return response
            # Never decoded, and bounded: a small gzip bomb on a 302 must not inflate in
            # memory (urllib3's CVE-2026-21441).
            yield (DISCARD, (response, MAX_REDIRECT_BODY))
        except GeneratorExit:
            raise
        except BaseException:
            yield (CLOSE, response)
            raise
        response = None


def _exchange(
    client: FlowSettings,
    request: Request,
    retry: RetryRun,
    first: Response | Exception | None = None,
    ticket: Ticket | None = None,
) -> SendFlow:
    """Send `request`, and again after a wait for as long as `retry` says; the last response
    (or error) is the outcome. `first`: the first attempt's outcome when the client's fast path
    made it (a response has its cookies stored already)."""
    # Only a body held in memory can be sent twice (an iterator is consumed by the first try).
    retry.start(
        request.method,
        isinstance(request.stream, ByteStream),
        retry.clock(),
        idempotent=is_idempotent(request),
    )
    outcome = first
    while True:
        if outcome is None:
            try:
                outcome = yield from _send(client, request, ticket)
            except GeneratorExit:
                raise
            except Exception as raised:  # (cancelled and interrupted are BaseExceptions)
                outcome = raised
            else:
                _store_cookies(client, outcome)
            ticket = None
        timeouts = request.extensions.get("timeout") or {}
        if isinstance(outcome, Exception):
            error = outcome
            decision = retry.after_error(
                error, now=retry.clock(), deadline=timeouts.get("deadline")
            )
            if not decision.retry:
                if decision.reason is DEADLINE or decision.reason is BUDGET:
                    retry_refused(request, retry, decision, error)
                if decision.reason is DEADLINE:
                    total = timeouts.get("total")
                    raise deadline_exceeded(error, decision, total, retry.attempt) from error
                if retry.attempt > 1:
                    error.add_note(f"httplib: the request was sent {retry.attempt} times (Retry)")
                raise error
            retry_scheduled(request, retry.attempt - 1, decision.delay, error)
        else:
            response: Response = outcome
            code = response.status_code
            retry_after = None
            if code in RETRY_AFTER_STATUS_CODES:
                retry_after = response.headers.get("retry-after")
            decision = retry.after_response(
                code,
                retry_after,
                now=retry.clock(),
                wall_now=retry.wall_clock() if retry_after is not None else 0.0,
                deadline=timeouts.get("deadline"),
            )
            if not decision.retry:
                if decision.reason is DEADLINE or decision.reason is BUDGET:
                    retry_refused(request, retry, decision, response)
                response.extensions["attempts"] = retry.attempt
                return response
            retry_scheduled(request, retry.attempt - 1, decision.delay, response)
            yield from _dropped(response)
        outcome = None
        yield (SLEEP, decision.delay)


def _send(client: FlowSettings, request: Request, ticket: Ticket | None = None) -> SendFlow:
    """One `SEND`, behind the client's circuit breaker and rate limiter when it has them
    (`_core/guards.py`): admitted (or failed fast), the limiter's wait slept, the outcome
    reported. `ticket`: the admission the client's fast path already made for this send."""
    guards = client._guards
    if guards is None:
        sent: Response = yield (SEND, request)
        return sent
    clock = client._clock
    if ticket is None:
        ticket = guards.admit(request, clock())
    try:
        while ticket.wait > 0:
            rate_limit_wait(ticket.origin, ticket.wait)
            yield (SLEEP, ticket.wait)
            guards.confirm(ticket, clock())
        response: Response = yield (SEND, request)
    except BaseException as exc:
        guards.failed(ticket, exc, clock)
        raise
    guards.settled(ticket, response, clock, client._wall_clock)
    return response


def _dropped(response: Response) -> Generator[Effect, Any, None]:
    """Read a response that is being retried (raw, bounded, never decoded) so its connection
    can serve the retry, then close it."""
    try:
        yield (DISCARD, (response, MAX_REDIRECT_BODY))
    except GeneratorExit:
        raise
    except BaseException as exc:
        yield (CLOSE, response)
        if not isinstance(exc, Exception):
            raise  # (cancelled, interrupted)
        # A body that breaks on the way changes nothing: it was to be dropped, and its
        # connection is not reused. The retry goes ahead.


class FlowStepper:
    """Advances a flow with each effect's result or error; `effect` is None once it returned.

    The drivers' loop: `while (effect := s.effect) is not None: try perform; s.ok / s.fail`.
    """

    __slots__ = ("_flow", "_send", "effect", "result")

    def __init__(self, flow: Generator[Any, Any, Any]) -> None:
        self._flow = flow
        self._send = flow.send  # (bound once: `ok` runs once per effect on the hot path)
        self.result: Any = None
        try:
            self.effect: Any = flow.send(None)
        except StopIteration as stop:
            self.effect = None
            self.result = stop.value

    def ok(self, value: Any) -> None:
        """The effect succeeded with `value`."""
        try:
            self.effect = self._send(value)
        except StopIteration as stop:
            self.effect = None
            self.result = stop.value

    def fail(self, exc: BaseException) -> None:
        """The effect raised `exc`: the flow cleans up and re-raises it (or recovers)."""
        try:
            self.effect = self._flow.throw(exc)
        except StopIteration as stop:
            self.effect = None
            self.result = stop.value
