"""What `Client` and `AsyncClient` share: configuration, request building, lifecycle state.

The policies that run per request (auth, hooks, cookies, redirects) are in the sans-I/O
`_core.flow.send_flow`; `_BaseClient._start` resolves what it needs for a request.

Routing is httpx's: `proxy=` mounts a proxy transport on `all://`; otherwise, with `trust_env`
and no `transport=`, the proxy environment variables (`_proxy_env`) become mounts; `mounts=`
given by the user override both. A client with no mounts skips routing per request.
"""

from __future__ import annotations

import enum
import functools
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT_CONFIG,
    Limits,
    Proxy,
    Timeout,
)
from ._cookies import Cookies
from ._core.auth import Auth, BasicAuth, FunctionAuth
from ._core.breaker import CircuitBreaker
from ._core.decoders import SUPPORTED_DECODERS
from ._core.flow import NOTABLE_FIELDS, is_plain, settle_plain
from ._core.guards import Guards, Ticket
from ._core.mounts import Mounts
from ._core.ratelimit import RateLimit
from ._core.resend import mark_body_cut, may_resend_drain_cut
from ._core.retries import BudgetState, Retry, RetryBudget, RetryRun
from ._headers import Headers
from ._logging import drain_cut_resend, log_request
from ._logging import logger as _logger
from ._models import Request, Response
from ._proxy_env import environment_proxies
from ._transports.base import AsyncBaseTransport, BaseTransport
from ._transports.default import as_proxy
from ._types import (
    AuthTypes,
    CertTypes,
    CookieTypes,
    EventHook,
    HeaderTypes,
    ProxyTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    TimeoutTypes,
)
from ._urls import URL, QueryParams

if TYPE_CHECKING:  # pragma: no cover
    import ssl

__all__ = ["USE_CLIENT_DEFAULT", "UseClientDefault"]

# Only the codings we can decode are offered (RFC 9110 section 12.5.3).
ACCEPT_ENCODING = ", ".join(name for name in SUPPORTED_DECODERS if name != "identity")


@functools.cache
def _default_headers() -> Headers:
    """Accept, Accept-Encoding, Connection and User-Agent, built once on first use.

    The version comes from the package's `__version__` rather than `importlib.metadata`, whose
    import alone would add tens of milliseconds to `import httplib`.
    """
    from . import __version__

    return Headers(
        [
            (b"Accept", b"*/*"),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode("ascii")),
            (b"Connection", b"keep-alive"),
            (b"User-Agent", f"python-httplib/{__version__}".encode("ascii")),
        ]
    )


class UseClientDefault:
    """The default of per-request `auth`, `follow_redirects` and `timeout`: use the client's.

    Distinct from `None`, which for `auth` and `timeout` explicitly means "none".
    """

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = UseClientDefault()


class _State(enum.Enum):
    UNOPENED = 1  # neither used nor entered yet
    OPENED = 2  # has sent a request, or is inside `with`
    CLOSED = 3  # closed or exited: it cannot be used again


# Distinct URL strings remembered per client; past this the cache starts over.
_URL_CACHE_LIMIT = 256
# `base_url=""` (the default), as its setter makes it (its `raw_path` is already b"/").
_NO_BASE_URL = URL("")

_REOPEN_ERRORS = {
    _State.OPENED: "Cannot open a client instance more than once.",
    _State.CLOSED: "Cannot reopen a client instance, once it has been closed.",
}

T = TypeVar("T", BaseTransport, AsyncBaseTransport)


class _BaseClient(Generic[T]):
    """Configuration and request building, shared by `Client` and `AsyncClient`."""

    _default_transport: Callable[..., T]
    # Monotonic seconds on the clock the client's transports use (each client defines it).
    _clock: Callable[[], float]

    @staticmethod
    def _wall_clock() -> float:
        """Seconds since the epoch, for what servers say in dates (Retry-After, quota resets)."""
        return time.time()

    def __init__(
        self,
        *,
        auth: AuthTypes | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        proxy: ProxyTypes | None = None,
        mounts: Mapping[str, T | None] | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT_CONFIG,
        follow_redirects: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        event_hooks: Mapping[str, list[EventHook]] | None = None,
        base_url: URL | str = "",
        transport: T | None = None,
        default_encoding: str | Callable[[bytes], str] = "utf-8",
        max_content_size: int | None = None,
        retries: Retry | int | None = None,
        rate_limit: RateLimit | None = None,
        circuit_breaker: CircuitBreaker | None = None,
    ) -> None:
        """httpx's arguments, plus httplib's own:

        `max_content_size`: the most bytes a response body may decode to when it is read into
        memory (`read()`, `aread()`, `.content`, and every non-streamed request); a larger
        one raises `ContentTooLarge` (a `DecodingError`) naming the cap, having held at most
        the cap plus one decoded piece, and its connection is closed rather than drained. For
        clients that fetch untrusted URLs, where a 1 MB gzip body can inflate to 1 GiB. None
        (the default, as in httpx) means no cap. A request overrides it with
        `extensions={"max_content_size": n}` (None there lifts the cap). Streaming
        (`iter_bytes()` and friends) is never capped: each step holds one bounded piece.

        `retries`: a `Retry` policy for every request (an int `n` means `Retry(total=n)`):
        connect errors, connections lost before the response, and statuses such as 503 are
        sent again after a backoff, within the client's `RetryBudget`. None (the default, as in
        httpx) retries nothing beyond a stale keep-alive connection (and the transport's own
        connect `retries=`). A request overrides it with `extensions={"retries": Retry(...)}`
        (or `0` to turn it off); the final response's `extensions["attempts"]` says how many
        times it was sent. `client._random` (a `random.Random`) draws the jitter.

        `rate_limit`: a `RateLimit`; each request (each attempt and redirect hop) waits for its
        origin's slot first, without blocking other origins, and the limiter follows what the
        server says (Retry-After on 429/503, rate-limit quota headers). `circuit_breaker`: a
        `CircuitBreaker`; an origin that keeps failing is failed fast with `CircuitOpenError`
        until its recovery timeout lets a probe through. Both None by default (as httpx).
        """
        self.base_url = base_url
        self.auth = auth
        self.params = params
        self.headers = headers
        self.cookies = cookies
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.event_hooks = dict(event_hooks or {})
        self._trust_env = trust_env
        self._default_encoding = default_encoding
        self.max_content_size = max_content_size
        self.retries = retries
        self._guards: Guards | None = None
        self._rate_limit: RateLimit | None = _checked_policy(rate_limit, RateLimit, "rate_limit")
        self._circuit_breaker: CircuitBreaker | None = None
        self.circuit_breaker = circuit_breaker
        # The jitter's random source, made on first use: seeding one from the OS costs ~10 us,
        # which a client that never retries should not pay at creation.
        self._rng: random.Random | None = None
        # Retry budget accounts, one per `RetryBudget` configuration the client's requests use.
        self._budgets: dict[RetryBudget, BudgetState] = {}
        self._budgets_lock = threading.Lock()
        self._last_budget: tuple[RetryBudget | None, BudgetState | None] = (None, None)
        self._state = _State.UNOPENED
        # As httpx: the environment is read only when nothing routes explicitly.
        proxy_map = self._get_proxy_map(proxy, trust_env and transport is None)
        settings: dict[str, Any] = {
            "verify": verify, "cert": cert, "trust_env": trust_env, "http1": http1,
            "http2": http2, "limits": limits,
        }  # fmt: skip
        self._transport: T = self._checked_transport(
            self._init_transport(**settings, transport=transport)
        )
        routes: dict[str, T | None] = {
            key: None if via is None else self._init_proxy_transport(via, **settings)
            for key, via in proxy_map.items()
        }
        routes.update(mounts or {})
        self._mounts: Mounts[T] = Mounts(
            {key: None if t is None else self._checked_transport(t) for key, t in routes.items()}
        )
        # Mounts are fixed, so without any every request takes the default transport, unless the
        # class routes by its own `_transport_for_url`: checked per request (`_client.py`),
        # since respx's `using="httpx"` mocker patches it onto the class after clients exist.
        self._unrouted = not self._mounts

    def _get_proxy_map(
        self, proxy: ProxyTypes | None, allow_env_proxies: bool
    ) -> dict[str, Proxy | None]:
        """Mount patterns to the proxy each routes to (None: direct), as httpx builds them:
        `proxy=` on `all://`, else the environment's when allowed."""
        if proxy is not None:
            return {"all://": as_proxy(proxy)}
        if not allow_env_proxies:
            return {}
        return {
            key: None if url is None else Proxy(url=url)
            for key, url in environment_proxies().items()
        }

    def _init_transport(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        transport: T | None = None,
    ) -> T:
        """The default transport: `transport=` as given, else a pooled one with these settings
        (httpx's hook, which subclasses override)."""
        if transport is not None:
            return transport
        return self._default_transport(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2,
            limits=limits,
        )  # fmt: skip

    def _init_proxy_transport(
        self,
        proxy: Proxy,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
    ) -> T:
        """The transport for one proxy, with the client's TLS, protocol and pool settings
        (httpx's hook, which subclasses override)."""
        return self._default_transport(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2,
            limits=limits, proxy=proxy,
        )  # fmt: skip

    def _checked_transport(self, transport: T) -> T:
        raise NotImplementedError  # pragma: no cover

    # -- configuration --------------------------------------------------------------------

    @property
    def _random(self) -> random.Random:
        """The `random.Random` that draws retry jitter (tests may seed it)."""
        if self._rng is None:
            self._rng = random.Random()
        return self._rng

    @_random.setter
    def _random(self, rng: random.Random) -> None:
        self._rng = rng

    @property
    def is_closed(self) -> bool:
        """True once the client was closed; it cannot send again."""
        return self._state is _State.CLOSED

    @property
    def trust_env(self) -> bool:
        return self._trust_env

    @property
    def max_content_size(self) -> int | None:
        """The cap on a body read into memory, in decoded bytes (see `__init__`); None: none."""
        return self._max_content_size

    @max_content_size.setter
    def max_content_size(self, value: int | None) -> None:
        self._max_content_size = _checked_size(value, "max_content_size")

    @property
    def rate_limit(self) -> RateLimit | None:
        """The `RateLimit` every request waits for, or None."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, rate_limit: RateLimit | None) -> None:
        self._rate_limit = _checked_policy(rate_limit, RateLimit, "rate_limit")
        self._guards = _guards_for(self._circuit_breaker, self._rate_limit)

    @property
    def circuit_breaker(self) -> CircuitBreaker | None:
        """The `CircuitBreaker` every request goes through, or None."""
        return self._circuit_breaker

    @circuit_breaker.setter
    def circuit_breaker(self, breaker: CircuitBreaker | None) -> None:
        self._circuit_breaker = _checked_policy(breaker, CircuitBreaker, "circuit_breaker")
        self._guards = _guards_for(self._circuit_breaker, self._rate_limit)

    @property
    def retries(self) -> Retry | None:
        """The retry policy of requests that do not pass their own (see `__init__`); None: off."""
        return self._retries

    @retries.setter
    def retries(self, retries: Retry | int | None) -> None:
        self._retries = _checked_retries(retries, "retries=")

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @timeout.setter
    def timeout(self, timeout: TimeoutTypes) -> None:
        self._timeout = Timeout(timeout)

    @property
    def event_hooks(self) -> dict[str, list[EventHook]]:
        return self._event_hooks

    @event_hooks.setter
    def event_hooks(self, event_hooks: Mapping[str, list[EventHook]]) -> None:
        self._event_hooks = {
            "request": list(event_hooks.get("request", [])),
            "response": list(event_hooks.get("response", [])),
        }

    @property
    def auth(self) -> Auth | None:
        """The authentication used when a request does not pass its own `auth=`."""
        return self._auth

    @auth.setter
    def auth(self, auth: AuthTypes | None) -> None:
        self._auth = _build_auth(auth)

    @property
    def base_url(self) -> URL:
        """Relative request URLs are appended to this; it always ends in '/'."""
        return self._base_url

    @base_url.setter
    def base_url(self, url: URL | str) -> None:
        if url == "" and type(url) is str:
            # The default: one shared (immutable) URL instead of two parses per Client().
            url = _NO_BASE_URL
        else:
            url = URL(url)
            if not url.raw_path.endswith(b"/"):
                url = url.copy_with(raw_path=url.raw_path + b"/")
        self._base_url = url
        # Merged URLs by the string given: a URL is immutable, so one parse serves every
        # request to the same address (until the base changes).
        self._url_cache: dict[str, URL] = {}

    @property
    def headers(self) -> Headers:
        """Headers sent with every request, over the defaults (Accept, User-Agent, ...)."""
        return self._headers

    @headers.setter
    def headers(self, headers: HeaderTypes | None) -> None:
        merged = _default_headers().copy()
        merged.update(headers)
        self._headers = merged

    @property
    def cookies(self) -> Cookies:
        """The cookie jar: sent with requests, filled by responses."""
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes | None) -> None:
        self._cookies = Cookies(cookies)

    @property
    def params(self) -> QueryParams:
        """Query parameters added to every request URL."""
        return self._params

    @params.setter
    def params(self, params: QueryParamTypes | None) -> None:
        self._params = QueryParams(params)

    # -- building requests ----------------------------------------------------------------

    def build_request(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Request:
        """A request with the client's base URL, params, headers, cookies and timeout merged in.

        Request values win over client values; nothing is sent.
        """
        if (
            extensions is None
            and headers is None
            and params is None
            and cookies is None
            and content is None
            and data is None
            and files is None
            and json is None
            and type(method) is str
            and not self._params
            and not self._cookies
        ):
            # The plain call (a GET with only a URL): no keyword arguments to bind twice.
            timeouts = self._timeout_dict(timeout)
            return Request._bodyless(
                method, self._merge_url(url), self._headers, {"timeout": timeouts}
            )
        # Request copies the extensions and headers it is given, so no copy is made here.
        if extensions is None:
            extensions = {"timeout": self._timeout_dict(timeout)}
        elif "timeout" not in extensions:
            extensions = {**extensions, "timeout": self._timeout_dict(timeout)}
        if params is not None or self._params:
            params = self._params.merge(params)
        if cookies is not None or self._cookies:
            cookies = self._merge_cookies(cookies)
        return Request(
            method,
            self._merge_url(url),
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=self._headers if headers is None else self._merge_headers(headers),
            cookies=cookies,
            extensions=extensions,
        )

    def _timeout_dict(self, timeout: TimeoutTypes | UseClientDefault) -> dict[str, float | None]:
        chosen = self._timeout if isinstance(timeout, UseClientDefault) else Timeout(timeout)
        return chosen.as_dict()

    def _merge_url(self, url: URL | str) -> URL:
        if type(url) is not str:
            return self._join_base(URL(url))
        cache = self._url_cache
        merged = cache.get(url)
        if merged is None:
            merged = self._join_base(URL(url))
            if len(cache) >= _URL_CACHE_LIMIT:
                cache.clear()  # (atomic, unlike evicting one entry while threads insert)
            cache[url] = merged
        return merged

    def _join_base(self, merge_url: URL) -> URL:
        if merge_url.is_relative_url:
            # Always appended under the base path: the base ends in "/", so drop a leading one.
            raw_path = self._base_url.raw_path + merge_url.raw_path.lstrip(b"/")
            return self._base_url.copy_with(raw_path=raw_path)
        return merge_url

    def _merge_headers(self, headers: HeaderTypes | None) -> Headers:
        merged = Headers(self._headers)
        merged.update(headers)
        return merged

    def _merge_cookies(self, cookies: CookieTypes | None) -> CookieTypes | None:
        if not cookies:
            # The client's own jar, not a copy: copying every stored cookie per request cost
            # milliseconds for a client holding a thousand (the Request only reads it).
            return self._cookies or cookies
        merged = Cookies(self._cookies)
        merged.update(cookies)
        return merged

    # -- sending --------------------------------------------------------------------------

    def _start(
        self,
        request: Request,
        auth: AuthTypes | UseClientDefault | None,
        follow_redirects: bool | UseClientDefault,
        started: float | None = None,
    ) -> tuple[Auth, bool, Retry | None]:
        """Check the client may send and fill in the defaults: the auth and redirect choice,
        and the retry policy at work for this request (None: no retries; the flow makes its
        `RetryRun` when the first attempt is not final). `started`: when the send began on
        `_clock`, if it waited before (the admission gate): a total deadline counts from it."""
        if self._state is _State.CLOSED:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        self._state = _State.OPENED
        if isinstance(follow_redirects, UseClientDefault):
            follow_redirects = self.follow_redirects
        extensions = request.extensions
        timeouts = extensions.get("timeout")
        if timeouts is None:
            timeouts = extensions["timeout"] = self._timeout.as_dict()
        now = None
        total = timeouts.get("total")
        if total is not None:
            # `Timeout(total=...)`: one deadline for everything this send does (redirects and
            # auth rounds carry the extensions on), on the clock the transport's engine uses.
            now = self._clock() if started is None else started
            timeouts = extensions["timeout"] = timeouts.copy()  # (the caller's may be shared)
            timeouts["deadline"] = now + total
        chosen = self._auth if isinstance(auth, UseClientDefault) else _build_auth(auth)
        if chosen is None:
            url = request.url
            chosen = _url_auth(url) if url._parsed.userinfo else _NO_AUTH
        policy = self._retries
        if "retries" in extensions:
            policy = _checked_retries(extensions["retries"], 'the "retries" extension')
        if policy is not None and (config := policy.budget) is not None:
            # The request counts for the retry budget from here, as the flow counts each
            # exchange before sending it (so its run does not count the first one again).
            last_config, budget = self._last_budget
            if config is not last_config or budget is None:
                budget = self._budget_state(config)
            budget.deposit(self._clock() if now is None else now)
        return chosen, follow_redirects, policy

    def _retry_run(self, policy: Retry) -> RetryRun:
        """A run of `policy` for a send `_start`ed (which counted its first exchange), drawing
        on the client's account for its budget."""
        budget = None if policy.budget is None else self._budget_state(policy.budget)
        return RetryRun(policy, budget, self._clock, time.time, self._random, counted=True)

    def _budget_state(self, config: RetryBudget) -> BudgetState:
        """The client's account for a `RetryBudget` configuration."""
        last_config, budget = self._last_budget
        if config is not last_config or budget is None:
            # (hashing the config costs a microsecond: the last one is found by identity)
            with self._budgets_lock:
                budget = self._budgets.get(config)
                if budget is None:
                    budget = self._budgets[config] = BudgetState(config, threading.Lock())
                self._last_budget = (config, budget)
        return budget

    def _fast_send_plan(self, request: Request, auth: Auth) -> tuple[bool, Ticket | None]:
        """Whether `send` may send `request` at once, itself, and the guards' ticket for it:
        a plain request (`is_plain`) the circuit breaker and rate limiter let through without
        a wait. A ticket that asks for a wait goes to the flow, which sleeps it."""
        if not is_plain(self, auth):
            return False, None
        guards = self._guards
        if guards is None:
            return True, None
        # Called right after `_start`: under a total deadline, the time it read (the deadline
        # less the total) serves, instead of a second clock read microseconds later.
        timeouts = request.extensions["timeout"]
        total = timeouts.get("total")
        now = self._clock() if total is None else timeouts["deadline"] - total
        ticket = guards.admit(request, now)
        return ticket.wait <= 0, ticket

    def _fast_send_failed(
        self, exc: BaseException, ticket: Ticket | None, retry: Retry | None
    ) -> Exception:
        """The fast path's send raised `exc`: report it, and re-raise it unless a retry policy
        is to decide on it in the flow (cancellation and interrupts always go on)."""
        if ticket is not None:
            guards = self._guards
            assert guards is not None
            guards.failed(ticket, exc, self._clock)
        if retry is None or not isinstance(exc, Exception):
            raise exc
        return exc

    def _fast_read_failed(
        self, exc: BaseException, request: Request, retry: Retry | None
    ) -> tuple[int, Exception | None]:
        """The fast path's body read raised `exc` (the response is closed): re-raise it, unless
        the flow is to send the request again: a draining server cut the body
        (`may_resend_drain_cut`; then how many times it was fetched again, 1), or the connection
        was lost under it and a `retry` policy is to decide (then `exc`, marked
        `mark_body_cut`, for the flow's first outcome)."""
        if may_resend_drain_cut(exc, request, 0):
            drain_cut_resend(request, 1)
            return 1, None
        if retry is not None and isinstance(exc, Exception) and mark_body_cut(exc):
            return 0, exc
        raise exc

    def _fast_send_settled(
        self, response: Response, ticket: Ticket | None, retry: Retry | None
    ) -> bool:
        """The fast path's send answered: report it (the clocks are read only when a policy
        has something to record); True when `response` is final (see `settle_plain`)."""
        if ticket is None:
            return settle_plain(self, response, retry)
        guards = self._guards
        assert guards is not None
        notable = guards.limiter is None or response.headers._has_any(NOTABLE_FIELDS)
        guards.settled(ticket, response, self._clock, self._wall_clock, notable)
        return settle_plain(self, response, retry, notable)

    def _transport_for_url(self, url: URL) -> T:
        """The transport a request to `url` goes through: the mounted one of the most specific
        pattern matching it, else the default (httpx's name, which subclasses override)."""
        return self._mounts.route(url, self._transport)

    def _transports(self) -> list[T]:
        transports = [self._transport]
        transports.extend(self._mounts.transports())
        return transports

    def _reads_whole(self, request: Request, stream: bool) -> bool:
        """Whether the fast path's send reads the body whole at once, so the transport may
        hand over one that came with the head as bytes (`Engine.send`): not streamed, and no
        `max_content_size` for `read()` to enforce on it."""
        return not (
            stream or self._max_content_size is not None or "max_content_size" in request.extensions
        )

    def _bind(self, response: Response, request: Request, sent_at: float) -> Response:
        """Tie a transport's response to its request (sent at `perf_counter()` `sent_at`) and
        the client's settings."""
        response._request = request
        response._sent_at = sent_at
        if response.is_closed:
            # Built from bytes in memory (a mock transport): it is complete already.
            response._closed_at = time.perf_counter()
        response.default_encoding = self._default_encoding
        limit = self._max_content_size
        extensions = request.extensions
        if "max_content_size" in extensions:
            limit = _checked_size(extensions["max_content_size"], "the max_content_size extension")
        if limit is not None:
            response._max_content_size = limit
        if _logger.isEnabledFor(20):  # logging.INFO; see _logging for what is (never) logged
            log_request(request, response)
        return response

    def _enter(self) -> None:
        if self._state is not _State.UNOPENED:
            raise RuntimeError(_REOPEN_ERRORS[self._state])
        self._state = _State.OPENED

    def _mark_closed(self) -> bool:
        """Move to CLOSED; True if it was not closed before (so transports need closing)."""
        was_open = self._state is not _State.CLOSED
        self._state = _State.CLOSED
        return was_open


def _guards_for(breaker: CircuitBreaker | None, limiter: RateLimit | None) -> Guards | None:
    return None if breaker is None and limiter is None else Guards(breaker, limiter)


def _checked_policy(value: Any, kind: type[Any], name: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{name}= must be a {kind.__name__} or None, got {value!r}.")
    return value


def _checked_retries(value: Any, what: str) -> Retry | None:
    """A retry policy as given: a `Retry`, an int `n` (`Retry(total=n)`; 0 is none), None or
    False (none)."""
    if isinstance(value, Retry):
        return value
    if value is None or value is False:
        return None
    if type(value) is int and value >= 0:
        return Retry(total=value) if value else None
    raise TypeError(f"{what} must be a Retry, an int of at least 0 or None, got {value!r}.")


def _checked_size(value: Any, what: str) -> int | None:
    """A byte cap as given: None, or a non-negative int."""
    if value is None or (type(value) is int and value >= 0):
        return value
    raise ValueError(f"{what} must be None or a non-negative int (bytes), got {value!r}.")


# The plain `Auth` holds no state, so every request without credentials can share one.
_NO_AUTH = Auth()


def _url_auth(url: URL) -> Auth:
    """Credentials in the URL (`https://user:pass@host/`) mean Basic auth, as in httpx."""
    username, password = url.username, url.password
    return BasicAuth(username, password) if username or password else _NO_AUTH


def _build_auth(auth: AuthTypes | None) -> Auth | None:
    """`auth=` as given by users: a (user, password) tuple, an `Auth`, or a callable."""
    if auth is None:
        return None
    if isinstance(auth, tuple):
        return BasicAuth(auth[0], auth[1])
    if isinstance(auth, Auth):
        return auth
    if callable(auth):
        return FunctionAuth(auth)
    raise TypeError(f'Invalid "auth" argument: {auth!r}')
