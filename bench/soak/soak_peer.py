"""A scripted HTTP/2 server that drains every connection with GOAWAY while streams are in flight.

Each connection answers a random 40-160 requests, then sends GOAWAY(NO_ERROR) naming the latest
request as the last stream, before that request's answer. Streams at or below it are answered
in full after the GOAWAY; streams above it (requests already on the wire) are never answered:
RFC 9113 section 6.8 says they were not processed and the client may send them again, on
another connection. Once the last answer is sent the connection closes the lingering way (a
FIN, then the client's late frames are dropped until it closes, at most 2 s). SIGHUP (the
soak's reload) drains every open connection the same way at once. h2 over TLS (ALPN h2) and h2c with
prior knowledge, on 127.0.0.1 only; files come from <dir>/www as for the other servers;
a POST is answered with the length of its body once all of it arrived.

    python soak_peer.py DIR PLAIN_PORT TLS_PORT
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import signal
import ssl
import sys
from pathlib import Path
from typing import ClassVar

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

MAX_STREAMS = 128
LINGER = 2.0  # seconds a drained connection waits for the client to close it


class Files:
    def __init__(self, www: Path) -> None:
        self.www = www
        self.cache: dict[str, bytes] = {}

    def get(self, path: str) -> bytes | None:
        if path not in self.cache:
            file = (self.www / path.lstrip("/")).resolve()
            if not file.is_relative_to(self.www) or not file.is_file():
                return None
            self.cache[path] = file.read_bytes()
        return self.cache[path]


class Conn(asyncio.Protocol):
    live: ClassVar[set[Conn]] = set()
    stats: ClassVar[dict[str, int]] = {"connections": 0, "goaways": 0, "unanswered": 0}

    def __init__(self, files: Files, rng: random.Random) -> None:
        self.files = files
        self.goaway_after = rng.randint(40, 160)
        self.answered = 0
        self.last_stream: int | None = None  # set once GOAWAY went out
        self.highest = 0
        self.pending: dict[int, memoryview] = {}
        self.uploads: dict[int, int] = {}  # stream id -> request body bytes so far
        self.transport: asyncio.Transport | None = None
        self.linger: asyncio.TimerHandle | None = None
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        Conn.live.add(self)
        Conn.stats["connections"] += 1
        self.h2.initiate_connection()
        self.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS})
        transport.write(self.h2.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        Conn.live.discard(self)
        if self.linger is not None:
            self.linger.cancel()

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.linger is not None:
            return  # drained: late frames are dropped
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.request(event.stream_id, dict(event.headers), event.stream_ended is not None)
            elif isinstance(event, h2.events.DataReceived):
                # Credit back at once, as a server reading the body does (a WINDOW_UPDATE per
                # DATA frame here, which is what a flood check must not count).
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.stream_id in self.uploads:
                    self.uploads[event.stream_id] += len(event.data)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id in self.uploads:
                size = self.uploads.pop(event.stream_id)
                self.respond(event.stream_id, [(b":status", b"200")], str(size).encode())
            elif isinstance(event, h2.events.StreamReset):
                self.pending.pop(event.stream_id, None)
                self.uploads.pop(event.stream_id, None)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.transport.close()
                return
        self.flush()

    def request(self, stream_id: int, headers: dict[bytes, bytes], ended: bool) -> None:
        self.highest = max(self.highest, stream_id)
        if self.last_stream is not None and stream_id > self.last_stream:
            Conn.stats["unanswered"] += 1
            return  # not processed: the client must send it again elsewhere
        self.answered += 1
        if self.answered == self.goaway_after:
            self.goaway()
        if not ended:
            self.uploads[stream_id] = 0  # answered with the body's length once it all arrived
            return
        path = headers.get(b":path", b"/").decode()
        body = self.files.get(path)
        fields = [(b":status", b"200" if body is not None else b"404")]
        if body is None:
            body = b"not found\n"
        elif b"gzip" in headers.get(b"accept-encoding", b"") and path.endswith(".txt"):
            body = gzip.compress(body, compresslevel=1)
            fields.append((b"content-encoding", b"gzip"))
        self.respond(stream_id, fields, body)

    def respond(self, stream_id: int, fields: list[tuple[bytes, bytes]], body: bytes) -> None:
        fields.append((b"content-length", str(len(body)).encode()))
        self.h2.send_headers(stream_id, fields)
        self.pending[stream_id] = memoryview(body)

    def goaway(self) -> None:
        """GOAWAY naming the latest request, written raw so that `h2` keeps serving the
        streams below it (its own close_connection() would refuse to send anything more)."""
        assert self.transport is not None
        if self.last_stream is not None:
            return
        self.last_stream = self.highest
        Conn.stats["goaways"] += 1
        self.transport.write(self.h2.data_to_send())
        frame = GoAwayFrame(0)
        frame.last_stream_id, frame.error_code = self.highest, 0
        self.transport.write(frame.serialize())

    def flush(self) -> None:
        assert self.transport is not None
        for stream_id in list(self.pending):
            body = self.pending[stream_id]
            while body:
                window = min(
                    self.h2.local_flow_control_window(stream_id),
                    self.h2.max_outbound_frame_size,
                    len(body),
                )
                if window <= 0:
                    break
                self.h2.send_data(stream_id, body[:window].tobytes())
                body = body[window:]
            if body:
                self.pending[stream_id] = body
            else:
                self.h2.end_stream(stream_id)
                del self.pending[stream_id]
        self.transport.write(self.h2.data_to_send())
        done = not self.pending and not self.uploads
        if self.last_stream is not None and done and self.linger is None:
            self.linger_close()

    def linger_close(self) -> None:
        """Closes the way nginx's lingering close does: a FIN (plain TCP), then the client's
        late frames are read and dropped until it closes, at most LINGER seconds. Closing with
        unread input would make the kernel send a RST, which can destroy the last answers
        before the client reads them: no client could avoid that failure."""
        assert self.transport is not None
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.linger = asyncio.get_running_loop().call_later(LINGER, self.transport.close)

    def drain(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.goaway()
            self.flush()


def drain_all() -> None:
    for conn in list(Conn.live):
        conn.drain()


async def main() -> None:
    workdir, plain_port, tls_port = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    files = Files((workdir / "www").resolve())
    rng = random.Random("httplib-soak-peer")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(workdir / "server.pem", workdir / "server.key")
    tls.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    plain = await loop.create_server(lambda: Conn(files, rng), "127.0.0.1", plain_port)
    secure = await loop.create_server(lambda: Conn(files, rng), "127.0.0.1", tls_port, ssl=tls)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, drain_all)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with plain, secure:
        await stop.wait()
    # What was exercised, for the soak's log: the requests above GOAWAY's last stream id that
    # the client had to send again.
    (workdir / "peer-stats.json").write_text(json.dumps(Conn.stats))


if __name__ == "__main__":
    asyncio.run(main())
