"""A scripted HTTP/2 server: raw sockets and an `h2` server connection, exact frames on demand.

Every accepted connection runs in its own thread. Requests are answered with their path as the
body, except:

  /bytes/{n}      n bytes of b"x"
  /trailers       body b"body", then trailers x-checksum: abc
  /reset          RST_STREAM(INTERNAL_ERROR) instead of a response
  /hold           no answer until the client goes away (for cancellation)

Scripting: `max_concurrent_streams` is announced in SETTINGS; `goaway_after=n` sends GOAWAY with
the n-th request's stream id as the last stream once n requests arrived, answers those, ignores
later ones and closes when they are done; `answer_after=n` holds every response until n streams
are open at once (proving they share a connection); `close_after=n` answers n requests on each
connection, then closes it without GOAWAY (a FIN, then reads and discards until the client goes
away, so nothing the client sends turns the close into a reset); `credit_each_frame=True`
gives every DATA frame's credit back at once with a stream and a connection WINDOW_UPDATE, as
lighttpd does for uploads (two frames per 16 KiB, long before it answers); `expect="continue"`
answers a request head carrying `Expect: 100-continue` with a 100 at once (`continues` counts
them, `body_before_continue` the body bytes read in the same read as such a head, which the
client cannot have sent in answer to the 100), `expect="refuse"` with a final 417 instead
(`body_after_refusal` counts the body bytes that still came for those streams).
`connections` counts accepted connections.

`h2_script(misbehave)` is a handler for `servers.raw.scripted_server` that sends exact frames
(floods, GOAWAY then a close, window abuse) in answer to a request.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings


class H2Peer:
    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        *,
        max_concurrent_streams: int | None = None,
        goaway_after: int | None = None,
        answer_after: int = 1,
        close_after: int | None = None,
        close_at_accept: int = 0,
        credit_each_frame: bool = False,
        expect: str | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.expect = expect
        self.continues = 0
        self.body_before_continue = 0
        self.body_after_refusal = 0
        self.credit_each_frame = credit_each_frame
        self.max_concurrent_streams = max_concurrent_streams
        self.goaway_after = goaway_after
        self.answer_after = answer_after
        self.close_after = close_after
        # The first this many connections are closed once accepted (after TLS, if any), before
        # the server's SETTINGS: a restarting server dropping what its old listener took.
        self.close_at_accept = close_at_accept
        self.connections = 0
        self.max_open_streams = 0
        self.resets_received: list[tuple[int, int]] = []
        self.goaways_received: list[int] = []  # their error codes
        self.goaway_received = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self.port = self._sock.getsockname()[1]
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            args = (raw, self.connections <= self.close_at_accept)
            thread = threading.Thread(target=self._connection, args=args, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _connection(self, raw: socket.socket, drop: bool) -> None:
        sock = raw
        try:
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(raw, server_side=True)
            if drop:
                return
            self._conns.append(sock)
            sock.settimeout(10)
            _Session(self, sock).run()
        except (OSError, ssl.SSLError):
            pass
        finally:
            sock.close()
            raw.close()

    def stop(self) -> None:
        self._stop.set()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        self._sock.close()


class _Session:
    """One connection's h2 state and its script."""

    def __init__(self, peer: H2Peer, sock: socket.socket) -> None:
        self.peer = peer
        self.sock = sock
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.requests = 0
        self.answered = 0
        self.last_stream: int | None = None
        self.pending: dict[int, bytes] = {}  # stream id -> path, waiting to be answered
        self.bodies: dict[int, int] = {}
        self.open: set[int] = set()
        self.outgoing: dict[int, memoryview] = {}  # response bodies waiting for window
        self.reads = 0  # reads so far; a stream's 100 goes out at the end of its head's read
        self.continued: dict[int, int] = {}  # stream id -> the read its 100 answered
        self.refused: set[int] = set()  # answered 417 to `Expect: 100-continue`

    def run(self) -> None:
        conn = self.conn
        conn.initiate_connection()
        if self.peer.max_concurrent_streams is not None:
            code = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
            conn.update_settings({code: self.peer.max_concurrent_streams})
        self.flush()
        while not self.peer._stop.is_set():
            if self.answered == self.peer.close_after:
                self.linger()  # a silent close: no GOAWAY
                return
            data = self.sock.recv(65536)
            if not data:
                return
            self.reads += 1
            for event in conn.receive_data(data):
                self.handle(event)
            self.answer()
            self.flush()
            if self.last_stream is not None and not self.open:
                self.linger()
                return

    def linger(self) -> None:
        """Close after GOAWAY without a TCP reset: stop sending, read until the client closes,
        so frames it sent meanwhile do not destroy responses it has not read yet."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            while self.sock.recv(65536):
                pass

    def flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            sid = event.stream_id or 0
            if self.last_stream is not None and sid > self.last_stream:
                return  # after GOAWAY: never processed
            self.requests += 1
            self.open.add(sid)
            self.peer.max_open_streams = max(self.peer.max_open_streams, len(self.open))
            fields = dict(event.headers or [])
            if fields.get(b"expect", b"").lower() == b"100-continue" and self.peer.expect:
                if self.peer.expect == "refuse":
                    head = [(b":status", b"417"), (b"content-length", b"0")]
                    self.conn.send_headers(sid, head, end_stream=True)
                    self.refused.add(sid)
                    self.open.discard(sid)
                    return
                self.conn.send_headers(sid, [(b":status", b"100")])
                self.continued[sid] = self.reads
                self.peer.continues += 1
            self.pending[sid] = fields[b":path"]
            if self.peer.goaway_after == self.requests:
                self.last_stream = sid
                self.conn.close_connection(last_stream_id=sid)
                # h2 stops sending after its own GOAWAY; a real server finishes accepted streams.
                self.conn.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN
        elif isinstance(event, h2.events.DataReceived):
            sid = event.stream_id or 0
            self.bodies[sid] = self.bodies.get(sid, 0) + len(event.data or b"")
            if self.continued.get(sid) == self.reads:
                self.peer.body_before_continue += len(event.data or b"")
            if sid in self.refused:
                self.peer.body_after_refusal += len(event.data or b"")
            size = event.flow_controlled_length or 0
            if self.peer.credit_each_frame and size:
                self.conn.increment_flow_control_window(size, sid)
                self.conn.increment_flow_control_window(size)
            else:
                self.conn.acknowledge_received_data(size, sid)
        elif isinstance(event, h2.events.StreamReset):
            self.peer.resets_received.append((event.stream_id or 0, int(event.error_code or 0)))
            self.open.discard(event.stream_id or 0)
            self.pending.pop(event.stream_id or 0, None)
            self.outgoing.pop(event.stream_id or 0, None)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.peer.goaways_received.append(int(event.error_code or 0))
            self.peer.goaway_received.set()
        elif isinstance(event, h2.events.WindowUpdated):
            pass  # answer() retries the waiting bodies

    def answer(self) -> None:
        if len(self.open) >= self.peer.answer_after or self.last_stream is not None:
            for sid, path in list(self.pending.items()):
                if self.conn.streams.get(sid) and self.conn.streams[
                    sid
                ].state_machine.state.name in ("HALF_CLOSED_REMOTE",):
                    del self.pending[sid]
                    self.respond(sid, path)
            self.peer.answer_after = 0  # from now on answer at once
        for sid in list(self.outgoing):
            self.send_body(sid)

    def respond(self, sid: int, path: bytes) -> None:
        conn = self.conn
        if path == b"/hold":
            return
        if path == b"/reset":
            conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
            self.open.discard(sid)
            return
        if path.startswith(b"/bytes/"):
            body = b"x" * int(path[7:])
        elif path == b"/upload":
            body = str(self.bodies.get(sid, 0)).encode()
        elif path == b"/trailers":
            conn.send_headers(sid, [(b":status", b"200")])
            conn.send_data(sid, b"body")
            conn.send_headers(sid, [(b"x-checksum", b"abc")], end_stream=True)
            self.open.discard(sid)
            self.answered += 1
            return
        else:
            body = path
        conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"%d" % len(body))])
        self.outgoing[sid] = memoryview(body)
        self.send_body(sid)

    def send_body(self, sid: int) -> None:
        view = self.outgoing[sid]
        conn = self.conn
        while view:
            size = min(len(view), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if size <= 0:
                self.outgoing[sid] = view
                return
            conn.send_data(sid, bytes(view[:size]))
            view = view[size:]
            self.flush()
        del self.outgoing[sid]
        conn.end_stream(sid)
        self.open.discard(sid)
        self.answered += 1


@contextlib.contextmanager
def run_h2_peer(ssl_context: ssl.SSLContext | None = None, **script: Any) -> Iterator[H2Peer]:
    """Start an `H2Peer` in a thread; stopped and joined on exit."""
    peer = H2Peer(ssl_context, **script)
    thread = threading.Thread(target=peer.serve, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.stop()
        thread.join(5)


# A script for `h2_script`: given the server's h2 state and the id of the stream that asked for
# anything but /ok, the bytes to send (frames built with hyperframe, or by the h2 state).
Misbehaviour = Callable[[h2.connection.H2Connection, int], bytes]


def h2_script(misbehave: Misbehaviour) -> Callable[[socket.socket], None]:
    """A `servers.raw.scripted_server` handler speaking HTTP/2 (prior knowledge, or over TLS):
    it answers /ok with 200 "ok", and any other request with `misbehave`'s bytes, until the
    client goes away or breaks the h2 state's rules (a client that gave up on a flood)."""

    def handler(sock: socket.socket) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        conn = h2.connection.H2Connection(config=config)
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        while data := sock.recv(65536):
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    sid = event.stream_id or 0
                    if dict(event.headers or [])[b":path"] == b"/ok":
                        conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"2")])
                        conn.send_data(sid, b"ok", end_stream=True)
                    else:
                        out = misbehave(conn, sid)
                        sock.sendall(conn.data_to_send() + out)
            sock.sendall(conn.data_to_send())

    return handler
