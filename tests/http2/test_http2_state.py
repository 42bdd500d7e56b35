"""Http2State against an in-memory h2 server connection: no sockets, every frame exact."""

from __future__ import annotations

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from httplib._config import Limits
from httplib._core.events import DataReceived, ResponseReceived, StreamEnded
from httplib._core.http2 import (
    CONNECTION_WINDOW,
    MAX_CONTROL_FRAMES,
    STREAM_WINDOW,
    GoAwayReceived,
    Http2State,
    SettingsChanged,
    StreamReset,
    pool_actions,
    request_headers,
)
from httplib._core.pool import ConnectionState, PoolState, TicketStatus
from httplib._core.resend import is_refused
from httplib._exceptions import RemoteProtocolError
from support.events import response_head

HEAD = [(b":status", b"200"), (b"content-type", b"text/plain")]


class Peer:
    """A client state wired to an h2 server connection; `pump` moves bytes both ways."""

    def __init__(self, **settings: int) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.server = h2.connection.H2Connection(config=config)
        self.server.initiate_connection()
        if settings:
            self.server.update_settings(
                {getattr(h2.settings.SettingCodes, k): v for k, v in settings.items()}
            )
        self.client = Http2State()
        self.server_events: list[h2.events.Event] = []
        self.conn_events: list[object] = []
        self.touched: set[int] = set()
        self.to_server(self.client.initiate())
        self.pump()

    def to_server(self, data: bytes) -> None:
        self.server_events.extend(self.server.receive_data(data))

    def pump(self, *, byte_by_byte: bool = False) -> None:
        """Server output to the client, client output to the server, until both are quiet."""
        while True:
            out = self.server.data_to_send()
            if out:
                pieces = [out[i : i + 1] for i in range(len(out))] if byte_by_byte else [out]
                for piece in pieces:
                    touched, events = self.client.receive_data(piece)
                    self.touched |= touched
                    self.conn_events.extend(events)
            back = self.client.data_to_send()
            if back:
                self.to_server(back)
            if not out and not back:
                return

    def get(self, path: bytes = b"/", **kwargs: object) -> int:
        sid = self.client.start_request(b"GET", b"https", b"example.com", path, [], end_stream=True)
        self.to_server(self.client.data_to_send())
        return sid

    def respond(
        self, sid: int, body: bytes = b"", *, trailers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.server.send_headers(sid, HEAD)
        if body:
            self.server.send_data(sid, body, end_stream=trailers is None)
        if trailers is not None:
            self.server.send_headers(sid, trailers, end_stream=True)
        elif not body:
            self.server.end_stream(sid)

    def send_body(self, sid: int, data: bytes) -> None:
        for i in range(0, len(data), 16384):
            self.server.send_data(sid, data[i : i + 16384])

    def received(self, kind: type[h2.events.Event]) -> list[h2.events.Event]:
        return [e for e in self.server_events if isinstance(e, kind)]


def test_request_headers_are_http2_shaped() -> None:
    fields = [
        (b"Host", b"example.org:8443"),
        (b"Connection", b"keep-alive"),
        (b"Keep-Alive", b"5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Upgrade", b"h2c"),
        (b"TE", b"gzip"),
        (b"X-Custom", b"Value"),
    ]
    headers = request_headers(b"POST", b"https", b"ignored", b"/p?q=1", fields)
    assert headers == [
        (b":method", b"POST"),
        (b":authority", b"example.org:8443"),
        (b":scheme", b"https"),
        (b":path", b"/p?q=1"),
        (b"x-custom", b"Value"),
    ]
    assert (b"te", b"trailers") in request_headers(
        b"GET", b"http", b"a", b"/", [(b"TE", b"trailers")]
    )


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_response_head_body_and_end(byte_by_byte: bool) -> None:
    peer = Peer()
    sid = peer.get(b"/x")
    request = peer.received(h2.events.RequestReceived)[0]
    assert dict(request.headers)[b":path"] == b"/x"  # type: ignore[attr-defined]
    peer.respond(sid, b"hello")
    peer.pump(byte_by_byte=byte_by_byte)
    assert sid in peer.touched
    events = peer.client.take(sid)
    assert events == [
        response_head(200, b"", [(b"content-type", b"text/plain")], b"HTTP/2"),
        DataReceived(b"hello"),
        StreamEnded([]),
    ]
    peer.client.close_stream(sid)
    peer.pump()
    assert not peer.received(h2.events.StreamReset)  # a finished stream is not reset
    assert peer.client.open_streams == 0


def test_trailers_come_with_the_end() -> None:
    peer = Peer()
    sid = peer.get()
    peer.respond(sid, b"body", trailers=[(b"x-checksum", b"abc")])
    peer.pump()
    assert peer.client.take(sid)[-1] == StreamEnded([(b"x-checksum", b"abc")])


def test_settings_report_max_concurrent_streams() -> None:
    peer = Peer(MAX_CONCURRENT_STREAMS=3)
    assert SettingsChanged(3) in peer.conn_events
    assert peer.client.max_streams == 3


def test_large_download_reopens_windows_as_data_is_taken() -> None:
    peer = Peer()
    sid = peer.get()
    peer.server.send_headers(sid, HEAD)
    total, received = 8 * STREAM_WINDOW, 0
    sent = 0
    chunk = b"x" * 16384
    while received < total:
        while sent < total and peer.server.local_flow_control_window(sid) >= len(chunk):
            peer.server.send_data(sid, chunk, end_stream=sent + len(chunk) == total)
            sent += len(chunk)
        before = sent
        peer.pump()
        taken = sum(len(e.data) for e in peer.client.take(sid) if isinstance(e, DataReceived))
        received += taken
        peer.pump()  # our WINDOW_UPDATEs reach the server
        assert taken or sent > before, "the download stalled"
    assert received == total


def _window_updates(out: bytes) -> list[tuple[int, int]]:
    """(stream id, increment) of each WINDOW_UPDATE frame in `out`."""
    found, pos = [], 0
    while pos < len(out):
        frame, length = Frame.parse_frame_header(memoryview(out)[pos : pos + 9])
        if isinstance(frame, WindowUpdateFrame):
            frame.parse_body(memoryview(out)[pos + 9 : pos + 9 + length])
            found.append((frame.stream_id, frame.window_increment))
        pos += 9 + length
    return found


@pytest.mark.parametrize(
    ("size", "at_head"),
    [
        (STREAM_WINDOW - 1, []),  # fits: never a stream WINDOW_UPDATE
        (STREAM_WINDOW, [1]),  # one at the head: the body and a byte to spare
        (STREAM_WINDOW + 300_000, [300_001]),
        (3 * STREAM_WINDOW, []),  # too large to cover: credited as it is taken
        (None, []),  # no Content-Length: credited as it is taken
    ],
)
def test_a_body_the_window_can_cover_draws_no_late_window_update(
    size: int | None, at_head: list[int]
) -> None:
    """A response head announcing a body the stream window can cover: the window covers it
    at once (with a byte to spare, so a server that sends nothing into a shut window still
    ends the stream) and no stream WINDOW_UPDATE follows while the body is taken (a server
    that closes once its last response is in its send buffer resets the connection on a late
    one); a larger or unannounced body is credited as it is taken, and never stalls."""
    peer = Peer()
    sid = peer.get()
    total = 3 * STREAM_WINDOW + 12345 if size is None else size
    length = [] if size is None else [(b"content-length", b"%d" % size)]
    peer.server.send_headers(sid, [*HEAD, *length])
    peer.client.receive_data(peer.server.data_to_send())
    peer.client.take(sid)
    out = peer.client.data_to_send()
    assert [inc for stream_id, inc in _window_updates(out) if stream_id == sid] == at_head
    peer.to_server(out)
    chunk = b"x" * 16384
    sent = received = 0
    late = 0
    for _ in range(10_000):  # (bounded: each round moves data or fails the stall check)
        # (200,000 bytes a round: the client takes the body in parts, as a reader does)
        until = min(total, sent + 200_000)
        while sent < until and peer.server.local_flow_control_window(sid) > 0:
            piece = chunk[
                : min(len(chunk), until - sent, peer.server.local_flow_control_window(sid))
            ]
            peer.server.send_data(sid, piece)
            sent += len(piece)
        before = (sent, received)
        peer.client.receive_data(peer.server.data_to_send())
        received += sum(len(e.data) for e in peer.client.take(sid) if isinstance(e, DataReceived))
        out = peer.client.data_to_send()
        late += sum(1 for stream_id, _ in _window_updates(out) if stream_id == sid)
        peer.to_server(out)
        if received == total:
            break
        assert (sent, received) != before, "the download stalled"
    assert received == total
    # The empty DATA frame that ends the stream still has window to go into.
    assert peer.server.local_flow_control_window(sid) > 0
    if size is not None and size < 2 * STREAM_WINDOW:
        assert late == 0
    else:
        assert late > 0


def test_unread_stream_holds_its_window_shut() -> None:
    peer = Peer()
    sid = peer.get()
    peer.server.send_headers(sid, HEAD)
    peer.send_body(sid, b"y" * 60000 * 10)
    peer.pump()
    assert peer.server.local_flow_control_window(sid) == STREAM_WINDOW - 600_000
    peer.client.take(sid)
    peer.pump()
    assert peer.server.local_flow_control_window(sid) == STREAM_WINDOW


def test_upload_respects_the_peer_window_and_resumes_on_window_update() -> None:
    peer = Peer()
    sid = peer.client.start_request(b"POST", b"https", b"h", b"/", [], end_stream=False)
    body = b"z" * 100_000
    sent = peer.client.send_data(sid, body)
    assert sent == 65535  # the default initial window (RFC 9113 section 6.9.2)
    assert peer.client.send_data(sid, body[sent:]) == 0
    peer.to_server(peer.client.data_to_send())
    got = sum(e.flow_controlled_length for e in peer.received(h2.events.DataReceived))  # type: ignore[attr-defined]
    assert got == 65535
    peer.server.acknowledge_received_data(got, sid)
    peer.touched.clear()
    peer.pump()
    assert sid in peer.touched  # the blocked sender is woken
    assert peer.client.send_data(sid, body[sent:]) == len(body) - sent
    peer.client.end_stream(sid)
    peer.to_server(peer.client.data_to_send())
    assert peer.received(h2.events.StreamEnded)


def test_rst_stream_fails_only_that_stream() -> None:
    peer = Peer()
    one, two = peer.get(), peer.get()
    peer.server.reset_stream(one, h2.errors.ErrorCodes.INTERNAL_ERROR)
    peer.respond(two, b"ok")
    peer.pump()
    (reset,) = peer.client.take(one)
    assert isinstance(reset, StreamReset)
    assert not reset.retryable
    assert isinstance(reset.error, RemoteProtocolError)
    assert "INTERNAL_ERROR" in str(reset.error)
    assert peer.client.take(two)[-1] == StreamEnded([])


def test_refused_stream_is_retryable() -> None:
    peer = Peer()
    sid = peer.get()
    peer.server.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
    peer.pump()
    (reset,) = peer.client.take(sid)
    assert isinstance(reset, StreamReset)
    assert reset.retryable


def test_goaway_refuses_higher_streams_and_lets_lower_ones_finish() -> None:
    peer = Peer()
    low, high = peer.get(), peer.get()
    peer.server.close_connection(last_stream_id=low)
    # h2's server refuses to send more after its own GOAWAY; a real server finishes `low`.
    peer.server.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
    peer.pump()
    assert GoAwayReceived(low, 0) in peer.conn_events
    assert peer.client.is_draining
    (refused,) = peer.client.take(high)
    assert isinstance(refused, StreamReset)
    assert refused.retryable
    # The accepted stream still gets its whole response after the GOAWAY.
    peer.respond(low, b"done")
    peer.pump()
    assert [type(e) for e in peer.client.take(low)] == [ResponseReceived, DataReceived, StreamEnded]
    with pytest.raises(RemoteProtocolError, match="GOAWAY"):
        peer.get()


def test_streams_goaway_refused_are_closed_without_rst_stream() -> None:
    """The server treats streams above its GOAWAY's last stream id as never opened, so the
    client closes them on its side only: lighttpd takes an RST_STREAM for one as a connection
    error and then resets every stream it is still serving."""
    peer = Peer()
    low, high = peer.get(), peer.get()
    peer.server.close_connection(last_stream_id=low)
    peer.server.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
    peer.pump()
    (refused,) = peer.client.take(high)
    assert isinstance(refused, StreamReset)
    assert refused.retryable
    peer.client.close_stream(high)  # what the engine does with the refused stream
    peer.pump()
    assert peer.received(h2.events.StreamReset) == []
    peer.respond(low, b"done")
    peer.pump()
    assert [type(e) for e in peer.client.take(low)] == [ResponseReceived, DataReceived, StreamEnded]


def test_frames_queued_for_streams_goaway_refused_are_not_written() -> None:
    """HEADERS and DATA still queued for a stream above the GOAWAY's last stream id are
    dropped (the server never opened it; lighttpd takes DATA there for a connection error),
    while the queued frames of the stream it serves go out."""
    peer = Peer()
    low = peer.client.start_request(b"POST", b"https", b"h", b"/", [], end_stream=False)
    peer.to_server(peer.client.data_to_send())
    high = peer.client.start_request(b"POST", b"https", b"h", b"/", [], end_stream=False)
    assert peer.client.send_data(low, b"kept" * 100) == 400
    assert peer.client.send_data(high, b"gone" * 100) == 400
    peer.server.close_connection(last_stream_id=low)
    peer.server.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
    peer.client.receive_data(peer.server.data_to_send())
    out = peer.client.data_to_send()
    frames: list[tuple[int, int]] = []  # (type, stream id) of each frame written
    pos = 0
    while pos < len(out):
        frame, length = Frame.parse_frame_header(memoryview(out)[pos : pos + 9])
        frames.append((frame.type, frame.stream_id))  # type: ignore[attr-defined]
        pos += 9 + length
    assert (0x0, low) in frames  # DATA of the served stream
    assert all(sid != high for _, sid in frames)
    peer.to_server(out)
    received = peer.received(h2.events.DataReceived)
    assert [(e.stream_id, len(e.data)) for e in received] == [(low, 400)]  # type: ignore[attr-defined]


def test_data_dropped_for_goaway_refused_streams_gives_its_window_back() -> None:
    """DATA framed for a stream above the GOAWAY's last stream id and never written spent the
    connection's send window; the server never sees it, so never credits it. Refunded, the
    upload the server still serves runs to its end against a server that sends WINDOW_UPDATE
    only once half its window is used (h2's rule); without it, both sides wait forever."""
    peer = Peer()
    low = peer.client.start_request(b"POST", b"https", b"h", b"/", [], end_stream=False)
    assert peer.client.send_data(low, b"l" * 10_000) == 10_000
    peer.to_server(peer.client.data_to_send())
    high = peer.client.start_request(b"POST", b"https", b"h", b"/", [], end_stream=False)
    assert peer.client.send_data(high, b"h" * 50_000) == 50_000  # framed, not yet written
    peer.server.close_connection(last_stream_id=low)
    peer.server.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
    peer.client.receive_data(peer.server.data_to_send())
    body = memoryview(b"l" * 200_000)
    acknowledged = 0
    for _ in range(100):  # bounded: a stall shows as body left over, not a hang
        if not body:
            break
        sent = peer.client.send_data(low, body)
        body = body[sent:]
        peer.to_server(peer.client.data_to_send())
        for event in peer.received(h2.events.DataReceived)[acknowledged:]:
            peer.server.acknowledge_received_data(event.flow_controlled_length, low)  # type: ignore[attr-defined]
            acknowledged += 1
        peer.pump()
    assert len(body) == 0
    got = peer.received(h2.events.DataReceived)
    assert sum(e.flow_controlled_length for e in got) == 210_000  # type: ignore[attr-defined]
    assert {e.stream_id for e in got} == {low}  # type: ignore[attr-defined]


def test_a_body_framed_before_goaway_still_goes_to_the_server() -> None:
    """DATA queued for a stream the GOAWAY keeps (at or below its last stream id) is written
    after it: its window is spent, so losing it would leave the server waiting for the body
    and the upload waiting for credit. (h2 itself empties its outbound buffer on GOAWAY.)"""
    peer = Peer()
    sid = peer.client.start_request(b"POST", b"https", b"h", b"/", [], end_stream=False)
    peer.to_server(peer.client.data_to_send())
    body = b"u" * 100_000
    sent = peer.client.send_data(sid, body)
    assert sent == 65535
    # The server drains the connection while the frames are still in the client's buffer.
    peer.server.close_connection(last_stream_id=sid)
    peer.server.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
    _, events = peer.client.receive_data(peer.server.data_to_send())
    assert events == [GoAwayReceived(sid, 0)]
    peer.to_server(peer.client.data_to_send())
    received = peer.received(h2.events.DataReceived)
    assert sum(e.flow_controlled_length for e in received) == 65535  # type: ignore[attr-defined]
    # The credit comes back and the rest of the body follows; the response arrives.
    peer.server.acknowledge_received_data(65535, sid)
    peer.pump()
    assert peer.client.send_data(sid, body[sent:]) == len(body) - sent
    peer.client.end_stream(sid)
    peer.to_server(peer.client.data_to_send())
    assert peer.received(h2.events.StreamEnded)
    peer.respond(sid, b"stored")
    peer.pump()
    assert [type(e) for e in peer.client.take(sid)] == [ResponseReceived, DataReceived, StreamEnded]


def test_goaway_before_our_first_stream_then_settings_is_no_protocol_error() -> None:
    """A server being reloaded answers a connection it has just accepted with GOAWAY, and its
    SETTINGS may come after it: the handshake reads them, and requests are refused (retryable,
    so they go to another connection)."""
    state = Http2State()
    state.initiate()
    goaway = GoAwayFrame(0)
    goaway.last_stream_id = 0
    _, events = state.receive_data(goaway.serialize() + SettingsFrame(0).serialize())
    assert events == [GoAwayReceived(0, 0)]
    assert state.error is None
    assert state.has_peer_settings
    with pytest.raises(RemoteProtocolError, match="GOAWAY") as refused:
        state.start_request(b"GET", b"http", b"example.com", b"/", [], end_stream=True)
    assert is_refused(refused.value)


def test_cancel_resets_one_stream_and_keeps_the_others() -> None:
    peer = Peer()
    one, two = peer.get(), peer.get()
    peer.client.close_stream(one)
    peer.pump()
    (reset,) = peer.received(h2.events.StreamReset)
    assert reset.stream_id == one  # type: ignore[attr-defined]
    assert reset.error_code == h2.errors.ErrorCodes.CANCEL  # type: ignore[attr-defined]
    peer.respond(two, b"fine")
    peer.pump()
    assert peer.client.take(two)[1] == DataReceived(b"fine")


def test_data_for_cancelled_streams_still_reopens_the_connection_window() -> None:
    peer = Peer()
    sids = [peer.get() for _ in range(9)]  # 9 MiB: past the half-window that triggers an update
    for sid in sids:
        peer.server.send_headers(sid, HEAD)
        peer.send_body(sid, b"a" * STREAM_WINDOW)
    peer.pump()
    assert peer.server.outbound_flow_control_window == CONNECTION_WINDOW - 9 * STREAM_WINDOW
    for sid in sids:
        peer.client.close_stream(sid)  # cancelled before the body was read
    peer.pump()
    # h2 batches WINDOW_UPDATEs; without the acknowledgement it would stay at 7 MiB for good.
    assert peer.server.outbound_flow_control_window >= CONNECTION_WINDOW - STREAM_WINDOW


def test_eof_fails_every_open_stream() -> None:
    peer = Peer()
    one, two = peer.get(), peer.get()
    touched, _ = peer.client.receive_data(b"")
    assert touched == {one, two}
    for sid in (one, two):
        (reset,) = peer.client.take(sid)
        assert isinstance(reset, StreamReset)
        assert str(reset.error) == "Server disconnected"


def test_protocol_violation_is_a_remote_protocol_error() -> None:
    peer = Peer()
    sid = peer.get()
    touched, _ = peer.client.receive_data(b"\x00\x00\x08\x07\x00\x00\x00\x00\x01garbage!")
    assert sid in touched
    (reset,) = peer.client.take(sid)
    assert isinstance(reset.error, RemoteProtocolError)  # type: ignore[union-attr]
    with pytest.raises(RemoteProtocolError):
        peer.get()


def test_ping_flood_is_cut_off() -> None:
    peer = Peer()
    sid = peer.get()
    flood = b"".join(
        PingFrame(0, opaque_data=b"12345678").serialize() for _ in range(MAX_CONTROL_FRAMES + 1)
    )
    peer.client.receive_data(flood)
    (reset,) = peer.client.take(sid)
    assert "flood" in str(reset.error)  # type: ignore[union-attr]


def test_pings_below_the_limit_are_answered() -> None:
    peer = Peer()
    peer.client.receive_data(PingFrame(0, opaque_data=b"abcdefgh").serialize())
    peer.to_server(peer.client.data_to_send())
    assert peer.client.error is None
    acks = [e.ping_data for e in peer.received(h2.events.PingAckReceived)]  # type: ignore[attr-defined]
    assert acks == [b"abcdefgh"]


def test_continuation_flood_is_cut_off() -> None:
    peer = Peer()
    sid = peer.get()
    frames: list[Frame] = [HeadersFrame(sid, data=b"\x88")]  # :status 200, END_HEADERS never set
    frames += [ContinuationFrame(sid, data=b"\x88") for _ in range(200)]
    peer.client.receive_data(b"".join(f.serialize() for f in frames))
    (reset,) = peer.client.take(sid)
    assert isinstance(reset.error, RemoteProtocolError)  # type: ignore[union-attr]


def test_oversized_header_list_is_refused() -> None:
    peer = Peer()
    sid = peer.get()
    peer.server.send_headers(sid, [*HEAD, *((b"x-big-%d" % i, b"v" * 1000) for i in range(120))])
    peer.pump()
    (reset,) = peer.client.take(sid)
    assert isinstance(reset, StreamReset)
    assert isinstance(reset.error, RemoteProtocolError)


def test_pool_learns_the_stream_limit_and_goaway() -> None:
    pool = PoolState(Limits(max_connections=10))
    ticket, _ = pool.acquire("origin", 0.0, may_be_http2=True)
    assert ticket.status is TicketStatus.CONNECT
    entry = ticket.entry
    assert entry is not None
    pool.connected(entry, 0.0, max_streams=100)
    peer = Peer(MAX_CONCURRENT_STREAMS=2)
    assert pool_actions(pool, entry, peer.client) == []  # no waiter to wake
    assert entry.max_streams == 2
    second, _ = pool.acquire("origin", 0.0, may_be_http2=True)
    third, _ = pool.acquire("origin", 0.0, may_be_http2=True)
    assert second.entry is entry
    assert third.entry is not entry  # past the limit: another connection
    peer.server.close_connection()
    peer.pump()
    pool_actions(pool, entry, peer.client)
    assert entry.state is ConnectionState.DRAINING
