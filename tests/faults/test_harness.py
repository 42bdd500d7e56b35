"""The harness itself: a clean failure passes its checks, and a client that answers the next
request after a fault really is reused."""

from __future__ import annotations

import socket

import pytest

from faults.conftest import Fault
from httplib._exceptions import ConnectError, RemoteProtocolError
from servers.raw import read_until, scripted_server


def _garbage_then_ok(conn: socket.socket) -> None:
    head = read_until(conn, b"\r\n\r\n")
    if b"GET /ok " in head:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    else:
        conn.sendall(b"NOT HTTP\r\n\r\n")


def test_a_protocol_error_then_a_good_request(fault: Fault) -> None:
    with scripted_server(_garbage_then_ok) as server:
        exc = fault.expect(RemoteProtocolError, server.url + "/bad", then=server.url + "/ok")
        assert str(exc)


def test_refused_connection_is_a_connect_error(fault: Fault) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens on `port` now
    fault.expect(ConnectError, f"http://127.0.0.1:{port}/")


def test_expect_rejects_a_subclass(fault: Fault) -> None:
    with scripted_server(_garbage_then_ok) as server, pytest.raises(AssertionError):
        fault.expect(Exception, server.url + "/bad")
