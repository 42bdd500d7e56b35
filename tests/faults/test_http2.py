"""HTTP/2 against hostile servers (reliability catalogue 2.H and 3.I, as they apply to a client),
for `Client` and `AsyncClient` on every runtime, over prior-knowledge h2c: floods of control
frames, CONTINUATION floods, GOAWAY followed by a close, window abuse, and a server that does
not speak HTTP/2 at all. Each fails the request with its exact exception, promptly, leaves the
pool clean, and the next request (on a new connection) works.

HPACK bombs, malformed heads and pushes are the inbound checks of `_core/http2.py`
(tests/http2/test_h2_inbound.py); GOAWAY/RST_STREAM retries of whole requests are in
tests/http2/test_h2_transport.py.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import h2.connection
import h2.errors
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    SettingsFrame,
)

from faults.conftest import PROMPT, Fault, assert_pool_clean
from httplib._config import Timeout
from httplib._core.http2 import MAX_CONTROL_FRAMES, STREAM_WINDOW
from httplib._core.resend import MAX_DRAIN_RESENDS
from httplib._exceptions import RemoteProtocolError, WriteTimeout
from servers.h2_peer import Misbehaviour, h2_script
from servers.raw import read_request_head, scripted_server

H2C = {"http1": False, "http2": True}
FLOOD = MAX_CONTROL_FRAMES + 10


def _head(conn: h2.connection.H2Connection, sid: int) -> bytes:
    """A 200 response head for `sid`, encoded by the server's own state (HPACK in sync)."""
    conn.send_headers(sid, [(b":status", b"200")])
    return b""


def _repeat(frame: Any, times: int = FLOOD) -> bytes:
    return frame.serialize() * times


FLOODS: dict[str, Misbehaviour] = {
    "PING": lambda conn, sid: _repeat(PingFrame(0, b"12345678")),
    "empty SETTINGS": lambda conn, sid: _repeat(SettingsFrame(0)),
    "PRIORITY": lambda conn, sid: _repeat(PriorityFrame(sid, depends_on=0, stream_weight=15)),
    "empty DATA": lambda conn, sid: _head(conn, sid) + _repeat(DataFrame(sid, b"")),
}


def _continuation_flood(conn: h2.connection.H2Connection, sid: int) -> bytes:
    """A HEADERS frame that never ends its block, then zero-length CONTINUATION frames
    (CVE-2023-45288 and kin)."""
    block = conn.encoder.encode([(b":status", b"200")])
    start = HeadersFrame(sid, block)  # no END_HEADERS
    return start.serialize() + _repeat(ContinuationFrame(sid, b""), 10_000)


def _goaway_then_close(conn: h2.connection.H2Connection, sid: int) -> bytes:
    """GOAWAY naming the stream as processed, half a body, then the close (httpcore #1054)."""
    conn.send_headers(sid, [(b":status", b"200"), (b"content-length", b"10")])
    conn.send_data(sid, b"abc")
    raise _CloseAfter(conn.data_to_send() + GoAwayFrame(0, last_stream_id=sid).serialize())


def _overrun_window(conn: h2.connection.H2Connection, sid: int) -> bytes:
    """More DATA than the client's stream window allows (RFC 9113 section 6.9.1)."""
    conn.send_headers(sid, [(b":status", b"200")])
    chunk = DataFrame(sid, b"x" * 16384)
    return conn.data_to_send() + chunk.serialize() * (STREAM_WINDOW // 16384 + 8)


class _CloseAfter(Exception):
    """Raised by a script: send these bytes, then close the connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def _server(misbehave: Misbehaviour) -> Any:
    inner = h2_script(misbehave)

    def handler(sock: socket.socket) -> None:
        try:
            inner(sock)
        except _CloseAfter as close:
            sock.sendall(close.data)

    return scripted_server(handler)


@pytest.mark.parametrize("kind", list(FLOODS))
def test_a_control_frame_flood_fails_the_connection(fault: Fault, kind: str) -> None:
    with _server(FLOODS[kind]) as server:
        fault.expect(
            RemoteProtocolError, server.url + "/flood", then=server.url + "/ok", client=H2C
        )


def test_a_continuation_flood_fails_the_connection(fault: Fault) -> None:
    with _server(_continuation_flood) as server:
        fault.expect(
            RemoteProtocolError, server.url + "/flood", then=server.url + "/ok", client=H2C
        )


def test_goaway_then_a_close_mid_body_fails_that_request(fault: Fault) -> None:
    """The stream was processed (last_stream_id covers it), so the transport does not resend
    it; the client fetches a non-streamed GET again, `MAX_DRAIN_RESENDS` times (this server
    cuts each), then its body is incomplete: an error, never a short body."""
    with _server(_goaway_then_close) as server:
        fault.expect(RemoteProtocolError, server.url + "/cut", then=server.url + "/ok", client=H2C)
        assert server.connections_accepted == 1 + MAX_DRAIN_RESENDS + 1


def test_a_peer_overrunning_our_window_fails_the_connection(fault: Fault) -> None:
    """A held, unread response whose server ignores our stream window: while another request
    on the connection reads, the excess arrives and is a FLOW_CONTROL_ERROR for the whole
    connection (RFC 9113 section 6.9.1), failing the reading request, not a buffer that grows
    without bound."""
    with _server(_overrun_window) as server:

        def sync_script(client: Any) -> None:
            with client.stream("GET", server.url + "/big") as held:
                started = time.monotonic()
                with pytest.raises(RemoteProtocolError):
                    client.get(server.url + "/other")
                assert time.monotonic() - started < PROMPT
                with pytest.raises(RemoteProtocolError):
                    held.read()
            assert_pool_clean(client)
            assert client.get(server.url + "/ok").status_code == 200

        async def async_script(client: Any) -> None:
            async with client.stream("GET", server.url + "/big") as held:
                started = time.monotonic()
                with pytest.raises(RemoteProtocolError):
                    await client.get(server.url + "/other")
                assert time.monotonic() - started < PROMPT
                with pytest.raises(RemoteProtocolError):
                    await held.aread()
            assert_pool_clean(client)
            assert (await client.get(server.url + "/ok")).status_code == 200

        fault.with_client(async_script if fault.is_async else sync_script, **H2C)


def test_an_upload_the_peer_never_opens_the_window_for_is_a_write_timeout(fault: Fault) -> None:
    """The server takes the request head but never grants window for the body: the upload ends
    at the write timeout (not the read timeout, and never a hang)."""

    def no_window(conn: h2.connection.H2Connection, sid: int) -> bytes:
        return b""  # answers nothing, and sends no WINDOW_UPDATE

    with _server(no_window) as server:
        fault.expect(
            WriteTimeout,
            server.url + "/up",
            method="POST",
            content=b"x" * 200_000,  # beyond the default 65,535-byte window
            then=server.url + "/ok",
            client={**H2C, "timeout": Timeout(10.0, write=0.2)},
        )


def test_prior_knowledge_h2_to_an_http11_server_is_a_protocol_error(fault: Fault) -> None:
    def http11(conn: socket.socket) -> None:
        read_request_head(conn)  # the h2 preface starts "PRI * HTTP/2.0\r\n\r\n"
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with scripted_server(http11) as bad, _server(FLOODS["PING"]) as good:
        fault.expect(RemoteProtocolError, bad.url + "/", then=good.url + "/ok", client=H2C)
