"""HTTP/1.1 client protocol state, sans-I/O: request bytes out, response events in.

Theory of operation
-------------------
One `Http11State` per connection. It never touches a socket: the shell (blocking, asyncio, trio)
writes the bytes it returns and feeds it the bytes it reads. A connection runs *cycles*, one
request/response exchange each::

    head = state.send_request(b"GET", b"/", [(b"Host", b"example.com")])  # bytes to write
    for buf in state.send_body(chunk): ...       # list of buffers (writelines / sendmsg)
    tail = state.end_body()                      # b"0\\r\\n\\r\\n" when chunked, else b""
    events = state.receive_data(read_bytes)      # ResponseReceived, DataReceived, StreamEnded
    events = state.receive_data(b"")             # the peer closed (EOF)
    if state.is_reusable: state.start_next_cycle()

Sending (RFC 9112 section 3, 6, 7): the caller passes every header, framing included; the head
is validated (tokens, no CR/LF/NUL/controls) and the body framing recorded: Content-Length is
counted and enforced, `Transfer-Encoding: chunked` is framed here, no framing header means no body.
Without a body the request side is complete right after `send_request`; `end_body()` is then a
harmless no-op. `send_body` returns a list of buffers so large chunks are never copied.

Receiving (RFC 9112 section 6.3): `receive_data` returns the events completed by the new bytes.
1xx interim heads (100, 102, 103) are skipped, at most `MAX_INTERIM` of them (a 100 sets
`continued`, which a body held back for `Expect: 100-continue` waits for); 101 (only when the
request offered an `Upgrade`), and 2xx to CONNECT, are surfaced and switch the connection out of
HTTP (`is_switched`, `trailing_data`). Responses to HEAD and 204/304 have no body. A response is
framed by `Transfer-Encoding: chunked`, by Content-Length, or else read until the server closes.
Bytes after the end of a response are kept, not parsed, until `start_next_cycle()` (then
`next_events()` parses them without waiting for the socket).

Strictness: RFC 9112's grammar, with h11's leniencies that httpx users rely on (obs-fold
unfolded, bare-LF line ends in heads and trailers, up to 20 hex digits in a chunk size). A unit
still arriving (status line, head, chunk-size line, trailers) is checked as its bytes come, so a
response that can never become valid fails at once instead of at the read timeout. The grammar,
the limits (at curl's bounds) and those checks live in `http11_parse.py`.

Copies: a read that is all body is passed through as the same `bytes` object (zero copy); a read
holding framing and body is sliced once. Only incomplete heads, chunk-size lines and trailers are
buffered, each bounded by a `MAX_*` limit, so any body streams in bounded memory. The buffer is
a `bytearray` scanned incrementally, so a byte-at-a-time peer costs linear time.

Parser choice, by measurement (`bench/micro/http11_parsers.py`: µs of thread CPU time per
response, parse only, results built as Python objects; then whole cycles, send_request + end_body
+ receive_data + start_next_cycle; CPython 3.11 without PGO on a loaded 2-core box)::

                       1 KiB CL   10 headers   chunked 64 KiB/4 KiB   1 MiB in 64 KiB reads
    this module           5.4         7.8              33.4                   15.2
      (line by line)      7.2        10.2              35.5                   17.1
    httptools (llhttp)    1.4         2.3              13.2                  529.0
    h11                  30.5        41.3             150.3                  227.9
    cycle, this module    8.8        11.2              36.8                   18.5
      (line by line)     13.5        15.9              40.5                   23.1

Two fast paths skip the event machinery for the commonest reads, each checked against
`receive_data` by a differential test: `receive_whole_response` takes a read that is exactly one
final response with a plain Content-Length body (most small responses on a kept-alive
connection), `receive_body_data` a read that is all body. Instructions per request through the
client (`bench/micro/instructions.py`, callgrind) before and after the first: sync 222,500 ->
211,239, async with 16 in flight 304,075 -> 292,909. It finds the framing fields with a loop over
the fields already parsed rather than a second regex scan of the head: sync 204,046 -> 196,866,
async with 100 in flight 289,105 -> 282,601.

Sending, a connection keeps the last request's field block (serialized and validated, with what
it says about framing and Upgrade) and reuses it when the next request's fields are equal, which
they mostly are (the client's, Host first): only the request line is formatted and checked anew.
Callgrind: sync 196,866 -> 172,112, async with 100 in flight 282,601 -> 258,009. A property test
checks every head, its framing and its Upgrade against a fresh connection's.

Heads are parsed by two precompiled regex scans (status line, then all field lines) that match
only valid input; a head they do not match is re-parsed line by line, which names the bad line.
httptools alone parses the 1 KiB head in ~1.7 µs against ~2.4 µs here, but it cannot be told a
response has no body (HEAD), is laxer or stricter than RFC 9112 in places (so our checks and
messages would still run on top), and would add a C dependency: not worth ~0.5 µs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from .._exceptions import LocalProtocolError, RemoteProtocolError
from .._utils import TCHAR
from .events import DataReceived, Event, ResponseReceived, StreamEnded
from .http11_parse import (
    FIELD_BYTES,
    FRAMING_NAMES,
    MAX_CHUNK_LINE_SIZE,
    MAX_CHUNK_OVERHEAD,
    MAX_HEAD_SIZE,
    MAX_HEADER_COUNT,
    MAX_HEADER_LINE_SIZE,
    MAX_INTERIM,
    MAX_STATUS_LINE_SIZE,
    OWS,
    TOKEN,
    VERSIONS,
    check_partial_chunk_line,
    check_partial_head,
    content_length,
    framing_from_fields,
    framing_values,
    head_end,
    list_tokens,
    normalize_lines,
    parse_chunk_line,
    parse_fields,
    parse_head,
    parse_head_slowly,
)
from .resend import mark_connection_cut

# The error for a connection closed before any byte of a response: a stale kept-alive
# connection, which the resend and retry rules recognise by this message.
DISCONNECTED_BEFORE_RESPONSE = "Server disconnected without sending a response."

__all__ = [
    "DISCONNECTED_BEFORE_RESPONSE",
    "MAX_CHUNK_LINE_SIZE",
    "MAX_HEADER_COUNT",
    "MAX_HEADER_LINE_SIZE",
    "MAX_HEAD_SIZE",
    "MAX_INTERIM",
    "MAX_STATUS_LINE_SIZE",
    "Http11State",
]

_VALUE = rb"[\t\x20-\x7e\x80-\xff]"
_NO_BODY_STATUS = frozenset({204, 304})
_HEX = b"0123456789abcdefABCDEF"
_FIELD_FORMAT = b"%s: %s\r\n"
# A `Headers` field as it is stored, (name, lower-cased name, value): the middle one is not
# written (`%.0s`), so a request's own fields need no (name, value) copy first.
_STORED_FIELD_FORMAT = b"%s: %.0s%s\r\n"
# A whole request head as send_request formats it (RFC 9112 sections 3 and 5).
_REQUEST_HEAD = re.compile(
    TOKEN
    + rb" [\t\x21-\x7e\x80-\xff]+ HTTP/1\.1\r\n(?:"
    + TOKEN
    + rb": "
    + _VALUE
    + rb"*\r\n)*\r\n"
)

# A request line alone, as send_request formats it, for a head whose field block it reuses.
_REQUEST_LINE = re.compile(TOKEN + rb" [\t\x21-\x7e\x80-\xff]+ HTTP/1\.1\r\n")

_Step = Callable[[bytes, int, list[Event]], int]


def _is_token(value: bytes) -> bool:
    return bool(value) and not value.translate(None, TCHAR)


class Http11State:
    """The client side of one HTTP/1.1 connection; see the module docstring."""

    __slots__ = (
        "_block",
        "_buf",
        "_checked",
        "_closed",
        "_excess",
        "_expected",
        "_interim",
        "_keep_alive",
        "_line_at",
        "_method",
        "_our_chunked",
        "_our_done",
        "_our_remaining",
        "_our_sent",
        "_received",
        "_remaining",
        "_request_sent",
        "_scan",
        "_step",
        "_switched",
        "_their_done",
        "_upgrade",
        "continued",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        self._closed = False
        self._switched = False
        # The last request's fields (as given, copied), their serialized and validated block,
        # its framing fields (`framing_values`; None when it names none, nor "close"), and
        # whether it offers an Upgrade (see `send_request`).
        self._block: tuple[bool, list[Any], bytes, dict[bytes, list[bytes]] | None, bool] | None
        self._block = None
        self._reset_cycle()

    def _reset_cycle(self) -> None:
        self._method = b""
        self._request_sent = False
        self._our_done = False
        self._our_chunked = False
        self._our_remaining = 0
        self._our_sent = 0
        self._keep_alive = True
        self._their_done = False
        self._received = False
        self._remaining = 0
        self._expected = 0
        self._scan = 0
        self._interim = 0
        self._upgrade = False
        # A 100 (Continue) came in this cycle: a body held back for it may go (RFC 9110
        # section 10.1.1).
        self.continued = False
        self._step: _Step = self._step_head

    # ---------------------------------------------------------------- sending

    def send_request(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]] | list[tuple[bytes, bytes, bytes]],
        stored: bool = False,
    ) -> bytes:
        """Validate and serialize a request head; record how its body is framed. `headers`
        are (name, value) pairs, or with `stored` a `Headers` object's (name, lower-cased
        name, value) fields."""
        if self._request_sent:
            raise LocalProtocolError("Can't send a request: this cycle already sent one.")
        if self._closed or self._switched:
            raise LocalProtocolError("Can't send a request on a closed connection.")
        # A connection's requests mostly carry the same fields (the client's, Host first):
        # the last one's block is reused, and only the request line is made and checked anew.
        # A cycle's reset and head took 2.7 us, 0.65 us with the block reused (bytes
        # %-formatting and the head's regex scan were most of it).
        block = self._block
        if block is not None and block[0] is stored and block[1] == headers:
            _, _, fields, framing, upgrade = block
            line = b"%s %s HTTP/1.1\r\n" % (method, target)
            if _REQUEST_LINE.fullmatch(line) is None:
                _raise_bad_request_part(method, target, [(f[0], f[-1]) for f in headers])
            head = line + fields
        else:
            head, fields, framing, upgrade = _request_head(method, target, headers, stored)
            self._block = (stored, list(headers), fields, framing, upgrade)
        self._method = method
        self._request_sent = True
        # A 101 may only answer a request that offered an Upgrade (RFC 9110 section 7.8).
        self._upgrade = upgrade
        if framing is not None:
            self._start_request(framing)
        else:
            self._our_done = True  # no body framing, no `Connection: close`
        return head

    def _start_request(self, framing: dict[bytes, list[bytes]]) -> None:
        lengths = framing.get(b"content-length")
        codings = framing.get(b"transfer-encoding")
        if lengths and codings:
            raise LocalProtocolError(
                "Conflicting framing: both Content-Length and Transfer-Encoding"
            )
        if codings:
            if codings != [b"chunked"] and [c.lower() for c in codings] != [b"chunked"]:
                raise LocalProtocolError(f"Unsupported Transfer-Encoding: {codings!r}")
            self._our_chunked = True
        elif lengths:
            if len(lengths) != 1 or not lengths[0].isdigit():
                raise LocalProtocolError(f"Invalid Content-Length header: {lengths!r}")
            self._our_remaining = int(lengths[0])
            self._our_done = self._our_remaining == 0
        else:
            self._our_done = True
        for value in framing.get(b"connection", ()):
            if b"close" in list_tokens(value):
                self._keep_alive = False

    def send_body(self, data: bytes) -> list[bytes]:
        """Frame one piece of request body; returns buffers to write in order (not copied)."""
        if not self._request_sent:
            raise LocalProtocolError("Can't send a request body before sending a request.")
        if not data:
            return []
        if self._our_chunked:
            if self._our_done:
                raise LocalProtocolError("Can't send request body data after end_body().")
            return [b"%x\r\n" % len(data), data, b"\r\n"]
        if len(data) > self._our_remaining:
            raise LocalProtocolError(
                "Too much data for declared Content-Length"
                f" ({self._our_sent + len(data)} > {self._our_sent + self._our_remaining})"
            )
        self._our_remaining -= len(data)
        self._our_sent += len(data)
        return [data]

    @property
    def body_left(self) -> int | None:
        """Request body bytes the declared Content-Length still expects; None when chunked."""
        return None if self._our_chunked else self._our_remaining

    def count_body(self, size: int) -> None:
        """Account for `size` body bytes the shell wrote itself (a file sent by the kernel),
        as `send_body` accounts for data it frames (a Content-Length body only)."""
        if size > self._our_remaining:
            raise LocalProtocolError(
                "Too much data for declared Content-Length"
                f" ({self._our_sent + size} > {self._our_sent + self._our_remaining})"
            )
        self._our_remaining -= size
        self._our_sent += size

    def end_body(self) -> bytes:
        """Finish the request body; the last bytes to write (the last chunk, if chunked)."""
        if not self._request_sent:
            raise LocalProtocolError("Can't end a request body before sending a request.")
        if self._our_remaining:
            declared = self._our_sent + self._our_remaining
            msg = f"Too little data for declared Content-Length ({self._our_sent} < {declared})"
            raise LocalProtocolError(msg)
        if self._our_chunked and not self._our_done:
            self._our_done = True
            return b"0\r\n\r\n"
        self._our_done = True
        return b""

    # -------------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the peer (b"" for EOF); returns the events they complete."""
        if not data:
            return self._receive_eof()
        self._received = True
        buf = self._buf
        if buf:
            buf += data
            if not self._unit_ready(buf):
                self._check_buffered()
                return []
            data = bytes(buf)
            buf.clear()
        return self._run(data)

    def receive_whole_response(self, data: bytes) -> tuple[ResponseReceived, bytes] | None:
        """The usual small response's fast path: when `data`, with nothing buffered before it,
        is exactly one final response framed by a plain Content-Length (its head and its whole
        body, nothing after), the head event and the body, with this cycle's response done;
        no events list, no step per part. None for anything else, with nothing changed, for
        `receive_data` to take. A differential test checks it against `receive_data`."""
        if self._step.__func__ is not _STEP_HEAD or self._buf:  # type: ignore[attr-defined]
            return None
        end = data.find(b"\r\n\r\n")
        if end <= 0 or end > MAX_HEAD_SIZE or self._method in _NO_BODY_METHODS:
            return None
        parsed = parse_head(data, 0, end)
        if parsed is None:
            return None
        version, status, reason, headers = parsed
        # (1xx, 101, 204 and 304 go by the steps: interim handling, switching, no body)
        if status < 200 or status in _NO_BODY_STATUS or not headers:
            return None
        # The event's fields and the framing ones among them, in one plain loop: for nginx's 8
        # fields 0.9 us, against 1.2 us for a loop finding the framing fields and a second
        # making the fields, or 1.7 us for `framing_values`' case-insensitive regex scan. A
        # field repeated, or any Transfer-Encoding, is left to the steps.
        fields: list[tuple[bytes, bytes, bytes]] = []
        append = fields.append
        length = connection = None
        for name, value in headers:
            lowered = name.lower()
            append((name, lowered, value))
            if lowered in FRAMING_NAMES:
                if lowered == b"content-length":
                    if length is not None:
                        return None
                    length = value
                elif lowered == b"connection":
                    if connection is not None:
                        return None
                    connection = value
                else:
                    return None
        after = end + 4
        if (
            length is None
            or not length.isdigit()
            or len(length) >= 19
            or int(length) != len(data) - after
        ):
            return None
        if not _persistent(None if connection is None else (connection,), VERSIONS[version]):
            self._keep_alive = False
        self._received = True
        self._expected = len(data) - after
        self._their_done = True
        self._step = self._step_done
        return ResponseReceived(status, reason, fields, version), data[after:]

    def receive_body_data(self, data: bytes) -> bool:
        """The body's fast path: True when `data` is all body with nothing buffered, a piece
        of a Content-Length body short of its end or of a body read until close. Then it
        is counted here and the caller keeps it as the next body chunk; no events are made.
        False for anything else (a head, chunked framing, a body's last piece, EOF), which
        `receive_data` takes instead. A 64 MiB body arrives as 1,024 such reads."""
        step = self._step.__func__  # type: ignore[attr-defined]
        if step is _STEP_LENGTH:
            if 0 < len(data) < self._remaining and not self._buf:
                self._remaining -= len(data)
                return True
        elif step is _STEP_CLOSE and data and not self._buf:
            return True
        return False

    def next_events(self) -> list[Event]:
        """Parse bytes already buffered (e.g. received with the previous response)."""
        if not self._buf:
            return []
        data = bytes(self._buf)
        self._buf.clear()
        return self._run(data)

    def _run(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        pos = 0
        end = len(data)
        try:
            while pos < end:
                new_pos = self._step(data, pos, events)
                if new_pos < 0:
                    self._buf += memoryview(data)[pos:]
                    self._scan = self._checked = self._line_at = 0
                    self._check_buffered()
                    break
                pos = new_pos
        except RemoteProtocolError:
            self._step = self._step_error
            self._closed = True
            raise
        return events

    def _unit_ready(self, buf: bytearray) -> bool:
        """Whether the buffered bytes now hold the whole unit the current step waits for."""
        step = self._step
        if step == self._step_chunk_crlf:
            return len(buf) >= 2 or not buf.startswith(b"\r")
        if step == self._step_done or step == self._step_error:
            return step == self._step_error
        if buf.startswith(b"\r\n"):
            return True
        if step == self._step_chunk_size:
            found = buf.find(b"\r\n", self._scan) >= 0
            self._scan = max(0, len(buf) - 1)
            return found
        # A head or trailer section: up to an empty line (bare-LF line ends accepted).
        found = head_end(buf, self._scan) is not None or buf.startswith(b"\n")
        self._scan = max(0, len(buf) - 2)
        return found

    def _check_buffered(self) -> None:
        """Bound what an incomplete unit may buffer (see the MAX_* constants), and fail at
        once when no further byte could complete it validly."""
        buf = self._buf
        step = self._step
        try:
            if step == self._step_chunk_size:
                check_partial_chunk_line(buf, self._checked)
            elif step == self._step_head:
                self._line_at = check_partial_head(
                    buf, self._checked, self._line_at, "response head"
                )
            elif step == self._step_trailers:
                self._line_at = check_partial_head(
                    buf, self._checked, self._line_at, "trailer section"
                )
            elif len(buf) > MAX_HEAD_SIZE and not self._switched:
                raise RemoteProtocolError(f"Unsolicited data exceeds {MAX_HEAD_SIZE} bytes")
        except RemoteProtocolError:
            self._step = self._step_error
            self._closed = True
            raise
        self._checked = len(buf)

    def _receive_eof(self) -> list[Event]:
        step = self._step
        was_closed, self._closed = self._closed, True
        if step == self._step_close:
            self._step = self._step_done
            self._their_done = True
            return [StreamEnded([])]
        if step == self._step_done or step == self._step_error or was_closed:
            return []
        if step == self._step_head:
            if self._buf.strip(b"\r\n"):
                raise self._fail("peer unexpectedly closed connection")
            if not self._request_sent:
                return []
            raise self._fail(DISCONNECTED_BEFORE_RESPONSE)
        if step == self._step_length:
            error = self._fail(
                "peer closed connection without sending complete message body "
                f"(received {self._expected - self._remaining} bytes, expected {self._expected})"
            )
        else:
            error = self._fail(
                "peer closed connection without sending complete message body"
                " (incomplete chunked read)"
            )
        mark_connection_cut(error)
        raise error

    def _fail(self, message: str) -> RemoteProtocolError:
        self._step = self._step_error
        return RemoteProtocolError(message)

    # ----------------------------------------------------------------- steps
    # Each step parses from `pos`, appends events, and returns the new position, or -1 when it
    # needs more bytes (the rest is then buffered).

    def _step_head(self, data: bytes, pos: int, events: list[Event]) -> int:
        if data.startswith(b"\r\n", pos):
            return self._skip_empty_lines(data, pos)  # (then this step runs again from there)
        end = data.find(b"\r\n\r\n", pos)
        parsed = parse_head(data, pos, end) if 0 <= end - pos <= MAX_HEAD_SIZE else None
        if parsed is not None:
            version, status, reason, headers = parsed
            after = end + 4
            framing = framing_values(data, pos, end + 2) if headers else {}
        else:  # bare-LF line ends, obs-fold, an outlier in size, or an invalid head
            found = head_end(data, pos, end + 4 if end >= 0 else -1)
            if found is None:
                return -1
            end, after = found
            if end - pos > MAX_HEAD_SIZE:
                raise RemoteProtocolError(f"Response head exceeds {MAX_HEAD_SIZE} bytes")
            version, status, reason, headers = parse_head_slowly(data[pos:end])
            framing = framing_from_fields(headers)
        if status < 200:
            if status != 101:
                # RFC 9110 section 15.2: interim responses precede the final one; skip them.
                self._count_interim(1)
                if status == 100:
                    self.continued = True
                return after
            if not self._upgrade:
                # RFC 9110 section 7.8: a server switches only to a protocol the request
                # offered; h11 (so httpx) rejects an unsolicited 101 too.
                raise RemoteProtocolError(
                    "Unsolicited 101 Switching Protocols: the request offered no Upgrade"
                )
        fields = [(name, name.lower(), value) for name, value in headers]
        events.append(ResponseReceived(status, reason, fields, version))
        self._start_body(framing, status, VERSIONS[version], events)
        return after

    def _skip_empty_lines(self, data: bytes, pos: int) -> int:
        """Skip empty lines before a status line (RFC 9112 section 2.2: a stray CRLF after the
        previous body); h11 accepts none, so they count against MAX_INTERIM."""
        start = pos
        while data.startswith(b"\r\n", pos):
            pos += 2
        self._count_interim((pos - start) // 2)
        return pos

    def _count_interim(self, count: int) -> None:
        self._interim += count
        if self._interim > MAX_INTERIM:
            raise RemoteProtocolError(
                f"More than {MAX_INTERIM} interim (1xx) responses or empty lines before"
                " the final response (MAX_INTERIM)"
            )

    def _start_body(
        self, framing: dict[bytes, list[bytes]], status: int, http11: bool, events: list[Event]
    ) -> None:
        """Pick the body framing of a response (RFC 9112 section 6.3)."""
        if not _persistent(framing.get(b"connection"), http11):
            self._keep_alive = False
        if status == 101 or (self._method == b"CONNECT" and 200 <= status < 300):
            self._switched = True
            self._step = self._step_done
            return
        if status < 200 or status in _NO_BODY_STATUS or self._method == b"HEAD":
            self._end_response(events, [])
            return
        if b"transfer-encoding" in framing:
            codings = framing[b"transfer-encoding"]
            if b"content-length" in framing:
                raise RemoteProtocolError(
                    "Response has both Transfer-Encoding and Content-Length headers"
                )
            # Only a single `chunked`, as h11 (so httpx): another coding, `gzip, chunked` or
            # a repeated field is refused rather than read until close (RFC 9112 section 6.3).
            if len(codings) != 1 or codings[0].lower() != b"chunked":
                raise RemoteProtocolError(f"Unsupported Transfer-Encoding: {codings!r}")
            if not http11:
                # RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty
                # framing; the body is decoded, then the connection closed.
                self._keep_alive = False
            self._excess = 0
            self._step = self._step_chunk_size
        elif b"content-length" in framing:
            lengths = framing[b"content-length"]
            value = lengths[0]
            if len(lengths) == 1 and value.isdigit() and len(value) < 19:
                length = int(value)  # the usual single, plain value
            else:
                length = content_length(lengths)
            self._remaining = self._expected = length
            if not length:
                self._end_response(events, [])
            else:
                self._step = self._step_length
        else:
            self._keep_alive = False  # RFC 9112 section 6.3 rule 8: the body ends at close
            self._step = self._step_close

    def _end_response(self, events: list[Event], trailers: list[tuple[bytes, bytes]]) -> None:
        events.append(StreamEnded(trailers))
        self._their_done = True
        self._step = self._step_done

    def _step_length(self, data: bytes, pos: int, events: list[Event]) -> int:
        available = len(data) - pos
        remaining = self._remaining
        if available < remaining:
            events.append(DataReceived(data[pos:] if pos else data))
            self._remaining = remaining - available
            return len(data)
        end = pos + remaining
        events.append(DataReceived(data[pos:end] if pos or end != len(data) else data))
        self._remaining = 0
        self._end_response(events, [])
        return end

    def _step_close(self, data: bytes, pos: int, events: list[Event]) -> int:
        events.append(DataReceived(data[pos:] if pos else data))
        return len(data)

    def _step_chunk_size(self, data: bytes, pos: int, events: list[Event]) -> int:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return -1
        if eol - pos > MAX_CHUNK_LINE_SIZE:
            raise RemoteProtocolError(f"Chunk size line exceeds {MAX_CHUNK_LINE_SIZE} bytes")
        line = data[pos:eol]
        if 0 < len(line) <= 16 and not line.translate(None, _HEX):
            size = int(line, 16)  # the usual bare size
        else:
            size = parse_chunk_line(line)
        # Framing bytes (this line, its CRLF, the CRLF after the data) beyond 16 + twice the
        # data: a peer sending tiny chunks with long extensions runs out (CVE-2023-39326).
        excess = self._excess + len(line) - 12 - 2 * size
        if excess > 0:
            if excess > MAX_CHUNK_OVERHEAD:
                raise RemoteProtocolError(
                    f"Chunk framing exceeds the data by more than {MAX_CHUNK_OVERHEAD} bytes"
                    " (MAX_CHUNK_OVERHEAD): chunk extensions outweigh the body"
                )
            self._excess = excess
        else:
            self._excess = 0
        self._remaining = size
        self._step = self._step_chunk_data if size else self._step_trailers
        return eol + 2

    def _step_chunk_data(self, data: bytes, pos: int, events: list[Event]) -> int:
        available = len(data) - pos
        remaining = self._remaining
        if available <= remaining:
            events.append(DataReceived(data[pos:] if pos else data))
            self._remaining = remaining - available
            if available == remaining:
                self._step = self._step_chunk_crlf
            return len(data)
        end = pos + remaining
        events.append(DataReceived(data[pos:end]))
        self._remaining = 0
        self._step = self._step_chunk_crlf
        return end

    def _step_chunk_crlf(self, data: bytes, pos: int, events: list[Event]) -> int:
        if len(data) - pos < 2 and data.startswith(b"\r", pos):
            return -1
        if not data.startswith(b"\r\n", pos):
            raise RemoteProtocolError(f"Chunk data not followed by CRLF: {data[pos : pos + 20]!r}")
        self._step = self._step_chunk_size
        return pos + 2

    def _step_trailers(self, data: bytes, pos: int, events: list[Event]) -> int:
        if data.startswith(b"\r\n", pos):
            self._end_response(events, [])
            return pos + 2
        if data.startswith(b"\n", pos):  # a bare-LF empty line, as h11 accepts
            self._end_response(events, [])
            return pos + 1
        found = head_end(data, pos)
        if found is None:
            return -1
        end, after = found
        if end - pos > MAX_HEAD_SIZE:
            raise RemoteProtocolError(f"Trailer section exceeds {MAX_HEAD_SIZE} bytes")
        block = normalize_lines(data[pos:end], "trailer section")
        self._end_response(events, parse_fields(block, "trailer"))
        return after

    def _step_done(self, data: bytes, pos: int, events: list[Event]) -> int:
        return -1  # bytes after the response wait for the next cycle (or the tunnel)

    def _step_error(self, data: bytes, pos: int, events: list[Event]) -> int:
        raise RemoteProtocolError("Can't receive data after a protocol error.")

    # ------------------------------------------------------------- lifecycle

    @property
    def has_received_data(self) -> bool:
        """Whether any response byte arrived this cycle: if not, a failed request may be retried
        on a new connection (the server may have closed an idle keep-alive connection)."""
        return self._received

    @property
    def is_response_complete(self) -> bool:
        """Whether the whole response of this cycle, body included, has been received."""
        return self._their_done

    @property
    def is_switched(self) -> bool:
        """Whether a 101 response (or 2xx to CONNECT) took the connection out of HTTP/1.1."""
        return self._switched

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the current response (for a switched connection: the tunnel's)."""
        return bytes(self._buf)

    @property
    def is_reusable(self) -> bool:
        """Whether another request may be sent on this connection (persistent, both sides done,
        the server sent nothing unsolicited)."""
        return (
            self._our_done
            and self._their_done
            and self._keep_alive
            and not self._closed
            and not self._switched
            and not self._buf.strip(b"\r\n")
        )

    def start_next_cycle(self) -> None:
        """Reset for the next request; bytes already received stay buffered (`next_events`)."""
        if not (self._our_done and self._their_done and self._keep_alive) or self._closed:
            raise LocalProtocolError("Can't start a new cycle: the connection is not reusable.")
        self._reset_cycle()


# The steps `receive_body_data` and `receive_whole_response` recognise (compared by function:
# a bound method is new on every attribute read).
_STEP_LENGTH = Http11State._step_length
_STEP_CLOSE = Http11State._step_close
_STEP_HEAD = Http11State._step_head
# Requests whose response has no body of its own, or switches protocols on a 2xx.
_NO_BODY_METHODS = frozenset({b"HEAD", b"CONNECT"})


def _request_head(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]] | list[tuple[bytes, bytes, bytes]],
    stored: bool,
) -> tuple[bytes, bytes, dict[bytes, list[bytes]] | None, bool]:
    """A validated request head (`send_request`'s), its field block (the fields and the empty
    line), its framing fields (`framing_values`; None when it names none, nor "close": kept
    with the block, so a repeated body's Content-Length costs no scan), and whether it offers
    an Upgrade."""
    try:
        fields = b"".join(map((_STORED_FIELD_FORMAT if stored else _FIELD_FORMAT).__mod__, headers))
    except TypeError:  # pairs given as lists, or a part that is not bytes
        fields = b"".join([field[0] + b": " + field[-1] + b"\r\n" for field in headers])
    fields += b"\r\n"
    head = b"%s %s HTTP/1.1\r\n%s" % (method, target, fields)
    # One scan validates every part; the LF count catches a CRLF smuggled into any of them.
    if _REQUEST_HEAD.fullmatch(head) is None or head.count(b"\n") != len(headers) + 2:
        _raise_bad_request_part(method, target, [(field[0], field[-1]) for field in headers])
    # (From the CRLF that ends the request line: the target is not a field.) `find`, not `in`:
    # CPython 3.11's `bytes in bytes` first tries the needle as an int and formats a TypeError
    # each time (about 1,900 instructions; callgrind, issue 9).
    start = len(head) - len(fields) - 2
    find = head.lower().find
    framed = (
        find(b"content-length:", start) >= 0
        or find(b"transfer-encoding:", start) >= 0
        or find(b"close", start) >= 0
    )
    framing = framing_values(head, start, len(head)) if framed else None
    return head, fields, framing, find(b"\r\nupgrade:", start) >= 0


def _persistent(connection: Sequence[bytes] | None, http11: bool) -> bool:
    """Whether the connection stays open after a response with these `Connection` values
    (RFC 9112 section 9.3): HTTP/1.1 unless "close", HTTP/1.0 only with "keep-alive"."""
    if connection is None:
        return http11
    if len(connection) == 1:
        # The usual single token, without building a set (0.41 -> 0.1 us).
        token = connection[0].strip(OWS).lower()
        if token == b"keep-alive":
            return True
        if token == b"close":
            return False
    tokens: set[bytes] = set()
    for value in connection:
        tokens |= list_tokens(value)
    return b"close" not in tokens if http11 else b"keep-alive" in tokens


def _raise_bad_request_part(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Name the first invalid part of a request head (RFC 9112 sections 3 and 5)."""
    if not _is_token(method):
        raise LocalProtocolError(f"Illegal method {method!r}")
    if not target or target.translate(None, FIELD_BYTES) or b" " in target:
        raise LocalProtocolError(f"Illegal request target {target!r}")
    for name, value in headers:
        if not _is_token(name):
            raise LocalProtocolError(f"Illegal header name {name!r}")
        if value.translate(None, FIELD_BYTES):
            raise LocalProtocolError(f"Illegal header value {value!r} for header {name!r}")
    raise LocalProtocolError(f"Illegal request head: {headers!r}")
