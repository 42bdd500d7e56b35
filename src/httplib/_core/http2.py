"""HTTP/2 client connection state, sans-I/O, over the `h2` library.

Theory of operation
-------------------
One `Http2State` per connection. It never touches a socket: the shell writes what
`data_to_send()` returns and feeds what it reads to `receive_data()`. Many streams share it::

    out = state.initiate()                          # preface + SETTINGS, write it first
    sid = state.start_request(b"GET", b"https", b"example.com", b"/", headers, end_stream=True)
    n = state.send_data(sid, body)                  # bytes accepted now (flow control); 0: wait
    state.end_stream(sid)
    touched, conn_events = state.receive_data(read_bytes)   # b"" at EOF
    for event in state.take(sid): ...               # ResponseReceived, DataReceived,
                                                    # StreamEnded, StreamReset
    state.close_stream(sid)                         # done with it (RST_STREAM CANCEL if open)

`receive_data` files each stream's events in that stream's queue and returns the ids whose
queue grew or whose send window opened (so the shell wakes exactly those waiters), plus the
connection events: `SettingsChanged` (the peer's SETTINGS_MAX_CONCURRENT_STREAMS, for the pool)
and `GoAwayReceived`.

Flow control (RFC 9113 section 5.2): received DATA is acknowledged when the shell *takes* it, so
a consumer that stops reading stops the peer at the stream window while the others go on;
windows are large (`STREAM_WINDOW`, `CONNECTION_WINDOW`) so big downloads never stall on round
trips. A response head announcing a body the stream window can cover gets it covered at once
(`_cover`), so no stream WINDOW_UPDATE goes out late, when a server may already have closed.
Sending is bounded by the peer's windows and frame size: `send_data` returns how much it
framed, and the stream appears in `touched` when a WINDOW_UPDATE lets it send again.

GOAWAY (RFC 9113 section 6.8): streams above the last stream id were never processed; they end
with a `StreamReset` marked `retryable` (its error carries the `refused` mark), so the engine
resends them on another connection. Streams at or below it run to completion (h2 on its own
would reject every frame after GOAWAY; its state machine is told to keep receiving). A
RST_STREAM with REFUSED_STREAM is retryable too (section 8.7). Any connection error (a protocol
violation, EOF, a flood) fails every stream that has not finished with a `TransportError`, so
no waiter hangs; a stream whose response already ended, or that was already refused, keeps that
outcome (a server that closes right after its last response, or after GOAWAY, loses nobody's
response). A failed *write* (`write_failed`) is not a failed read: what the server sent before
closing may still be buffered on our side, so only the streams still sending their request fail,
and the others read on until their end or the EOF.

Limits against hostile peers: SETTINGS_MAX_HEADER_LIST_SIZE is announced and enforced by the HPACK
decoder; h2 caps CONTINUATION frames per header block; a stream takes at most `MAX_INTERIM` 1xx
heads (HTTP/1.1's bound); control frames that nothing we sent explains and that carry no response
progress (PING, SETTINGS, PRIORITY, RST_STREAM on a stream we do not have, empty DATA,
WINDOW_UPDATE returning more credit than our DATA used) are counted, and more than
`MAX_CONTROL_FRAMES` in a row is a flood. A WINDOW_UPDATE that gives back credit our own DATA used
is an answer, not a flood: lighttpd sends one per 16 KiB of an upload before it responds (nghttp2
and h2o likewise bound only the work a peer causes unprompted). Every h2 exception is mapped here,
once.

Fast paths (h2 stays the state machine; only its per-request overhead is skipped):
`start_request` frames the request HEADERS itself, driving h2's connection and stream state
machines directly, with the HPACK block memoized while the encoder's dynamic table is unchanged
and without h2's scan of every stream per request; `_receive_fast` parses the response HEADERS
and DATA of open streams (no padding, no priority, whole header blocks) and feeds them to the
same h2 state machines, leaving every other frame, and what follows it in a read, to h2; request
and checked response heads are memoized per connection; credit for data taken from finished
streams is given back once per write. Instructions per request under callgrind
(`bench/micro/h2_path.py --count 2000`: 100 streams of 1 KiB GETs against nginx, the whole
client process over the counted requests; the base is the h2-driven state before this work):

    step                                            TLS asyncio  h2c asyncio  TLS 100 threads
    h2 does everything (base)                             980k         975k          1042k
    + request HEADERS built here, h2's frame repr()
      skipped, one write per round (h2_connection.py)     597k
    + response HEADERS/DATA parsed here, head memos       497k         474k           489k
    + a frame cut by a read's end stays here              463k         443k           488k
    + credit once per write, no inbound normalization     446k         426k           479k
    + close_stream forgets h2's stream                    445k         417k           478k
    + new stream made and set directly                    429k         407k           457k
    + a final response head without h2's pipeline         414k         390k           437k
"""

from __future__ import annotations

import re
import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
import hpack
import hpack.table
import hyperframe.frame

from .._exceptions import LocalProtocolError, RemoteProtocolError, TransportError
from .events import BodyBuffer, DataReceived, ResponseReceived, StreamEnded
from .http11_parse import MAX_INTERIM
from .pool import Action, PoolConnection, PoolState
from .resend import mark_connection_cut, mark_drain_cut, refused_error

__all__ = [
    "CONNECTION_WINDOW",
    "DEFAULT_MAX_STREAMS",
    "MAX_CONTROL_FRAMES",
    "MAX_HEADER_LIST_SIZE",
    "MAX_STREAMS",
    "STREAM_WINDOW",
    "GoAwayReceived",
    "Http2State",
    "SettingsChanged",
    "StreamEvent",
    "pool_actions",
    "StreamReset",
    "ResponseProgress",
    "request_headers",
]

# Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE): 1 MiB keeps a 64 KiB-read consumer
# busy over loopback and LAN round trips; it also bounds what one unread stream buffers.
STREAM_WINDOW = 1 << 20
# Connection receive window: bounds the memory all streams of one connection may buffer.
CONNECTION_WINDOW = 16 << 20
# SETTINGS_MAX_HEADER_LIST_SIZE we announce and enforce: curl's bound for a response head in
# any HTTP version, as MAX_HEAD_SIZE for HTTP/1.1 (http11_parse.py), so no real head is refused.
MAX_HEADER_LIST_SIZE = 300 * 1024
# Control frames in a row with no response progress before the peer counts as flooding us:
# well above any sane server's pings and settings, far below what costs real CPU.
MAX_CONTROL_FRAMES = 1000
# RFC 9113 section 6.5.2: no SETTINGS_MAX_CONCURRENT_STREAMS means unlimited; we open at most
# this many streams on one connection before the pool opens another.
DEFAULT_MAX_STREAMS = 100
# Never more streams than this on one connection, whatever the peer allows: past it, one more
# connection costs less than head-of-line blocking in one TCP window.
MAX_STREAMS = 1000

_HTTP_VERSION = b"HTTP/2"
# RFC 9113 section 8.2.2: connection-specific fields are malformed in HTTP/2; Host becomes
# :authority (section 8.3.1).
_DROPPED_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host"}
)
# Field names are lower-case tokens (RFC 9110 section 5.6.2, RFC 9113 section 8.2.1); names are
# scanned joined by \x01, which no name may contain.
_BAD_NAME = re.compile(rb"[^\x01!#$%&'*+\-.^_`|~0-9a-z]")
_CONNECTION_FIELDS = _DROPPED_FIELDS - {b"host"}
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_STATUS = re.compile(rb"[1-9][0-9][0-9]")
# Distinct header blocks remembered per connection (nginx's change once a second with Date).
_MEMO_BLOCKS = 64
_NO_ERROR = h2.errors.ErrorCodes.NO_ERROR
_PROTOCOL_ERROR = h2.errors.ErrorCodes.PROTOCOL_ERROR
_CANCEL = h2.errors.ErrorCodes.CANCEL
_REFUSED = h2.errors.ErrorCodes.REFUSED_STREAM
_MAX_STREAMS_SETTING = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
# What HPACK decoding gives h2 (hpack's decoder and ours both return a list).
_Fields = list[tuple[bytes, bytes]]
_SEND_HEADERS = h2.connection.ConnectionInputs.SEND_HEADERS
_RECV_HEADERS = h2.connection.ConnectionInputs.RECV_HEADERS
_RECV_DATA = h2.connection.ConnectionInputs.RECV_DATA
# In this state HEADERS and DATA, sent or received, leave h2's connection state machine as it
# is (h2's transition table): the call that says so is skipped on the hot paths.
_CLIENT_OPEN = h2.connection.ConnectionState.CLIENT_OPEN
_OPEN = h2.stream.StreamState.OPEN
_STREAM_RECV_HEADERS = h2.stream.StreamInputs.RECV_HEADERS
_STREAM_RECV_END = h2.stream.StreamInputs.RECV_END_STREAM
_HALF_CLOSED_LOCAL = h2.stream.StreamState.HALF_CLOSED_LOCAL
# Streams whose response frames the fast path takes: open, or our side done (section 5.1).
_RECEIVING = frozenset({_OPEN, _HALF_CLOSED_LOCAL})
# Frame types and flags (RFC 9113 sections 6.1, 6.2 and 6.10) for the frames we build and
# parse ourselves.
_DATA, _HEADERS, _WINDOW_UPDATE, _CONTINUATION = 0x0, 0x1, 0x8, 0x9
_END_STREAM, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x4, 0x8, 0x20
_FRAME_HEAD = struct.Struct(">HBBBL")  # 24-bit length as (high 16, low 8), type, flags, id
# h2 forgets a closed stream only when it counts open ones (every request, in its
# send_headers); `close_stream` forgets ours one by one instead, and h2's count runs only once
# this many closed streams piled up some other way (a broken connection sends no reset).
_PRUNE_SLACK = 64


@dataclass(slots=True)
class StreamReset:
    """The stream failed: `error` is what to raise; `retryable` means the server never
    processed it (GOAWAY above its last stream id, or REFUSED_STREAM), so it may be resent."""

    error: TransportError
    retryable: bool = False


class ResponseProgress(BodyBuffer):
    """What one request has received so far; both shells apply a stream's events to it."""

    __slots__ = ("head", "sid", "trailers")

    def __init__(self) -> None:
        self.sid: int | None = None  # set by the shell as soon as the stream is opened
        self.head: ResponseReceived | None = None
        self.chunks: list[bytes] = []
        self.ended = False
        self.trailers: list[tuple[bytes, bytes]] = []

    def apply(self, events: list[StreamEvent]) -> None:
        """File the events; a reset raises its error (`refused_error` when retryable)."""
        for event in events:
            kind = type(event)
            if kind is DataReceived:
                self.chunks.append(event.data)  # type: ignore[union-attr]
            elif kind is ResponseReceived:
                self.head = event  # type: ignore[assignment]
            elif kind is StreamEnded:
                self.ended = True
                self.trailers = event.trailers  # type: ignore[union-attr]
            else:
                raise event.error  # type: ignore[union-attr]


@dataclass(slots=True)
class SettingsChanged:
    """The peer's stream limit for this connection is now `max_streams`."""

    max_streams: int


@dataclass(slots=True)
class GoAwayReceived:
    """GOAWAY: no new streams; those above `last_stream_id` were already failed as retryable."""

    last_stream_id: int
    error_code: int


StreamEvent = ResponseReceived | DataReceived | StreamEnded | StreamReset
ConnectionEvent = SettingsChanged | GoAwayReceived


class _GracefulGoAway(h2.connection.H2ConnectionStateMachine):
    """h2's connection state machine, except that a received GOAWAY keeps the connection open
    for receiving: streams the server accepted must still get their responses (section 6.8).
    Before our first stream too (h2's IDLE): a server reloading sends GOAWAY on a connection it
    has just accepted, and its SETTINGS may follow; the handshake must still read them (the
    GOAWAY then refuses our requests, which go to another connection)."""

    _transitions = {  # noqa: RUF012 - h2 declares it an instance attribute
        **h2.connection.H2ConnectionStateMachine._transitions,
        (
            h2.connection.ConnectionState.CLIENT_OPEN,
            h2.connection.ConnectionInputs.RECV_GOAWAY,
        ): (None, h2.connection.ConnectionState.CLIENT_OPEN),
        (
            h2.connection.ConnectionState.IDLE,
            h2.connection.ConnectionInputs.RECV_GOAWAY,
        ): (None, h2.connection.ConnectionState.IDLE),
    }


def _frames_up_to(data: bytearray, last: int) -> tuple[bytearray, int]:
    """The whole frames in `data` (an outbound buffer) of the connection and of streams up to
    `last`, in order, and the flow-controlled length of the DATA frames left out."""
    kept = bytearray()
    view = memoryview(data)
    pos, size, unsent = 0, len(data), 0
    while size - pos >= 9:
        high, low, kind, _, sid = _FRAME_HEAD.unpack_from(data, pos)
        length = high << 8 | low
        end = pos + 9 + length
        if sid & 0x7FFFFFFF <= last:
            kept += view[pos:end]
        elif kind == _DATA:
            unsent += length  # (the whole payload, padding included: RFC 9113 section 6.1)
        pos = end
    kept += view[pos:]  # (h2 queues whole frames: nothing is left over)
    return kept, unsent


class _Connection(h2.connection.H2Connection):
    """h2's connection, less the `repr()` of every received frame that h2 builds for its trace
    log whether or not anything logs (a tenth of the cost of receiving a response), and
    keeping what is queued to send when a GOAWAY arrives."""

    # Flow-controlled bytes of DATA framed but left unsent because a GOAWAY refused their
    # streams (see `_receive_goaway_frame`).
    unsent_on_goaway = 0

    def _receive_goaway_frame(self, frame: Any) -> tuple[list[Any], list[h2.events.Event]]:
        # h2 empties its outbound buffer here, but the streams at or below the last stream id
        # are still served (RFC 9113 section 6.8): a request body framed and not yet written
        # has spent its flow-control window, so dropping it leaves the server waiting for
        # bytes that never come and the upload waiting for credit that never comes. Only the
        # frames of streams above it go (`_on_goaway` closes those on our side, without
        # RST_STREAM): the server never opened them, and lighttpd takes DATA for a stream
        # above the last one it saw for a connection error that resets every stream it
        # still serves. (Their HEADERS go too: no HEADERS follows on a connection that is
        # going away, so the HPACK tables cannot disagree.)
        queued = self._data_to_send
        result = super()._receive_goaway_frame(frame)
        self._data_to_send, unsent = _frames_up_to(queued, frame.last_stream_id)
        # Their DATA spent our connection send window when it was framed; the server never
        # sees it, so never credits it back: without the refund the window shrinks for good
        # and a server that sends WINDOW_UPDATE only once half its window is used (h2 does)
        # leaves the uploads it still serves waiting for credit (section 6.9.1).
        self.outbound_flow_control_window += unsent
        self.unsent_on_goaway += unsent
        return result

    def _receive_frame(self, frame: Any) -> list[h2.events.Event]:
        try:
            frames, events = self._frame_dispatch_table[frame.__class__](frame)
        except h2.exceptions.StreamClosedError as exc:
            # RFC 9113 section 5.1: a frame on a stream we reset is a stream error (answer it
            # with RST_STREAM); on a stream that ended otherwise, a connection error.
            if not self._stream_is_closed_by_reset(exc.stream_id):
                raise
            self._reset_again(exc.stream_id, exc.error_code)
            return exc._events
        except h2.exceptions.StreamIDTooLowError as exc:
            # A stream h2 already forgot: reset by either side is a stream error; ended by
            # END_STREAM a connection error of type STREAM_CLOSED (the GOAWAY h2 sends as this
            # propagates carries the code); closed implicitly, a PROTOCOL_ERROR one.
            if self._stream_is_closed_by_reset(exc.stream_id):
                self._reset_again(exc.stream_id, h2.errors.ErrorCodes.STREAM_CLOSED)
                return []
            if self._stream_is_closed_by_end(exc.stream_id):
                exc.error_code = h2.errors.ErrorCodes.STREAM_CLOSED
            raise
        if frames:
            self._prepare_for_sending(frames)
        return events  # type: ignore[no-any-return]

    def _reset_again(self, sid: int, code: int) -> None:
        reset = hyperframe.frame.RstStreamFrame(sid)
        reset.error_code = code
        self._prepare_for_sending([reset])


class _CachingDecoder(hpack.Decoder):
    """HPACK decoding memoized for servers that use no dynamic table (nginx sets its size
    to 0): then a header block decodes the same every time, so a repeated block (the same
    response head within the same second) skips the pure-Python Huffman decoding."""

    def __init__(self, template: hpack.Decoder) -> None:
        super().__init__(template.max_header_list_size)
        self._memo: dict[bytes, list[Any]] = {}

    def decode(self, data: bytes, raw: bool = False) -> Any:
        table = self.header_table
        if table.maxsize or not raw:
            return super().decode(data, raw)
        memo = self._memo
        headers = memo.get(data)
        if headers is None:
            headers = list(super().decode(data, raw))
            # RFC 7541 section 4.2: a size update may enable the table; such a block changes
            # the decoder's state and must be decoded every time.
            if not table.maxsize:
                if len(memo) >= _MEMO_BLOCKS:
                    memo.clear()
                memo[bytes(data)] = headers
        return list(headers)


class _CountingTable(hpack.table.HeaderTable):
    """HPACK's header table, counting the entries added to it (each one renumbers the
    dynamic entries, so header blocks encoded before are stale)."""

    def __init__(self) -> None:
        super().__init__()
        self.adds = 0

    def add(self, name: bytes, value: bytes) -> None:
        self.adds += 1
        super().add(name, value)


class _CachingEncoder(hpack.Encoder):
    """HPACK encoding memoized per header list: once every field of a request is in the
    dynamic table (the second identical request on), encoding it adds nothing and yields the
    same block every time, until an entry is added or the table is resized."""

    def __init__(self) -> None:
        super().__init__()
        self.header_table: _CountingTable = _CountingTable()
        self._memo: dict[tuple[tuple[bytes, bytes], ...], bytes] = {}

    def encode_fields(self, fields: tuple[tuple[bytes, bytes], ...]) -> bytes:
        """The block for `fields` (plain tuples: none is marked never-indexed)."""
        memo, table = self._memo, self.header_table
        if table.resized:  # the block must carry the size update (RFC 7541 section 6.3)
            memo.clear()
        else:
            block = memo.get(fields)
            if block is not None:
                return block
        resized, adds = table.resized, table.adds
        block = self.encode(fields)
        if table.adds != adds or len(memo) >= _MEMO_BLOCKS:
            memo.clear()
        if not resized and table.adds == adds:
            memo[fields] = block
        return block


def _header_frames(sid: int, block: bytes, end_stream: bool, max_size: int) -> bytes:
    """HEADERS (plus CONTINUATIONs past the peer's frame size) carrying `block`."""
    flags = _END_STREAM if end_stream else 0
    size = len(block)
    if size <= max_size:
        flags |= _END_HEADERS
        return _FRAME_HEAD.pack(size >> 8, size & 0xFF, _HEADERS, flags, sid) + block
    out = bytearray()
    kind = _HEADERS
    for start in range(0, size, max_size):
        piece = block[start : start + max_size]
        last = start + max_size >= size
        n = len(piece)
        out += _FRAME_HEAD.pack(n >> 8, n & 0xFF, kind, flags | (_END_HEADERS if last else 0), sid)
        out += piece
        kind, flags = _CONTINUATION, 0
    return bytes(out)


class _Stream:
    __slots__ = (
        "answered",
        "body_sent",
        "continued",
        "covered",
        "events",
        "finished",
        "head_unsent",
        "interim",
        "owed",
        "reused",
        "sending",
        "trailers",
        "unacked",
        "write_cut",
    )

    def __init__(self, reused: bool, sending: bool) -> None:
        self.sending = sending  # the request's END_STREAM is not sent yet
        # A write failed while the body was being sent: the stream reads on for an answer the
        # server may have sent already, and fails with this if none comes (`write_failed`).
        self.write_cut: TransportError | None = None
        self.head_unsent = False  # a bodiless request's HEADERS not yet known to be written
        self.events: deque[StreamEvent] = deque()
        self.trailers: list[tuple[bytes, bytes]] = []
        self.unacked = 0  # flow-controlled bytes queued in `events`, acknowledged on take()
        # The window covers the whole announced body: no stream WINDOW_UPDATE any more
        # (`Http2State._cover`).
        self.covered = False
        # Its outcome is queued (StreamEnded or a StreamReset): later frames and connection
        # failures are dropped, so a finished response is never turned into an error.
        self.finished = False
        self.owed = 0  # DATA bytes we sent that the peer has not credited back yet
        # What a stale-connection retry needs to know: opened after another stream completed,
        # any response frame seen, any body byte framed.
        self.reused = reused
        self.answered = False
        self.body_sent = False
        self.continued = False  # a 100 (Continue) came: a body held back may go
        self.interim = 0  # 1xx heads so far (at most MAX_INTERIM)


def request_headers(
    method: bytes,
    scheme: bytes,
    authority: bytes,
    path: bytes,
    fields: Iterable[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """Pseudo-headers first, then lower-cased fields minus connection-specific ones
    (RFC 9113 sections 8.2.2 and 8.3.1); a Host field supplies :authority."""
    regular: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        lowered = name.lower()
        if lowered in _DROPPED_FIELDS:
            if lowered == b"host":
                authority = value
            continue
        if lowered == b"te" and value.lower() != b"trailers":
            continue  # section 8.2.2: TE may only say "trailers"
        regular.append((lowered, value))
    return [
        (b":method", method),
        (b":authority", authority),
        (b":scheme", scheme),
        (b":path", path),
        *regular,
    ]


def _response_head(headers: Iterable[tuple[bytes, bytes]]) -> ResponseReceived:
    """The response head from decoded fields; a `RemoteProtocolError` when it is malformed:
    a missing or bad :status, another pseudo-header, a field name that is not a lower-case
    token, or CR, LF or NUL in a value (RFC 9113 sections 8.2.1 and 8.3.2)."""
    status = b""
    fields: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name[:1] != b":":
            fields.append((name, value))
        elif name == b":status" and not status and not fields:
            status = value
        else:
            raise RemoteProtocolError(f"Malformed HTTP/2 response: pseudo-header {name!r}.")
    if not _STATUS.fullmatch(status):
        raise RemoteProtocolError(f"Malformed HTTP/2 response: :status {status!r}.")
    _check_fields(fields)
    # (names are lower-case already: `_check_fields` refused any other)
    stored = [(name, name, value) for name, value in fields]
    return ResponseReceived(int(status), b"", stored, _HTTP_VERSION)


def _check_fields(fields: list[tuple[bytes, bytes]]) -> None:
    """Reject empty or non-token names, connection-specific fields (RFC 9113 section 8.2.2)
    and CR, LF or NUL in values: one scan each."""
    if not fields:
        return
    names = [name for name, _ in fields]
    if (
        not all(names)
        or _BAD_NAME.search(b"\x01".join(names)) is not None
        or not _CONNECTION_FIELDS.isdisjoint(names)
    ):
        raise RemoteProtocolError(f"Malformed HTTP/2 response: a field name in {names!r}.")
    if _BAD_VALUE.search(b"".join([value for _, value in fields])) is not None:
        raise RemoteProtocolError("Malformed HTTP/2 response: CR, LF or NUL in a field value.")


def _copy(error: TransportError) -> TransportError:
    """A fresh instance of a connection's error for each stream it fails, so flows raising it
    concurrently never share (and extend) one traceback; with its marks (`resend`'s facts)."""
    copy = type(error)(*error.args)
    copy.__dict__.update(error.__dict__)
    return copy


def _connection_error(exc: Exception) -> RemoteProtocolError:
    return RemoteProtocolError(f"HTTP/2 protocol error from the server: {exc}")


class Http2State:
    """One HTTP/2 client connection: streams, windows, queues; see the module docstring."""

    def __init__(self) -> None:
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,  # request_headers() builds them well-formed
            normalize_outbound_headers=False,
            # h2's inbound checks run a chain of generators per field; `_response_head` does
            # the checks that protect users (RFC 9113 section 8.2.1) in a few regex scans.
            validate_inbound_headers=False,
            # Its only step joins Cookie crumbs (RFC 9113 section 8.2.3), a request field.
            normalize_inbound_headers=False,
        )
        conn = _Connection(config=config)
        conn.state_machine = _GracefulGoAway()
        conn.decoder = _CachingDecoder(conn.decoder)
        self._encoder = conn.encoder = _CachingEncoder()
        conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: DEFAULT_MAX_STREAMS,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST_SIZE,
            },
        )
        self._conn = conn
        self._streams: dict[int, _Stream] = {}
        self._blocked: set[int] = set()  # streams waiting for send window
        # Bodiless requests whose HEADERS is queued, and those in the write under way.
        self._unwritten: list[_Stream] = []
        self._in_flight: list[_Stream] = []
        # Request heads as sent (pseudo-headers first, fields lower-cased and filtered) by what
        # `start_request` was given, and checked response heads by their decoded fields: the
        # same few repeat on a connection.
        self._partial = b""  # the start of a frame, for `_receive_fast`
        self._credit = 0  # bytes taken from finished streams, not yet credited back
        self._heads: dict[tuple[Any, ...], tuple[tuple[bytes, bytes], ...]] = {}
        self._responses: dict[tuple[tuple[bytes, bytes], ...], tuple[int, tuple[Any, ...]]] = {}
        self._control_frames = 0
        self._owed = 0  # connection-level DATA bytes sent and not yet credited back
        self.served = False  # the server answered a stream or named one processed in GOAWAY
        self.error: TransportError | None = None  # the connection is dead for every stream
        self.write_error: TransportError | None = None  # it can no longer send (see module doc)
        # The connection went away under us (EOF, a failed read or write), as opposed to the
        # server breaking the protocol: only then may unanswered requests count as stale.
        self.cut_off = False
        self.completed_streams = 0  # streams whose response ended: later ones reuse the conn
        self.goaway: GoAwayReceived | None = None
        self.max_streams = DEFAULT_MAX_STREAMS
        self.has_peer_settings = False  # the server's first SETTINGS arrived

    # ------------------------------------------------------------------------------ status

    @property
    def is_draining(self) -> bool:
        """True after GOAWAY or a connection error: the connection takes no new streams."""
        return self.goaway is not None or self.error is not None or self.write_error is not None

    @property
    def is_broken(self) -> bool:
        """True once a read or a write on the connection failed."""
        return self.error is not None or self.write_error is not None

    @property
    def open_streams(self) -> int:
        """Streams opened and not yet closed by `close_stream`."""
        return len(self._streams)

    # ----------------------------------------------------------------------------- sending

    def initiate(self) -> bytes:
        """The connection preface and our SETTINGS, plus the larger connection window."""
        conn = self._conn
        conn.initiate_connection()
        conn.increment_flow_control_window(CONNECTION_WINDOW - conn.inbound_flow_control_window)
        return conn.data_to_send()

    def data_to_send(self) -> bytes:
        """Frames waiting to be written (HEADERS, DATA, WINDOW_UPDATE, acks, RST_STREAM);
        nothing once a write failed (what is queued then can never be sent)."""
        if self.write_error is not None:
            self._conn.clear_outbound_data_buffer()
            return b""
        # The previous batch was written (a failed write sets `write_error` first): its
        # requests without a body are no longer sending; this batch's are in flight.
        for stream in self._in_flight:
            stream.head_unsent = False
        self._in_flight, self._unwritten = self._unwritten, []
        if self._credit:
            self._give_credit()
        return self._conn.data_to_send()

    def start_request(
        self,
        method: bytes,
        scheme: bytes,
        authority: bytes,
        path: bytes,
        fields: Iterable[tuple[bytes, bytes]],
        *,
        end_stream: bool,
    ) -> int:
        """Open a stream with the request head; returns its id."""
        if self.error is not None:
            # Broken before this request was sent on it (another thread's read met the EOF
            # between the pool handing it out and now): nothing left, so it goes elsewhere.
            raise refused_error(
                f"The HTTP/2 connection failed before the request was sent on it: {self.error}"
            )
        if self.goaway is not None:
            raise refused_error("The HTTP/2 connection received GOAWAY: no new streams.")
        if self.write_error is not None:
            raise refused_error("The HTTP/2 connection can no longer send: no new streams.")
        conn = self._conn
        highest = conn.highest_outbound_stream_id
        sid = highest + 2 if highest else 1
        if sid > conn.HIGHEST_ALLOWED_STREAM_ID:
            sid = conn.get_next_available_stream_id()  # raises NoAvailableStreamIDError
        key = (method, scheme, authority, path, *fields)
        headers = self._heads.get(key)
        if headers is None:
            headers = tuple(request_headers(method, scheme, authority, path, fields))
            if len(self._heads) >= _MEMO_BLOCKS:
                self._heads.clear()
            self._heads[key] = headers
        # h2's send_headers, less what costs without protecting anything here (outbound
        # header validation, a scan of every stream per request): the limit of section 5.1.2,
        # the connection's and the stream's state machines, HPACK (memoized), the frames.
        streams = conn.streams
        limit = conn.remote_settings.max_concurrent_streams
        if len(self._streams) >= limit or len(streams) > len(self._streams) + _PRUNE_SLACK:
            # Counting open streams is also where h2 forgets closed ones; what we have not
            # closed ourselves is an upper bound of h2's open streams, so below the limit
            # the count is only needed now and then.
            opened = conn.open_outbound_streams
            if opened + 1 > limit:
                # The peer lowered its limit after the pool assigned this stream.
                raise refused_error(
                    f"The server allows no more streams now: Max outbound streams is {limit},"
                    f" {opened} open"
                )
        try:
            if conn.state_machine.state is not _CLIENT_OPEN:
                conn.state_machine.process_input(_SEND_HEADERS)
            # h2's _begin_new_stream, less the checks that hold by construction (the id
            # is the next odd one).
            h2_stream = h2.stream.H2Stream(
                sid,
                config=conn.config,
                inbound_window_size=conn.local_settings.initial_window_size,
                outbound_window_size=conn.remote_settings.initial_window_size,
            )
            h2_stream.max_outbound_frame_size = conn.max_outbound_frame_size
            conn.streams[sid] = h2_stream
            conn.highest_outbound_stream_id = sid
            # What h2's stream state machine does for the request HEADERS of a new stream
            # (IDLE -> OPEN, `request_sent`) and its END_STREAM (OPEN -> HALF_CLOSED_LOCAL).
            machine = h2_stream.state_machine
            machine.client = machine.headers_sent = True
            machine.state = _HALF_CLOSED_LOCAL if end_stream else _OPEN
        except h2.exceptions.ProtocolError as exc:
            raise LocalProtocolError(f"Cannot send the request head: {exc}") from exc
        h2_stream._authority = headers[1][1]
        h2_stream.request_method = method  # a HEAD response has no body (h2's length check)
        block = self._encoder.encode_fields(headers)
        conn._data_to_send += _header_frames(sid, block, end_stream, conn.max_outbound_frame_size)
        stream = self._streams[sid] = _Stream(self.completed_streams > 0, not end_stream)
        if end_stream:
            # Its head may be written by another flow's write (the shell batches them): a
            # failed write must fail it like a request still sending, unless it was answered.
            stream.head_unsent = True
            self._unwritten.append(stream)
        return sid

    def send_window(self, sid: int) -> int:
        """How many body bytes stream `sid` may send right now (0: wait for WINDOW_UPDATE)."""
        conn = self._conn
        try:
            window: int = conn.local_flow_control_window(sid)
        except h2.exceptions.StreamClosedError:
            return 0
        return min(window, conn.max_outbound_frame_size)

    def send_data(self, sid: int, data: bytes | memoryview) -> int:
        """Frame as much of `data` as the peer's windows allow; returns the count framed.

        0 means the stream waits for a WINDOW_UPDATE: it will be in `touched` when one comes.
        """
        error = self.error or self.write_error
        if error is not None:
            raise _copy(error)
        conn = self._conn
        sent = 0
        total = len(data)
        while sent < total:
            size = min(self.send_window(sid), total - sent)
            if size <= 0:
                self._blocked.add(sid)
                break
            try:
                conn.send_data(sid, bytes(data[sent : sent + size]))
            except h2.exceptions.StreamClosedError:
                break  # the server reset it: its StreamReset tells the waiter why
            sent += size
        if sent:
            self._owed += sent
            stream = self._streams.get(sid)
            if stream is not None:
                stream.body_sent = True
                stream.owed += sent
        return sent

    def end_stream(self, sid: int) -> None:
        """The request body is complete."""
        stream = self._streams.get(sid)
        if stream is not None:
            stream.sending = False
        try:
            self._conn.end_stream(sid)
        except h2.exceptions.StreamClosedError:
            pass  # reset by the server meanwhile; the reader sees the StreamReset

    def close_stream(self, sid: int) -> None:
        """Forget `sid`; if it is still open (a cancelled request), send RST_STREAM(CANCEL)."""
        stream = self._streams.pop(sid, None)
        self._blocked.discard(sid)
        if stream is None:
            return
        conn = self._conn
        if stream.unacked:
            self._acknowledge(stream, sid, stream.unacked)
        h2_stream = conn.streams.get(sid)
        if h2_stream is None:
            return
        if not h2_stream.closed and self.error is None:
            conn.reset_stream(sid, _CANCEL)
        if h2_stream.closed:
            # What h2 does when it counts open streams (see `_PRUNE_SLACK`), for this one
            # stream: forget it, remembering how it closed for frames that may still come.
            del conn.streams[sid]
            conn._closed_streams[sid] = h2_stream.closed_by

    def ping(self, opaque: bytes) -> None:
        """Queue a PING (8 bytes), e.g. to probe an idle connection."""
        self._conn.ping(opaque)

    def close(self) -> bytes:
        """GOAWAY(NO_ERROR) for a clean close; the bytes to write before closing the socket."""
        if not self.is_broken:
            try:
                self._conn.close_connection()
            except h2.exceptions.ProtocolError:
                return b""
        return self._conn.data_to_send()

    # --------------------------------------------------------------------------- receiving

    def take(self, sid: int) -> list[StreamEvent]:
        """Events queued for `sid`, oldest first; the DATA among them is acknowledged now."""
        stream = self._streams.get(sid)
        if stream is None or not stream.events:
            return []
        events = list(stream.events)
        stream.events.clear()
        if stream.unacked:
            unacked, stream.unacked = stream.unacked, 0
            self._acknowledge(stream, sid, unacked)
        return events

    def _acknowledge(self, stream: _Stream, sid: int, size: int) -> None:
        """Give `size` bytes of window back (RFC 9113 section 6.9), except where no stream can
        use it: on a broken connection, or after GOAWAY once no stream is left unfinished. The
        server closes right after its last stream; a WINDOW_UPDATE written into that close
        draws a reset, and on trio's TLS stream a failed write also fails every later read, so
        responses still unread in our socket buffer would be lost."""
        if self.is_broken:
            return
        if stream.finished or stream.covered:
            # Only the connection's window matters for a stream whose response ended, or whose
            # window covers the rest (`_cover`): the credit of a round of takes goes out as one
            # WINDOW_UPDATE (`data_to_send`).
            self._credit += size
            return
        self._conn.acknowledge_received_data(size, sid)

    def _cover(self, sid: int, stream: _Stream) -> None:
        """When a response head announces a body the stream window can cover, cover it now:
        no WINDOW_UPDATE for the stream later, or one at once when the body is up to a
        window larger (RFC 9113 section 6.9). A frame sent late is answered with a reset by
        a server that closes once its last response is in its send buffer (lighttpd
        draining), and the reset discards what is still there. The window keeps a byte to
        spare: Apache sends no DATA frame into a shut window, not even the empty one that
        ends the stream. Larger bodies are credited as they are taken, which bounds what an
        unread stream buffers."""
        h2_stream = self._conn.streams.get(sid)
        if h2_stream is None:
            return
        # (h2 keeps both: it checks every DATA frame against the Content-Length)
        expected = h2_stream._expected_content_length
        if expected is None:
            return
        rest = expected - h2_stream._actual_content_length
        window = h2_stream.inbound_flow_control_window
        if rest >= window + STREAM_WINDOW:
            return
        if rest >= window:
            self._conn.increment_flow_control_window(rest - window + 1, stream_id=sid)
        stream.covered = True

    def _give_credit(self) -> None:
        """Connection window for the data taken from finished streams (see `_acknowledge`);
        none after GOAWAY once no stream is left unfinished."""
        credit, self._credit = self._credit, 0
        if self.error is not None or (
            self.goaway is not None and all(s.finished for s in self._streams.values())
        ):
            return
        conn = self._conn
        increment = conn._inbound_flow_control_window_manager.process_bytes(credit)
        if increment:  # h2's window manager sends it once a good part of the window is used
            conn._data_to_send += _FRAME_HEAD.pack(0, 4, _WINDOW_UPDATE, 0, 0)
            conn._data_to_send += increment.to_bytes(4, "big")

    def stream_facts(self, sid: int) -> tuple[bool, bool, bool] | None:
        """For a stale-connection retry: whether stream `sid` was opened on a reused connection,
        got any response frame, and sent any body byte; None once it is closed."""
        stream = self._streams.get(sid)
        if stream is None:
            return None
        return stream.reused, stream.answered, stream.body_sent

    def connection_lost(self, error: TransportError) -> set[int]:
        """The shell's read or write failed: the connection is broken, every open stream fails
        with `error`; returns the stream ids to wake."""
        touched: set[int] = set()
        if self.error is None:
            self.cut_off = True
            self._fail(error, touched, cut=True)
        return touched

    def write_failed(self, error: TransportError, read_on: bool = False) -> set[int]:
        """The shell's write failed: nothing more can be sent. A request whose HEADERS may not
        have gone out fails with `error`; the others read on. So does one whose body was being
        sent, when `read_on` (the connection was closed or reset under the write, so the reads
        end soon): a server may answer before it has the whole request and then close
        (RFC 9113 section 8.1; nginx after its GOAWAY), and that answer may be buffered on our
        side, not yet read; without one, the stream fails with `error` when the connection
        ends (`_fail`). Otherwise (a write that timed out or was interrupted) it fails now.
        Returns the stream ids to wake."""
        touched: set[int] = set()
        if self.is_broken:
            return touched
        self.write_error = error
        self.cut_off = True
        for sid, stream in self._streams.items():
            if read_on and stream.sending:
                stream.sending = False
                stream.write_cut = _copy(error)
                touched.add(sid)  # (a flow waiting to send learns it cannot)
            elif stream.sending or (stream.head_unsent and not stream.answered):
                self._queue(sid, StreamReset(_copy(error)), touched)
        self._blocked.clear()
        return touched

    def body_cut(self, sid: int) -> bool:
        """Whether a failed write cut `sid`'s body and it reads on for an answer
        (`write_failed`)."""
        stream = self._streams.get(sid)
        return stream is not None and stream.write_cut is not None

    def continued(self, sid: int) -> bool:
        """Whether the server sent 100 (Continue) on `sid`."""
        stream = self._streams.get(sid)
        return stream is not None and stream.continued

    def has_events(self, sid: int) -> bool:
        stream = self._streams.get(sid)
        return stream is not None and bool(stream.events)

    def receive_data(self, data: bytes) -> tuple[set[int], list[ConnectionEvent]]:
        """Bytes read from the connection (b"" at EOF): touched stream ids, connection events."""
        touched: set[int] = set()
        conn_events: list[ConnectionEvent] = []
        if self.error is not None:
            return touched, conn_events
        if not data:
            self.cut_off = True
            self._fail(RemoteProtocolError("Server disconnected"), touched, cut=True)
            return touched, conn_events
        conn = self._conn
        try:
            events, rest = self._receive_fast(data)
            if rest:
                events += conn.receive_data(rest)
        except h2.exceptions.ProtocolError as exc:
            self._fail(_connection_error(exc), touched)
            return touched, conn_events
        for event in events:
            conn_event = _HANDLERS.get(type(event), Http2State._on_other)(self, event, touched)
            if conn_event is not None:
                conn_events.append(conn_event)
            if self.error is not None:
                break
        return touched, conn_events

    # ---------------------------------------------------------------------------- internals

    def _receive_fast(self, data: bytes) -> tuple[list[h2.events.Event], bytes]:
        """The response frames of open streams (a whole HEADERS block without padding or
        priority, DATA without padding) parsed here and fed to h2's connection and stream
        state machines directly, without h2's frame objects, buffer and dispatch; returns
        their events and the bytes left for h2 from the first frame that is anything else.

        The checks are h2's (frame size, connection and stream state, flow control,
        content-length, HPACK limits); only frames h2 would parse the same way come here. It
        took a client's request from ~600k to ~460k instructions (the module docstring's
        table).
        """
        conn = self._conn
        buffer = conn.incoming_buffer
        if buffer._headers_buffer:
            return [], data  # h2 holds part of a header block: it goes on
        if buffer._data:  # h2 holds the start of a frame (after one that was not ours)
            data = bytes(buffer._data) + data
            buffer._data = bytearray()
        elif self._partial:  # the start of a frame the last read ended in
            data = self._partial + data
        self._partial = b""
        streams, h2_streams = self._streams, conn.streams
        max_size = conn.max_inbound_frame_size
        machine = conn.state_machine
        events: list[h2.events.Event] = []
        pos, size = 0, len(data)
        try:
            while size - pos >= 9:
                length = int.from_bytes(data[pos : pos + 3], "big")
                end = pos + 9 + length
                kind, flags = data[pos + 3], data[pos + 4]
                sid = int.from_bytes(data[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
                if length > max_size or sid not in streams:
                    break
                if end > size:  # kept for the next read (a too large one went to h2)
                    self._partial = bytes(data[pos:])
                    return events, b""
                h2_stream = h2_streams.get(sid)
                if h2_stream is None or h2_stream.state_machine.state not in _RECEIVING:
                    break
                ended = bool(flags & _END_STREAM)
                if kind == _DATA and not flags & _PADDED:
                    if machine.state is not _CLIENT_OPEN:
                        events += machine.process_input(_RECV_DATA)
                    conn._inbound_flow_control_window_manager.window_consumed(length)
                    _, more = h2_stream.receive_data(bytes(data[pos + 9 : end]), ended, length)
                elif (
                    kind == _HEADERS and flags & _END_HEADERS and not flags & (_PADDED | _PRIORITY)
                ):
                    headers = h2.connection._decode_headers(conn.decoder, data[pos + 9 : end])
                    if machine.state is not _CLIENT_OPEN:
                        events += machine.process_input(_RECV_HEADERS)
                    more = self._response_headers(h2_stream, cast(_Fields, headers), ended)
                else:
                    break
                events += more
                pos = end
        except h2.exceptions.ProtocolError as exc:
            conn._terminate_connection(exc.error_code)
            raise
        if size - pos < 9:
            self._partial = bytes(data[pos:])
            return events, b""
        return events, data[pos:]

    @staticmethod
    def _response_headers(
        h2_stream: h2.stream.H2Stream, headers: _Fields, ended: bool
    ) -> list[h2.events.Event]:
        """h2's `receive_headers` for a final response head, less its header pipeline (our
        config turns every step of it off) and its scans for a 1xx status; trailers and 1xx
        heads go through h2's own."""
        stream_machine = h2_stream.state_machine
        first = headers[0] if headers else (b"", b"")
        if stream_machine.headers_received or first[0] != b":status" or first[1][:1] == b"1":
            return h2_stream.receive_headers(headers, ended, None)[1]
        events = stream_machine.process_input(_STREAM_RECV_HEADERS)
        head = events[0]
        if ended:
            end_events = stream_machine.process_input(_STREAM_RECV_END)
            head.stream_ended = end_events[0]  # type: ignore[attr-defined]
            events += end_events
        h2_stream._initialize_content_length(headers)
        head.headers = headers  # type: ignore[attr-defined]
        return events

    def _queue(self, sid: int, event: StreamEvent, touched: set[int]) -> _Stream | None:
        """File `event` for `sid`; None (dropped) when the stream is unknown or finished."""
        stream = self._streams.get(sid)
        if stream is None or stream.finished:
            return None
        stream.events.append(event)
        touched.add(sid)
        kind = type(event)
        if kind is StreamReset:
            stream.finished = True
        else:
            stream.answered = True
            if kind is StreamEnded:
                stream.finished = True
        return stream

    def _fail(self, error: TransportError, touched: set[int], cut: bool = False) -> None:
        """A connection error: every stream not yet finished fails with it (each with its own
        copy, so concurrent flows never share one traceback); the connection is done. `cut`:
        the connection broke (EOF, reset), which after GOAWAY is the server draining it: the
        copies are marked so a response it cut may be fetched again (`resend`)."""
        self.error = error
        if cut:
            mark_connection_cut(error)  # (copied to each stream's error, and to later ones)
        drained = cut and self.goaway is not None
        for sid, stream in self._streams.items():
            # (a stream whose body a failed write cut says so: its request never went whole)
            copy = stream.write_cut or _copy(error)
            if cut:
                mark_connection_cut(copy)
            if drained:
                mark_drain_cut(copy)
            self._queue(sid, StreamReset(copy), touched)
        self._blocked.clear()

    def _control_frame(self, touched: set[int]) -> None:
        self._control_frames += 1
        if self._control_frames > MAX_CONTROL_FRAMES:
            self._fail(
                RemoteProtocolError(
                    f"The server sent more than {MAX_CONTROL_FRAMES} control frames in a row"
                    " (a control frame flood)."
                ),
                touched,
            )

    def _on_response(self, event: h2.events.ResponseReceived, touched: set[int]) -> None:
        self._control_frames = 0
        self.served = True
        sid = event.stream_id or 0
        fields = tuple(event.headers or ())
        known = self._responses.get(fields)
        if known is None:
            try:
                head = _response_head(fields)
            except RemoteProtocolError as exc:
                self._malformed(sid, exc, touched)
                return
            if len(self._responses) >= _MEMO_BLOCKS:
                self._responses.clear()
            self._responses[fields] = (head.status_code, tuple(head.fields))
        else:
            # A fresh list each time: the response's headers are the user's to change.
            head = ResponseReceived(known[0], b"", list(known[1]), _HTTP_VERSION)
        stream = self._queue(sid, head, touched)
        if stream is not None and not event.stream_ended:
            self._cover(sid, stream)

    def _malformed(self, sid: int, error: RemoteProtocolError, touched: set[int]) -> None:
        """RFC 9113 section 8.1.1: a malformed message is a stream error (PROTOCOL_ERROR)."""
        stream = self._queue(sid, StreamReset(error), touched)
        if stream is not None:
            stream.answered = True
        h2_stream = self._conn.streams.get(sid)
        if h2_stream is not None and not h2_stream.closed:
            self._conn.reset_stream(sid, _PROTOCOL_ERROR)

    def _on_data(self, event: h2.events.DataReceived, touched: set[int]) -> None:
        sid = event.stream_id or 0
        size = event.flow_controlled_length or 0
        data = event.data or b""
        if not data:
            if size:  # all padding: nothing to queue, give the window back at once
                self._conn.acknowledge_received_data(size, sid)
            if not event.stream_ended:
                self._control_frame(touched)  # empty DATA frames are a known flood vector
            return
        self._control_frames = 0
        stream = self._queue(sid, DataReceived(data), touched)
        if stream is None:
            self._conn.acknowledge_received_data(size, sid)  # nobody will take it
        else:
            stream.unacked += size

    def _on_trailers(self, event: h2.events.TrailersReceived, touched: set[int]) -> None:
        self._control_frames = 0
        sid = event.stream_id or 0
        stream = self._streams.get(sid)
        if stream is None or stream.finished:
            return
        trailers = [(name, value) for name, value in event.headers or ()]
        try:
            if any(name[:1] == b":" for name, _ in trailers):
                raise RemoteProtocolError("Malformed HTTP/2 trailers: a pseudo-header.")
            _check_fields(trailers)
        except RemoteProtocolError as exc:
            self._malformed(sid, exc, touched)
            return
        stream.trailers = trailers

    def _on_ended(self, event: h2.events.StreamEnded, touched: set[int]) -> None:
        sid = event.stream_id or 0
        stream = self._streams.get(sid)
        if stream is not None and not stream.finished:
            self.completed_streams += 1
            self._queue(sid, StreamEnded(stream.trailers), touched)

    def _on_reset(self, event: h2.events.StreamReset, touched: set[int]) -> None:
        sid = event.stream_id or 0
        stream = self._streams.get(sid)
        if stream is None or stream.finished:
            self._control_frame(touched)  # a stream we no longer wait on: nothing explains it
        code = event.error_code
        name = code.name if isinstance(code, h2.errors.ErrorCodes) else str(code)
        message = f"The server reset HTTP/2 stream {sid}: error code {name}."
        retryable = code == _REFUSED
        error = refused_error(message) if retryable else RemoteProtocolError(message)
        if not retryable and self.goaway is not None:
            # A stream the server resets after its GOAWAY is one its draining gave up (lighttpd,
            # hitting an error while it drains, resets every stream it still serves): a cut as
            # by the connection's close, so a response cut this way may be fetched again.
            mark_drain_cut(error)
        self._queue(sid, StreamReset(error, retryable=retryable), touched)
        self._blocked.discard(sid)

    def _on_informational(
        self, event: h2.events.InformationalResponseReceived, touched: set[int]
    ) -> None:
        self._control_frames = 0
        sid = event.stream_id or 0
        stream = self._streams.get(sid)
        if stream is not None:
            stream.answered = True  # a 1xx head is a response byte: the request was processed
            stream.interim += 1
            if stream.interim > MAX_INTERIM:
                # Each 1xx head is progress, so a server sending them forever would keep the
                # request inside its read timeout (CPython gh-150743): a stream error, as
                # over HTTP/1.1 (where the whole connection goes).
                error = RemoteProtocolError(
                    f"More than {MAX_INTERIM} interim (1xx) responses before the final"
                    f" response on HTTP/2 stream {sid} (MAX_INTERIM)"
                )
                self._malformed(sid, error, touched)
                return
            if not stream.continued and (b":status", b"100") in (event.headers or ()):
                # What a body held back for `Expect: 100-continue` waits for (RFC 9110
                # section 10.1.1): wake its waiter.
                stream.continued = True
                touched.add(sid)

    def _on_window(self, event: h2.events.WindowUpdated, touched: set[int]) -> None:
        sid = event.stream_id
        delta = event.delta or 0
        # Credit for DATA we sent answers our upload (RFC 9113 section 6.9); only credit beyond
        # it counts towards a flood.
        if not sid:
            explained = 0 < delta <= self._owed
            if explained:
                self._owed -= delta
        else:
            stream = self._streams.get(sid)
            explained = stream is not None and 0 < delta <= stream.owed
            if explained:
                stream.owed -= delta  # type: ignore[union-attr]
        if not explained:
            self._control_frame(touched)
        if not sid:
            touched.update(self._blocked)
            self._blocked.clear()
        elif sid in self._blocked:
            self._blocked.discard(sid)
            touched.add(sid)

    def _on_settings(
        self, event: h2.events.RemoteSettingsChanged, touched: set[int]
    ) -> ConnectionEvent | None:
        self._control_frame(touched)
        touched.update(self._blocked)  # SETTINGS_INITIAL_WINDOW_SIZE may have opened windows
        self._blocked.clear()
        self.has_peer_settings = True
        changed = event.changed_settings.get(_MAX_STREAMS_SETTING)
        if changed is None:
            return None
        self.max_streams = min(changed.new_value, MAX_STREAMS)
        return SettingsChanged(self.max_streams)

    def _on_goaway(
        self, event: h2.events.ConnectionTerminated, touched: set[int]
    ) -> ConnectionEvent | None:
        self._control_frame(touched)
        last = event.last_stream_id or 0
        code = int(event.error_code or 0)
        self.goaway = GoAwayReceived(last, code)
        # DATA the GOAWAY kept from being written will never be credited back.
        self._owed = max(0, self._owed - self._conn.unsent_on_goaway)
        self._conn.unsent_on_goaway = 0
        if last:
            self.served = True
        message = (
            f"The server sent GOAWAY (last stream {last}, error code {code}) before processing"
            " this request."
        )
        for sid in [sid for sid in self._streams if sid > last]:
            self._queue(sid, StreamReset(refused_error(message), retryable=True), touched)
            self._blocked.discard(sid)
            h2_stream = self._conn.streams.get(sid)
            if h2_stream is not None and not h2_stream.closed:
                # Closed on our side only, its RST_STREAM frame dropped: the server treats
                # these streams as never opened (RFC 9113 section 6.8), and lighttpd takes an
                # RST_STREAM above the last stream id it saw for one on an idle stream, a
                # connection error (section 6.4) that resets every stream it is still serving.
                h2_stream.reset_stream(_CANCEL)
        return self.goaway

    def _on_other(self, event: h2.events.Event, touched: set[int]) -> None:
        self._control_frame(touched)


_Handler = Callable[[Http2State, Any, set[int]], "ConnectionEvent | None"]
# h2 events a client may see; anything else (PING, acks, PRIORITY, unknown frames) counts as
# a control frame. Informational (1xx) heads are skipped, as for HTTP/1.1.
_HANDLERS: dict[type[h2.events.Event], _Handler] = {
    h2.events.ResponseReceived: Http2State._on_response,
    h2.events.InformationalResponseReceived: Http2State._on_informational,
    h2.events.DataReceived: Http2State._on_data,
    h2.events.TrailersReceived: Http2State._on_trailers,
    h2.events.StreamEnded: Http2State._on_ended,
    h2.events.StreamReset: Http2State._on_reset,
    h2.events.WindowUpdated: Http2State._on_window,
    h2.events.RemoteSettingsChanged: Http2State._on_settings,
    h2.events.ConnectionTerminated: Http2State._on_goaway,
}


def pool_actions(pool: PoolState, entry: PoolConnection, state: Http2State) -> list[Action]:
    """What the pool must learn after `state` received bytes: GOAWAY or a broken connection
    (draining: no new streams) or a new stream limit. Both shells call it under their pool
    discipline (the sync one under its lock)."""
    if state.is_draining:
        return pool.draining(entry)
    if entry.max_streams != state.max_streams:
        return pool.settings_changed(entry, state.max_streams)
    return []
