"""What a transport fixes for its connections, and what one request needs to be sent.

`ConnectionConfig` is frozen per transport; `RequestPlan` is built once per request (URL
checks, pool key, timeouts, head fields, body kind) and never changes afterwards, so a resend
on another connection reuses it as is. Neither does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .._content import ByteStream
from .._exceptions import (
    ConnectTimeout,
    PoolTimeout,
    ReadTimeout,
    TimeoutException,
    UnsupportedProtocol,
    WriteTimeout,
)

if TYPE_CHECKING:  # _models imports the clock (Response.elapsed); the core only needs types.
    from .._models import Request
    from .._urls import URL
    from .proxy import ProxySpec

__all__ = [
    "DEFAULT_PORTS",
    "INLINE_BODY_MAX",
    "READ_SIZE",
    "ConnectionConfig",
    "DeadlinePlan",
    "POOL_TIMED_OUT",
    "deadline_error",
    "deadline_message",
    "Endpoint",
    "RequestPlan",
    "plan_for",
    "WRITE_SLICE",
]

# One read: 64 KiB is the largest TLS-record-friendly size that still bounds memory per response.
READ_SIZE = 64 * 1024
# In-memory bodies up to this size share the head's write (one syscall, one segment burst);
# larger ones are written as they are, never copied.
INLINE_BODY_MAX = 64 * 1024
# A streamed body's piece larger than this is written in slices of it (views, not copies). An
# asyncio transport copies whatever the socket does not take at once into its own buffer and
# only then asks its writer to wait: an 8 MiB piece written whole held a second 8 MiB while a
# slow server read it. In slices the writer waits after each, so at most about one is copied.
WRITE_SLICE = 256 * 1024

# The port a URL without one means, per scheme the transports speak.
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_TLS_SCHEMES = frozenset({"https", "wss"})
# The phase timeouts of `request.extensions["timeout"]`, in the order `RequestPlan` stores them.
_PHASE_NAMES = ("connect", "read", "write", "pool")
_PHASES = itemgetter(*_PHASE_NAMES)
_MISSING_PROTOCOL = "Request URL is missing an 'http://' or 'https://' protocol."


class Endpoint:
    """Where a CONNECT effect dials: a TCP host and port (bound to `local_address` when set),
    or the Unix socket `uds`; `socket_options` are set on the new socket. The engine builds it
    (an origin today, a proxy later); a backend only dials it."""

    __slots__ = ("host", "local_address", "port", "socket_options", "uds")

    def __init__(
        self,
        host: str,
        port: int,
        *,
        uds: str | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> None:
        self.host = host
        self.port = port
        self.uds = uds
        self.local_address = local_address
        self.socket_options = socket_options

    def __repr__(self) -> str:
        return f"<Endpoint {self.uds or f'{self.host}:{self.port}'}>"


class ConnectionConfig:
    """What a transport fixes for all its connections; `identity` goes into every pool key."""

    __slots__ = (
        "alpn",
        "http1",
        "http2",
        "identity",
        "local_address",
        "proxy",
        "retries",
        "socket_options",
        "ssl_context",
        "uds",
    )

    def __init__(
        self,
        ssl_context: Any,
        *,
        uds: str | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
        retries: int = 0,
        http1: bool = True,
        http2: bool = False,
        alpn: list[str] | None = None,
        proxy: ProxySpec | None = None,
    ) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative int, got {retries!r}.")
        self.ssl_context = ssl_context
        self.uds = uds
        self.local_address = local_address
        self.socket_options = None if socket_options is None else list(socket_options)
        self.retries = retries
        self.http1 = http1
        self.http2 = http2
        # ALPN to set on a context the user passed before each handshake (as httpcore does, so
        # transports sharing one context each offer their own); None: ours is set already.
        self.alpn = alpn
        # Every connection of this transport goes through it (`_core/proxy.py`).
        self.proxy = proxy
        # The context object, not its settings: two transports with equal settings share the
        # cached context (and may share nothing else anyway, each has its own pool).
        self.identity: Hashable = (
            id(ssl_context),
            uds,
            local_address,
            None if proxy is None else proxy.identity,
        )

    def tls_context(self) -> Any:
        """The context for the next TLS handshake, offering this transport's ALPN protocols."""
        if self.alpn is not None:
            self.ssl_context.set_alpn_protocols(self.alpn)
        return self.ssl_context


def _unsupported(scheme: str) -> UnsupportedProtocol:
    """httpx's error for a URL the transports cannot send: no scheme or host, or a scheme
    they do not speak."""
    if scheme and scheme not in DEFAULT_PORTS:
        return UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
    return UnsupportedProtocol(_MISSING_PROTOCOL)


def _head_fields(request: Request) -> list[tuple[bytes, bytes]]:
    """The request's header fields as sent; Host first when the request lacks one (RFC 9112 3.2)."""
    fields = request.headers.raw
    for name, _ in fields:
        if name.lower() == b"host":
            return fields
    return [(b"Host", request.url.netloc), *fields]


class RequestPlan:
    """One request, checked and prepared once: where it goes, how long each phase may take,
    its head, and its body (`inline` in memory and small, else streamed from `request.stream`).
    """

    __slots__ = (
        "connect_timeout",
        "expect_continue",
        "h2_only",
        "headers",
        "host",
        "inline",
        "key",
        "may_be_http2",
        "method",
        "method_bytes",
        "pool_timeout",
        "port",
        "read_timeout",
        "replayable",
        "request",
        "server_hostname",
        "target",
        "tls",
        "write_timeout",
    )

    def __init__(self, request: Request, config: ConnectionConfig) -> None:
        url = request.url
        origin = url._origin  # (a client reuses its URL objects: worked out once per URL)
        if origin is None:
            origin = url._origin = _origin_of(url)
        scheme, host, port, tls = origin
        self.request = request
        self.host = host
        self.port = port
        self.tls = tls
        extensions = request.extensions
        sni = extensions.get("sni_hostname") if tls and extensions else None
        self.server_hostname: str = sni or host
        self.key: Hashable = (scheme, host, port, sni, config.identity)
        self.method: str = request.method
        self.method_bytes = request.method.encode("ascii")
        self.target: bytes = url.raw_path
        # Built when the head is written (`head_fields`): a request queued for a pool slot
        # holds no copy of its header list (issue 15).
        self.headers: list[tuple[bytes, bytes]] | None = None
        timeouts = extensions.get("timeout") if extensions else None
        if timeouts is None:
            self.connect_timeout = self.read_timeout = None
            self.write_timeout = self.pool_timeout = None
        else:
            try:  # (one C call for the usual dict, which has all four)
                phases = _PHASES(timeouts)
            except KeyError:  # a caller's own dict may leave some out: those are unbounded
                phases = tuple(timeouts.get(name) for name in _PHASE_NAMES)
            self.connect_timeout, self.read_timeout, self.write_timeout, self.pool_timeout = phases
        stream = request.stream
        self.replayable = isinstance(stream, ByteStream)
        body = request.read() if self.replayable else None
        # A streamed body (an iterator, or an in-memory one too large to copy into the head's
        # write) is framed chunk by chunk.
        self.inline: bytes | None = (
            body if body is not None and len(body) <= INLINE_BODY_MAX else None
        )
        # The caller's `Expect: 100-continue` holds a body back until the server asks for it
        # (looked for only when there is a body).
        self.expect_continue = (body is None or bool(body)) and _expects_continue(request)
        if self.expect_continue:
            self.inline = None
        # HTTP/2 when TLS negotiates it by ALPN, or with prior knowledge when HTTP/1.1 is off.
        self.may_be_http2: bool = config.http2 and (tls or not config.http1)
        self.h2_only = not config.http1
        proxy = config.proxy
        if proxy is not None:
            if tls or proxy.socks:
                # Tunnelled: a Proxy-Authorization of the user's own would reach the origin
                # (requests' CVE-2023-32681); the proxy's credentials belong in its `Proxy`.
                fields = self.head_fields()
                if any(name.lower() == b"proxy-authorization" for name, _ in fields):
                    self.headers = [f for f in fields if f[0].lower() != b"proxy-authorization"]
            else:
                # Forwarded by an HTTP proxy: the absolute-form target (RFC 9112 section
                # 3.2.2; Host is still sent) with the proxy's credentials and headers, over
                # HTTP/1.1 to the proxy (which consumes them, RFC 9110 section 11.7.2).
                self.target = b"%s://%s%s" % (url.raw_scheme, url.netloc, self.target)
                self.headers = [*self.head_fields(), *proxy.headers]
                self.may_be_http2 = False

    def head_fields(self) -> list[tuple[bytes, bytes]]:
        """The header fields to send, Host first when the request has none (made once)."""
        fields = self.headers
        if fields is None:
            fields = self.request.headers.raw
            # Request puts the Host it adds first: the usual case costs one compare, no call.
            if not fields or fields[0][0].lower() != b"host":
                fields = _head_fields(self.request)
            self.headers = fields
        return fields

    def http11_fields(self) -> tuple[list[Any], bool]:
        """The header fields for an HTTP/1.1 head, and whether they are the request's own
        `Headers` fields, (name, lower-cased name, value) as stored (`send_request`'s
        `stored`): the usual request, whose Host came first, needs no (name, value) copy."""
        fields = self.headers
        if fields is None:
            stored = self.request.headers._list
            if stored and stored[0][1] == b"host":
                return stored, True
            fields = self.head_fields()
        return fields, False

    def spend_pool_wait(self, seconds: float) -> None:
        """Take `seconds` spent waiting before the engine (at the admission gate) from the
        pool timeout: one pool timeout bounds every wait for a connection."""
        if self.pool_timeout is not None:
            self.pool_timeout = max(0.0, self.pool_timeout - seconds)

    def uses_http2(self, alpn: str | None) -> bool:
        """Whether to speak HTTP/2 on a fresh connection that negotiated `alpn` (None in clear
        text): ALPN "h2", or HTTP/1.1 switched off (prior knowledge, RFC 9113 section 3.3)."""
        if not self.may_be_http2:
            return False
        return not self.tls or self.h2_only or alpn == "h2"

    def http2_head(self) -> tuple[bytes, bytes, bytes, bytes, list[tuple[bytes, bytes]]]:
        """Method, scheme, authority, path and fields for `Http2State.start_request`."""
        url = self.request.url
        return self.method_bytes, url.raw_scheme, url.netloc, self.target, self.head_fields()

    def __repr__(self) -> str:
        return f"<RequestPlan {self.method} {self.host}:{self.port}>"


DEADLINE_SLACK = 0.01
POOL_TIMED_OUT = "Timed out waiting for a connection from the pool."


def deadline_message(total: float | None) -> str:
    """A timeout's message when the whole-request deadline (`Timeout(total=...)`) caused it."""
    of = "" if total is None else f" of {total} s"
    return f"The total deadline{of} for this request passed (Timeout(total=...))."


class DeadlinePlan(RequestPlan):
    """A plan under a whole-request deadline (`Timeout(total=...)`): each phase's timeout is
    what is left of the deadline when that is shorter, read at the moment the engine asks for
    it; once the deadline has passed, asking raises that phase's timeout at once. A plain
    `RequestPlan` pays nothing for this."""

    __slots__ = ("_clock", "_connect", "_pool", "_read", "_write", "deadline", "total")

    # Built as a `RequestPlan`, then given `_clock`, `deadline` and `total` (by `plan_for`):
    # one constructor call fewer per request.
    _clock: Callable[[], float]
    deadline: float
    total: float | None

    def expired_message(self) -> str:
        return deadline_message(self.total)

    def deadline_passed(self) -> bool:
        # Event-loop timers may fire a little early (uvloop keeps milliseconds): a wait cut
        # short by the deadline ends within this of it.
        return self._clock() >= self.deadline - DEADLINE_SLACK

    # Each phase's timeout, as RequestPlan's attribute of the same name (the engine reads it):
    # the phase's own, or what is left of the deadline when that is shorter. Written out per
    # phase rather than through a shared helper: the engine reads two of them per request.
    @property
    def connect_timeout(self) -> float:
        left, phase = self.deadline - self._clock(), self._connect
        if left <= 0:
            raise ConnectTimeout(self.expired_message())
        return left if phase is None or left < phase else phase

    @connect_timeout.setter
    def connect_timeout(self, value: float | None) -> None:
        self._connect = value

    @property
    def read_timeout(self) -> float:
        left, phase = self.deadline - self._clock(), self._read
        if left <= 0:
            raise ReadTimeout(self.expired_message())
        return left if phase is None or left < phase else phase

    @read_timeout.setter
    def read_timeout(self, value: float | None) -> None:
        self._read = value

    @property
    def write_timeout(self) -> float:
        left, phase = self.deadline - self._clock(), self._write
        if left <= 0:
            raise WriteTimeout(self.expired_message())
        return left if phase is None or left < phase else phase

    @write_timeout.setter
    def write_timeout(self, value: float | None) -> None:
        self._write = value

    @property
    def pool_timeout(self) -> float:
        left, phase = self.deadline - self._clock(), self._pool
        if left <= 0:
            raise PoolTimeout(self.expired_message())
        return left if phase is None or left < phase else phase

    @pool_timeout.setter
    def pool_timeout(self, value: float | None) -> None:
        self._pool = value

    def spend_pool_wait(self, seconds: float) -> None:
        # (the phase's own timeout: the deadline's share is measured from the send's start)
        if self._pool is not None:
            self._pool = max(0.0, self._pool - seconds)


# `RequestPlan.__init__` assigns the four phase timeouts, through the setters above; each is
# swapped for its slot's own (C) descriptor, which stores the same, so building a plan runs no
# Python code for them.
for _phase in ("connect", "read", "write", "pool"):
    _slot: Any = getattr(DeadlinePlan, f"_{_phase}")
    _getter: property = getattr(DeadlinePlan, f"{_phase}_timeout")
    setattr(DeadlinePlan, f"{_phase}_timeout", _getter.setter(_slot.__set__))
del _phase, _slot, _getter


def _origin_of(url: URL) -> tuple[str, str, int, bool]:
    """Scheme, host, port (the scheme's default when absent) and whether it is TLS, of a URL
    the transport can send to; `UnsupportedProtocol` otherwise."""
    scheme, host = url.scheme, url.host
    default_port = DEFAULT_PORTS.get(scheme)
    if default_port is None or not host:
        raise _unsupported(scheme)
    return scheme, host, url.port or default_port, scheme in _TLS_SCHEMES


def plan_for(request: Request, config: ConnectionConfig, clock: Callable[[], float]) -> RequestPlan:
    """The plan for `request`: a `DeadlinePlan` when its timeouts carry a deadline (set by the
    client from `Timeout(total=...)`, on `clock`'s scale), else a plain `RequestPlan`."""
    extensions = request.extensions
    timeouts = extensions.get("timeout") if extensions else None
    deadline = timeouts.get("deadline") if timeouts else None
    if deadline is None:
        return RequestPlan(request, config)
    plan = DeadlinePlan(request, config)
    plan._clock = clock
    plan.deadline = deadline
    plan.total = timeouts.get("total")  # type: ignore[union-attr]
    return plan


def _expects_continue(request: Request) -> bool:
    """Whether the request asks for `Expect: 100-continue` (RFC 9110 section 10.1.1; the
    expectation is case-insensitive and has no parameters)."""
    value = request.headers.get("expect")
    return value is not None and value.strip().lower() == "100-continue"


def deadline_error(plan: RequestPlan, exc: BaseException) -> BaseException:
    """`exc`, or when it is a timeout that the plan's deadline caused, the same kind of timeout
    with a message naming the deadline (the backend's own says only "timed out")."""
    if (
        type(plan) is DeadlinePlan
        and isinstance(exc, TimeoutException)
        and plan.deadline_passed()
        and str(exc) != plan.expired_message()
    ):
        return type(exc)(plan.expired_message())
    return exc
