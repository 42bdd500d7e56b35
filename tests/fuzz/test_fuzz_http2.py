"""Fuzzing Http2State's inbound side: after a valid server preface, any frames (well-framed
with random types, flags, stream ids and payloads, or raw bytes) and header blocks only ever
give stream events or a connection error recorded as `RemoteProtocolError`; `receive_data`
raises nothing, and every open stream learns of a connection error."""

from __future__ import annotations

import h2.config
import h2.connection
import hpack
from hypothesis import given
from hypothesis import strategies as st

from fuzz.conftest import fuzz
from httplib._core.events import DataReceived, ResponseReceived, StreamEnded
from httplib._core.http2 import Http2State, StreamReset
from httplib._exceptions import RemoteProtocolError


def server_preface() -> bytes:
    server = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    server.initiate_connection()
    return server.data_to_send()


PREFACE = server_preface()


def frame(kind: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + sid.to_bytes(4, "big") + payload


_ENCODER = hpack.Encoder()
_FIELDS = st.sampled_from(
    [
        (b":status", b"200"),
        (b":status", b"1x0"),
        (b":status", b"101"),
        (b":status", b"103"),
        (b":path", b"/"),
        (b"content-length", b"3"),
        (b"content-length", b"x"),
        (b"content-type", b"text/plain"),
        (b"Upper", b"1"),
        (b"x-a", b"a\r\nb"),
        (b"", b""),
        (b"connection", b"close"),
        (b"x-long", b"v" * 300),
    ]
)


@st.composite
def header_block(draw: st.DrawFn) -> bytes:
    fields = draw(st.lists(_FIELDS, max_size=5))
    block = hpack.Encoder().encode(fields)  # a fresh table: each block decodes on its own
    if draw(st.booleans()):
        block = draw(st.binary(max_size=20)) + block
    return block


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    out = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        kind = draw(st.one_of(st.integers(min_value=0, max_value=10), st.integers(0, 255)))
        flags = draw(st.sampled_from([0, 1, 4, 5, 8, 0x20, 0x25, 0xFF]))
        sid = draw(st.sampled_from([0, 1, 1, 3, 2, 0x7FFFFFFF]))
        if kind == 1 or kind == 9:  # HEADERS, CONTINUATION: mostly real header blocks
            payload = draw(st.one_of(header_block(), st.binary(max_size=30)))
        else:
            payload = draw(st.binary(max_size=40))
        out.append(frame(kind, flags, sid, payload))
    return b"".join(out)


def feed(pieces: list[bytes]) -> None:
    state = Http2State()
    state.initiate()
    sid = state.start_request(b"GET", b"https", b"example.com", b"/", [], end_stream=True)
    state.data_to_send()
    for piece in [PREFACE, *pieces, b""]:
        state.receive_data(piece)  # must not raise: errors are recorded, streams told
        state.data_to_send()
        for event in state.take(sid):
            assert isinstance(event, ResponseReceived | DataReceived | StreamEnded | StreamReset)
            if isinstance(event, StreamReset):
                assert isinstance(event.error, RemoteProtocolError)
    if state.error is not None:
        assert isinstance(state.error, RemoteProtocolError)
        assert state.is_draining


@fuzz
@given(data=frames(), cut=st.integers(min_value=0, max_value=400))
def test_arbitrary_frames(data: bytes, cut: int) -> None:
    cut %= len(data) + 1
    feed([data[:cut], data[cut:]])


@fuzz
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    feed([data])


@fuzz
@given(data=frames())
def test_frames_after_a_valid_response_head(data: bytes) -> None:
    head = frame(1, 4, 1, hpack.Encoder().encode([(b":status", b"200")]))
    feed([head + data])
