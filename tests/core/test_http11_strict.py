"""Http11State against hostile and odd responses: status lines, head limits, 1xx, 101 and
chunked framing (reliability catalogue 2.F, 3.C-3.F). Each case is fed whole and a byte at a
time (as h11's tests do); a unit that can never become valid fails as soon as that is certain."""

from __future__ import annotations

import pytest

from httplib._core import http11_parse
from httplib._core.events import DataReceived, ResponseReceived, StreamEnded
from httplib._core.http11 import MAX_HEAD_SIZE, MAX_HEADER_COUNT, MAX_HEADER_LINE_SIZE, Http11State
from httplib._core.http11_parse import MAX_CHUNK_OVERHEAD, MAX_INTERIM
from httplib._exceptions import RemoteProtocolError
from support.events import response_head
from support.http11_feed import HOST, feed, new_state

UPGRADE = [*HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")]
MODES = ["whole", "bytewise"]
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def rejects(data: bytes, match: str, mode: str, state: Http11State | None = None) -> None:
    """`data` alone (no more bytes, no EOF) must raise: the client may not wait for more."""
    state = state or new_state()
    with pytest.raises(RemoteProtocolError, match=match):
        feed(state, data, mode)
    assert not state.is_reusable


# --------------------------------------------------------------- status line (3.C)

BAD_STATUS = {
    "000": b"HTTP/1.1 000 OK\r\n",
    "099": b"HTTP/1.1 099 Low\r\n",
    "one-digit": b"HTTP/1.1 0 OK\r\n",
    "two-digits": b"HTTP/1.1 20 OK\r\n",
    "four-digits": b"HTTP/1.1 1000 OK\r\n",
    "non-digit": b"HTTP/1.1 2x0 OK\r\n",
    "lowercase-version": b"http/1.1 200 OK\r\n",
    "http-0.5": b"HTTP/0.5 200 OK\r\n",
    "http-2.0": b"HTTP/2.0 200 OK\r\n",
    "http-1.2": b"HTTP/1.2 200 OK\r\n",
    "no-space": b"HTTP/1.1200 OK\r\n",
    "tab-separator": b"HTTP/1.1\t200 OK\r\n",
    "control-in-reason": b"HTTP/1.1 200 O\x01K\r\n",
    "http-0.9-body": b"<html><body>hello</body></html>",
    "garbage": b"SSH-2.0-OpenSSH_9.6\r\n",
    "leading-bare-lf": b"\nHTTP/1.1 200 OK\r\n",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", BAD_STATUS)
def test_bad_status_line_fails_before_the_head_ends(case: str, mode: str) -> None:
    rejects(BAD_STATUS[case], "Invalid (status line|character in response head)", mode)


@pytest.mark.parametrize("mode", MODES)
def test_status_codes_from_100_to_999(mode: str) -> None:
    for status in (200, 299, 404, 599, 600, 999):
        events = feed(new_state(), b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % status, mode)
        assert events == [
            response_head(status, b"X", [(b"Content-Length", b"0")], b"HTTP/1.1"),
            StreamEnded([]),
        ]
    # 1xx other than 101 are interim, even unregistered ones
    events = feed(new_state(), b"HTTP/1.1 199 X\r\n\r\nHTTP/1.1 204 N\r\n\r\n", mode)
    assert [type(e) for e in events] == [ResponseReceived, StreamEnded]
    assert isinstance(events[0], ResponseReceived)
    assert events[0].status_code == 204


# ------------------------------------------------------------- header block (3.D)


def realistic_head(cookie_size: int = 16 * 1024, others: int = 100) -> bytes:
    fields = [b"Set-Cookie: session=" + b"c" * cookie_size + b"; Path=/; HttpOnly"]
    fields += [b"X-Field-%d: value %d" % (i, i) for i in range(others)]
    return b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(fields) + b"\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize("mode", MODES)
def test_a_real_world_large_head_is_accepted(mode: str) -> None:
    """A 16 KiB Set-Cookie beside 100 other fields is what real servers send."""
    events = feed(new_state(), realistic_head(), mode)
    assert isinstance(events[0], ResponseReceived)
    assert len(events[0].headers) == 102
    assert len(events[0].headers[0][1]) > 16 * 1024
    assert events[1:] == [DataReceived(b"ok"), StreamEnded([])]


def test_heads_at_each_limit_are_accepted() -> None:
    many = b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * MAX_HEADER_COUNT + b"\r\n"
    long_line = b"X-Long: " + b"v" * (MAX_HEADER_LINE_SIZE - 8)
    big = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 60_000 + b"\r\n"
    big += (long_line + b"\r\n") * ((MAX_HEAD_SIZE - len(big) - 2) // (MAX_HEADER_LINE_SIZE + 2))
    for data in (many, b"HTTP/1.1 200 OK\r\n" + long_line + b"\r\n\r\n", big + b"\r\n"):
        assert len(data) - 2 <= MAX_HEAD_SIZE
        events = new_state(b"HEAD").receive_data(data)
        assert [type(e) for e in events] == [ResponseReceived, StreamEnded]


OVER_LIMIT = {
    "fields": (
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (MAX_HEADER_COUNT + 1) + b"\r\n",
        f"Too many headers: more than {MAX_HEADER_COUNT}",
    ),
    "line": (
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * MAX_HEADER_LINE_SIZE + b"\r\n\r\n",
        f"Header b'X-Big' exceeds {MAX_HEADER_LINE_SIZE} bytes",
    ),
    "status-line": (
        b"HTTP/1.1 200 " + b"r" * MAX_HEADER_LINE_SIZE + b"\r\n\r\n",
        f"Status line exceeds {MAX_HEADER_LINE_SIZE} bytes",
    ),
    "head": (
        b"HTTP/1.1 200 OK\r\n" + b"X-A: " + b"b" * 60_000 + b"\r\n" * 6,
        f"Response head exceeds {MAX_HEAD_SIZE} bytes",
    ),
}
OVER_LIMIT["head"] = (
    b"HTTP/1.1 200 OK\r\n" + (b"X-A: " + b"b" * 60_000 + b"\r\n") * 6 + b"\r\n",
    f"Response head exceeds {MAX_HEAD_SIZE} bytes",
)


@pytest.mark.parametrize("case", OVER_LIMIT)
def test_over_a_limit_names_the_limit(case: str) -> None:
    data, message = OVER_LIMIT[case]
    with pytest.raises(RemoteProtocolError, match=message):
        new_state().receive_data(data)
    state = new_state()
    with pytest.raises(RemoteProtocolError, match=message):  # noqa: PT012
        for i in range(0, len(data), 4096):
            state.receive_data(data[i : i + 4096])


ENDLESS = {
    "header-line": (b"HTTP/1.1 200 OK\r\nX-Endless: ", b"x" * 4096, MAX_HEADER_LINE_SIZE),
    "status-line": (b"HTTP/1.1 200 ", b"r" * 4096, MAX_HEADER_LINE_SIZE),
    "header-fields": (b"HTTP/1.1 200 OK\r\n", b"X-Many: v\r\n" * 400, MAX_HEAD_SIZE),
    "trailer-line": (CHUNKED + b"0\r\nT: ", b"t" * 4096, MAX_HEADER_LINE_SIZE),
    "trailer-fields": (CHUNKED + b"0\r\n", b"T: v\r\n" * 700, MAX_HEAD_SIZE),
    "chunk-extension": (CHUNKED + b"5;ext=", b"e" * 4096, MAX_HEADER_LINE_SIZE),
}


@pytest.mark.parametrize("case", ENDLESS)
def test_an_endless_unit_fails_at_its_cap(case: str) -> None:
    """A server that never ends a line or a head: memory stays bounded by the cap."""
    start, piece, cap = ENDLESS[case]
    state = new_state()
    state.receive_data(start)
    fed = len(start)
    with pytest.raises(RemoteProtocolError, match=str(cap)):  # noqa: PT012
        while fed < 10 * cap:  # bounded: the cap must hit long before
            state.receive_data(piece)
            fed += len(piece)
            assert len(state.trailing_data) <= cap + len(piece)
    assert fed <= cap + len(start) + len(piece)


@pytest.mark.parametrize("mode", MODES)
def test_obs_fold_is_unfolded_as_h11_does(mode: str) -> None:
    """RFC 9112 section 5.2: a user agent replaces obs-fold with SP (curl test1274)."""
    data = (
        b"HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\n\tthree\r\nX-B:\r\n c\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    events = feed(new_state(), data, mode)
    assert isinstance(events[0], ResponseReceived)
    assert events[0].headers == [
        (b"X-A", b"one two three"),
        (b"X-B", b"c"),
        (b"Content-Length", b"0"),
    ]


@pytest.mark.parametrize("mode", MODES)
def test_bare_lf_line_ends_are_accepted_as_h11_does(mode: str) -> None:
    """RFC 9112 section 2.2 lets a recipient end a head line with a bare LF; h11 (httpx),
    curl and browsers do. The result equals the CRLF form's."""
    crlf = b"HTTP/1.1 200 OK\r\nX-A: a\r\nContent-Length: 4\r\n\r\nbody"
    for data in (
        crlf.replace(b"\r\n", b"\n"),
        b"HTTP/1.1 200 OK\nX-A: a\r\nContent-Length: 4\n\r\nbody",
    ):
        assert feed(new_state(), data, mode) == feed(new_state(), crlf, "whole")
    chunked = CHUNKED.replace(b"\r\n", b"\n") + b"2\r\nok\r\n0\r\nT: v\n\n"
    events = feed(new_state(), chunked, mode)
    assert events[1:] == [DataReceived(b"ok"), StreamEnded([(b"T", b"v")])]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nX-A: a\x00b", "Invalid character in response head"),
        (b"HTTP/1.1 200 OK\r\nX-A: a\rb", "Invalid character in response head"),
        (b"HTTP/1.1 200 OK\r\nX-A: a\x7f", "Invalid character in response head"),
        (CHUNKED + b"0\r\nT: \x01", "Invalid character in trailer section"),
    ],
)
def test_a_control_byte_fails_before_the_head_ends(data: bytes, message: str, mode: str) -> None:
    rejects(data, message, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n", "Invalid header line"),  # smuggling vector
        (b"HTTP/1.1 200 OK\r\n: b\r\n\r\n", "Invalid header line"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "Invalid header line"),
        (b"HTTP/1.1 200 OK\r\nX(A): b\r\n\r\n", "Invalid header line"),
    ],
)
def test_bad_field_lines(data: bytes, message: str, mode: str) -> None:
    rejects(data, message, mode)


def test_high_bytes_are_kept_raw() -> None:
    events = new_state().receive_data(
        b"HTTP/1.1 200 \xc3\xa9\r\nX-A: caf\xe9\r\nContent-Length: 0\r\n\r\n"
    )
    assert events[0] == response_head(
        200, b"\xc3\xa9", [(b"X-A", b"caf\xe9"), (b"Content-Length", b"0")], b"HTTP/1.1"
    )


# --------------------------------------------------------------- framing (3.E)

BAD_FRAMING = {
    "cl-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "cl-plus": b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
    "cl-hex": b"HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
    "cl-word": b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
    "cl-huge": b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 100_000 + b"\r\n\r\n",
    "cl-list": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
    "cl-duplicate-differs": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "cl-underscore": b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n",
    "te-and-cl": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
    "te-twice": b"HTTP/1.1 200 OK\r\n" + b"Transfer-Encoding: chunked\r\n" * 2 + b"\r\n",
    "te-gzip-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "te-identity": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", BAD_FRAMING)
def test_bad_framing_headers(case: str, mode: str) -> None:
    rejects(BAD_FRAMING[case], "Content-Length|Transfer-Encoding", mode)


def test_transfer_encoding_on_http10_is_decoded_then_closed() -> None:
    """RFC 9112 section 6.1: faulty framing; decode, then do not reuse the connection."""
    data = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    state = new_state()
    events = feed(state, data + b"2\r\nok\r\n0\r\n\r\n", "whole")
    assert events[1:] == [DataReceived(b"ok"), StreamEnded([])]
    assert not state.is_reusable


CHUNK_REJECTS = {
    "bare-lf-size-line": (b"5\nhello", "bare LF"),
    "bare-lf-after-extension": (b"5;a=b\n", "bare LF"),
    "bare-lf-last-chunk": (b"0\n", "bare LF"),
    "over-2**64": (b"12345678123456789", "exceeds 2\\*\\*64"),
    "over-2**64-with-crlf": (b"10000000000000000\r\n", "exceeds 2\\*\\*64"),
    "21-hex-digits": (b"000000000000000000001", "Invalid chunk size line"),
    "negative": (b"-1\r\n", "Invalid chunk size line"),
    "0x-prefix": (b"0x10\r\n", "Invalid chunk size line"),
    "leading-space": (b" 5\r\n", "Invalid chunk size line"),
    "empty": (b"\r\n", "Invalid chunk size line"),
    "cr-inside": (b"5\rx", "Invalid chunk size line"),
    "control-in-extension": (b"5;a=\x01", "Invalid chunk extension"),
    "two-bytes-as-terminator": (b"3\r\nxxx__1a\r\n", "not followed by CRLF"),  # CVE-2025-43859
    "cr-and-byte-as-terminator": (b"3\r\nxxx\r_1a\r\n", "not followed by CRLF"),
    "lf-as-terminator": (b"3\r\nxxx\n", "not followed by CRLF"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CHUNK_REJECTS)
def test_a_chunk_line_that_can_never_be_valid_fails_at_once(case: str, mode: str) -> None:
    data, message = CHUNK_REJECTS[case]
    state = new_state()
    state.receive_data(CHUNKED)
    rejects(data, message, mode, state)


@pytest.mark.parametrize("mode", MODES)
def test_chunk_sizes_h11_accepts(mode: str) -> None:
    """Up to 20 hex digits with leading zeros, BWS before an extension, OWS at the end."""
    body = b"00000000000000000002\r\nab\r\n2 ;x=y\r\ncd\r\n2 \r\nef\r\nFfFfFfFfFfFfFfFf\r\n"
    state = new_state()
    events = feed(state, CHUNKED + body, mode)
    assert events[1:] == [DataReceived(b"abcdef")]
    assert not state.is_response_complete  # waiting for 2**64 - 1 bytes, which is allowed


def test_chunk_extension_overhead_is_capped() -> None:
    """CVE-2023-39326: tiny chunks with long extensions fail once framing outweighs data."""
    one = b"1;e=" + b"x" * 4000 + b"\r\nx\r\n"
    state = new_state()
    state.receive_data(CHUNKED)
    with pytest.raises(RemoteProtocolError, match="MAX_CHUNK_OVERHEAD"):  # noqa: PT012
        for _ in range(MAX_CHUNK_OVERHEAD // 4000 + 2):
            state.receive_data(one)
    # Large chunks pay for their extensions: this goes on forever without error.
    big = b"1000;e=" + b"x" * 4000 + b"\r\n" + b"d" * 4096 + b"\r\n"
    state = new_state()
    state.receive_data(CHUNKED)
    for _ in range(100):
        state.receive_data(big)


@pytest.mark.parametrize("mode", MODES)
def test_oversized_trailers_fail(mode: str) -> None:
    trailers = b"T: " + b"t" * 60_000 + b"\r\n"
    data = CHUNKED + b"0\r\n" + trailers * 6 + b"\r\n"
    state = new_state()
    step = len(data) if mode == "whole" else 1000
    with pytest.raises(RemoteProtocolError, match=f"Trailer section exceeds {MAX_HEAD_SIZE}"):  # noqa: PT012
        for i in range(0, len(data), step):
            state.receive_data(data[i : i + step])


# -------------------------------------------------------------------- 1xx (3.F)


@pytest.mark.parametrize("mode", MODES)
def test_interim_responses_up_to_the_cap_are_skipped(mode: str) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
    interim += b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
    data = interim * (MAX_INTERIM // 3) + b"\r\n" + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    events = feed(new_state(), data, mode)
    assert [type(e) for e in events] == [ResponseReceived, StreamEnded]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("unit", [b"HTTP/1.1 100 Continue\r\n\r\n", b"\r\n"])
def test_endless_interim_responses_fail_at_the_cap(unit: bytes, mode: str) -> None:
    """CPython gh-150743: each 1xx (or empty line) keeps a read inside its timeout."""
    rejects(unit * (MAX_INTERIM + 1), "More than 100 interim .*MAX_INTERIM", mode)


def test_the_interim_count_is_per_response() -> None:
    state = new_state()
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    for _ in range(3):
        events = state.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n" * MAX_INTERIM + final)
        assert [type(e) for e in events] == [ResponseReceived, StreamEnded]
        state.start_next_cycle()
        state.send_request(b"GET", b"/", HOST)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", [b"GET", b"CONNECT"])
def test_an_unsolicited_101_is_an_error(method: bytes, mode: str) -> None:
    rejects(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        "Unsolicited 101",
        mode,
        new_state(method),
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_requested_upgrade_switches_after_interim_responses(mode: str) -> None:
    state = new_state(headers=UPGRADE)
    data = b"HTTP/1.1 100 Continue\r\n\r\n"
    data += b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    events = feed(state, data, mode)
    assert events == [
        response_head(101, b"Switching Protocols", [(b"Upgrade", b"websocket")], b"HTTP/1.1")
    ]
    assert state.is_switched
    state.receive_data(b"\x81\x02hi")  # the new protocol's bytes are kept, not parsed
    assert state.trailing_data == b"\x81\x02hi"


def test_upgrade_offer_is_per_request() -> None:
    state = new_state(headers=UPGRADE)
    state.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # declined
    state.start_next_cycle()
    state.send_request(b"GET", b"/", HOST)
    with pytest.raises(RemoteProtocolError, match="Unsolicited 101"):
        state.receive_data(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")


def test_limits_match_curl() -> None:
    """curl's lib/http.h bounds (CVE-2023-38039), so no real server's head is refused."""
    assert (http11_parse.MAX_HEADER_COUNT, http11_parse.MAX_HEAD_SIZE) == (5000, 300 * 1024)
    assert http11_parse.MAX_HEADER_LINE_SIZE == 100 * 1024


def test_a_huge_content_length_then_close_is_an_error_in_bounded_memory() -> None:
    """CVE-2025-13836: nothing is reserved for a declared length; a short body is an error."""
    state = new_state()
    events = state.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\nab")
    assert events[1:] == [DataReceived(b"ab")]
    assert state.trailing_data == b""
    with pytest.raises(RemoteProtocolError, match="received 2 bytes, expected 999999999999999999"):
        state.receive_data(b"")
