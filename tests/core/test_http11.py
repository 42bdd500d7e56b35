"""Http11State: request serialization and validation, response framing, reuse, limits."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._core import http11, http11_parse
from httplib._core.events import DataReceived, Event, ResponseReceived, StreamEnded
from httplib._core.http11 import Http11State
from httplib._exceptions import LocalProtocolError, RemoteProtocolError
from support.events import response_head
from support.http11_feed import HOST, feed, merged, new_state

NEXT = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"


MODES = ["whole", "bytewise"]


def parse(data: bytes, method: bytes = b"GET", mode: str = "whole") -> list[Event]:
    return feed(new_state(method), data, mode)


def head(status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> ResponseReceived:
    return response_head(status, b"OK", headers or [], b"HTTP/1.1")


# Each case: response bytes, expected events (bodies merged), reusable afterwards.
FRAMING_CASES = {
    "content-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        [head(headers=[(b"Content-Length", b"5")]), DataReceived(b"hello"), StreamEnded([])],
        True,
    ),
    "content-length-zero": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        [head(headers=[(b"Content-Length", b"0")]), StreamEnded([])],
        True,
    ),
    "duplicate-equal-content-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\n\r\nhi",
        [
            head(headers=[(b"Content-Length", b"2"), (b"content-length", b"2, 2")]),
            DataReceived(b"hi"),
            StreamEnded([]),
        ],
        True,
    ),
    "chunked-extensions-trailers": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value;q="a b"\r\nhello\r\nA \r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-B:2\r\n\r\n',
        [
            head(headers=[(b"Transfer-Encoding", b"chunked")]),
            DataReceived(b"hello0123456789"),
            StreamEnded([(b"X-Sum", b"1"), (b"X-B", b"2")]),
        ],
        True,
    ),
    "chunked-no-trailers": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        [
            head(headers=[(b"Transfer-Encoding", b"Chunked")]),
            DataReceived(b"abc"),
            StreamEnded([]),
        ],
        True,
    ),
    "204-ignores-length": (
        b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
        [
            response_head(204, b"No Content", [(b"Content-Length", b"10")], b"HTTP/1.1"),
            StreamEnded([]),
        ],
        True,
    ),
    "304": (
        b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
        [response_head(304, b"Not Modified", [(b"ETag", b"x")], b"HTTP/1.1"), StreamEnded([])],
        True,
    ),
    "100-continue-then-200": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
        [head(headers=[(b"Content-Length", b"1")]), DataReceived(b"x"), StreamEnded([])],
        True,
    ),
    "no-reason-phrase": (
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
        [response_head(200, b"", [(b"Content-Length", b"0")], b"HTTP/1.1"), StreamEnded([])],
        True,
    ),
    "raw-header-values-kept": (
        b"HTTP/1.1 200 OK\r\nX-A:\t spaced  value \t\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n",
        [
            head(
                headers=[(b"X-A", b"spaced  value"), (b"X-Empty", b""), (b"Content-Length", b"0")]
            ),
            StreamEnded([]),
        ],
        True,
    ),
    "connection-close": (
        b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n",
        [
            head(headers=[(b"Connection", b"Keep-Alive, Close"), (b"Content-Length", b"0")]),
            StreamEnded([]),
        ],
        False,
    ),
    "http10-default-close": (
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        [response_head(200, b"OK", [(b"Content-Length", b"0")], b"HTTP/1.0"), StreamEnded([])],
        False,
    ),
    "http10-keep-alive": (
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        [
            response_head(
                200,
                b"OK",
                [(b"Connection", b"keep-alive"), (b"Content-Length", b"0")],
                b"HTTP/1.0",
            ),
            StreamEnded([]),
        ],
        True,
    ),
}


@pytest.mark.parametrize("mode", [*MODES, "trailing"])
@pytest.mark.parametrize("case", FRAMING_CASES)
def test_framing(case: str, mode: str) -> None:
    data, expected, reusable = FRAMING_CASES[case]
    state = new_state()
    if mode == "trailing":
        assert feed(state, data + NEXT, "whole") == expected
        assert state.trailing_data == NEXT
        assert not state.is_reusable  # the server sent bytes nobody asked for
        if reusable:
            state.start_next_cycle()
            state.send_request(b"GET", b"/", HOST)
            assert merged(state.next_events())[1:] == [DataReceived(b"next"), StreamEnded([])]
        return
    assert feed(state, data, mode) == expected
    assert state.is_response_complete
    assert state.is_reusable is reusable


@pytest.mark.parametrize("mode", MODES)
def test_read_until_close(mode: str) -> None:
    state = new_state()
    events = feed(state, b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome body", mode)
    assert events == [head(headers=[(b"X", b"y")]), DataReceived(b"some body")]
    assert not state.is_response_complete
    assert state.receive_data(b"") == [StreamEnded([])]
    assert state.is_response_complete
    assert not state.is_reusable


@pytest.mark.parametrize("split", ["whole", "bytewise"])
@pytest.mark.parametrize("bodyless", [b"HEAD", b"204", b"304"])
def test_bodyless_then_next_response(bodyless: bytes, split: str) -> None:
    """A bodyless response must not swallow the next response's bytes, however they arrive."""
    method = b"HEAD" if bodyless == b"HEAD" else b"GET"
    status = b"200 OK" if bodyless == b"HEAD" else bodyless + b" X"
    first = b"HTTP/1.1 " + status + b"\r\nContent-Length: 4\r\n\r\n"
    state = new_state(method)
    events = feed(state, first + NEXT, split)
    assert [type(e) for e in events] == [ResponseReceived, StreamEnded]
    assert state.trailing_data == NEXT
    state.start_next_cycle()
    state.send_request(b"GET", b"/", HOST)
    assert merged(state.next_events()) == [
        head(headers=[(b"Content-Length", b"4")]),
        DataReceived(b"next"),
        StreamEnded([]),
    ]
    assert state.is_reusable


def test_head_then_get_across_reads() -> None:
    state = new_state(b"HEAD")
    assert feed(state, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", "bytewise")[1:] == [
        StreamEnded([])
    ]
    state.start_next_cycle()
    state.send_request(b"GET", b"/", HOST)
    assert feed(state, NEXT, "bytewise")[1:] == [DataReceived(b"next"), StreamEnded([])]


MALFORMED = {
    "conflicting-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi",
        "Conflicting Content-Length",
    ),
    "listed-conflicting-length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nhi",
        "Conflicting Content-Length",
    ),
    "negative-length": (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Invalid Content-Length"),
    "te-and-cl": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "both Transfer-Encoding and Content-Length",
    ),
    "te-gzip": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "Unsupported Transfer"),
    "te-not-final-chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "Unsupported Transfer",
    ),
    "bad-chunk-size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "Invalid chunk size line: b'z",
    ),
    "empty-chunk-size": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        "Invalid chunk size line",
    ),
    "chunk-without-crlf": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n",
        "Chunk data not followed by CRLF",
    ),
    "chunk-extension-control": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\x01\r\nab\r\n",
        "Invalid chunk extension",
    ),
    "bad-trailer": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
        "Invalid trailer line: b'no colon'",
    ),
    "bad-status-line": (b"HTTP/1.1 2000 OK\r\n\r\n", "Invalid status line: b'HTTP/1.1 2000"),
    "http2-version": (b"HTTP/2.0 200 OK\r\n\r\n", "Invalid status line"),
    "garbage": (b"hello world\r\n\r\n", "Invalid status line: b'h"),
    "space-before-colon": (
        b"HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n",
        "Invalid header line: b'X-A : b'",
    ),
    "obs-fold-first": (b"HTTP/1.1 200 OK\r\n  c\r\n\r\n", "continuation first"),
    "nul-in-value": (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", "Invalid character"),
    "bare-cr-in-head": (b"HTTP/1.1 200 OK\r\nX-A: a\rX-B: b\r\n\r\n", "Invalid character"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed(case: str, mode: str) -> None:
    data, message = MALFORMED[case]
    state = new_state()
    with pytest.raises(RemoteProtocolError, match=message.replace("(", r"\(")):
        feed(state, data, mode)
    assert not state.is_reusable
    with pytest.raises(RemoteProtocolError, match="after a protocol error"):
        state.receive_data(b"more")


EOF_CASES = {
    "before-any-byte": (b"", "Server disconnected without sending a response."),
    "mid-head": (b"HTTP/1.1 200 OK\r\nContent-", "peer unexpectedly closed connection"),
    "mid-length-body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        "peer closed connection without sending complete message body "
        "(received 3 bytes, expected 10)",
    ),
    "mid-chunked-body": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "peer closed connection without sending complete message body (incomplete chunked read)",
    ),
}


@pytest.mark.parametrize("case", EOF_CASES)
def test_eof(case: str) -> None:
    data, message = EOF_CASES[case]
    state = new_state()
    feed(state, data, "bytewise")
    with pytest.raises(RemoteProtocolError) as info:
        state.receive_data(b"")
    assert str(info.value) == message


def test_eof_on_idle_connection_is_not_an_error() -> None:
    state = Http11State()
    assert state.receive_data(b"") == []
    assert not state.is_reusable


def test_has_received_data() -> None:
    state = new_state()
    assert not state.has_received_data
    state.receive_data(b"H")
    assert state.has_received_data
    state.receive_data(b"TTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    state.start_next_cycle()
    assert not state.has_received_data


@pytest.mark.parametrize("status", [101, 200])
def test_switching_protocols(status: int) -> None:
    method = b"GET" if status == 101 else b"CONNECT"
    upgrade = [(b"Connection", b"upgrade"), (b"Upgrade", b"websocket")] if status == 101 else []
    state = new_state(method, [*HOST, *upgrade])
    data = b"HTTP/1.1 %d Switched\r\nUpgrade: x\r\n\r\ntunnel bytes" % status
    events = state.receive_data(data)
    assert events == [response_head(status, b"Switched", [(b"Upgrade", b"x")], b"HTTP/1.1")]
    assert state.is_switched
    assert state.trailing_data == b"tunnel bytes"
    assert not state.is_reusable


def test_large_body_streams_without_copy_or_buffering() -> None:
    size = 64 * 1024 * 1024
    state = new_state()
    state.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    read = b"x" * (64 * 1024)
    events: list[Event] = []
    for _ in range(size // len(read)):
        events = state.receive_data(read)
        assert isinstance(events[0], DataReceived)
        assert events[0].data is read  # passed through, not copied
    assert events[1:] == [StreamEnded([])]
    assert state.is_response_complete
    assert state.trailing_data == b""


LIMIT_CASES = {
    "status-line": (b"HTTP/1.1 200 " + b"x" * http11.MAX_STATUS_LINE_SIZE, "Status line exceeds"),
    "head": (
        b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * (http11.MAX_HEAD_SIZE // 8),
        "Response head exceeds",
    ),
    "header-line": (
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * http11.MAX_HEADER_LINE_SIZE + b"\r\n\r\n",
        "Header b'X-Big' exceeds",
    ),
    "header-count": (
        b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * (http11.MAX_HEADER_COUNT + 1) + b"\r\n",
        "Too many headers",
    ),
    "chunk-line": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"
        + b"a" * http11.MAX_CHUNK_LINE_SIZE,
        "Chunk size line exceeds",
    ),
}


@pytest.mark.parametrize("case", LIMIT_CASES)
def test_limits(case: str) -> None:
    data, message = LIMIT_CASES[case]
    with pytest.raises(RemoteProtocolError, match=message):
        parse(data)
    state = new_state()
    with pytest.raises(RemoteProtocolError, match=message):  # noqa: PT012
        for i in range(0, len(data), 1000):
            state.receive_data(data[i : i + 1000])


def test_headers_at_the_limits_are_accepted() -> None:
    fields = b"X-A: b\r\n" * http11.MAX_HEADER_COUNT
    events = parse(b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n", b"HEAD")
    assert isinstance(events[0], ResponseReceived)
    assert len(events[0].headers) == http11.MAX_HEADER_COUNT


# ------------------------------------------------------------------ sending


def test_request_serialization() -> None:
    state = Http11State()
    data = state.send_request(
        b"POST", b"/path?q=1", [(b"Host", b"example.com"), (b"Content-Length", b"5")]
    )
    assert data == b"POST /path?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\n"
    assert state.send_body(b"hel") == [b"hel"]
    assert state.send_body(b"lo") == [b"lo"]
    assert state.end_body() == b""


def test_chunked_request_body() -> None:
    state = Http11State()
    state.send_request(b"POST", b"/", [*HOST, (b"Transfer-Encoding", b"chunked")])
    big = b"x" * 300
    parts = state.send_body(big)
    assert parts == [b"12c\r\n", big, b"\r\n"]
    assert parts[1] is big
    assert state.send_body(b"") == []
    assert state.end_body() == b"0\r\n\r\n"
    with pytest.raises(LocalProtocolError, match="after end_body"):
        state.send_body(b"late")


@pytest.mark.parametrize(
    ("sends", "message"),
    [
        ([b"123456"], r"Too much data for declared Content-Length \(6 > 5\)"),
        ([b"123", b"456"], r"Too much data for declared Content-Length \(6 > 5\)"),
        ([b"1234"], r"Too little data for declared Content-Length \(4 < 5\)"),
    ],
)
def test_content_length_enforced(sends: list[bytes], message: str) -> None:
    state = Http11State()
    state.send_request(b"PUT", b"/", [*HOST, (b"Content-Length", b"5")])
    with pytest.raises(LocalProtocolError, match=message):  # noqa: PT012
        for data in sends:
            state.send_body(data)
        state.end_body()


def test_body_without_framing_is_rejected() -> None:
    state = Http11State()
    state.send_request(b"GET", b"/", HOST)
    with pytest.raises(LocalProtocolError, match="Too much data"):
        state.send_body(b"x")


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [
        (b"GET\r\n", b"/", HOST, "Illegal method"),
        (b"G ET", b"/", HOST, "Illegal method"),
        (b"GET", b"/ HTTP/1.1\r\nX: y", HOST, "Illegal request target"),
        (b"GET", b"/a b", HOST, "Illegal request target"),
        (b"GET", b"", HOST, "Illegal request target"),
        (b"GET", b"/", [(b"X-A", b"a\r\nInjected: 1")], "Illegal header value"),
        (b"GET", b"/", [(b"X-A", b"a\nInjected: 1")], "Illegal header value"),
        (b"GET", b"/", [(b"X-A", b"a\rb")], "Illegal header value"),
        (b"GET", b"/", [(b"X-A", b"a\x00b")], "Illegal header value"),
        (b"GET", b"/", [(b"X-A\r\nInjected", b"1")], "Illegal header name"),
        (b"GET", b"/", [(b"X A", b"1")], "Illegal header name"),
        (b"GET", b"/", [(b"X-A:", b"1")], "Illegal header name"),
        (b"GET", b"/", [(b"", b"1")], "Illegal header name"),
        (b"GET", b"/", [*HOST, (b"", b"1")], "Illegal header name"),
    ],
)
@pytest.mark.parametrize("stored", [False, True], ids=["pairs", "stored"])
def test_request_validation(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], message: str, stored: bool
) -> None:
    # `stored`: the fields as a `Headers` object keeps them, (name, lower name, value).
    fields = [(name, name.lower(), value) for name, value in headers] if stored else headers
    with pytest.raises(LocalProtocolError, match=message):
        Http11State().send_request(method, target, fields, stored)


def test_request_from_stored_fields() -> None:
    """A request's own `Headers` fields are written as (name, value) pairs would be: the
    lower-cased copy of each name is not sent, and framing is read from them the same way."""
    pairs = [(b"Host", b"example.com"), (b"X-Trace", b"Ab"), (b"Content-Length", b"3")]
    stored = Http11State()
    data = stored.send_request(
        b"PUT", b"/", [(name, name.lower(), value) for name, value in pairs], True
    )
    assert data == Http11State().send_request(b"PUT", b"/", pairs)
    assert data == (
        b"PUT / HTTP/1.1\r\nHost: example.com\r\nX-Trace: Ab\r\nContent-Length: 3\r\n\r\n"
    )
    with pytest.raises(LocalProtocolError, match="Too much data"):
        stored.send_body(b"four")


_OK_EMPTY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_REQUESTS = [
    (b"GET", b"/a", HOST),
    (b"GET", b"/b?q=close", HOST),
    (b"POST", b"/a", [*HOST, (b"Content-Length", b"3")]),
    (b"POST", b"/a", [*HOST, (b"Transfer-Encoding", b"chunked")]),
    (b"GET", b"/a", [*HOST, (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")]),
    (b"DELETE", b"/a", [*HOST, (b"X-Close", b"close")]),
]


def _one_cycle(state: Http11State, method: bytes, target: bytes, fields: Any, stored: bool) -> Any:
    """Send one request (its body too) and take an empty 200; what a user of the state sees."""
    head = state.send_request(method, target, fields, stored)
    upgrade = state._upgrade
    if method == b"POST":
        body = state.send_body(b"abc")
        end = state.end_body()
    else:
        body, end = [], state.end_body()
    state.receive_data(_OK_EMPTY)
    reusable = state.is_reusable
    state.start_next_cycle()
    return head, body, end, upgrade, reusable


@settings(max_examples=200, deadline=None)
@given(picks=st.lists(st.tuples(st.integers(0, len(_REQUESTS) - 1), st.booleans()), max_size=8))
def test_a_connections_requests_are_written_as_on_a_fresh_state(
    picks: list[tuple[int, bool]],
) -> None:
    """A connection reuses the last request's field block when the fields are the same: each
    head, its framing and its Upgrade are what a new connection's first request gives."""
    state = Http11State()
    for index, stored in picks:
        method, target, pairs = _REQUESTS[index]
        fields = [(name, name.lower(), value) for name, value in pairs] if stored else pairs
        fresh = _one_cycle(Http11State(), method, target, fields, stored)
        assert _one_cycle(state, method, target, fields, stored) == fresh


def test_a_bad_request_line_is_refused_when_the_fields_are_reused() -> None:
    state = Http11State()
    _one_cycle(state, b"GET", b"/", HOST, False)
    with pytest.raises(LocalProtocolError, match="Illegal request target"):
        state.send_request(b"GET", b"/ HTTP/1.1\r\nX: y", HOST)
    with pytest.raises(LocalProtocolError, match="Illegal method"):
        state.send_request(b"G ET", b"/", HOST)
    assert (
        state.send_request(b"GET", b"/next", HOST)
        == b"GET /next HTTP/1.1\r\n%s: %s\r\n\r\n" % HOST[0]
    )


def test_fields_changed_in_place_after_a_request_are_written_as_they_are_now() -> None:
    state = Http11State()
    fields = list(HOST)
    _one_cycle(state, b"GET", b"/", fields, False)
    fields.append((b"X-Late", b"1"))
    assert state.send_request(b"GET", b"/", fields).endswith(b"X-Late: 1\r\n\r\n")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([(b"Content-Length", b"1"), (b"Transfer-Encoding", b"chunked")], "Conflicting framing"),
        ([(b"Content-Length", b"1"), (b"Content-Length", b"2")], "Invalid Content-Length"),
        ([(b"Content-Length", b"x")], "Invalid Content-Length"),
        ([(b"Transfer-Encoding", b"gzip")], "Unsupported Transfer-Encoding"),
    ],
)
def test_request_framing_validation(headers: list[tuple[bytes, bytes]], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        Http11State().send_request(b"POST", b"/", headers)


def test_cycle_order_enforced() -> None:
    state = new_state()
    with pytest.raises(LocalProtocolError, match="already sent"):
        state.send_request(b"GET", b"/", HOST)
    with pytest.raises(LocalProtocolError, match="not reusable"):
        state.start_next_cycle()


REUSE_RESPONSES = {
    b"1.1": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"1.1 close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    b"1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"1.0 keep-alive": b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
}


@pytest.mark.parametrize("response", REUSE_RESPONSES)
@pytest.mark.parametrize("client_close", [False, True])
def test_is_reusable_combinations(response: bytes, client_close: bool) -> None:
    headers = [*HOST, (b"Connection", b"close")] if client_close else HOST
    state = new_state(headers=headers)
    assert not state.is_reusable  # nothing received yet
    state.receive_data(REUSE_RESPONSES[response])
    expected = not client_close and response in (b"1.1", b"1.0 keep-alive")
    assert state.is_reusable is expected


def test_not_reusable_until_request_body_done() -> None:
    state = Http11State()
    state.send_request(b"POST", b"/", [*HOST, (b"Content-Length", b"3")])
    state.receive_data(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
    assert state.is_response_complete
    assert not state.is_reusable  # the server answered early; our body is unfinished


# --------------------------------------------------------------- hypothesis

STREAM = [
    (b"GET", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
    (b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
    (
        b"GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;x=y\r\ndef\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n",
    ),
    (b"GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    (b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
]


def run_stream(splits: list[int]) -> list[list[Event]]:
    """Feed the concatenated responses in pieces cut at `splits`; collect events per cycle."""
    data = b"".join(response for _, response in STREAM)
    cuts = sorted({0, len(data), *(s % (len(data) + 1) for s in splits)})
    pieces = [data[a:b] for a, b in itertools.pairwise(cuts)]
    state = new_state(STREAM[0][0])
    per_cycle: list[list[Event]] = [[]]
    for piece in pieces:
        per_cycle[-1] += state.receive_data(piece)
        while state.is_response_complete and len(per_cycle) < len(STREAM):
            state.start_next_cycle()
            state.send_request(STREAM[len(per_cycle)][0], b"/", HOST)
            per_cycle.append(state.next_events())
    return [merged(events) for events in per_cycle]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_random_splits_give_identical_events(splits: list[int]) -> None:
    assert run_stream(splits) == run_stream([])


def _body_by_fast_path(response: bytes, cuts: list[int], eof: bool) -> tuple[bytes, list[Any]]:
    """`response` fed in pieces as `Http11Exchange.feed` feeds it: after the head, a piece the
    body's fast path takes (`receive_body_data`) is body as it is; the rest goes to
    `receive_data`. The body, and every event that is not body data."""
    state = new_state()
    body, other, at = b"", [], 0
    for end in [*sorted(cuts), len(response)]:
        piece, at = response[at:end], max(at, end)
        if not piece:  # (a read returns b"" only at EOF)
            continue
        if other and state.receive_body_data(piece):
            body += piece
            continue
        for event in state.receive_data(piece):
            if isinstance(event, DataReceived):
                body += event.data
            else:
                other.append(event)
    if eof:
        other += state.receive_data(b"")
    other.append((state.is_response_complete, state.is_reusable, state.trailing_data))
    return body, other


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=300),
    framing=st.sampled_from(["length", "close", "chunked"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    extra=st.sampled_from([b"", b"HTTP/1.1 200 OK\r\n"]),
)
def test_body_fast_path_agrees_with_events(
    body: bytes, framing: str, cuts: list[int], extra: bytes
) -> None:
    """However the reads split a response, the body's fast path yields the same body, events
    and end state as `receive_data` alone (bytes after the body included)."""
    if framing == "length":
        response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s%s" % (len(body), body, extra)
    elif framing == "close":
        response = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body
    else:
        chunk = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
        response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + b"0\r\n\r\n"
    eof = framing == "close"
    assert _body_by_fast_path(response, cuts, eof) == _body_by_fast_path(response, [], eof)


def test_body_fast_path_takes_only_body() -> None:
    """Only a read that is all body, short of a Content-Length body's end, goes by the fast
    path: not a head, not the last piece, not chunked framing, not EOF."""
    state = new_state()
    assert not state.receive_body_data(b"HTTP/1.1 200 OK\r\n")
    state.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
    assert state.receive_body_data(b"abc")
    assert not state.receive_body_data(b"")
    assert not state.receive_body_data(b"def")  # the last piece: StreamEnded comes from events
    assert merged(state.receive_data(b"def")) == [DataReceived(b"def"), StreamEnded([])]
    chunked = new_state()
    chunked.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert not chunked.receive_body_data(b"3\r\nabc\r\n")


def test_stream_reference_events() -> None:
    cycles = run_stream([])
    assert [len(c) for c in cycles] == [3, 2, 3, 2, 3]
    assert cycles[2][1:] == [
        DataReceived(b"def0123456789abcdef"),
        StreamEnded([(b"T", b"v")]),
    ]


# ------------------------------------------------------- fast and slow head parse

_HEAD_ALPHABET = st.sampled_from(
    [b"a", b"X", b"-", b":", b" ", b"\t", b"\r\n", b"\n", b"\r", b"\x00", b"\x80", b"1"]
)
_LINE = st.lists(_HEAD_ALPHABET, max_size=12).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(
    status_line=st.one_of(
        st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.0 404", b"HTTP/1.1 200 "]), _LINE
    ),
    lines=st.lists(
        st.one_of(st.sampled_from([b"Content-Length: 5", b"X-A:  b \t"]), _LINE), max_size=4
    ),
)
def test_fast_head_parse_agrees_with_line_by_line_parse(
    status_line: bytes, lines: list[bytes]
) -> None:
    """The regex fast path accepts only heads the strict parser accepts, with equal results."""
    head_bytes = b"\r\n".join([status_line, *lines])
    data = head_bytes + b"\r\n\r\n"
    fast = http11_parse.parse_head(data, 0, len(head_bytes))
    try:
        slow = http11_parse.parse_head_slowly(head_bytes)
    except RemoteProtocolError:
        assert fast is None
    else:
        assert fast is None or fast == slow


def test_field_whitespace_is_stripped_and_list_pairs_are_accepted() -> None:
    state = Http11State()
    data = state.send_request(b"GET", b"/", [[b"Host", b"example.com"]])  # type: ignore[list-item]
    assert data == b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    events = feed(
        state, b"HTTP/1.1 200 OK\r\nX-A: \t a b \t\r\nX-B:\r\nContent-Length: 0\r\n\r\n", "whole"
    )
    assert events[0] == head(headers=[(b"X-A", b"a b"), (b"X-B", b""), (b"Content-Length", b"0")])


# ------------------------------------------------ the whole-response fast path (differential)


def _end_state(state: Http11State) -> tuple[Any, ...]:
    return (
        state.is_response_complete,
        state.is_reusable,
        state.is_switched,
        state.has_received_data,
        state.trailing_data,
    )


def _by_events(method: bytes, data: bytes) -> tuple[Any, ...]:
    """What `receive_data` alone makes of `data`: head, body, whether it ended, end state."""
    state = new_state(method)
    try:
        events = state.receive_data(data)
    except RemoteProtocolError as exc:
        return ("error", str(exc))
    heads = [e for e in events if isinstance(e, ResponseReceived) and e.status_code >= 200]
    body = b"".join(e.data for e in events if isinstance(e, DataReceived))
    ended = any(isinstance(e, StreamEnded) for e in events)
    return (heads[-1] if heads else None, body, ended, _end_state(state))


_WHOLE_SHAPES = {
    "method": [b"GET", b"POST", b"HEAD", b"CONNECT"],
    "version": [b"HTTP/1.1", b"HTTP/1.0"],
    "status": [b"200 OK", b"201 Created", b"404 Not Found", b"204 No Content",
               b"304 Not Modified", b"101 Switching", b"100 Continue"],
    "length": ["exact", "more", "less", "twice", "padded", "zeros", "word", None],
    "chunked": [False, True],
    "connection": [None, b"close", b"keep-alive", b"Keep-Alive, Upgrade", b"upgrade, CLOSE"],
    "body": [b"", b"hello"],
    "extra": [b"", b"HTTP/1.1 200 OK\r\n", b"\r\n"],
    "bare_lf": [False, True],
    # fields whose names have the framing fields' lengths (10, 14, 17) but are not them
    "decoys": [False, True],
}  # fmt: skip


def _shaped_response(
    version: bytes,
    status: bytes,
    length: str | None,
    chunked: bool,
    connection: bytes | None,
    body: bytes,
    extra: bytes,
    bare_lf: bool,
    decoys: bool = False,
) -> bytes:
    fields = [b"Server: t"]
    if decoys:
        fields += [b"Keep-Alive: timeout=5", b"X-Custom-Field: 1", b"X-Transfer-Codin: 2"]
    values = {
        "exact": b"%d" % len(body), "more": b"%d" % (len(body) + 1), "zeros": b"00%d" % len(body),
        "less": b"%d" % max(len(body) - 1, 0), "padded": b" %d " % len(body), "word": b"abc",
    }  # fmt: skip
    if length == "twice":
        fields += [b"Content-Length: %d" % len(body)] * 2
    elif length is not None:
        fields.append(b"Content-Length: " + values[length])
    if chunked:
        fields.append(b"Transfer-Encoding: chunked")
    if connection is not None:
        fields.append(b"Connection: " + connection)
    eol = b"\n" if bare_lf else b"\r\n"
    return version + b" " + status + eol + eol.join(fields) + eol + eol + body + extra


def test_whole_response_fast_path_agrees_with_events() -> None:
    """Every combination of the shapes above (107,520 responses): `receive_whole_response`
    either declines and changes nothing, or gives the same head, body and end state as
    `receive_data` alone. And the usual response does go by it."""
    taken = 0
    for shape in itertools.product(*_WHOLE_SHAPES.values()):
        method, *parts = shape
        data = _shaped_response(*parts)  # type: ignore[arg-type]
        expected = _by_events(method, data)  # type: ignore[arg-type]
        state = new_state(method)  # type: ignore[arg-type]
        whole = state.receive_whole_response(data)
        if whole is None:
            assert _end_state(state) == _end_state(new_state(method)), shape  # type: ignore[arg-type]
            continue
        taken += 1
        head, got = whole
        assert (head, got, True, _end_state(state)) == expected, shape
    # (600 of them, today; a value with trailing whitespace, the padded length, goes by the
    # steps' line parser)
    assert taken > 500


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), connection=st.sampled_from(_WHOLE_SHAPES["connection"]))
def test_whole_response_fast_path_agrees_on_any_body(body: bytes, connection: bytes | None) -> None:
    data = _shaped_response(b"HTTP/1.1", b"200 OK", "exact", False, connection, body, b"", False)
    state = new_state()
    whole = state.receive_whole_response(data)
    assert whole is not None
    assert (*whole, True, _end_state(state)) == _by_events(b"GET", data)


def test_whole_response_fast_path_takes_the_usual_response() -> None:
    state = new_state()
    whole = state.receive_whole_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert whole is not None
    head, body = whole
    assert (head.status_code, body, state.is_reusable) == (200, b"ok", True)
    # Once a response is in, nothing more goes by this path in the same cycle.
    assert state.receive_whole_response(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") is None
