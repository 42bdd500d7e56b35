"""Servers recycle connections: no request is lost to it.

HTTP/2: a server that sends GOAWAY after a few requests per connection (nginx's
`keepalive_requests`, a deploy draining connections) refuses the streams above its last stream
id; under load one request can be refused several times, and every refusal is resent. A
response that arrived whole survives the server closing right after it (EOF, or a failed write
of our acknowledgements). An upload that the server credits frame by frame is progress, not a
control-frame flood. HTTP/1.1: a resend after a dead reused connection goes to a fresh
connection, never to another idle connection the same restart closed.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from types import SimpleNamespace
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
import trustme

from httplib._config import Limits
from httplib._core.effects import READ, WAIT, WRITE, WRITE_SHIELDED, Flow, Runtime
from httplib._core.h2_connection import Http2Connection
from httplib._core.http2 import Http2State, ResponseProgress
from httplib._core.resend import (
    MAX_DRAIN_RESENDS,
    MAX_REFUSED_RETRIES,
    MAX_STALE_RESENDS,
    Resend,
    is_connection_cut,
    is_refused,
)
from httplib._exceptions import RemoteProtocolError, WriteError
from httplib._models import Request
from servers.h2_peer import run_h2_peer
from servers.raw import read_request_head, scripted_server
from support.stepping import no_pool_changes, thread_runtime
from transport.transport_harness import Mode, Runner

HEAD = (b"GET", b"http", b"example.test", b"/", [])


async def fetch(client: Any, url: str) -> bytes:
    response, body = await client.get(url)
    assert response.status_code == 200
    return body  # type: ignore[no-any-return]


# ----------------------------------------------------------------------- end to end, HTTP/2


def test_a_server_recycling_every_few_requests_loses_none(run_all: Runner) -> None:
    """GOAWAY after every 3 requests per connection, 40 requests in flight: most are refused,
    many more than once, and every one succeeds on a later connection."""
    with run_h2_peer(goaway_after=3) as peer:

        async def case(mode: Mode) -> None:
            client = mode.transport(http1=False, http2=True)
            paths = [f"/r{i}" for i in range(40)]
            bodies = await mode.gather([lambda p=p: fetch(client, peer.url + p) for p in paths])
            assert bodies == [p.encode() for p in paths]
            await client.close()

        run_all(case)
        # 40 requests at 3 per connection: at least 14 connections, so many were refused
        # more than MAX_REFUSED_RETRIES times (the old fixed cap).
        assert peer.connections >= 14


def test_an_upload_credited_frame_by_frame_is_not_a_flood(run: Runner) -> None:
    """lighttpd gives back each DATA frame's credit at once (2 WINDOW_UPDATEs per 16 KiB, over
    a thousand for 8 MiB) before it answers: they answer our DATA, so they are no flood."""
    with run_h2_peer(credit_each_frame=True) as peer:

        async def case(mode: Mode) -> None:
            client = mode.transport(http1=False, http2=True)
            response = await client.send("POST", peer.url + "/upload", content=b"u" * (8 << 20))
            assert await client.read(response) == b"8388608"
            await client.close()

        run(case)


# ------------------------------------------------------------------- the state, frame by frame


def _server() -> h2.connection.H2Connection:
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    server.initiate_connection()
    return server


def _open(state: Http2State, server: h2.connection.H2Connection, streams: int) -> list[int]:
    """Handshake both sides and open `streams` GETs; the server has seen them all."""
    server.receive_data(state.initiate())
    state.receive_data(server.data_to_send())
    sids = [state.start_request(*HEAD, end_stream=True) for _ in range(streams)]
    server.receive_data(state.data_to_send())
    return sids


def _answer(server: h2.connection.H2Connection, sid: int, body: bytes) -> None:
    server.send_headers(sid, [(b":status", b"200"), (b"content-length", b"%d" % len(body))])
    server.send_data(sid, body, end_stream=True)


def test_a_close_right_after_the_last_response_keeps_it() -> None:
    """The response and the EOF arrive before the request's flow takes its events (another
    flow was reading): the response is complete, so the EOF fails nobody's request but the
    unanswered one."""
    state, server = Http2State(), _server()
    done, unanswered = _open(state, server, 2)
    _answer(server, done, b"whole")
    state.receive_data(server.data_to_send())
    touched, _ = state.receive_data(b"")
    assert touched == {unanswered}
    progress = ResponseProgress()
    progress.apply(state.take(done))
    assert progress.head is not None
    assert progress.head.status_code == 200
    assert (b"".join(progress.take()), progress.ended) == (b"whole", True)
    [reset] = state.take(unanswered)
    assert isinstance(reset.error, RemoteProtocolError)  # type: ignore[union-attr]


def test_a_failed_write_fails_only_the_streams_still_sending() -> None:
    """The server closed after sending: our write fails, but its last frames are still buffered
    on our side. The upload still sending fails; the download reads on to its end."""
    state, server = Http2State(), _server()
    server.receive_data(state.initiate())
    state.receive_data(server.data_to_send())
    download = state.start_request(*HEAD, end_stream=True)
    upload = state.start_request(b"POST", b"http", b"example.test", b"/up", [], end_stream=False)
    server.receive_data(state.data_to_send())
    server.send_headers(download, [(b":status", b"200")])
    server.send_data(download, b"first")
    state.receive_data(server.data_to_send())
    assert state.write_failed(WriteError("Connection closed")) == {upload}
    [reset] = state.take(upload)
    assert isinstance(reset.error, WriteError)  # type: ignore[union-attr]
    server.send_data(download, b" second", end_stream=True)
    state.receive_data(server.data_to_send())
    state.receive_data(b"")  # then the EOF
    progress = ResponseProgress()
    progress.apply(state.take(download))
    assert (b"".join(progress.take()), progress.ended) == (b"first second", True)
    assert state.data_to_send() == b""  # nothing is written after a failed write


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "unanswered"])
def test_a_body_cut_by_a_closed_connection_reads_on_for_its_answer(answered: bool) -> None:
    """The server answered the upload before taking its whole body, and closed (nginx after
    its GOAWAY): our next DATA write fails while that answer is still unread on our side. The
    upload reads on: the answer is its outcome; with none, the EOF fails it with the write's
    error. A write that timed out (`read_on` False) fails it at once, as before."""
    state, server = Http2State(), _server()
    server.receive_data(state.initiate())
    state.receive_data(server.data_to_send())
    upload = state.start_request(b"POST", b"http", b"example.test", b"/up", [], end_stream=False)
    state.send_data(upload, b"part of the body")
    server.receive_data(state.data_to_send())
    if answered:
        _answer(server, upload, b"stored")
    unread = server.data_to_send()
    assert state.write_failed(WriteError("Connection closed"), read_on=True) == {upload}
    assert state.take(upload) == []
    assert state.body_cut(upload)
    state.receive_data(unread)
    state.receive_data(b"")  # then the EOF
    events = state.take(upload)
    if answered:
        progress = ResponseProgress()
        progress.apply(events)
        assert progress.head is not None
        assert (progress.head.status_code, b"".join(progress.take())) == (200, b"stored")
        assert progress.ended
    else:
        [reset] = events
        assert isinstance(reset.error, WriteError)  # type: ignore[union-attr]
        assert str(reset.error) == "Connection closed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "headers", "resent"),
    [("GET", {}, True), ("POST", {"Idempotency-Key": "k"}, True), ("POST", {}, False)],
)
def test_a_head_in_a_failed_write_on_a_new_connection(
    method: str, headers: dict[str, str], resent: bool
) -> None:
    """A new connection that served nothing: the write carrying our HEADERS fails (a restart
    dropped the connection it had just accepted). The connection was dead before that write,
    so an idempotent request goes again (at most `MAX_STALE_RESENDS` times); a plain POST with
    a body does not (part of it may have gone out). A read that fails there is not enough."""
    plan: Any = SimpleNamespace(request=Request(method, "http://a/", headers=headers))
    plan.replayable = True
    resend = Resend(plan)
    for attempt in range(MAX_STALE_RESENDS + 1):
        state, server = Http2State(), _server()
        server.receive_data(state.initiate())
        state.receive_data(server.data_to_send())
        sid = state.start_request(method.encode(), b"http", b"a", b"/", [], end_stream=False)
        state.send_data(sid, b"body")
        assert state.write_failed(WriteError("Connection closed")) == {sid}
        [reset] = state.take(sid)
        error = reset.error  # type: ignore[union-attr]
        assert isinstance(error, WriteError)
        assert not state.served
        assert resend.after_http2(error, state, sid) is (resent and attempt < MAX_STALE_RESENDS)
    state, server = Http2State(), _server()
    [sid] = _open(state, server, 1)
    state.receive_data(b"")  # EOF: a read that fails
    [reset] = state.take(sid)
    fresh = Resend(plan)
    assert not fresh.after_http2(reset.error, state, sid)  # type: ignore[union-attr]


def test_a_request_started_on_a_connection_already_broken_is_refused_unsent() -> None:
    """Another thread's read met the EOF between the pool handing the connection out and this
    request's HEADERS: nothing of it left, so it is refused (sent again elsewhere, any method);
    and what the broken connection raises later still says it was cut (the retry policy reads
    that mark on every copy)."""
    state, server = Http2State(), _server()
    [upload] = _open(state, server, 1)
    state.receive_data(b"")  # EOF
    with pytest.raises(RemoteProtocolError, match="failed before the request was sent") as info:
        state.start_request(b"POST", b"http", b"example.test", b"/up", [], end_stream=False)
    assert is_refused(info.value)
    with pytest.raises(RemoteProtocolError, match="Server disconnected") as later:
        state.send_data(upload, b"more")
    assert is_connection_cut(later.value)
    [reset] = state.take(upload)
    assert is_connection_cut(reset.error)  # type: ignore[union-attr]


def test_a_refused_stream_stays_refused_when_the_connection_then_breaks() -> None:
    """GOAWAY refuses stream 3 (resendable); the close that follows does not turn it into a
    plain failure."""
    state, server = Http2State(), _server()
    first, second = _open(state, server, 2)
    server.close_connection(last_stream_id=first)
    state.receive_data(server.data_to_send())
    state.receive_data(b"")
    [refusal] = state.take(second)
    assert refusal.retryable
    assert is_refused(refusal.error)
    assert type(refusal.error) is RemoteProtocolError  # type: ignore[union-attr]
    assert state.served  # it named stream 1 processed


@pytest.mark.parametrize(("method", "headers"), [("GET", {}), ("POST", {"Idempotency-Key": "k"})])
def test_a_head_then_a_drain_cut_in_one_read_goes_again(
    method: str, headers: dict[str, str]
) -> None:
    """The head, GOAWAY naming the stream processed, and the close arrive together: the cut is
    raised while the flow still waits for the head, so nothing reached the caller, and an
    idempotent request goes again (at most `MAX_DRAIN_RESENDS` times); a plain POST does not."""
    plan: Any = SimpleNamespace(request=Request(method, "http://a/", headers=headers))
    plan.replayable = True
    resend = Resend(plan)
    for attempt in range(MAX_DRAIN_RESENDS + 1):
        state, server = Http2State(), _server()
        [sid] = _open(state, server, 1)
        server.send_headers(sid, [(b":status", b"200"), (b"content-length", b"10")])
        server.close_connection(last_stream_id=sid)
        state.receive_data(server.data_to_send())
        state.receive_data(b"")
        progress = ResponseProgress()
        with pytest.raises(RemoteProtocolError, match="Server disconnected") as cut:
            progress.apply(state.take(sid))
        assert progress.head is not None
        assert resend.after_http2(cut.value, state, sid) is (attempt < MAX_DRAIN_RESENDS)
    plain: Any = SimpleNamespace(request=Request("POST", "http://a/"), replayable=True)
    assert not Resend(plain).after_http2(cut.value, state, sid)


def _protocol_error_reset(sid: int) -> bytes:
    """RST_STREAM(PROTOCOL_ERROR) for `sid`, built by hand: h2 sends nothing after its own
    GOAWAY, where lighttpd goes on resetting the streams it served."""
    from hyperframe.frame import RstStreamFrame

    return bytes(RstStreamFrame(sid, error_code=1).serialize())


@pytest.mark.parametrize("answered", [False, True], ids=["before-the-head", "after-the-head"])
def test_a_stream_reset_by_a_draining_server_goes_again(answered: bool) -> None:
    """After its GOAWAY names the stream processed, the server resets it (lighttpd resets every
    stream it still serves when it meets an error while draining): a cut by its draining, so a
    GET goes again (at most `MAX_DRAIN_RESENDS` times once its head came); a POST whose body
    went out does not, and neither does a reset without GOAWAY."""
    plan: Any = SimpleNamespace(request=Request("GET", "http://a/"), replayable=True)
    resend = Resend(plan)
    limit = MAX_DRAIN_RESENDS if answered else MAX_STALE_RESENDS
    for attempt in range(limit + 1):
        state, server = Http2State(), _server()
        [sid] = _open(state, server, 1)
        if answered:
            server.send_headers(sid, [(b":status", b"200"), (b"content-length", b"10")])
        server.close_connection(last_stream_id=sid)
        state.receive_data(server.data_to_send() + _protocol_error_reset(sid))
        progress = ResponseProgress()
        with pytest.raises(RemoteProtocolError, match="reset HTTP/2 stream 1") as reset:
            progress.apply(state.take(sid))
        assert (progress.head is not None) is answered
        assert resend.after_http2(reset.value, state, sid) is (attempt < limit)
    post: Any = SimpleNamespace(request=Request("POST", "http://a/", content=b"x"))
    post.replayable = True
    state, server = Http2State(), _server()
    server.receive_data(state.initiate())
    state.receive_data(server.data_to_send())
    sid = state.start_request(b"POST", *HEAD[1:], end_stream=False)
    assert state.send_data(sid, b"x") == 1
    state.end_stream(sid)
    server.receive_data(state.data_to_send())
    server.close_connection(last_stream_id=sid)
    state.receive_data(server.data_to_send() + _protocol_error_reset(sid))
    [post_reset] = state.take(sid)
    assert not Resend(post).after_http2(post_reset.error, state, sid)  # type: ignore[arg-type]
    state, server = Http2State(), _server()
    [sid] = _open(state, server, 1)
    state.receive_data(server.data_to_send() + _protocol_error_reset(sid))
    [plain_reset] = state.take(sid)
    assert not Resend(plan).after_http2(plain_reset.error, state, sid)  # type: ignore[arg-type]


def test_a_refused_request_cut_on_its_new_connection_goes_again() -> None:
    """Refused by a GOAWAY, the GET goes to a new connection, which the restarting server's
    old process closes before answering anything: the same restart, so it goes again (at most
    `MAX_STALE_RESENDS` times). The same cut on a first attempt is raised."""
    plan: Any = SimpleNamespace(request=Request("GET", "http://a/"), replayable=True)
    resend = Resend(plan)
    state, server = Http2State(), _server()
    first, second = _open(state, server, 2)
    server.close_connection(last_stream_id=first)
    state.receive_data(server.data_to_send())
    [refusal] = state.take(second)
    assert resend.after_http2(refusal.error, state, second)  # type: ignore[arg-type]
    for attempt in range(MAX_STALE_RESENDS + 1):
        state, server = Http2State(), _server()
        [sid] = _open(state, server, 1)
        state.receive_data(b"")
        [cut] = state.take(sid)
        assert not state.served
        again = resend.after_http2(cut.error, state, sid)  # type: ignore[arg-type]
        assert again is (attempt < MAX_STALE_RESENDS)
    assert not Resend(plan).after_http2(cut.error, state, sid)  # type: ignore[arg-type]


def test_a_server_that_served_nothing_is_not_served() -> None:
    """GOAWAY(last 0) on a connection that answered nothing: those refusals are the ones
    `MAX_REFUSED_RETRIES` bounds."""
    state, server = Http2State(), _server()
    _open(state, server, 1)
    server.close_connection(last_stream_id=0)
    state.receive_data(server.data_to_send())
    assert not state.served
    assert MAX_REFUSED_RETRIES >= 1


def test_window_updates_beyond_our_data_still_count_as_a_flood() -> None:
    """Credit for DATA we never sent explains nothing: a WINDOW_UPDATE flood is cut off."""
    from hyperframe.frame import WindowUpdateFrame

    from httplib._core.http2 import MAX_CONTROL_FRAMES

    state, server = Http2State(), _server()
    [sid] = _open(state, server, 1)
    flood = WindowUpdateFrame(0, window_increment=1).serialize() * (MAX_CONTROL_FRAMES + 10)
    touched, _ = state.receive_data(flood)
    assert sid in touched
    assert isinstance(state.error, RemoteProtocolError)
    assert "flood" in str(state.error)


# ------------------------------------------------------- the connection's flows, effect by effect


class _Script:
    """Performs a flow's effects by hand: READ returns the next scripted bytes, WRITE hands the
    bytes to the server's h2 state, or fails once `fail_writes` is set."""

    def __init__(self, server: h2.connection.H2Connection) -> None:
        self.server = server
        self.reads: list[bytes] = []
        self.fail_writes = False

    def run(self, flow: Flow) -> Any:
        result: Any = None
        error: BaseException | None = None
        for _ in range(100):  # every flow here takes a handful of effects
            try:
                effect = flow.send(result) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value
            result, error = None, None
            kind = effect[0]
            if kind in (WRITE, WRITE_SHIELDED):
                if self.fail_writes:
                    error = WriteError("Connection closed")
                else:
                    self.server.receive_data(effect[2])
            elif kind == READ:
                result = self.reads.pop(0)
            else:
                raise AssertionError(f"unexpected effect {effect!r}")
        raise AssertionError("the flow did not finish")


def _runtime() -> Runtime:
    return thread_runtime(clock=time.monotonic, probe_after=1.0)


def _connected() -> tuple[h2.connection.H2Connection, _Script, Http2Connection]:
    """A server, a script performing the client's effects, and a client connection past its
    handshake."""
    server = _server()
    script = _Script(server)
    conn = Http2Connection(None, _runtime(), no_pool_changes)
    script.reads.append(server.data_to_send())
    script.run(conn.handshake(5.0))
    return server, script, conn


def test_a_whole_response_survives_a_failed_acknowledgement() -> None:
    """The server answers, pings and closes: writing the PING's acknowledgement fails. The
    response had arrived whole, so the request succeeds; the connection is done."""
    server, script, conn = _connected()
    progress = ResponseProgress()
    sid = script.run(conn.start(HEAD, None, None, 5.0, progress))
    server.clear_outbound_data_buffer()
    _answer(server, sid, b"complete")
    server.ping(b"12345678")
    script.reads.append(server.data_to_send())
    script.fail_writes = True
    script.run(conn.receive(sid, progress, 5.0))
    assert progress.head is not None
    assert progress.head.status_code == 200
    assert (b"".join(progress.take()), progress.ended) == (b"complete", True)
    assert isinstance(conn.state.write_error, WriteError)
    assert conn.state.is_draining


def test_a_connection_that_closes_under_an_upload_returns_the_answer_already_sent() -> None:
    """The same through the connection's flows: the upload's second DATA write fails, and the
    flow goes on to read the answer the server had sent instead of raising `WriteError`."""
    server, script, conn = _connected()
    progress = ResponseProgress()
    head = (b"POST", b"http", b"example.test", b"/up", [])
    started = conn.start(head, b"x" * 40_000, None, 5.0, progress)  # (more than one DATA)
    writes = 0
    effect = started.send(None)
    while True:
        try:
            if effect[0] in (WRITE, WRITE_SHIELDED):
                writes += 1
                if writes == 1:  # HEADERS and the first DATA frames reach the server
                    server.receive_data(effect[2])
                    server.clear_outbound_data_buffer()
                    _answer(server, 1, b"stored")
                    script.reads.append(server.data_to_send())
                    effect = started.send(None)
                else:
                    effect = started.throw(WriteError("Connection closed"))
            else:
                raise AssertionError(f"unexpected effect {effect!r}")
        except StopIteration as stop:
            sid = stop.value
            break
    assert writes == 2
    script.run(conn.receive(sid, progress, 5.0))
    assert progress.head is not None
    assert (progress.head.status_code, b"".join(progress.take())) == (200, b"stored")


# ----------------------------------------------------------------------- end to end, HTTP/1.1


class _Reloading:
    """HTTP/1.1 keep-alive server; after `reload()`, every connection accepted before it closes
    on its next request without answering (the old workers of a graceful restart)."""

    def __init__(self, connections: int) -> None:
        self.generation = 0
        self._together = threading.Barrier(connections, timeout=10)

    def handler(self, conn: socket.socket) -> None:
        born = self.generation
        pending = b""
        first = True
        while True:
            head, pending = read_request_head(conn, pending)
            if not head or born < self.generation:
                return  # closed unanswered
            if first and born == 0:
                self._together.wait()  # the first requests hold until all connections exist
                first = False
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def reload(self) -> None:
        self.generation += 1


def test_a_resend_after_a_restart_goes_to_a_fresh_connection(run: Runner) -> None:
    """Four idle connections die in one restart. The first request after it finds one dead and
    is resent on a new connection, not on another of the dead idle ones."""
    server_script = _Reloading(4)
    with scripted_server(server_script.handler) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport(limits=Limits(max_keepalive_connections=4))
            warm = await mode.gather([lambda: fetch(client, server.url) for _ in range(4)])
            assert warm == [b"ok"] * 4
            assert server.connections_accepted == 4
            server_script.reload()
            for _ in range(3):
                assert await fetch(client, server.url + "/after") == b"ok"
            assert server.connections_accepted == 5
            await client.close()

        run(case)


# ---------------------------------------------------------------------------------- ALPN


def test_http2_is_offered_first_with_the_users_ssl_context(
    run: Runner, tls_ca: trustme.CA, client_ssl_context: ssl.SSLContext
) -> None:
    """Servers that honour the client's ALPN order (lighttpd) speak HTTP/2 only when "h2" comes
    first; the list is read off the ClientHello as the server received it."""
    hellos: list[bytes] = []

    def record(conn: Any, direction: str, version: Any, kind: Any, msg: Any, data: bytes) -> None:
        if direction == "read" and data[:1] == b"\x01":  # handshake type 1: ClientHello
            hellos.append(data)

    server_ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1").configure_cert(server_ssl_context)
    server_ssl_context._msg_callback = record  # type: ignore[attr-defined]

    def handler(conn: socket.socket) -> None:
        head, _ = read_request_head(conn)
        if head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with scripted_server(handler, ssl_context=server_ssl_context) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport(verify=client_ssl_context, http2=True)
            assert await fetch(client, server.url) == b"ok"
            await client.close()

        run(case)
    assert hellos
    # RFC 7301 section 3.1: the protocol list, each name prefixed by its length, in order.
    assert all(b"\x02h2\x08http/1.1" in hello for hello in hellos)


def test_an_upload_above_goaway_s_last_stream_goes_again_at_once(run: Runner) -> None:
    """An 8 MiB upload waiting for send window on a stream the server's GOAWAY left
    unprocessed is resent on a new connection at once, not after the write timeout."""
    with run_h2_peer(goaway_after=1, answer_after=2) as peer:

        async def case(mode: Mode) -> None:
            client = mode.transport(http1=False, http2=True)

            async def upload() -> bytes:
                response = await client.send("POST", peer.url + "/upload", content=b"u" * (8 << 20))
                return await client.read(response)  # type: ignore[no-any-return]

            started = time.monotonic()
            first, uploaded = await mode.gather([lambda: fetch(client, peer.url + "/a"), upload])
            assert (first, uploaded) == (b"/a", b"8388608")
            assert time.monotonic() - started < 5  # the transport's write timeout is 10 s
            await client.close()

        run(case)
        assert peer.connections >= 2


def test_a_reader_whose_stream_a_failed_write_ended_hands_the_reading_on() -> None:
    """An upload waiting for send window is the connection's reader; a GET waits for it. The
    server pings and closes, so the upload's acknowledgement write fails, which fails the
    upload (still sending) but not the GET. The upload stops reading: it must wake the GET to
    read on, or the GET would wait out its whole timeout (seen in the soak on trio)."""
    server = _server()
    script = _Script(server)
    conn = Http2Connection(None, _runtime(), no_pool_changes)
    script.reads.append(server.data_to_send())
    script.run(conn.handshake(5.0))
    post = (b"POST", b"http", b"example.test", b"/up", [])
    upload = conn.start(post, b"u" * (1 << 20), None, 5.0, ResponseProgress())
    effect = next(upload)
    for _ in range(100):  # its head and what the window allows, then it reads
        if effect[0] == READ:
            break
        server.receive_data(effect[2])
        effect = upload.send(None)
    assert effect[0] == READ
    progress = ResponseProgress()
    get_sid = script.run(conn.start(HEAD, None, None, 5.0, progress))
    receive = conn.receive(get_sid, progress, 5.0)
    wait = next(receive)
    assert wait[0] == WAIT
    server.ping(b"12345678")
    ack = upload.send(server.data_to_send())
    assert ack[0] in (WRITE, WRITE_SHIELDED)
    with pytest.raises(StopIteration):  # the upload's flow ends: its stream has news
        upload.throw(WriteError("Connection closed"))
    assert wait[1].is_set()  # the GET was woken to take over reading
