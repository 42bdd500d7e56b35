"""The request side HTTP/2 builds in the core instead of through h2, and the batched writes.

Every request's HEADERS frame is framed by `Http2State` with a memoized HPACK block; these tests
check with h2's server side (every frame exact) that what the server decodes is what was sent,
whatever the encoder's dynamic table went through, and that the RFC 9113 checks h2 did on that
path still hold. The shell writes a round of requests in one write; a write that fails fails
the requests whose head it carried.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from httplib._core.effects import READ, WAIT, WRITE_SHIELDED, Runtime
from httplib._core.events import StreamEnded
from httplib._core.h2_connection import Http2Connection
from httplib._core.http2 import (
    CONNECTION_WINDOW,
    STREAM_WINDOW,
    Http2State,
    ResponseProgress,
    StreamReset,
)
from httplib._core.http11_parse import MAX_INTERIM
from httplib._core.resend import is_refused
from httplib._exceptions import RemoteProtocolError, WriteError
from support.events import response_head

HEAD = [(b":status", b"200")]


class Server:
    """An h2 server connection wired to a client `Http2State`."""

    def __init__(self, **settings: int) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(
                {getattr(h2.settings.SettingCodes, k): v for k, v in settings.items()}
            )
        self.client = Http2State()
        self.events: list[h2.events.Event] = []
        self.events.extend(self.conn.receive_data(self.client.initiate()))
        self.pump()

    def pump(self) -> None:
        while True:
            out = self.conn.data_to_send()
            if out:
                self.client.receive_data(out)
            back = self.client.data_to_send()
            if back:
                self.events.extend(self.conn.receive_data(back))
            if not out and not back:
                return

    def requests(self) -> list[h2.events.RequestReceived]:
        found = [e for e in self.events if isinstance(e, h2.events.RequestReceived)]
        self.events.clear()
        return found

    def finish(self, sid: int) -> None:
        """Deliver the request if it is still queued, answer it, close it on our side."""
        self.pump()
        self.conn.send_headers(sid, HEAD, end_stream=True)
        self.pump()
        assert self.client.take(sid)[-1] is not None
        self.client.close_stream(sid)
        self.pump()
        self.events.clear()


def _get(client: Http2State, fields: list[tuple[bytes, bytes]], path: bytes = b"/") -> int:
    return client.start_request(b"GET", b"https", b"example.com", path, fields, end_stream=True)


def test_repeated_requests_decode_the_same_while_the_table_changes() -> None:
    """The memoized blocks refer to the encoder's dynamic table: a request that adds entries
    (renumbering the others) must not let a block encoded before it be reused."""
    server = Server()
    plain = [(b"accept", b"*/*"), (b"user-agent", b"test/1")]
    other = [(b"x-token", b"abc"), *plain]
    for fields, path in [(plain, b"/a"), (plain, b"/a"), (other, b"/b"), (plain, b"/a")] * 3:
        sid = _get(server.client, fields, path)
        server.pump()
        (request,) = server.requests()
        assert request.headers[3:] == [(b":path", path), *fields]
        server.finish(sid)


def test_a_table_size_change_reaches_the_server_and_the_blocks_stay_right() -> None:
    """SETTINGS_HEADER_TABLE_SIZE lowered mid-connection: the next block carries the size
    update (RFC 7541 section 6.3) and later ones decode against the smaller table."""
    server = Server()
    fields = [(b"x-long", b"v" * 60), (b"user-agent", b"test/1")]
    for _ in range(2):
        server.finish(_get(server.client, fields))
    server.conn.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 64})
    server.pump()
    for _ in range(3):
        sid = _get(server.client, fields)
        server.pump()
        (request,) = server.requests()
        assert request.headers[4:] == fields
        server.finish(sid)


def test_a_head_larger_than_a_frame_goes_in_continuation_frames() -> None:
    """RFC 9113 section 4.3: a header block past SETTINGS_MAX_FRAME_SIZE continues in
    CONTINUATION frames; the server reassembles it."""
    server = Server()
    huge = [(b"x-big", bytes(range(65, 91)) * 1500)]  # ~39 KB: three frames of 16 KiB
    client = server.client
    sid = client.start_request(b"POST", b"https", b"example.com", b"/", huge, end_stream=False)
    out = server.client.data_to_send()
    kinds = []
    offset = 0
    while offset < len(out):
        length = int.from_bytes(out[offset : offset + 3], "big")
        kinds.append(out[offset + 3])
        offset += 9 + length
    assert kinds == [0x1, 0x9, 0x9]  # HEADERS, then CONTINUATION
    server.events.extend(server.conn.receive_data(out))
    (request,) = server.requests()
    assert request.headers[4:] == huge
    assert request.stream_ended is None  # the body is still to come
    server.client.end_stream(sid)
    server.pump()
    assert any(isinstance(e, h2.events.StreamEnded) for e in server.events)


def test_a_lowered_stream_limit_refuses_the_next_request_as_resendable() -> None:
    """RFC 9113 section 5.1.2: the server lowered SETTINGS_MAX_CONCURRENT_STREAMS below the
    streams we have open; a new one is refused before anything is sent, and may go elsewhere."""
    server = Server()
    first = _get(server.client, [])
    second = _get(server.client, [])
    server.pump()
    server.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 2})
    server.pump()
    with pytest.raises(Exception) as caught:
        _get(server.client, [])
    assert is_refused(caught.value)
    server.finish(first)
    third = _get(server.client, [])  # a slot is free again
    server.pump()
    assert [r.stream_id for r in server.requests()] == [third]
    assert second in server.conn.streams


def test_many_sequential_streams_keep_h2s_stream_table_bounded() -> None:
    """h2 forgets closed streams only when asked to count open ones; the core asks now and
    then, so a long-lived connection does not keep every stream it ever had."""
    server = Server()
    for _ in range(1000):
        server.finish(_get(server.client, []))
    assert len(server.client._conn.streams) <= 100


def test_late_data_on_a_cancelled_stream_is_answered_and_harms_no_other_stream() -> None:
    """A stream we reset (RST_STREAM CANCEL) may still receive frames the server sent before
    it saw the reset (RFC 9113 section 5.1): they are a stream error at most; the other stream
    completes."""
    server = Server()
    cancelled, other = _get(server.client, []), _get(server.client, [])
    server.pump()
    server.client.close_stream(cancelled)
    server.client.data_to_send()  # the RST_STREAM, not delivered yet
    frame = struct.pack(">I", 5)[1:] + bytes([0x0, 0x0]) + struct.pack(">I", cancelled) + b"late!"
    touched, _ = server.client.receive_data(frame)
    assert touched == set()
    assert server.client.error is None
    server.conn.send_headers(other, HEAD)
    server.conn.send_data(other, b"fine", end_stream=True)
    server.client.receive_data(server.conn.data_to_send())
    progress = ResponseProgress()
    progress.apply(server.client.take(other))
    assert (progress.head is not None, b"".join(progress.take()), progress.ended) == (
        True,
        b"fine",
        True,
    )


def test_data_after_a_stream_ended_and_was_forgotten_harms_no_other_stream() -> None:
    """`close_stream` makes h2 forget an ended stream at once (h2 itself did so on its next
    request): a late DATA frame on it still counts against the connection window and is
    answered with RST_STREAM(STREAM_CLOSED) as h2 answers it; the open stream is untouched."""
    server = Server()
    done, waiting = _get(server.client, []), _get(server.client, [])
    server.finish(done)
    assert done not in server.client._conn.streams
    frame = struct.pack(">I", 5)[1:] + bytes([0x0, 0x0]) + struct.pack(">I", done) + b"late!"
    touched, _ = server.client.receive_data(frame)
    assert touched == set()
    assert server.client.error is None
    back = server.client.data_to_send()
    assert back[3] == 0x3  # RST_STREAM
    assert struct.unpack(">I", back[5:9])[0] == done
    assert struct.unpack(">I", back[9:13])[0] == h2.errors.ErrorCodes.STREAM_CLOSED
    server.conn.send_headers(waiting, HEAD, end_stream=True)
    server.client.receive_data(server.conn.data_to_send())
    (head, ended) = server.client.take(waiting)
    assert head == response_head(200, b"", [], b"HTTP/2")
    assert isinstance(ended, StreamEnded)


def test_a_body_shorter_than_its_content_length_is_an_error() -> None:
    """RFC 9113 section 8.1.1: DATA that ends the stream short of content-length makes the
    response malformed; the head parsed in the core still set h2's length check."""
    server = Server()
    sid = _get(server.client, [])
    server.pump()
    server.conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"10")])
    server.conn.send_data(sid, b"short", end_stream=True)
    touched, _ = server.client.receive_data(server.conn.data_to_send())
    assert sid in touched
    *_, reset = server.client.take(sid)
    assert isinstance(reset, StreamReset)
    assert isinstance(reset.error, RemoteProtocolError)


def test_an_informational_head_then_the_response() -> None:
    """A 1xx head (RFC 9110 section 15.2) goes through h2's own path and is skipped; the final
    head after it is the response."""
    server = Server()
    sid = _get(server.client, [])
    server.pump()
    server.conn.send_headers(sid, [(b":status", b"103"), (b"link", b"</s.css>")])
    server.conn.send_headers(sid, [(b":status", b"200")], end_stream=True)
    server.client.receive_data(server.conn.data_to_send())
    assert server.client.take(sid) == [
        response_head(200, b"", [], b"HTTP/2"),
        StreamEnded([]),
    ]


def test_interim_heads_are_capped_per_stream() -> None:
    """At most MAX_INTERIM 1xx heads before the final one (each is progress, so a server
    sending them forever would keep the request inside its read timeout): one more fails the
    stream, which is reset with PROTOCOL_ERROR, while the connection serves the next request."""
    server = Server()
    patient = _get(server.client, [])
    flooded = _get(server.client, [])
    server.pump()
    for _ in range(MAX_INTERIM):
        server.conn.send_headers(patient, [(b":status", b"102")])
    server.conn.send_headers(patient, HEAD, end_stream=True)
    for _ in range(MAX_INTERIM + 1):
        server.conn.send_headers(flooded, [(b":status", b"103")])
    server.client.receive_data(server.conn.data_to_send())
    assert server.client.take(patient) == [
        response_head(200, b"", [], b"HTTP/2"),
        StreamEnded([]),
    ]
    [reset] = server.client.take(flooded)
    assert isinstance(reset, StreamReset)
    assert isinstance(reset.error, RemoteProtocolError)
    assert f"More than {MAX_INTERIM} interim (1xx) responses" in str(reset.error)
    server.pump()
    resets = [e for e in server.events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [
        (flooded, h2.errors.ErrorCodes.PROTOCOL_ERROR)
    ]
    server.client.close_stream(flooded)
    server.client.close_stream(patient)
    server.events.clear()
    after = _get(server.client, [])
    server.finish(after)


def test_data_taken_from_finished_streams_reopens_the_connection_window() -> None:
    """Finished responses give their connection credit back in one WINDOW_UPDATE per round
    (RFC 9113 section 6.9.1): taking 9 whole 1 MiB responses lets the server send again."""
    server = Server()
    sids = [_get(server.client, []) for _ in range(9)]
    server.pump()
    for sid in sids:
        server.conn.send_headers(sid, HEAD)
        for start in range(0, STREAM_WINDOW, 16384):
            server.conn.send_data(sid, b"a" * 16384, end_stream=start + 16384 == STREAM_WINDOW)
    server.client.receive_data(server.conn.data_to_send())
    assert server.conn.outbound_flow_control_window == CONNECTION_WINDOW - 9 * STREAM_WINDOW
    for sid in sids:
        events = server.client.take(sid)
        assert isinstance(events[-1], StreamEnded)
    server.pump()
    assert server.conn.outbound_flow_control_window == CONNECTION_WINDOW


# ------------------------------------------------------------------ the shell's batched writes


class _Waker:
    def __init__(self) -> None:
        self.woken = False


def _runtime() -> Runtime:
    import threading

    def wake(waker: _Waker) -> None:
        waker.woken = True

    return Runtime(
        lock=threading.Lock(),
        new_waker=_Waker,
        wake=wake,
        clock=lambda: 0.0,
        probe_after=0.0,
    )


class _Flow:
    """A flow driven by hand: `step(result)` sends a result and returns the next effect."""

    def __init__(self, gen: Iterator[Any]) -> None:
        self.gen = gen
        self.effect: Any = next(gen)
        self.result: Any = None

    def step(self, value: Any = None) -> Any:
        try:
            self.effect = self.gen.send(value)
        except StopIteration as stop:
            self.effect, self.result = None, stop.value
        return self.effect

    def fail(self, error: BaseException) -> Any:
        try:
            self.effect = self.gen.throw(error)
        except StopIteration as stop:
            self.effect, self.result = None, stop.value
        return self.effect


def _no_change(conn: Http2Connection) -> Iterator[Any]:
    return iter(())


def _h2_connection() -> tuple[Http2Connection, Server]:
    server = Server()
    conn = Http2Connection(object(), _runtime(), _no_change)
    conn.state = server.client
    return conn, server


def _open(conn: Http2Connection, progress: ResponseProgress) -> _Flow:
    def flow() -> Iterator[Any]:
        sid = yield from conn.start((b"GET", b"https", b"a", b"/", []), b"", None, 5.0, progress)
        yield from conn.receive(sid, progress, 5.0)
        return sid

    return _Flow(flow())


def _two_waiting(conn: Http2Connection, server: Server) -> tuple[_Flow, _Flow, ResponseProgress]:
    """`first` reads, `second` waits; the server answered both, `first` has read it."""
    first = _open(conn, ResponseProgress())
    assert first.effect[0] == WRITE_SHIELDED  # nobody pending: its own write
    server.events.extend(server.conn.receive_data(first.effect[2]))
    assert first.step()[0] == READ
    two = ResponseProgress()
    second = _open(conn, two)
    assert second.effect[0] == WRITE_SHIELDED
    server.events.extend(server.conn.receive_data(second.effect[2]))
    assert second.step()[0] == WAIT
    for request in server.requests():
        server.conn.send_headers(request.stream_id, HEAD, end_stream=True)
    assert first.step(server.conn.data_to_send()) is None  # read both, woke `second`
    assert second.effect[1].woken
    return first, second, two


def test_requests_started_while_woken_flows_are_pending_go_out_in_one_write() -> None:
    """Two flows wait on their streams; one read answers both. The reader starts a new request
    before the other woken flow has run: its HEADERS waits for that flow, which writes it."""
    conn, server = _h2_connection()
    _, second, two = _two_waiting(conn, server)
    third = _open(conn, ResponseProgress())  # the reader's next request: left for `second`
    assert third.effect[0] == READ  # no write of its own: it went on to read
    effect = second.step(True)
    assert effect[0] == WRITE_SHIELDED  # the last woken flow writes what was left
    server.events.extend(server.conn.receive_data(effect[2]))
    assert [r.stream_id for r in server.requests()] == [5]
    assert second.step(None) is None
    assert two.head is not None
    assert two.head.status_code == 200


def test_a_failed_batched_write_fails_the_requests_it_carried() -> None:
    """The write carrying another flow's HEADERS fails: that request fails with the write's
    error (it was never sent), not with a later read's EOF; the flow that wrote keeps its
    response."""
    conn, server = _h2_connection()
    _, second, two = _two_waiting(conn, server)
    progress = ResponseProgress()
    third = _open(conn, progress)  # left for `second` to write
    assert third.effect[0] == READ
    assert second.step(True)[0] == WRITE_SHIELDED
    assert second.fail(WriteError("Connection reset")) is None  # it had its response
    assert two.head is not None
    assert two.head.status_code == 200
    (reset,) = conn.state.take(progress.sid)  # type: ignore[arg-type]
    assert isinstance(reset, StreamReset)
    assert isinstance(reset.error, WriteError)
