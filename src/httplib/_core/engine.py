"""The engine: one request over the pool, as a flow of effects every runtime performs.

Theory of operation
-------------------
A transport owns one `Engine` (its pool, its connection settings and its runtime's
primitives). `engine.send(request)` is a generator (a *flow*): it yields effects
(`_core/effects.py`: connect, TLS, write, read, wait, sleep, close...) and receives their
results, and returns `(status, headers, extensions, body)` once the response head is in. Each
runtime's driver is a short loop that performs the effects; it decides nothing. The sequence of
one request::

    checkout    acquire a ticket from the pool (under the runtime's lock)
                READY: reuse the connection (PROBE it first when it idled `probe_after`)
                WAITING: WAIT on the ticket's waker up to the pool timeout
                CONNECT: CONNECT (TCP or Unix), START_TLS (ALPN), the HTTP/2 handshake,
                         retried with httpx's backoff (SLEEP) for `retries=`
    exchange    HTTP/1.1: WRITE the head (and a small body), stream a larger body
                (BODY_ITER / BODY_NEXT + WRITE), READ until the head is complete
                HTTP/2: open a stream on the shared connection (`Http2Connection`)
    resend      a stale or refused connection sends the request again (`Resend` rules)
    release     the body flow (`Http11Body` / `Http2Body`) reads the rest on demand and gives
                the ticket back: reusable only after a complete response

Every failure and cancellation is thrown into the flow at the effect that raised it; the flow
gives its ticket back (closing a half-used connection) before the error goes on, so no slot
or socket leaks whatever the runtime. Pool actions (`Wake`, `Close`) are performed here: wakers
are set with the runtime's `wake`, streams closed with `CLOSE` effects outside the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import _logging as log
from .._exceptions import (
    PoolTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TimeoutException,
    WriteError,
)
from .admission import Admission
from .effects import (
    BODY_CLOSE,
    BODY_ITER,
    BODY_NEXT,
    CHUNKS,
    CLOSE,
    CONNECT,
    PROBE,
    READ,
    READ_INTO,
    SEND_FILE,
    SLEEP,
    START_TLS,
    WAIT,
    WRITE,
    Flow,
    Runtime,
)
from .events import ResponseReceived
from .exchange import Http11Connection, Http11Exchange
from .http11 import DISCONNECTED_BEFORE_RESPONSE
from .plan import (
    POOL_TIMED_OUT,
    READ_SIZE,
    WRITE_SLICE,
    ConnectionConfig,
    Endpoint,
    RequestPlan,
    deadline_error,
    plan_for,
)
from .pool import Action, Close, PoolState, Ticket, TicketStatus
from .proxy import ProxySpec, open_tunnel
from .resend import (
    CONNECT_RETRY_ERRORS,
    Resend,
    connect_retries_at_once,
    connect_retry_delay,
    is_handshake_cut,
    mark_handshake_cut,
    mark_response_started,
)

# How long a body held back by `Expect: 100-continue` waits for the server's 100 before it is
# sent anyway: curl's default (`--expect100-timeout`, 1 s). The read timeout caps it.
EXPECT_CONTINUE_TIMEOUT = 1.0

if TYPE_CHECKING:  # h2 loads only once a connection speaks HTTP/2
    from .._config import Limits
    from .._models import Request
    from .h2_connection import Http2Connection
    from .http2 import ResponseProgress

__all__ = ["Engine", "Http2Body", "Http11Body", "ResponseParts"]

_WAITING = TicketStatus.WAITING
_CONNECT = TicketStatus.CONNECT
_READY = TicketStatus.READY

# Status, header fields (`ResponseReceived.fields`), extensions, and the body: the flow that
# reads it, or (for a caller that reads it whole, see `Engine.send`) the bytes when it arrived
# with the head.
ResponseParts = tuple[
    int, list[tuple[bytes, bytes, bytes]], dict[str, Any], "Http11Body | Http2Body | bytes"
]


class Engine:
    """A transport's pool and the flows that send requests over it; see the module docstring."""

    __slots__ = ("_lock", "admission", "clock", "config", "limits", "pool", "runtime")

    def __init__(self, config: ConnectionConfig, limits: Limits, runtime: Runtime) -> None:
        self.config = config
        self.limits = limits
        self.runtime = runtime
        self.pool = PoolState(limits)
        self._lock = runtime.lock
        # The runtime's clock; a test may replace it with a fake one.
        self.clock = runtime.clock
        # The gate in front of the pool's queue, when the driver keeps one (the async one).
        self.admission: Admission | None = None

    def send(self, request: Request, queued: float | None = None, whole: bool = False) -> Flow:
        """Send `request`; returns `ResponseParts` once the response head is in. `queued`: the
        request came through the admission gate (`_core/admission.py`) after waiting that many
        seconds, which its pool timeout covers too; its place there is given up here, once
        the pool has answered it with a connection (or it fails first). `whole`: the caller
        reads the whole body at once (a send that is not streamed), so a body that arrived
        with the head comes back as bytes, its connection (or stream) given back already."""
        admitted = queued is not None
        try:
            plan = plan_for(request, self.config, self.clock)
        except BaseException:
            if admitted:
                self._let_next_in()
            raise
        if queued:
            plan.spend_pool_wait(queued)
        # The request's resend allowance, made at its first failure (most requests never fail).
        resend: Resend | None = None
        try:
            while True:
                fresh = resend is not None and resend.fresh
                pool, ticket, acts, conn = self._acquire(plan, fresh)
                if conn is None:  # (the usual keep-alive reuse needs no generator for this)
                    waited = False
                    since = None
                    if ticket.status is _WAITING and not acts:
                        # Waiting for a slot, written here: a queued request holds this
                        # frame and its waker, no more generators (issue 15's scale rows).
                        if plan.pool_timeout is not None:
                            since = self.clock()
                        try:
                            if not (yield (WAIT, ticket.waker, plan.pool_timeout)):
                                raise PoolTimeout(POOL_TIMED_OUT)
                        except BaseException:
                            yield from self.release(pool, ticket, False)
                            raise
                        waited = True
                    pool, ticket, conn = yield from self._checkout(
                        plan, pool, ticket, acts, fresh, waited, since
                    )
                if admitted:  # (the pool has answered it: its place at the gate goes on)
                    admitted = False
                    self._let_next_in()
                if type(conn) is not Http11Connection:
                    parts = yield from self._send_http2(plan, pool, ticket, conn, resend, whole)
                    if type(parts) is not Resend:
                        return parts
                    resend = parts  # it may go again: on another connection
                    continue
                # One HTTP/1.1 exchange up to the response head, written here rather than in a
                # generator of its own: this is every request's path (issue 9's per-request
                # cost). A failure may let it go again (`_http11_failed`).
                ex = Http11Body(self, pool, ticket, plan, conn)
                stream = conn.stream
                write_failed = False
                try:
                    try:
                        yield (WRITE, stream, ex.first_write(), plan.write_timeout)
                        if plan.inline is None and (
                            not plan.expect_continue
                            or (yield from self._await_continue(ex, stream, plan))
                        ):
                            yield from self._write_body(ex, stream, plan)
                    except WriteError:
                        # A server may answer (413, 401, a redirect) and close without reading
                        # the whole body (RFC 9112 section 9.5 lets it); its answer is the
                        # outcome, as in httpcore. When none comes, the read's own error says
                        # why. The connection is not reused: our side never finished.
                        write_failed = True
                    while ex.head is None:
                        yield (READ_INTO, stream, ex, READ_SIZE, plan.read_timeout)
                except BaseException as exc:
                    outcome = yield from self._http11_failed(plan, ex, exc, resend, write_failed)
                    if type(outcome) is Resend:
                        resend = outcome
                        continue
                    if outcome is exc:
                        raise
                    raise outcome from exc
                head = ex.head
                extensions = {
                    "http_version": head.http_version,
                    "reason_phrase": head.reason,
                    "network_stream": stream,
                }
                # A streamed response keeps the connection until it is read to the end or
                # closed, even when its whole body came with the head (as in httpx): a pool
                # limit then means the same thing whatever the server's write sizes. One read
                # whole at once gives it back now, with no body flow (issue 15).
                if whole and ex.ended:
                    body = ex.take_arrived() or b""
                    flow = ex.release()
                    if flow is not None:
                        yield from flow
                    return head.status_code, head.fields, extensions, body
                return head.status_code, head.fields, extensions, ex
        except TimeoutException as exc:
            renamed = deadline_error(plan, exc)
            if renamed is exc:
                raise
            raise renamed from exc
        finally:
            if admitted:  # (it failed, or was cancelled, before the pool answered it)
                self._let_next_in()

    def _let_next_in(self) -> None:
        """A request that came through the admission gate no longer waits for the pool (it was
        answered, or failed first): its place goes to the gate's next waiter, if any."""
        waker = self.admission.leave()  # type: ignore[union-attr]
        if waker is not None:
            self.runtime.wake(waker)

    def close(self) -> Flow | None:
        """Close every connection; waiting requests retry on a fresh pool (as httpx's transport
        stays usable after close()). None when the pool never held anything: a client that
        sent nothing closes without running a flow (issue 9's create/close row)."""
        with self._lock:
            if self.pool.holds_nothing():
                return None
            acts = self.pool.close_all()
            self.pool = PoolState(self.limits)
        return self.perform(acts)

    def perform(self, acts: list[Action]) -> Flow:
        """Wake the waiters `acts` name and close the connections it drops."""
        wake = self.runtime.wake
        conns: list[Http11Connection | Http2Connection] = []
        for act in acts:
            if type(act) is Close:
                conn = act.entry.handle
                if conn is not None:
                    act.entry.handle = None
                    conns.append(conn)  # type: ignore[arg-type]
            else:
                wake(act.ticket.waker)  # type: ignore[union-attr]
        for conn in conns:
            log.close_started(conn)
            if type(conn) is not Http11Connection:  # (h2 is imported only once it is used)
                yield from conn.goodbye()  # type: ignore[union-attr]
            yield (CLOSE, conn.stream)
            log.close_complete()

    def give_back(
        self,
        pool: PoolState,
        ticket: Ticket,
        reusable: bool,
        detach: bool = False,
        now: float | None = None,
    ) -> list[Action]:
        """Under the lock: give back what `ticket` holds (its connection, closed unless
        `reusable` and handed to the user when `detach`; a reserved connect; its place in the
        queue). Returns the pool's actions for `perform`. `now`: the clock, when just read."""
        if now is None:
            now = self.clock()
        with self._lock:
            if ticket.status is _READY:
                if detach:
                    ticket.entry.handle = None  # type: ignore[union-attr]
                return pool.release(ticket, now, reusable=reusable and not detach)
            return pool.cancel(ticket, now)

    def release(
        self, pool: PoolState, ticket: Ticket, reusable: bool, detach: bool = False
    ) -> Flow:
        """`give_back`, then perform what the pool asked for."""
        acts = self.give_back(pool, ticket, reusable, detach)
        if acts:
            yield from self.perform(acts)

    # ---------------------------------------------------------------------------- checkout

    def _acquire(
        self, plan: RequestPlan, fresh: bool = False
    ) -> tuple[PoolState, Ticket, list[Action], Any]:
        """Under the lock: a ticket for `plan` (a waiter gets its waker), its actions, and the
        idle connection it took at once when that needs nothing awaited (else None). `fresh`:
        only a new connection will do (the resend after a stale one)."""
        now = self.clock()
        with self._lock:
            pool = self.pool
            ticket, acts = pool.acquire(plan.key, now, may_be_http2=plan.may_be_http2, fresh=fresh)
            status = ticket.status
            if status is _WAITING:
                ticket.waker = self.runtime.new_waker()
        if status is not _READY or acts:
            return pool, ticket, acts, None
        conn = ticket.entry.handle  # type: ignore[union-attr]
        if type(conn) is Http11Connection:
            # (`_closed_while_idle` written out: every reuse asks) `_checkout` probes it, or
            # replaces it.
            runtime = self.runtime
            peek = runtime.peek
            if peek is not None:
                if peek(conn.stream):
                    return pool, ticket, acts, None
            elif conn.needs_probe(now, runtime.probe_after):
                return pool, ticket, acts, None
        return pool, ticket, acts, conn

    def _closed_while_idle(self, conn: Http11Connection, now: float) -> bool | None:
        """Whether the server closed a reused HTTP/1.1 connection while it idled: the runtime's
        free `peek` answers at once; otherwise None when a `PROBE` effect must tell (it idled
        `probe_after`), else False."""
        runtime = self.runtime
        if runtime.peek is not None:
            return runtime.peek(conn.stream)
        return None if conn.needs_probe(now, runtime.probe_after) else False

    def _checkout(
        self,
        plan: RequestPlan,
        pool: PoolState,
        ticket: Ticket,
        acts: list[Action],
        fresh: bool = False,
        waited: bool = False,
        since: float | None = None,
    ) -> Flow:
        """A connection for a ticket `_acquire` could not serve at once: after probing,
        connecting or waiting for a slot (asking the pool again when that came to nothing).
        `waited`: the ticket's first wait is over already (`send` waits itself), begun at
        `since` on the engine's clock. The pool timeout bounds the request's waits together:
        one woken onto a connection that turned out closed, that then queues again, waits only
        what is left of it."""
        while True:
            try:
                if acts:
                    yield from self.perform(acts)
                wait = plan.pool_timeout
                if wait is not None and ticket.status is _WAITING and not waited:
                    if since is None:
                        since = self.clock()
                    else:
                        wait = max(0.0, wait - (self.clock() - since))
                conn = yield from self._use_ticket(plan, pool, ticket, waited, wait)
            except BaseException:
                yield from self.release(pool, ticket, False)
                raise
            if conn is not None:
                return pool, ticket, conn
            waited = False
            pool, ticket, acts, conn = self._acquire(plan, fresh)
            if conn is not None:
                return pool, ticket, conn

    def _use_ticket(
        self, plan: RequestPlan, pool: PoolState, ticket: Ticket, waited: bool, wait: float | None
    ) -> Flow:
        """Wait up to `wait` seconds (unless `waited`), connect or take the reserved connection;
        None means ask the pool again."""
        status = ticket.status
        if status is _WAITING and not waited:
            if not (yield (WAIT, ticket.waker, wait)):
                raise PoolTimeout(POOL_TIMED_OUT)
            status = ticket.status
        if status is _CONNECT:
            return (yield from self._connect(plan, pool, ticket))
        if status is not _READY:
            return None  # REJECTED: the transport was closed meanwhile
        conn = ticket.entry.handle  # type: ignore[union-attr]
        if type(conn) is Http11Connection:  # (HTTP/2 connections are never probed)
            closed = self._closed_while_idle(conn, self.clock())
            if closed is None:
                closed = yield (PROBE, conn.stream)
            if closed:
                yield from self.release(pool, ticket, False)
                return None
        return conn

    def _connect(self, plan: RequestPlan, pool: PoolState, ticket: Ticket) -> Flow:
        attempt = 0
        cuts = 0  # connect resets and handshake cuts tried again without `retries=`
        while True:
            try:
                stream, alpn = yield from self._open(plan)
                handle, max_streams = yield from self._handshake(plan, pool, stream, alpn)
                break
            except BaseException as exc:
                if not isinstance(exc, CONNECT_RETRY_ERRORS) and not is_handshake_cut(exc):
                    raise
                attempt += 1
                delay = connect_retry_delay(attempt, self.config.retries)
                if delay is None:
                    # A reset while connecting, or a cut in the HTTP/2 handshake, is a server
                    # restarting under us: none of the request left, so again at once when no
                    # connect retries were asked for (`resend.connect_retries_at_once`); a
                    # count the user gave (httpx's `retries=n`) is kept exactly.
                    if self.config.retries or cuts >= connect_retries_at_once(exc):
                        raise
                    cuts += 1
                    delay = 0.0
                log.retry_started(attempt, delay)
                yield (SLEEP, delay)
        now = self.clock()
        with self._lock:
            entry = ticket.entry
            assert entry is not None
            if handle is None:
                handle = Http11Connection(stream)
            else:
                handle.entry = entry
            entry.handle = handle
            # A peer announcing 0 streams still gets this one; it refuses it, and we go elsewhere.
            acts = pool.connected(entry, now, max_streams=max(1, max_streams))
        if acts:
            yield from self.perform(acts)
        return handle if ticket.status is _READY else None

    def _handshake(self, plan: RequestPlan, pool: PoolState, stream: Any, alpn: str | None) -> Flow:
        """The HTTP/2 connection preface and SETTINGS exchange when ALPN (or prior knowledge)
        chose HTTP/2; returns (handle, stream limit), a None handle for HTTP/1.1. The stream is
        closed when it fails; a cut (the server closed or reset the new connection before its
        SETTINGS) is marked with `mark_handshake_cut`: no request had left yet."""
        if not plan.uses_http2(alpn):
            return None, 1
        from .h2_connection import Http2Connection

        handle = Http2Connection(stream, self.runtime, partial(self._http2_changed, pool))
        try:
            max_streams = yield from handle.handshake(plan.connect_timeout)
        except BaseException as exc:
            yield (CLOSE, stream)
            if handle.state.cut_off or isinstance(exc, (ReadError, WriteError)):
                mark_handshake_cut(exc)
            raise
        return handle, max_streams

    def _open(self, plan: RequestPlan) -> Flow:
        """A connected stream (through the transport's proxy, if any), with TLS to the origin
        when the URL asks for it; returns (stream, ALPN)."""
        config, timeout = self.config, plan.connect_timeout
        proxy = config.proxy
        endpoint = Endpoint(
            plan.host if proxy is None else proxy.host,
            plan.port if proxy is None else proxy.port,
            uds=config.uds,
            local_address=config.local_address,
            socket_options=config.socket_options,
        )
        log.connect_started(endpoint, timeout)
        try:
            stream = yield (CONNECT, endpoint, timeout)
        except BaseException as exc:
            log.connect_failed(endpoint, exc)
            raise
        log.connect_complete(endpoint, stream)
        if proxy is not None:
            stream = yield from self._through_proxy(stream, proxy, plan)
        if not plan.tls:
            return stream, None
        return (
            yield from self._start_tls(stream, config.tls_context(), plan.server_hostname, plan)
        )

    def _start_tls(
        self, stream: Any, context: Any, server_hostname: str, plan: RequestPlan
    ) -> Flow:
        """TLS on `stream` (on a tunnel's stream too: TLS inside TLS); returns (stream, ALPN).
        The stream is closed when the handshake fails or is interrupted."""
        timeout = plan.connect_timeout
        log.start_tls_started(server_hostname, timeout)
        try:
            tls = yield (START_TLS, stream, context, server_hostname, timeout)
        except BaseException as exc:  # interrupted mid-handshake: the plain socket is ours
            log.start_tls_failed(exc)
            yield (CLOSE, stream)
            raise
        log.start_tls_complete(tls[1])
        return tls

    def _through_proxy(self, stream: Any, proxy: ProxySpec, plan: RequestPlan) -> Flow:
        """On a connection to the proxy: TLS to it for an https:// proxy, then the tunnel to the
        origin when the request needs one (`_core/proxy.py`). Returns the stream to use."""
        if proxy.tls:
            stream, _ = yield from self._start_tls(stream, proxy.tls_context(), proxy.host, plan)
        if plan.tls or proxy.socks:
            host = plan.request.url.raw_host
            log.proxy_tunnel_started(proxy.url, host, plan.port)
            try:
                yield from open_tunnel(stream, proxy, host, plan.port, plan)
            except BaseException as exc:
                log.proxy_tunnel_failed(exc)
                yield (CLOSE, stream)
                raise
            log.proxy_tunnel_complete()
        return stream

    # ------------------------------------------------------------------------------ HTTP/1.1

    def _await_continue(self, ex: Http11Body, stream: Any, plan: RequestPlan) -> Flow:
        """`Expect: 100-continue` (RFC 9110 section 10.1.1): after the head, wait for the
        server's 100 (Continue) before the body, at most `EXPECT_CONTINUE_TIMEOUT` (a server
        or proxy that does not know the expectation waits for the body). True: send the body;
        False: the final response came first, so the body is not sent and the connection is
        closed after the response (our request never ended)."""
        state = ex.conn.state
        left = self._continue_wait(plan)
        while not state.continued and ex.head is None:
            wait = left()
            if wait <= 0:
                return True
            try:
                data = yield (READ, stream, READ_SIZE, wait)
            except ReadTimeout:
                return True  # silence: the server waits for the body
            ex.feed(data)
        return ex.head is None

    def _continue_wait(self, plan: RequestPlan) -> Callable[[], float]:
        """Seconds left to wait for a 100 (Continue), from now: `EXPECT_CONTINUE_TIMEOUT`,
        capped by the read timeout (asked each time: under a deadline it shrinks, or raises)."""
        clock = self.clock
        until = clock() + EXPECT_CONTINUE_TIMEOUT

        def left() -> float:
            read_timeout = plan.read_timeout
            wait = until - clock()
            return wait if read_timeout is None or wait < read_timeout else read_timeout

        return left

    def _write_body(self, ex: Http11Body, stream: Any, plan: RequestPlan) -> Flow:
        """Stream a body that is not in memory (or too large to join the head's write)."""
        left = ex.body_left()
        if left and self.runtime.sends_files:
            # A regular file under a Content-Length goes by the kernel where the runtime can
            # (sendfile(2) on a blocking plain socket): no copy through Python (64 MiB to
            # nginx: user CPU about 3 -> 1 ms, about 10% faster). Else (None) it is iterated.
            offered = yield (SEND_FILE, stream, plan.request.stream, left, plan.write_timeout)
            if offered is not None:
                ex.sent_by_shell(offered)
                ex.end()  # (nothing to write after a Content-Length body; checks it was whole)
                return
        # (each timeout read when it is used: under a deadline it shrinks)
        iterator = yield (BODY_ITER, plan.request.stream)
        try:
            while (chunk := (yield (BODY_NEXT, iterator))) is not None:
                for buf in ex.frame(chunk):
                    if len(buf) <= WRITE_SLICE:
                        yield (WRITE, stream, buf, plan.write_timeout)
                        continue
                    view = memoryview(buf)
                    for at in range(0, len(buf), WRITE_SLICE):
                        yield (WRITE, stream, view[at : at + WRITE_SLICE], plan.write_timeout)
        finally:
            yield (BODY_CLOSE, iterator)
        tail = ex.end()  # the last chunk when chunked; nothing for a Content-Length
        if tail:
            yield (WRITE, stream, tail, plan.write_timeout)

    def _http11_failed(
        self,
        plan: RequestPlan,
        ex: Http11Body,
        exc: BaseException,
        resend: Resend | None,
        write_failed: bool,
    ) -> Flow:
        """After an HTTP/1.1 exchange failed with `exc`: give the connection back (closed),
        and return the `Resend` when the request may go again, else the error to raise."""
        if write_failed and type(exc) is ReadError and not ex.response_started:
            # The server closed while we wrote: whether the kernel then reports our read as a
            # reset or as an EOF is a race; the outcome is the same missing answer.
            exc = RemoteProtocolError(DISCONNECTED_BEFORE_RESPONSE)
        yield from ex._give_back(False)
        if ex.response_started:
            mark_response_started(exc)
        if resend is None:
            resend = Resend(plan)
        if resend.after_http11(
            exc,
            reused=ex.reused,
            response_started=ex.response_started,
            body_sent=ex.body_sent,
            write_failed=write_failed,
        ):
            return resend
        return exc

    # ------------------------------------------------------------------------------ HTTP/2

    def _send_http2(
        self,
        plan: RequestPlan,
        pool: PoolState,
        ticket: Ticket,
        conn: Http2Connection,
        resend: Resend | None,
        whole: bool,
    ) -> Flow:
        """A new stream on `conn` up to the response head (and, `whole`, its body when that
        came with it: see `send`); or, when it may go again elsewhere (refused unprocessed,
        or its reused connection turned out dead), the `Resend` that allowed it."""
        from .http2 import ResponseProgress

        progress = ResponseProgress()
        try:
            if plan.replayable:
                body, chunks = plan.request.read(), None
            else:
                body, chunks = None, plan.request.stream
            head = plan.http2_head()
            expect = self._continue_wait(plan) if plan.expect_continue else None
            sid = yield from conn.start(head, body, chunks, plan.write_timeout, progress, expect)
            while progress.head is None:
                yield from conn.receive(sid, progress, plan.read_timeout)
        except BaseException as exc:
            if resend is None:
                resend = Resend(plan)
            retry = resend.after_http2(exc, conn.state, progress.sid)  # (before the stream ends)
            yield from self.end_stream(pool, ticket, conn, progress.sid)
            if retry:
                return resend
            raise
        response_head = progress.head
        extensions = {
            "http_version": response_head.http_version,
            "network_stream": conn.stream,
            "stream_id": sid,
        }
        if whole and progress.ended:
            arrived = progress.take_arrived() or b""
            yield from self.end_stream(pool, ticket, conn, sid)
            return response_head.status_code, response_head.fields, extensions, arrived
        body_flow = Http2Body(self, pool, ticket, conn, progress, plan)
        return response_head.status_code, response_head.fields, extensions, body_flow

    def end_stream(
        self, pool: PoolState, ticket: Ticket, conn: Http2Connection, sid: int | None
    ) -> Flow:
        """Give the stream back: the pool slot first (so nothing leaks whatever happens next),
        then RST_STREAM(CANCEL) if it is unfinished, then what the pool asked for."""
        # A stream's own failure leaves the connection usable; GOAWAY or a broken one not.
        acts = self.give_back(pool, ticket, not conn.state.is_draining)
        try:
            if sid is not None:
                yield from conn.close_stream(sid)
        finally:
            if acts:
                yield from self.perform(acts)

    def _http2_changed(self, pool: PoolState, conn: Http2Connection) -> Flow:
        """The peer's stream limit changed, GOAWAY, or the connection broke: tell the pool."""
        from .http2 import pool_actions

        with self._lock:
            acts = pool_actions(pool, conn.entry, conn.state)  # type: ignore[arg-type]
        if acts:
            yield from self.perform(acts)


class Http11Body(Http11Exchange):
    """One HTTP/1.1 exchange that also holds its pool ticket: after the head it is the body
    flow, reading the rest as it is asked for. The end, an error or an early close gives the
    connection back (reusable only after a complete response). (One object for both roles: it
    is built on every request.)"""

    __slots__ = ("_engine", "_pool", "_ticket")

    def __init__(
        self,
        engine: Engine,
        pool: PoolState,
        ticket: Ticket,
        plan: RequestPlan,
        conn: Http11Connection,
    ) -> None:
        # The exchange's fields (`Http11Exchange` has no constructor of its own) and the ticket's.
        self.plan = plan
        self.conn = conn
        self.reused = conn.requests > 0
        conn.requests += 1
        self.body_sent = False
        self.head: ResponseReceived | None = None
        self.chunks: list[bytes] = []
        self.ended = False
        self._engine = engine
        self._pool = pool
        self._ticket: Ticket | None = ticket

    def chunks_flow(self) -> Flow:
        """The rest of the body as one flow: it reads as needed and hands out each batch of
        chunks as `(CHUNKS, chunks)`; it returns at the end of the body, the connection given
        back. (One flow per body, not one per read: a 64 MiB body is 1,024 reads.)"""
        while True:
            while not self.chunks:
                if self.ended or self._ticket is None:
                    yield from self.close()
                    return
                try:
                    yield (READ_INTO, self.conn.stream, self, READ_SIZE, self.plan.read_timeout)
                except BaseException as exc:
                    yield from self._give_back(False)
                    renamed = deadline_error(self.plan, exc)
                    if renamed is exc:
                        raise
                    raise renamed from exc
            # (Outside the `try`: a consumer that stops here closes the flow with
            # GeneratorExit, which must not meet a handler that yields.)
            yield (CHUNKS, self.take())

    @property
    def holds_connection(self) -> bool:
        """Whether `close()` has anything to give back."""
        return self._ticket is not None

    def close(self) -> Flow:
        if self._ticket is not None:
            yield from self._give_back(self.finish(self._engine.clock()))

    def release(self) -> Flow | None:
        """Give the connection back without a flow when the pool asks for nothing more (the
        usual case, once the body is read); else the flow that performs what it asks."""
        ticket, self._ticket = self._ticket, None
        if ticket is None:
            return None
        engine = self._engine
        now = engine.clock()
        state = self.conn.state
        acts = engine.give_back(self._pool, ticket, self.finish(now), state.is_switched, now)
        return engine.perform(acts) if acts else None

    def hand_back(self, reusable: bool, now: float | None = None) -> list[Action]:
        """Give the ticket back now (once); the pool's actions to perform."""
        ticket, self._ticket = self._ticket, None
        if ticket is None:
            return []
        return self._engine.give_back(self._pool, ticket, reusable, self.is_switched, now)

    def _give_back(self, reusable: bool) -> Flow:
        acts = self.hand_back(reusable)
        if acts:
            yield from self._engine.perform(acts)

    def __repr__(self) -> str:
        return f"<Http11Body {self.plan.method} {self.plan.host}:{self.plan.port}>"


class Http2Body:
    """The rest of an HTTP/2 response, read from its stream as it is asked for; the end, an
    error, cancellation or an early close gives the stream back (RST_STREAM if unfinished)."""

    __slots__ = ("_conn", "_engine", "_plan", "_pool", "_progress", "_ticket")

    def __init__(
        self,
        engine: Engine,
        pool: PoolState,
        ticket: Ticket,
        conn: Http2Connection,
        progress: ResponseProgress,
        plan: RequestPlan,
    ) -> None:
        self._engine = engine
        self._pool = pool
        self._ticket: Ticket | None = ticket
        self._conn = conn
        self._progress = progress
        self._plan = plan  # (its read timeout is asked for at each wait: a deadline shrinks it)

    def chunks_flow(self) -> Flow:
        """The rest of the body as one flow, as `Http11Body.chunks_flow`: it waits for the
        stream as needed and hands out each batch of chunks as `(CHUNKS, chunks)`."""
        progress = self._progress
        while True:
            try:
                while not progress.chunks:
                    if progress.ended or self._ticket is None:
                        yield from self.close()
                        return
                    timeout = self._plan.read_timeout
                    yield from self._conn.receive(progress.sid, progress, timeout)  # type: ignore[arg-type]
            except BaseException as exc:
                yield from self.close()
                renamed = deadline_error(self._plan, exc)
                if renamed is exc:
                    raise
                raise renamed from exc
            yield (CHUNKS, progress.take())  # (outside the `try`, as in Http11Body)

    def take_arrived(self) -> bytes | None:
        """The rest of the body when all of it has arrived (no read needed), else None."""
        return self._progress.take_arrived()

    @property
    def holds_connection(self) -> bool:
        """Whether `close()` has anything to give back."""
        return self._ticket is not None

    def close(self) -> Flow:
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            yield from self._engine.end_stream(self._pool, ticket, self._conn, self._progress.sid)

    def release(self) -> Flow:
        """The flow that gives the stream back (it may owe the peer an RST_STREAM)."""
        return self.close()

    def __repr__(self) -> str:
        return f"<Http2Body stream {self._progress.sid}>"
