"""Whose write timeout bounds an HTTP/2 write that carries several requests' frames: the
longest among the flows whose frames are in it (None, no timeout, longest of all). A request
with a short timeout must not fail, and so break the connection under, another's HEADERS.

The connection's flows are stepped by hand here, with an h2 server answering the handshake,
so which flow writes which batch is certain."""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import pytest

from httplib._core.effects import READ, WRITE, WRITE_SHIELDED, Flow
from httplib._core.h2_connection import CLOSE_WRITE_TIMEOUT, Http2Connection
from httplib._core.http2 import ResponseProgress
from support.stepping import no_pool_changes, thread_runtime

STREAM = object()  # the connection's stream: the effects only carry it


def connected() -> Http2Connection:
    """A connection past its handshake with a real h2 server's SETTINGS."""
    conn = Http2Connection(STREAM, thread_runtime(), no_pool_changes)
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    flow = conn.handshake(5.0)
    effect = flow.send(None)
    while True:
        if effect[0] == WRITE:
            server.receive_data(effect[2])
            value: Any = None
        else:
            assert effect[0] == READ
            value = server.data_to_send()
        try:
            effect = flow.send(value)
        except StopIteration:
            return conn


def get(path: bytes) -> tuple[bytes, bytes, bytes, bytes, list[tuple[bytes, bytes]]]:
    return (b"GET", b"http", b"example.org", path, [])


def start(conn: Http2Connection, path: bytes, timeout: float | None) -> Flow:
    return conn.start(get(path), None, None, timeout, ResponseProgress())


def finish(flow: Flow) -> Any:
    """Run a flow that has nothing more to do but return; its result."""
    with pytest.raises(StopIteration) as stop:
        flow.send(None)
    return stop.value.value


@pytest.mark.parametrize(
    ("writer", "other", "expected"),
    [(0.1, 10.0, 10.0), (0.1, None, None), (10.0, 0.1, 10.0)],
    ids=["longer", "unbounded", "shorter"],
)
def test_a_write_carrying_another_flows_headers_waits_as_long_as_it_may(
    writer: float, other: float | None, expected: float | None
) -> None:
    conn = connected()
    first = start(conn, b"/first", writer)
    effect = first.send(None)  # it writes its HEADERS (and becomes the writer)
    assert effect[0] == WRITE_SHIELDED
    assert effect[3] == writer
    # Meanwhile a second request queues its HEADERS: the writer will write them.
    finish(start(conn, b"/second", other))
    batch = first.send(None)  # its first write is done: the second's frames go next
    assert batch[0] == WRITE_SHIELDED
    assert batch[3] == expected
    finish(first)
    # Owed once: the next write is bounded by its own flow's timeout again.
    third = start(conn, b"/third", 0.5)
    assert third.send(None)[3] == 0.5


def test_a_reset_left_for_the_writer_may_wait_as_long_as_a_close() -> None:
    """A stream closed while another flow writes leaves its RST_STREAM to that write, which
    then waits as long as the longer of the writer's timeout and a close's."""
    conn = connected()
    opened = start(conn, b"/opened", 5.0)
    assert opened.send(None)[3] == 5.0
    sid = finish(opened)
    writer = start(conn, b"/writer", 0.1)
    assert writer.send(None)[3] == 0.1
    closing = conn.close_stream(sid)
    finish(closing)  # (the writer is busy: the reset is left to it)
    assert writer.send(None)[3] == CLOSE_WRITE_TIMEOUT
