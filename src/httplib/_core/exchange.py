"""One HTTP/1.1 request/response exchange as pure decisions: what the sync and async drivers share.

Theory of operation
-------------------
A driver turns a `Request` into an `Exchange` (URL checks, request head, timeouts, pool key), then
runs a short loop that only moves bytes and waits::

    acts = ex.acquire(pool, now)            # pool ticket; WAITING / CONNECT / READY
    ... wait for Wake, or open a stream and call ex.connected(stream, now) ...
    stream.write(ex.start())                # head, plus a small in-memory body in the same write
    for chunk in body: write each of ex.frame(chunk); write(ex.end())   # when ex.streams_body
    while ex.head is None: ex.feed(stream.read(READ_SIZE, ex.read_timeout))
    Response(*ex.response_args(stream))     # body chunks then come from ex.feed / ex.take
    acts = ex.release(now, ex.finish(now))  # back to the pool, reusable or not

Pool calls return `Wake`/`Close` actions; `streams_to_close(acts, wake)` wakes the waiters and
returns the streams the shell must close (outside its lock). Failures are decisions too:
`ex.can_retry_stale(exc)` says whether a request that died on a kept-alive connection before any
response byte may be resent once on a fresh one (`ex.can_retry_http2` for an HTTP/2 stream,
which also covers refused streams); `connect_retry_delay(attempt, retries)` gives httpx's
backoff for connection failures. Nothing here blocks, awaits, or reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Protocol

from .._content import ByteStream
from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    PoolTimeout,
    ReadError,
    RemoteProtocolError,
    UnsupportedProtocol,
    WriteError,
)
from .events import BodyBuffer, DataReceived, ResponseReceived
from .http11 import Http11State
from .pool import (
    Action,
    Close,
    PoolState,
    Ticket,
    TicketStatus,
    can_retry_stale_connection,
)

if TYPE_CHECKING:  # _models imports the clock (Response.elapsed); the core only needs types.
    from .._models import Request
    from .http2 import Http2State, ResponseProgress  # (h2 loads only when HTTP/2 is spoken)

__all__ = [
    "CONNECT_RETRY_ERRORS",
    "INLINE_BODY_MAX",
    "MAX_REFUSED_RETRIES",
    "PROBE_IDLE_AFTER",
    "READ_SIZE",
    "ConnectionConfig",
    "Exchange",
    "Http11Connection",
    "Http2Handle",
    "Http2ResponseBody",
    "connect_retry_delay",
    "pool_timeout_error",
    "streams_to_close",
]

# One read: 64 KiB is the largest TLS-record-friendly size that still bounds memory per response.
READ_SIZE = 64 * 1024
# In-memory bodies up to this size share the head's write (one syscall, one segment burst);
# larger ones are written as they are, never copied.
INLINE_BODY_MAX = 64 * 1024
# A blocking socket is probed (one select() call) on reuse only after idling this long: a server
# rarely closes a connection sooner, and a stale one is caught by the retry anyway.
PROBE_IDLE_AFTER = 1.0
# httpx's connect retries: the first retry at once, then 0.5 s doubling (0, 0.5, 1, 2, ...).
CONNECT_BACKOFF_FACTOR = 0.5
CONNECT_RETRY_ERRORS = (ConnectError, ConnectTimeout)
# A request the server refused unprocessed (GOAWAY above its last stream id, REFUSED_STREAM,
# RFC 9113 section 8.7) is resent on another connection at most this many times.
MAX_REFUSED_RETRIES = 3

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_TLS_SCHEMES = frozenset({"https", "wss"})
_MISSING_PROTOCOL = "Request URL is missing an 'http://' or 'https://' protocol."
_READY = TicketStatus.READY
_STALE_ERRORS = (ReadError, WriteError, RemoteProtocolError)


def connect_retry_delay(attempt: int, retries: int) -> float | None:
    """Seconds to wait before connect retry number `attempt` (1-based), or None: give up."""
    if attempt > retries:
        return None
    return 0.0 if attempt == 1 else CONNECT_BACKOFF_FACTOR * 2 ** (attempt - 2)


def pool_timeout_error() -> PoolTimeout:
    return PoolTimeout("Timed out waiting for a connection from the pool.")


class ConnectionConfig:
    """What a transport fixes for all its connections; `identity` goes into every pool key."""

    __slots__ = (
        "alpn",
        "http1",
        "http2",
        "identity",
        "local_address",
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
        # The context object, not its settings: two transports with equal settings share the
        # cached context (and may share nothing else anyway, each has its own pool).
        self.identity: Hashable = (id(ssl_context), uds, local_address)

    def tls_context(self) -> Any:
        """The context for the next TLS handshake, offering this transport's ALPN protocols."""
        if self.alpn is not None:
            self.ssl_context.set_alpn_protocols(self.alpn)
        return self.ssl_context


class Http11Connection:
    """A pooled connection: the shell's stream, its protocol state, and the pool it belongs to."""

    __slots__ = ("idle_since", "requests", "state", "stream")

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.state = Http11State()
        self.requests = 0
        self.idle_since: float | None = None

    def needs_probe(self, now: float, probe_after: float) -> bool:
        """Whether to ask the stream if the server closed it while idle (see PROBE_IDLE_AFTER)."""
        idle_since = self.idle_since
        return idle_since is not None and now - idle_since >= probe_after


class Http2Handle(Protocol):
    """What the core needs of a shell's HTTP/2 connection (`SyncHttp2Connection` and
    `AsyncHttp2Connection`): its state and the pool entry it belongs to."""

    state: Http2State
    entry: object
    stream: Any


class Http2ResponseBody:
    """What the sync and async HTTP/2 response streams share: which stream, what arrived."""

    def __init__(
        self, driver: Any, ex: Exchange, conn: Http2Handle, sid: int, progress: ResponseProgress
    ) -> None:
        self._driver = driver
        self._ex = ex
        self._conn = conn
        self._sid = sid
        self._progress = progress

    def take_arrived(self) -> bytes | None:
        """The rest of the body when all of it has arrived (no read needed), else None."""
        return self._progress.take_arrived()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._ex.method} stream {self._sid}>"


def streams_to_close(acts: list[Action], wake: Callable[[Any], None]) -> list[Any]:
    """Wake the waiters named in `acts`; return the streams of the connections to close."""
    streams = []
    for act in acts:
        if type(act) is Close:
            conn = act.entry.handle
            if conn is not None:
                act.entry.handle = None
                streams.append(conn.stream)  # type: ignore[attr-defined]
        else:
            wake(act.ticket.waker)  # type: ignore[union-attr]
    return streams


def _origin(request: Request) -> tuple[str, str, int]:
    """Scheme, host and port, or UnsupportedProtocol with httpx's messages."""
    url = request.url
    scheme = url.scheme
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port is None:
        if not scheme:
            raise UnsupportedProtocol(_MISSING_PROTOCOL)
        raise UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
    host = url.host
    if not host:
        raise UnsupportedProtocol(_MISSING_PROTOCOL)
    return scheme, host, url.port or default_port


def _head_fields(request: Request) -> list[tuple[bytes, bytes]]:
    """The request's header fields as sent; Host first when the request lacks one (RFC 9112 3.2)."""
    fields = request.headers.raw
    if fields and fields[0][0].lower() == b"host":
        return fields  # Request puts the Host it adds first: the usual case costs one compare
    for name, _ in fields:
        if name.lower() == b"host":
            return fields
    return [(b"Host", request.url.netloc), *fields]


class Exchange(BodyBuffer):
    """One request on one (possibly retried) connection; see the module docstring."""

    __slots__ = (
        "body",
        "body_sent",
        "conn",
        "connect_timeout",
        "h2_only",
        "head",
        "headers",
        "host",
        "key",
        "may_be_http2",
        "method",
        "method_bytes",
        "pool",
        "pool_timeout",
        "port",
        "read_timeout",
        "refusals",
        "replayable",
        "request",
        "retried",
        "reused",
        "server_hostname",
        "streams_body",
        "target",
        "ticket",
        "tls",
        "write_timeout",
    )

    def __init__(self, request: Request, config: ConnectionConfig) -> None:
        scheme, host, port = _origin(request)
        self.request = request
        self.host = host
        self.port = port
        self.tls = tls = scheme in _TLS_SCHEMES
        extensions = request.extensions
        sni = extensions.get("sni_hostname") if tls and extensions else None
        self.server_hostname = sni or host
        self.key: Hashable = (scheme, host, port, sni, config.identity)
        self.method = request.method
        self.method_bytes = request.method.encode("ascii")
        self.target = request.url.raw_path
        self.headers = _head_fields(request)
        timeouts = extensions.get("timeout") if extensions else None
        if timeouts is None:
            self.connect_timeout = self.read_timeout = None
            self.write_timeout = self.pool_timeout = None
        else:
            self.connect_timeout = timeouts.get("connect")
            self.read_timeout = timeouts.get("read")
            self.write_timeout = timeouts.get("write")
            self.pool_timeout = timeouts.get("pool")
        stream = request.stream
        self.replayable = isinstance(stream, ByteStream)
        body = request.read() if self.replayable else None
        # A streamed body (an iterator, or an in-memory one too large to copy into the head's
        # write) is framed chunk by chunk by the driver through frame() and end().
        self.body = body if body is not None and len(body) <= INLINE_BODY_MAX else None
        self.streams_body = self.body is None
        self.retried = False
        # HTTP/2 when TLS negotiates it by ALPN, or with prior knowledge when HTTP/1.1 is off.
        self.may_be_http2 = config.http2 and (tls or not config.http1)
        self.h2_only = not config.http1
        self.refusals = 0
        self.pool: PoolState | None = None
        self.ticket: Ticket | None = None
        self._reset()

    def _reset(self) -> None:
        self.conn: Http11Connection | None = None
        self.reused = False
        self.body_sent = False
        self.head: ResponseReceived | None = None
        self.chunks: list[bytes] = []
        self.ended = False

    # ------------------------------------------------------------------------------ the pool

    def acquire(self, pool: PoolState, now: float) -> list[Action]:
        """Take a ticket for this request's key; `status` then says what to do."""
        self.pool = pool
        ticket, acts = pool.acquire(self.key, now, may_be_http2=self.may_be_http2)
        self.ticket = ticket
        return acts

    @property
    def status(self) -> TicketStatus:
        assert self.ticket is not None
        return self.ticket.status

    def ready_connection(self) -> Http11Connection | Http2Handle | None:
        """The connection a READY ticket holds (its entry's handle), else None."""
        ticket = self.ticket
        if ticket is None or ticket.status is not _READY:
            return None
        assert ticket.entry is not None
        return ticket.entry.handle  # type: ignore[return-value]

    def uses_http2(self, stream: Any) -> bool:
        """Whether to speak HTTP/2 on a freshly opened `stream`: TLS negotiated ALPN "h2", or
        HTTP/1.1 is off (prior knowledge in clear text, RFC 9113 section 3.3; h2 only over TLS)."""
        if not self.may_be_http2:
            return False
        if not self.tls or self.h2_only:
            return True
        ssl_object = stream.get_extra_info("ssl_object")
        return ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"

    def connected(self, handle: Any, now: float, max_streams: int | None = None) -> list[Action]:
        """The connection for a CONNECT ticket is open: `handle` is the stream for HTTP/1.1
        (`max_streams` None), else the shell's HTTP/2 connection carrying `max_streams` streams.
        If the pool was closed meanwhile, the returned actions close it and `status` is not
        READY."""
        assert self.ticket is not None
        assert self.ticket.entry is not None
        assert self.pool is not None
        entry = self.ticket.entry
        if max_streams is None:
            entry.handle = Http11Connection(handle)
            max_streams = 1
        else:
            handle.entry = entry
            entry.handle = handle
        # A peer announcing 0 streams still gets this one; it refuses it, and we retry elsewhere.
        return self.pool.connected(entry, now, max_streams=max(1, max_streams))

    def connect_failed(self, now: float) -> list[Action]:
        assert self.ticket is not None
        assert self.ticket.entry is not None
        assert self.pool is not None
        acts = self.pool.connect_failed(self.ticket.entry, now)
        self.ticket = None
        return acts

    def release(self, now: float, reusable: bool = False) -> list[Action]:
        """Give back whatever the ticket holds: a connection (closed by the returned actions
        unless `reusable`), a reserved connect, or a place in the queue. Safe in every state
        and idempotent, so every failure path (timeouts, cancellation) may call it."""
        ticket, self.ticket = self.ticket, None
        pool = self.pool
        if ticket is None or pool is None:
            return []
        if ticket.status is not _READY:
            return pool.cancel(ticket, now)
        conn = self.conn
        if conn is not None and conn.state.is_switched:
            # 101 / CONNECT: the stream now belongs to the user (extensions["network_stream"]).
            assert ticket.entry is not None
            ticket.entry.handle = None
            reusable = False
        return pool.release(ticket, now, reusable=reusable)

    # ----------------------------------------------------------------------------- the bytes

    def start(self, conn: Http11Connection) -> bytes:
        """The first write on `conn`: the head, with a small in-memory body appended."""
        self.conn = conn
        self.reused = conn.requests > 0
        conn.requests += 1
        state = conn.state
        head = state.send_request(self.method_bytes, self.target, self.headers)
        body = self.body
        if body is None:
            return head
        if body:
            self.body_sent = True
            return b"".join([head, *state.send_body(body), state.end_body()])
        tail = state.end_body()
        return head + tail if tail else head

    def frame(self, chunk: bytes) -> list[bytes]:
        """Buffers to write for one piece of a streamed body."""
        assert self.conn is not None
        if chunk:
            self.body_sent = True
        return self.conn.state.send_body(chunk)

    def end(self) -> bytes:
        """The last bytes of a streamed body (the final chunk when chunked)."""
        assert self.conn is not None
        return self.conn.state.end_body()

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection (b"" at EOF): the head, body chunks, the end."""
        assert self.conn is not None
        state = self.conn.state
        for event in state.receive_data(data):
            kind = type(event)
            if kind is DataReceived:
                self.chunks.append(event.data)  # type: ignore[union-attr]
            elif kind is ResponseReceived:
                self.head = event  # type: ignore[assignment]
                if state.is_switched:
                    self.ended = True
            else:
                self.ended = True

    def response_args(self) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
        """Status, raw header list and extensions for `Response(...)`."""
        head = self.head
        assert head is not None
        assert self.conn is not None
        extensions = {
            "http_version": head.http_version,
            "reason_phrase": head.reason,
            "network_stream": self.conn.stream,
        }
        return head.status_code, head.headers, extensions

    def finish(self, now: float) -> bool:
        """After the whole response: whether the connection may carry another request."""
        conn = self.conn
        if conn is None or not self.ended or not conn.state.is_reusable:
            return False
        conn.state.start_next_cycle()
        conn.idle_since = now
        return True

    # ------------------------------------------------------------------------------ HTTP/2

    def http2_head(self) -> tuple[bytes, bytes, bytes, bytes, list[tuple[bytes, bytes]]]:
        """Method, scheme, authority, path and fields for `Http2State.start_request`."""
        url = self.request.url
        return self.method_bytes, url.raw_scheme, url.netloc, self.target, self.headers

    def http2_body(self) -> tuple[bytes | None, Any]:
        """The body for an HTTP/2 stream: all of it in memory, or the request's chunk iterator."""
        if self.replayable:
            return self.request.read(), None
        return None, self.request.stream

    def http2_response_args(
        self, conn: Http2Handle, sid: int, progress: ResponseProgress
    ) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
        """Status, raw header list and extensions for `Response(...)` on stream `sid`."""
        head = progress.head
        assert head is not None
        extensions = {
            "http_version": head.http_version,
            "network_stream": conn.stream,
            "stream_id": sid,
        }
        return head.status_code, head.headers, extensions

    def http2_reusable(self, conn: Http2Handle) -> bool:
        """Whether `conn` may take new streams once this request gives its stream back:
        a stream's own failure leaves the connection usable, GOAWAY or a broken one not."""
        return not conn.state.is_draining

    def can_retry_refused(self, exc: BaseException) -> bool:
        """Whether `exc` says the server never processed this HTTP/2 request (RFC 9113 section
        8.7), so it may be resent on another connection: bounded, and only a replayable body."""
        from .http2 import StreamRefused

        if not isinstance(exc, StreamRefused) or not self.replayable:
            return False
        if self.refusals >= MAX_REFUSED_RETRIES:
            return False
        self.refusals += 1
        return True

    def can_retry_http2(self, exc: BaseException, state: Http2State, sid: int | None) -> bool:
        """Whether a failed HTTP/2 request may be resent on another connection: refused
        unprocessed (`can_retry_refused`), or its connection broke and it was stale. Call it
        before the stream is closed (the state forgets the stream's facts then)."""
        return self.can_retry_refused(exc) or self._can_retry_stale_http2(exc, state, sid)

    def _can_retry_stale_http2(
        self, exc: BaseException, state: Http2State, sid: int | None
    ) -> bool:
        """The HTTP/2 form of `can_retry_stale`: the connection itself failed (EOF, a broken
        socket, a protocol error), not just this stream, and the stream qualifies as stale."""
        if sid is None or state.error is None or not isinstance(exc, _STALE_ERRORS):
            return False
        facts = state.stream_facts(sid)
        if facts is None or not self.replayable:
            return False
        reused, answered, body_sent = facts
        if not can_retry_stale_connection(
            self.method,
            connection_reused=reused,
            response_started=answered,
            body_sent=body_sent,
            retried=self.retried,
        ):
            return False
        self.retried = True
        return True

    # -------------------------------------------------------------------------- failures

    def can_retry_stale(self, exc: BaseException) -> bool:
        """Whether `exc` means a kept-alive connection was already dead and the request may be
        resent once on a new one (RFC 9112 section 9.3.1); if so, resets for the retry."""
        conn = self.conn
        if conn is None or not isinstance(exc, _STALE_ERRORS):
            return False
        # An iterator body cannot be replayed once it has been started.
        if (self.body_sent and not self.replayable) or not can_retry_stale_connection(
            self.method,
            connection_reused=self.reused,
            response_started=conn.state.has_received_data,
            body_sent=self.body_sent,
            retried=self.retried,
        ):
            return False
        self.retried = True
        self._reset()
        return True
