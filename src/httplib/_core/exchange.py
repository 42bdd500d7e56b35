"""One HTTP/1.1 request/response on one pooled connection: bytes out, events in, no I/O.

`Http11Exchange.first_write()` gives the head (with a small in-memory body appended);
`frame(chunk)`/`end()` frame a streamed body; `feed(data)` takes what was read and files the
response head, body chunks and the end (`BodyBuffer`). `finish(now)` says whether the
connection may carry another request. The engine decides when each runs.
"""

from __future__ import annotations

from typing import Any

from .events import BodyBuffer, DataReceived, ResponseReceived
from .http11 import Http11State
from .plan import RequestPlan

__all__ = ["Http11Connection", "Http11Exchange"]


class Http11Connection:
    """A pooled HTTP/1.1 connection: the runtime's stream and its protocol state."""

    __slots__ = ("idle_since", "requests", "state", "stream")

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.state = Http11State()
        self.requests = 0
        self.idle_since: float | None = None

    def needs_probe(self, now: float, probe_after: float) -> bool:
        """Whether to ask the stream if the server closed it while idle this long."""
        idle_since = self.idle_since
        return idle_since is not None and now - idle_since >= probe_after


class Http11Exchange(BodyBuffer):
    """The bytes of one request and its response on `conn`. Built only as the engine's
    `Http11Body`, whose constructor sets these fields (one call per request, not two)."""

    __slots__ = ("body_sent", "conn", "head", "plan", "reused")

    plan: RequestPlan
    conn: Http11Connection
    reused: bool  # the connection carried a request before this one
    body_sent: bool
    head: ResponseReceived | None

    @property
    def response_started(self) -> bool:
        return self.conn.state.has_received_data

    def first_write(self) -> bytes:
        """The head, with an inline body (and its framing) appended."""
        plan = self.plan
        state = self.conn.state
        head = state.send_request(plan.method_bytes, plan.target, *plan.http11_fields())
        body = plan.inline
        if body is None:
            return head
        if body:
            self.body_sent = True
            return b"".join([head, *state.send_body(body), state.end_body()])
        tail = state.end_body()
        return head + tail if tail else head

    def frame(self, chunk: bytes) -> list[bytes]:
        """Buffers to write for one piece of a streamed body."""
        if chunk:
            self.body_sent = True
        return self.conn.state.send_body(chunk)

    def end(self) -> bytes:
        """The last bytes of a streamed body (the final chunk when chunked)."""
        return self.conn.state.end_body()

    def body_left(self) -> int | None:
        """Body bytes the declared Content-Length still expects (None when chunked)."""
        return self.conn.state.body_left

    def sent_by_shell(self, size: int) -> None:
        """`size` body bytes were written by the shell itself (`SEND_FILE`)."""
        if size:
            self.body_sent = True
        self.conn.state.count_body(size)

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection (b"" at EOF): the head, body chunks, the end."""
        state = self.conn.state
        if self.head is not None:
            if state.receive_body_data(data):
                self.chunks.append(data)  # (a large body's usual read: no events made)
                return
        elif data:
            whole = state.receive_whole_response(data)
            if whole is not None:  # (the usual small response, in one read)
                self.head, body = whole
                if body:
                    self.chunks.append(body)
                self.ended = True
                return
        for event in state.receive_data(data):
            kind = type(event)
            if kind is DataReceived:
                self.chunks.append(event.data)  # type: ignore[union-attr]
            elif kind is ResponseReceived:
                self.head = event  # type: ignore[assignment]
                if state.is_switched:
                    self.ended = True
            else:
                self.ended = True

    @property
    def is_switched(self) -> bool:
        """101 / CONNECT: the stream now belongs to the user (extensions["network_stream"])."""
        return self.conn.state.is_switched

    def finish(self, now: float) -> bool:
        """After the whole response: whether the connection may carry another request."""
        conn = self.conn
        if not self.ended or not conn.state.is_reusable:
            return False
        conn.state.start_next_cycle()
        conn.idle_since = now
        return True

    def __repr__(self) -> str:
        return f"<Http11Exchange {self.plan.method} {self.plan.host}:{self.plan.port}>"
