"""What httplib logs, on the standard `logging` module, in httpx's and httpcore's formats.

- `httplib` INFO: one line per request sent (each redirect hop too), when its response head
  arrives: `HTTP Request: GET https://example.org/ "HTTP/1.1 200 OK"`, as httpx's `httpx`
  logger words it.
- `httplib` INFO: each retry (`Retry`) with its wait and what failed: `Retrying GET
  https://example.org/ in 0.42 s (attempt 1 of this exchange: HTTP/1.1 503 Service
  Unavailable)`; and a retry not taken because the wait would pass the total deadline.
- `httplib` WARNING: a retry refused because the client's retry budget is spent (a failing
  dependency: its failures are returned at once), with the budget's count for the window.
- `httplib.connection` DEBUG: connection events in httpcore's `name.started` /
  `name.complete` / `name.failed key=value ...` form (`connect_tcp`, `connect_unix_socket`,
  `start_tls`, `retry`, `close`), emitted by the engine through the helpers below.
- `httplib` WARNING/INFO/DEBUG: the resilience policies' decisions, one line each, naming the
  origin as `scheme://host:port`: a circuit breaker opening (WARNING), letting a probe through
  or closing again (INFO); a rate limiter pausing an origin on the server's word (INFO),
  slowing to the server's quota or holding a request back (DEBUG).

Never logged: the userinfo of a URL (`user:password@`), header values (Authorization, Cookie)
and bodies. Logging costs nothing measurable when disabled: each helper asks its logger
`isEnabledFor` first, which the logging module answers from a per-level cache.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._core.plan import Endpoint
    from ._core.retries import Decision, RetryRun
    from ._models import Request, Response
    from ._urls import URL

__all__ = [
    "circuit_closed",
    "circuit_half_open",
    "circuit_opened",
    "close_complete",
    "close_started",
    "connect_complete",
    "connect_failed",
    "connect_started",
    "connection_logger",
    "drain_cut_resend",
    "logger",
    "log_request",
    "origin_text",
    "rate_limit_paused",
    "rate_limit_slowed",
    "rate_limit_wait",
    "redacted_url",
    "retry_refused",
    "retry_scheduled",
    "retry_started",
    "start_tls_complete",
    "start_tls_failed",
    "start_tls_started",
]

logger = logging.getLogger("httplib")
connection_logger = logging.getLogger("httplib.connection")

_WARNING = logging.WARNING
_INFO = logging.INFO
_DEBUG = logging.DEBUG
_WARNING = logging.WARNING


def redacted_url(url: URL) -> str:
    """`url` as text without its userinfo (`user:password@`), which is never logged."""
    parsed = url._parsed
    if not parsed.userinfo:
        return str(url)
    return str(parsed._replace(userinfo=""))


def log_request(request: Request, response: Response) -> None:
    """httpx's INFO line for a response head received: method, URL, version, status, reason."""
    if logger.isEnabledFor(_INFO):
        logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            redacted_url(request.url),
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )


def _outcome(cause: Response | BaseException) -> str:
    # What an attempt ended with: its status line, or the error's type and message.
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return f"{cause.http_version} {cause.status_code} {cause.reason_phrase}"


def drain_cut_resend(request: Request, resent: int) -> None:
    """A server draining its connection cut `request`'s response body: it is sent again (the
    `resent`-th time)."""
    if logger.isEnabledFor(_INFO):
        logger.info(
            "Sending %s %s again: the server cut its response while closing the connection"
            " after GOAWAY (%d)",
            request.method,
            redacted_url(request.url),
            resent,
        )


def retry_scheduled(
    request: Request, attempt: int, delay: float, cause: Response | BaseException
) -> None:
    """`Retry` sends `request` again after `delay` seconds; attempt number `attempt` of this
    exchange ended with `cause` (a retryable status, or an error)."""
    if logger.isEnabledFor(_INFO):
        logger.info(
            "Retrying %s %s in %.2f s (attempt %d of this exchange: %s)",
            request.method,
            redacted_url(request.url),
            delay,
            attempt,
            _outcome(cause),
        )


def retry_refused(
    request: Request, run: RetryRun, decision: Decision, cause: Response | BaseException
) -> None:
    """A retry `Retry` allowed is not made: the client's retry budget is spent (WARNING), or
    the wait would pass the total deadline (INFO); `cause` is returned or raised at once."""
    from ._core.retries import BUDGET

    level = _WARNING if decision.reason is BUDGET else _INFO
    if not logger.isEnabledFor(level):
        return
    detail = decision.reason
    if decision.reason is BUDGET and run.budget is not None:
        budget = run.budget.budget
        requests, retries, allowed = run.budget.usage(run.clock())
        detail = (
            f"{detail}: {retries} retries for {requests} requests in the last "
            f"{budget.window:g} s, {allowed:.1f} allowed"
        )
    else:
        detail = f"{detail} (a {decision.delay:.2f} s wait)"
    logger.log(
        level,
        "Not retrying %s %s: %s (attempt %d of this exchange: %s)",
        request.method,
        redacted_url(request.url),
        detail,
        run.attempt,
        _outcome(cause),
    )


def _event(name: str, info: dict[str, Any]) -> None:
    # httpcore's format: `name key=value ...` with values as repr(), or the bare name.
    if info:
        args = " ".join(f"{key}={value!r}" for key, value in info.items())
        connection_logger.debug("%s %s", name, args)
    else:
        connection_logger.debug("%s", name)


def connect_started(endpoint: Endpoint, timeout: float | None) -> None:
    """Before a CONNECT to `endpoint` (TCP host and port, or a Unix socket's path)."""
    if connection_logger.isEnabledFor(_DEBUG):
        if endpoint.uds is not None:
            _event("connect_unix_socket.started", {"path": endpoint.uds, "timeout": timeout})
        else:
            info = {"host": endpoint.host, "port": endpoint.port}
            info["local_address"] = endpoint.local_address
            _event("connect_tcp.started", {**info, "timeout": timeout})


def connect_complete(endpoint: Endpoint, stream: Any) -> None:
    """After the connect succeeded; `stream` is shown by its type only."""
    if connection_logger.isEnabledFor(_DEBUG):
        name = "connect_unix_socket" if endpoint.uds is not None else "connect_tcp"
        _event(f"{name}.complete", {"stream": _Shown(type(stream).__name__)})


def connect_failed(endpoint: Endpoint, exc: BaseException) -> None:
    """The connect raised `exc` (it goes on to the caller; this only records it)."""
    if connection_logger.isEnabledFor(_DEBUG):
        name = "connect_unix_socket" if endpoint.uds is not None else "connect_tcp"
        _event(f"{name}.failed", {"exception": exc})


def start_tls_started(server_hostname: str | None, timeout: float | None) -> None:
    """Before START_TLS."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("start_tls.started", {"server_hostname": server_hostname, "timeout": timeout})


def start_tls_complete(alpn: str | None) -> None:
    """After the handshake: the protocol ALPN chose (None when the server chose none)."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("start_tls.complete", {"alpn_protocol": alpn})


def start_tls_failed(exc: BaseException) -> None:
    """The handshake raised `exc`."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("start_tls.failed", {"exception": exc})


def proxy_tunnel_started(proxy_url: str, host: bytes, port: int) -> None:
    """Before asking the proxy for a tunnel (CONNECT or SOCKS5) to `host:port`."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("proxy_tunnel.started", {"proxy": proxy_url, "host": host, "port": port})


def proxy_tunnel_complete() -> None:
    """The proxy opened the tunnel."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("proxy_tunnel.complete", {})


def proxy_tunnel_failed(exc: BaseException) -> None:
    """The tunnel failed with `exc` (refused, malformed, timed out or interrupted)."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("proxy_tunnel.failed", {"exception": exc})


def retry_started(attempt: int, delay: float) -> None:
    """A failed connect is tried again after `delay` seconds (`retries=`)."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("retry.started", {"attempt": attempt, "delay": delay})


def close_started(connection: Any) -> None:
    """Before the pool's CLOSE of `connection` (idle too long, over the limits, broken, or the
    transport closing); shown by its type only."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("close.started", {"connection": _Shown(type(connection).__name__)})


def close_complete() -> None:
    """After the CLOSE."""
    if connection_logger.isEnabledFor(_DEBUG):
        _event("close.complete", {})


def origin_text(origin: tuple[str, str, int]) -> str:
    """An origin as `scheme://host:port`, an IPv6 host in brackets, for messages and logs."""
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def circuit_opened(origin: tuple[str, str, int], failures: int, retry_in: float) -> None:
    """The breaker opened for `origin` after `failures` consecutive failures (or a failed
    probe, when `failures` is 0); requests fail fast for `retry_in` seconds."""
    if logger.isEnabledFor(_WARNING):
        cause = f"after {failures} consecutive failures" if failures else "a probe failed"
        logger.warning(
            "Circuit breaker open for %s: %s; next probe in %.3g s",
            origin_text(origin),
            cause,
            retry_in,
        )


def circuit_half_open(origin: tuple[str, str, int]) -> None:
    """The recovery timeout passed: the breaker lets a probe request through to `origin`."""
    if logger.isEnabledFor(_INFO):
        logger.info(
            "Circuit breaker half-open for %s: letting a probe through", origin_text(origin)
        )


def circuit_closed(origin: tuple[str, str, int]) -> None:
    """A probe to `origin` succeeded: the breaker closed, requests flow again."""
    if logger.isEnabledFor(_INFO):
        logger.info("Circuit breaker closed for %s: a probe succeeded", origin_text(origin))


def rate_limit_paused(origin: tuple[str, str, int], seconds: float, reason: str) -> None:
    """The rate limiter holds every request to `origin` for `seconds` (`reason`: the header
    that asked for it)."""
    if logger.isEnabledFor(_INFO):
        logger.info("Rate limit: pausing %s for %.3g s (%s)", origin_text(origin), seconds, reason)


def rate_limit_slowed(origin: tuple[str, str, int], interval: float, seconds: float) -> None:
    """The server's quota headers slow `origin` to one request per `interval` s for `seconds`."""
    if logger.isEnabledFor(_DEBUG):
        logger.debug(
            "Rate limit: slowing %s to one request per %.3g s for %.3g s (server quota)",
            origin_text(origin),
            interval,
            seconds,
        )


def rate_limit_wait(origin: tuple[str, str, int], seconds: float) -> None:
    """A request to `origin` waits `seconds` for its slot (for the flow to call)."""
    if logger.isEnabledFor(_DEBUG):
        logger.debug("Rate limit: request to %s waits %.3g s", origin_text(origin), seconds)


class _Shown:
    """A value logged as its text, without repr()'s quotes."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text
