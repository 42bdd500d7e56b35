"""Response heads as Http2State checks and decodes them: malformed heads fail their stream only,
and header blocks decode correctly whether or not the server uses an HPACK dynamic table."""

from __future__ import annotations

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from httplib._core.events import DataReceived, StreamEnded
from httplib._core.http2 import Http2State, StreamReset
from httplib._exceptions import RemoteProtocolError
from support.events import response_head


class RawPeer:
    """A client state wired to an h2 server that sends heads exactly as given, unchecked."""

    def __init__(self) -> None:
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.server = h2.connection.H2Connection(config=config)
        self.server.initiate_connection()
        self.client = Http2State()
        self.server_events: list[h2.events.Event] = []
        self.server_events.extend(self.server.receive_data(self.client.initiate()))
        self.pump()

    def pump(self) -> None:
        while True:
            out = self.server.data_to_send()
            if out:
                self.client.receive_data(out)
            back = self.client.data_to_send()
            if back:
                self.server_events.extend(self.server.receive_data(back))
            if not out and not back:
                return

    def exchange(self, head: list[tuple[bytes, bytes]], body: bytes = b"ok") -> list[object]:
        sid = self.client.start_request(b"GET", b"https", b"example.com", b"/", [], end_stream=True)
        self.pump()
        self.server.send_headers(sid, head)
        self.server.send_data(sid, body, end_stream=True)
        self.pump()
        events: list[object] = list(self.client.take(sid))
        self.client.close_stream(sid)
        self.pump()
        return events


OK_HEAD = [(b":status", b"200"), (b"content-type", b"text/plain")]


@pytest.mark.parametrize(
    ("head", "complaint"),
    [
        ([(b"content-type", b"text/plain")], ":status b''"),
        ([(b":status", b"2x0")], ":status b'2x0'"),
        ([(b":status", b"200"), (b":path", b"/")], "pseudo-header b':path'"),
        ([(b"x-a", b"1"), (b":status", b"200")], "pseudo-header b':status'"),
        ([(b":status", b"200"), (b"X-Upper", b"1")], "field name"),
        ([(b":status", b"200"), (b"bad name", b"1")], "field name"),
        ([(b":status", b"200"), (b"", b"1")], "field name"),
        ([(b":status", b"200"), (b"connection", b"close")], "field name"),
        ([(b":status", b"200"), (b"x-a", b"1\r\nx-b: 2")], "CR, LF or NUL"),
        ([(b":status", b"200"), (b"x-a", b"1\x00")], "CR, LF or NUL"),
    ],
)
def test_malformed_head_fails_only_its_stream(
    head: list[tuple[bytes, bytes]], complaint: str
) -> None:
    peer = RawPeer()
    sid = peer.client.start_request(b"GET", b"https", b"a", b"/", [], end_stream=True)
    peer.pump()
    peer.server.send_headers(sid, head)
    peer.server.send_data(sid, b"late")  # in flight when the client resets: dropped
    peer.pump()
    events = peer.client.take(sid)
    assert len(events) == 1
    reset = events[0]
    assert isinstance(reset, StreamReset)
    assert not reset.retryable
    assert isinstance(reset.error, RemoteProtocolError)
    assert complaint in str(reset.error)
    resets = [e for e in peer.server_events if isinstance(e, h2.events.StreamReset)]
    assert [e.error_code for e in resets] == [h2.errors.ErrorCodes.PROTOCOL_ERROR]
    peer.client.close_stream(sid)
    # The connection stays usable for the next request.
    assert peer.exchange(OK_HEAD)[0] == response_head(
        200, b"", [(b"content-type", b"text/plain")], b"HTTP/2"
    )


def test_malformed_trailers_fail_the_stream() -> None:
    peer = RawPeer()
    sid = peer.client.start_request(b"GET", b"https", b"a", b"/", [], end_stream=True)
    peer.pump()
    peer.server.send_headers(sid, OK_HEAD)
    peer.server.send_headers(sid, [(b"x-t", b"a\nb")], end_stream=True)
    peer.pump()
    events = peer.client.take(sid)
    assert isinstance(events[-1], StreamReset)
    assert "CR, LF or NUL" in str(events[-1].error)


def _heads(peer: RawPeer, count: int, head: list[tuple[bytes, bytes]]) -> list[object]:
    return [peer.exchange(head, b"%d" % i)[0] for i in range(count)]


@pytest.mark.parametrize("table_size", [0, 4096])
def test_repeated_and_changing_heads_decode_correctly(table_size: int) -> None:
    peer = RawPeer()
    peer.server.encoder.header_table_size = table_size
    first = [(b":status", b"200"), (b"date", b"Mon, 01 Jan 2024 00:00:00 GMT"), (b"x-n", b"1")]
    second = [(b":status", b"404"), (b"date", b"Mon, 01 Jan 2024 00:00:01 GMT"), (b"x-n", b"2")]
    for head in (first, first, second, first, second):
        [got] = _heads(peer, 1, head)
        assert got == response_head(int(head[0][1]), b"", head[1:], b"HTTP/2")


def test_server_enabling_its_table_midway_decodes_correctly() -> None:
    """A block whose size update enables the dynamic table changes what later blocks mean."""
    peer = RawPeer()
    peer.server.encoder.header_table_size = 0
    head = [(b":status", b"200"), (b"x-v", b"alpha")]
    assert _heads(peer, 2, head) == [response_head(200, b"", head[1:], b"HTTP/2")] * 2
    peer.server.encoder.header_table_size = 4096  # indexes x-v: alpha from here on
    other = [(b":status", b"200"), (b"x-v", b"beta")]
    for expected in (head, head, other, head, other):
        assert _heads(peer, 1, expected) == [response_head(200, b"", expected[1:], b"HTTP/2")]
    peer.server.encoder.header_table_size = 0  # evicts everything again
    assert _heads(peer, 2, other) == [response_head(200, b"", other[1:], b"HTTP/2")] * 2


def test_body_and_end_follow_a_memoized_head() -> None:
    peer = RawPeer()
    peer.server.encoder.header_table_size = 0
    for i in range(3):
        sid = peer.client.start_request(b"GET", b"https", b"a", b"/", [], end_stream=True)
        peer.pump()
        peer.server.send_headers(sid, OK_HEAD)
        peer.server.send_data(sid, b"body%d" % i, end_stream=True)
        peer.pump()
        assert peer.client.take(sid)[1:] == [DataReceived(b"body%d" % i), StreamEnded([])]
        peer.client.close_stream(sid)
