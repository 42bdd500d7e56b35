"""Fuzzing Http11State with an exception contract: any bytes, split anywhere and fed as a
client feeds them, give events or `RemoteProtocolError`, never another exception, never more
buffered than a head's limit, and the same outcome however they are split."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from fuzz.conftest import fuzz
from httplib._core.events import DataReceived, Event, ResponseReceived, StreamEnded
from httplib._core.http11 import MAX_HEAD_SIZE, Http11State
from httplib._exceptions import LocalProtocolError, RemoteProtocolError
from support.http11_feed import HOST, merged
from support.http11_feed import new_state as base_state

METHODS = st.sampled_from([b"GET", b"HEAD", b"CONNECT", b"POST"])
UPGRADE = st.booleans()


def new_state(method: bytes, upgrade: bool) -> Http11State:
    return base_state(method, [*HOST, (b"Upgrade", b"websocket")] if upgrade else HOST)


def run(method: bytes, upgrade: bool, pieces: list[bytes]) -> tuple[list[Event], str | None]:
    """Feed `pieces` then EOF; the events and the error (None if none). Checks the contract."""
    state = new_state(method, upgrade)
    events: list[Event] = []
    try:
        for piece in pieces:
            events += state.receive_data(piece)
            # Memory stays bounded: only an unfinished unit is kept (a switched connection
            # keeps the new protocol's bytes for its user).
            if not state.is_switched:
                assert len(state.trailing_data) <= MAX_HEAD_SIZE + len(piece)
        events += state.receive_data(b"")
    except RemoteProtocolError as exc:
        message: str | None = str(exc)
    else:
        message = None
    if message is not None:
        assert message  # every error says what went wrong
        assert not state.is_reusable
    with_error = None if message is None else "RemoteProtocolError"
    for event in events:
        assert isinstance(event, ResponseReceived | DataReceived | StreamEnded)
    return merged(events), with_error


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def check(method: bytes, upgrade: bool, data: bytes, cuts: list[int]) -> None:
    whole_events, whole_error = run(method, upgrade, [data] if data else [])
    split_events, split_error = run(method, upgrade, split(data, cuts))
    assert whole_error == split_error
    if whole_error is None:
        assert whole_events == split_events
    else:  # events before the error are a prefix of what the whole feed would have given
        assert len(split_events) >= len(whole_events) or whole_events[: len(split_events)]


CUTS = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=40)


@fuzz
@given(method=METHODS, upgrade=UPGRADE, data=st.binary(max_size=600), cuts=CUTS)
def test_arbitrary_bytes(method: bytes, upgrade: bool, data: bytes, cuts: list[int]) -> None:
    check(method, upgrade, data, cuts)


# ---------------------------------------------------------- near-valid responses

_TOKENS = [
    b"HTTP/1.1",
    b"HTTP/1.0",
    b" ",
    b"200",
    b"101",
    b"100",
    b"204",
    b"000",
    b"OK",
    b"\r\n",
    b"\n",
    b"\r",
    b":",
    b"\t",
    b"Content-Length",
    b"Transfer-Encoding",
    b"chunked",
    b"Connection",
    b"close",
    b"keep-alive",
    b"Upgrade",
    b"0",
    b"5",
    b"ff",
    b";",
    b"=",
    b",",
    b"\x00",
    b"\x80",
    b"x",
    b"-1",
    b"18446744073709551616",
]
STATUS_LINES = st.sampled_from(
    [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.0 200 OK",
        b"HTTP/1.1 204 No Content",
        b"HTTP/1.1 304 NM",
        b"HTTP/1.1 100 Continue",
        b"HTTP/1.1 101 Switching",
        b"HTTP/1.1 200",
        b"HTTP/1.1 000 X",
        b"HTTP/1.1 999 X",
        b"HTTP/1.2 200 OK",
    ]
)
FIELDS = st.sampled_from(
    [
        b"Content-Length: 5",
        b"Content-Length: 0",
        b"Content-Length: 5, 5",
        b"Content-Length: 99",
        b"Transfer-Encoding: chunked",
        b"Transfer-Encoding: gzip, chunked",
        b"Connection: close",
        b"Connection: keep-alive",
        b"X-A: b",
        b"X-Fold: a",
        b" folded",
        b"Set-Cookie: a=b; c",
        b"X-Empty:",
        b"Upgrade: websocket",
    ]
)
NOISE = st.lists(st.sampled_from(_TOKENS), max_size=6).map(b"".join)


@st.composite
def chunked_body(draw: st.DrawFn) -> bytes:
    out = []
    for size in draw(st.lists(st.integers(min_value=0, max_value=40), max_size=5)):
        line = b"%x" % size
        if draw(st.booleans()):
            line += draw(st.sampled_from([b";a=b", b" ;x", b";" + b"e" * 200, b" "]))
        end = draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"__"]))
        out.append(line + b"\r\n" + b"d" * size + end)
    out.append(b"0\r\n")
    out.append(
        draw(st.sampled_from([b"\r\n", b"T: v\r\n\r\n", b"T: v\n\n", b"\n", b"T:\x01\r\n\r\n"]))
    )
    return b"".join(out)


@st.composite
def response(draw: st.DrawFn) -> bytes:
    lines = [draw(st.one_of(STATUS_LINES, NOISE))]
    lines += draw(st.lists(st.one_of(FIELDS, FIELDS, NOISE), max_size=6))
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    head = eol.join(lines) + eol + eol
    body = draw(st.one_of(st.just(b"hello"), chunked_body(), st.binary(max_size=30)))
    return head + body


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(b"".join(draw(st.lists(response(), min_size=1, max_size=3))))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if not data:
            break
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "insert"]))
        if kind == "flip":
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "delete":
            del data[at]
        else:
            data[at:at] = draw(st.sampled_from(_TOKENS))
    return bytes(data)


@fuzz
@given(method=METHODS, upgrade=UPGRADE, data=mutated(), cuts=CUTS)
def test_near_valid_responses(method: bytes, upgrade: bool, data: bytes, cuts: list[int]) -> None:
    check(method, upgrade, data, cuts)


@fuzz
@given(
    method=st.binary(max_size=12),
    target=st.binary(max_size=20),
    headers=st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=20)), max_size=4),
    body=st.binary(max_size=20),
)
def test_request_side_raises_only_local_protocol_errors(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """Bad request parts are refused with LocalProtocolError before any byte is written."""
    state = Http11State()
    try:
        head = state.send_request(method, target, headers)
    except LocalProtocolError:
        return
    assert head.endswith(b"\r\n\r\n")
    assert head.count(b"\n") == len(headers) + 2  # nothing smuggled a line into the head
    try:
        state.send_body(body)
        state.end_body()
    except LocalProtocolError:
        pass
