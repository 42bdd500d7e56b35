"""Token authentication: `BearerAuth`, `OAuth2ClientCredentials`, `OAuth2RefreshToken`.

Theory of operation: a token auth is an ordinary `Auth` flow (one generator for both clients).
Besides requests it yields three small steps of its own (`AuthEffect`s), which `send_flow`
performs: `READ_CLOCK` (the client's wall clock, unless the auth was given a `clock`),
`TokenExchange` (send the token request through the same client, never following a redirect,
and read its body) and `AwaitToken` (wait until another thread's or task's fetch ends: the
client-level `AUTH_WAIT` effect, a thread event or the running loop's own event).

`TokenCache` is the sans-I/O part: given the time, it answers "use this token", "you fetch it"
or "wait for the fetch in flight" (`Flight`), so one token request serves every thread and task
that needs a token at once. Its C lock guards a few assignments and is never held across a
wait or I/O; one auth object may serve several clients, sync and async, at once.

A fetch that fails with an error hands that same error to every waiter of its flight; one that
is cancelled or abandoned (a `BaseException`, a closed flow) wakes them and the first to ask
again becomes the next fetcher. Either way no waiter is left waiting: the fetcher's flow
reports its end however it ends (`_fetch`'s handlers, or `send_flow` when the exchange
fails), and the fetch itself is bounded by the client's timeouts, so a wait has no timeout of
its own (a cancelled waiter simply leaves).
"""

from __future__ import annotations

import _thread
import json
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus, urlencode

from .._content import ByteStream
from .._exceptions import HTTPStatusError
from .._logging import logger, redacted_url
from .._models import Request
from .._urls import URL
from .auth import Auth, AuthEffect, basic_auth_header, parse_www_authenticate

if TYPE_CHECKING:  # pragma: no cover
    from .._models import Response

__all__ = [
    "READ_CLOCK",
    "AwaitToken",
    "BearerAuth",
    "Flight",
    "OAuth2ClientCredentials",
    "OAuth2Error",
    "OAuth2RefreshToken",
    "Token",
    "TokenCache",
    "TokenExchange",
]

DEFAULT_SKEW = 30.0
"""Seconds before `expires_in` runs out at which a cached token is refreshed: covers the clock
difference with the server and the time a request spends in flight."""

_MASK = "***"


class OAuth2Error(HTTPStatusError):
    """The token endpoint refused or garbled a token request (RFC 6749 section 5.2).

    `error` and `error_description` are the server's (None when it sent no RFC 6749 error
    document); `request` is the token request, `response` the token endpoint's answer. The
    message never shows the client secret, the refresh token or an access token.
    """

    def __init__(
        self,
        message: str,
        *,
        request: Request,
        response: Response,
        error: str | None = None,
        error_description: str | None = None,
        error_uri: str | None = None,
    ) -> None:
        super().__init__(message, request=request, response=response)
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri


# --- the steps a token flow asks `send_flow` to perform ------------------------------------------


class _ReadClock(AuthEffect):
    """Step: answer with the client's wall clock (seconds since the epoch)."""

    def __repr__(self) -> str:
        return "READ_CLOCK"


READ_CLOCK = _ReadClock()


@dataclass(frozen=True, eq=False)
class AwaitToken(AuthEffect):
    """Step: wait until `flight` is done (the client's `AUTH_WAIT`); answered with None."""

    flight: Flight


# The most of a token endpoint's answer read into memory: an RFC 6749 section 5.1 response is
# a small JSON object (a few KiB with a JWT access token), so more is a misdirected token URL or
# a hostile endpoint, refused before it fills memory.
MAX_TOKEN_RESPONSE = 1 << 20


@dataclass(frozen=True, eq=False)
class TokenExchange(AuthEffect):
    """Step: send `request` to the token endpoint (no redirects followed), read the response
    (at most `max_size` bytes decoded, else `ContentTooLarge`) and answer with it; if that
    fails, `failed` is told before the error goes on."""

    request: Request
    failed: Callable[[BaseException], None]
    max_size: int = MAX_TOKEN_RESPONSE


# --- the cache -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Token:
    """An access token and when to stop using it (`refresh_at`, None: until a 401 says so)."""

    access_token: str
    refresh_at: float | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Token(access_token={_MASK!r}, refresh_at={self.refresh_at!r})"


class Flight:
    """One token fetch in progress: who waits for it, and how it ended."""

    __slots__ = ("_lock", "_wakers", "done", "error", "started", "token", "traceback")

    def __init__(self, lock: Any, started: float) -> None:
        self._lock = lock
        self._wakers: list[Callable[[], None]] | None = []
        self.started = started
        self.done = False
        self.token: Token | None = None
        self.error: Exception | None = None
        self.traceback: TracebackType | None = None

    def on_done(self, wake: Callable[[], None]) -> bool:
        """Call `wake` (non-blocking, from any thread) once the fetch ends; False, and no call,
        when it has ended already."""
        with self._lock:
            if self._wakers is None:
                return False
            self._wakers.append(wake)
            return True

    def _finish(self) -> list[Callable[[], None]]:
        """Mark done (under the lock) and hand back the wakers to call outside it."""
        wakers, self._wakers = self._wakers or [], None
        self.done = True
        return wakers


USE: Literal["use"] = "use"
FETCH: Literal["fetch"] = "fetch"
WAIT: Literal["wait"] = "wait"


class TokenCache:
    """The current token and the fetch in flight, shared by every thread and task.

    `acquire(now)` decides; the fetcher then calls `settle` or `fail` exactly once, which wakes
    the waiters. `skew`: refresh this many seconds before expiry (at most half the lifetime,
    so a short-lived token is still used for a while).
    """

    def __init__(self, skew: float = DEFAULT_SKEW, token: Token | None = None) -> None:
        if skew < 0:
            raise ValueError(f"skew must be >= 0 seconds, got {skew!r}")
        self.skew = skew
        self._lock = _thread.allocate_lock()
        self._token = token
        self._flight: Flight | None = None

    @property
    def token(self) -> Token | None:
        return self._token

    def refresh_at(self, expires_at: float | None, lifetime: float | None) -> float | None:
        """When a token expiring at `expires_at` (`lifetime` seconds after its fetch began,
        when known) should be replaced."""
        if expires_at is None:
            return None
        skew = self.skew if lifetime is None else min(self.skew, max(lifetime, 0.0) / 2)
        return expires_at - skew

    def acquire(
        self, now: float
    ) -> tuple[Literal["use"], Token] | tuple[Literal["fetch", "wait"], Flight]:
        """The cached token if still good at `now`; else the flight to wait for, or a new one
        the caller must fetch (then `settle` or `fail` it)."""
        with self._lock:
            token = self._token
            if token is not None and (token.refresh_at is None or now < token.refresh_at):
                return USE, token
            if self._flight is not None:
                return WAIT, self._flight
            flight = self._flight = Flight(self._lock, now)
            return FETCH, flight

    def settle(self, flight: Flight, token: Token) -> None:
        """The fetch succeeded: cache `token` and wake the waiters."""
        with self._lock:
            if flight.done:
                return
            flight.token = token
            if self._flight is flight:
                self._token, self._flight = token, None
            wakers = flight._finish()
        for wake in wakers:
            wake()

    def fail(self, flight: Flight, error: BaseException | None) -> None:
        """The fetch ended without a token: waiters get `error` when it is an `Exception`;
        otherwise (cancelled, abandoned) they wake and the next to ask fetches again."""
        with self._lock:
            if flight.done:
                return
            if isinstance(error, Exception):
                flight.error, flight.traceback = error, error.__traceback__
            if self._flight is flight:
                self._flight = None
            wakers = flight._finish()
        for wake in wakers:
            wake()

    def invalidate(self, token: Token) -> None:
        """Drop `token`, a server having refused it, unless another one replaced it already."""
        with self._lock:
            if self._token is token:
                self._token = None


# --- the flows -----------------------------------------------------------------------------------


def _masked(value: str | None) -> str | None:
    return None if value is None else _MASK


class BearerAuth(Auth):
    """`Authorization: Bearer <token>` on every request (RFC 6750 section 2.1).

    Like every credential, the header is dropped on a redirect to another origin.
    """

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token:
            raise TypeError("BearerAuth needs the token as a non-empty str")
        self._header = f"Bearer {token}"

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"BearerAuth(token={_MASK!r})"


def _rejects_token(response: Response) -> bool:
    """A 401 whose Bearer challenge says the token is bad or missing (RFC 6750 section 3.1:
    `invalid_token`, or no error code at all); other codes (insufficient_scope,
    invalid_request) would fail the same way with a new token."""
    if response.status_code != 401:
        return False
    for value in response.headers.get_list("www-authenticate"):
        if "bearer" not in value.lower():
            continue
        try:
            challenges = parse_www_authenticate(value)
        except ValueError:
            continue
        for challenge in challenges:
            if challenge.scheme == "bearer":
                return challenge.params.get("error", "invalid_token") == "invalid_token"
    return False


class _TokenAuth(Auth):
    """The flow both OAuth2 schemes share: attach the cached token, fetch it once when there is
    none (or it expires), and on a 401 Bearer challenge refresh once and send once more."""

    def __init__(
        self,
        token_url: URL | str,
        *,
        skew: float,
        clock: Callable[[], float] | None,
        token: Token | None = None,
    ) -> None:
        url = URL(token_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"token_url must be an absolute http(s) URL, got {str(url)!r}")
        self.token_url = url
        self._clock = clock
        self._cache = TokenCache(skew, token)

    # What each scheme sends and how it takes the answer.

    def _token_form(self) -> dict[str, str]:
        raise NotImplementedError  # pragma: no cover

    # Set by each scheme's constructor.
    client_id: str | None
    _client_secret: str | None
    auth_method: str

    def _client_auth(self) -> tuple[str | None, str | None, str]:
        """(client_id, client_secret, auth_method)."""
        return self.client_id, self._client_secret, self.auth_method

    def _secrets(self) -> list[str]:
        """Values never to show in a message."""
        raise NotImplementedError  # pragma: no cover

    def _rotate(self, fields: dict[str, Any]) -> None:
        """A new token arrived, not yet cached: take what replaces older credentials."""

    def _accepted(self, fields: dict[str, Any]) -> None:
        """A new token is cached and in use: tell whoever wants to know."""

    # The flow.

    def auth_flow(self, request: Request) -> Generator[Any, Any, None]:
        token = yield from self._current_token(request)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        # A streamed body was spent by the first send: that 401 is the answer.
        if not _rejects_token(response) or not isinstance(request.stream, ByteStream):
            return
        self._cache.invalidate(token)
        token = yield from self._current_token(request)
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        yield request  # Whatever comes back now (even a second 401) is the answer.

    def _now(self) -> Generator[Any, Any, float]:
        if self._clock is not None:
            return self._clock()
        now: float = yield READ_CLOCK
        return now

    def _current_token(self, request: Request) -> Generator[Any, Any, Token]:
        """A usable token: the cached one, the one another fetch brings, or one fetched here."""
        while True:
            decision, value = self._cache.acquire((yield from self._now()))
            if decision == USE:
                assert isinstance(value, Token)
                return value
            assert isinstance(value, Flight)
            if decision == WAIT:
                yield AwaitToken(value)
                if value.error is not None:
                    raise value.error.with_traceback(value.traceback)
                if value.token is not None:
                    return value.token
                continue  # The fetch was abandoned: ask again (perhaps fetching ourselves).
            return (yield from self._fetch(request, value))

    def _fetch(self, request: Request, flight: Flight) -> Generator[Any, Any, Token]:
        cache = self._cache
        token_request = self._token_request(request)
        logger.debug("Requesting an OAuth2 token from %s", redacted_url(self.token_url))
        try:
            response = yield TokenExchange(token_request, lambda exc: self._failed(flight, exc))
            fields = self._parse(token_request, response)
            token = self._token_from(fields, flight.started)
            self._rotate(fields)
        except GeneratorExit:
            cache.fail(flight, None)
            raise
        except BaseException as exc:
            cache.fail(flight, exc)
            raise
        cache.settle(flight, token)
        self._accepted(dict(token.fields))
        return token

    def _failed(self, flight: Flight, exc: BaseException) -> None:
        if isinstance(exc, Exception):
            url = redacted_url(self.token_url)
            exc.add_note(f"httplib: while requesting an OAuth2 token from {url}")
        self._cache.fail(flight, exc)

    def _token_request(self, request: Request) -> Request:
        """The token request (RFC 6749 sections 4.4.2 and 6), with this request's timeouts
        (and so its total deadline) and User-Agent."""
        form = self._token_form()
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        client_id, client_secret, method = self._client_auth()
        if method == "client_secret_basic" and client_id is not None and client_secret is not None:
            # RFC 6749 section 2.3.1: each part is form-urlencoded before Basic joins them.
            headers["Authorization"] = basic_auth_header(
                quote_plus(client_id, safe=""), quote_plus(client_secret, safe="")
            )
        elif client_id is not None:
            form["client_id"] = client_id
            if client_secret is not None:
                form["client_secret"] = client_secret
        if (agent := request.headers.get("user-agent")) is not None:
            headers["User-Agent"] = agent
        extensions = {}
        if (timeout := request.extensions.get("timeout")) is not None:
            extensions["timeout"] = timeout
        return Request(
            "POST",
            self.token_url,
            headers=headers,
            content=urlencode(form).encode("ascii"),
            extensions=extensions,
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, _MASK)
        return text

    def _parse(self, request: Request, response: Response) -> dict[str, Any]:
        """The token response's JSON object (RFC 6749 section 5.1), or OAuth2Error."""
        where = (
            f"{response.status_code} {response.reason_phrase} from {redacted_url(self.token_url)}"
        )

        def fail(problem: str, **error: Any) -> OAuth2Error:
            message = self._scrub(f"OAuth2 token request failed: {problem} ({where})")
            return OAuth2Error(message, request=request, response=response, **error)

        if response.is_redirect:
            raise fail("the token endpoint redirected; the redirect is not followed")
        try:
            document = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            document = None
        content_type = response.headers.get("content-type", "no content-type")
        if not isinstance(document, dict):
            raise fail(f"the answer is not a JSON object ({content_type})")
        error = document.get("error")
        if error is not None or not response.is_success:
            if not isinstance(error, str):
                raise fail("the answer is not an RFC 6749 error document")
            description = document.get("error_description")
            uri = document.get("error_uri")
            description = self._scrub(description) if isinstance(description, str) else None
            text = error if description is None else f"{error}: {description}"
            raise fail(
                text,
                error=error,
                error_description=description,
                error_uri=uri if isinstance(uri, str) else None,
            )
        access_token = document.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise fail("the answer has no access_token")
        token_type = document.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise fail(f"unsupported token_type {token_type!r} (only Bearer)")
        expires_in = document.get("expires_in")
        if expires_in is not None:
            try:
                document["expires_in"] = float(expires_in)
            except (TypeError, ValueError):
                raise fail(f"expires_in is not a number: {expires_in!r}") from None
        return document

    def _token_from(self, fields: dict[str, Any], started: float) -> Token:
        """Cache entry for a token whose request began at `started` (a conservative base for
        `expires_in`); the fields gain `expires_at` on the same clock."""
        expires_in = fields.get("expires_in")
        expires_at = None if expires_in is None else started + expires_in
        if expires_at is not None:
            fields["expires_at"] = expires_at
        refresh_at = self._cache.refresh_at(expires_at, expires_in)
        return Token(fields["access_token"], refresh_at, fields)


def _scope_text(scope: str | Sequence[str] | None) -> str | None:
    if scope is None or isinstance(scope, str):
        return scope
    return " ".join(scope)  # RFC 6749 section 3.3: space-delimited


_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def _checked_method(auth_method: str) -> str:
    if auth_method not in _AUTH_METHODS:
        raise ValueError(f"auth_method must be one of {_AUTH_METHODS}, got {auth_method!r}")
    return auth_method


class OAuth2ClientCredentials(_TokenAuth):
    """OAuth2 client credentials grant (RFC 6749 section 4.4): a token for this client itself.

    The token request goes through the client sending the API request (its transport, TLS,
    proxies, retries), once for all the threads and tasks that need a token at the same time.
    The token is reused until `expires_in` minus `skew` seconds; a 401 with a Bearer challenge
    (`invalid_token`, or no error) gets one new token and one more try. The client
    authenticates with HTTP Basic (`client_secret_basic`, the default) or in the form
    (`client_secret_post`); the secret goes only to `token_url`. `clock`: seconds on which
    `expires_in` is counted (default: the client's wall clock); tests pass a fake one.
    """

    def __init__(
        self,
        token_url: URL | str,
        client_id: str,
        client_secret: str,
        scope: str | Sequence[str] | None = None,
        audience: str | None = None,
        auth_method: str = "client_secret_basic",
        extra_params: Mapping[str, str] | None = None,
        *,
        skew: float = DEFAULT_SKEW,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(token_url, skew=skew, clock=clock)
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = _scope_text(scope)
        self.audience = audience
        self.auth_method = _checked_method(auth_method)
        self.extra_params = dict(extra_params or {})

    def _token_form(self) -> dict[str, str]:
        form = {"grant_type": "client_credentials"}
        if self.scope is not None:
            form["scope"] = self.scope
        if self.audience is not None:
            form["audience"] = self.audience
        form.update(self.extra_params)
        return form

    def _secrets(self) -> list[str]:
        token = self._cache.token
        return [self._client_secret or ""] + ([token.access_token] if token else [])

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={str(self.token_url)!r}, "
            f"client_id={self.client_id!r}, client_secret={_MASK!r}, scope={self.scope!r})"
        )


class OAuth2RefreshToken(_TokenAuth):
    """OAuth2 refresh token grant (RFC 6749 section 6): new access tokens from a refresh token.

    Starts from `access_token` (valid until `expires_at`, seconds since the epoch, or until a
    401 when None) if given, else refreshes before the first request. When the server sends a
    new refresh token it replaces the old one (rotation). `on_token(token)`, a plain function,
    gets every new token as a dict (the server's fields, `expires_at`, the `refresh_token` in
    use): it runs once per refresh, in the thread or task that made it, right after the token
    is cached and before its request goes out, so keep it short (under `AsyncClient` it runs
    on the event loop); an error it raises fails that one request. A public client gives only
    `client_id` (sent in the form); a confidential one a secret too, sent as `auth_method`
    says. Caching, single flight and the 401 rule are `OAuth2ClientCredentials`'s.
    """

    def __init__(
        self,
        token_url: URL | str,
        refresh_token: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        access_token: str | None = None,
        expires_at: float | None = None,
        on_token: Callable[[dict[str, Any]], object] | None = None,
        *,
        scope: str | Sequence[str] | None = None,
        auth_method: str = "client_secret_basic",
        extra_params: Mapping[str, str] | None = None,
        skew: float = DEFAULT_SKEW,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise TypeError("OAuth2RefreshToken needs the refresh_token as a non-empty str")
        if client_secret is not None and client_id is None:
            raise ValueError("client_secret needs a client_id")
        initial = None
        if access_token is not None:
            fields = {"access_token": access_token, "expires_at": expires_at}
            refresh_at = None if expires_at is None else expires_at - skew
            initial = Token(access_token, refresh_at, fields)
        super().__init__(token_url, skew=skew, clock=clock, token=initial)
        self._refresh_token = refresh_token
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = _scope_text(scope)
        self.auth_method = _checked_method(auth_method)
        self.extra_params = dict(extra_params or {})
        self.on_token = on_token

    @property
    def refresh_token(self) -> str:
        """The refresh token the next refresh sends (the latest the server issued)."""
        return self._refresh_token

    def _token_form(self) -> dict[str, str]:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        if self.scope is not None:
            form["scope"] = self.scope
        form.update(self.extra_params)
        return form

    def _secrets(self) -> list[str]:
        token = self._cache.token
        found = [self._refresh_token, self._client_secret or ""]
        return found + ([token.access_token] if token else [])

    def _rotate(self, fields: dict[str, Any]) -> None:
        rotated = fields.get("refresh_token")
        # RFC 6749 section 6: the server MAY issue a new refresh token; the old one then goes.
        # (Before the token is cached, so a fetch that follows at once sends the new one.)
        if isinstance(rotated, str) and rotated:
            self._refresh_token = rotated

    def _accepted(self, fields: dict[str, Any]) -> None:
        fields["refresh_token"] = self._refresh_token
        if self.on_token is not None:
            self.on_token(fields)

    def __repr__(self) -> str:
        return (
            f"OAuth2RefreshToken(token_url={str(self.token_url)!r}, "
            f"client_id={self.client_id!r}, client_secret={_masked(self._client_secret)!r}, "
            f"refresh_token={_MASK!r})"
        )
