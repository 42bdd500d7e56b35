"""Backend conformance: the blocking, asyncio (and uvloop) and trio streams behave the same.

Each case is written once as a coroutine against the async stream interface; the `run`
fixture (conftest.py) runs it on every runtime, the blocking backend through a thin adapter.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import httplib
from httplib._core.plan import Endpoint
from servers.raw import read_until, reset_on_close, scripted_server

Run = Callable[[Callable[[Any], Awaitable[None]]], None]


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def greet_then_close(conn: socket.socket) -> None:
    conn.sendall(b"bye")


def silent(conn: socket.socket) -> None:
    read_until(conn, b"never")


async def read_to_eof(stream: Any) -> bytes:
    """Everything the peer sent until it closed (at most ten reads)."""
    received = b""
    for _ in range(10):
        chunk = await stream.read(65536, timeout=5)
        if not chunk:
            break
        received += chunk
    return received


def test_write_then_read_echo(run: Run) -> None:
    with scripted_server(echo) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            await stream.write(b"hello", timeout=5)
            received = b""
            while len(received) < 5:
                received += await stream.read(65536, timeout=5)
            assert received == b"hello"
            assert stream.get_extra_info("server_addr")[1] == server.port
            assert stream.get_extra_info("ssl_object") is None
            await stream.aclose()

        run(case)


def test_read_returns_empty_bytes_when_the_peer_closes(run: Run) -> None:
    with scripted_server(greet_then_close) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            received = await read_to_eof(stream)
            assert received == b"bye"
            assert await stream.read(65536, timeout=5) == b""
            await stream.aclose()

        run(case)


def test_read_timeout_raises_read_timeout(run: Run) -> None:
    with scripted_server(silent) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ReadTimeout):
                await stream.read(65536, timeout=0.05)
            await stream.aclose()

        run(case)


def test_a_zero_timeout_times_out_rather_than_waiting_forever(run: Run) -> None:
    """Zero means "do not wait" (not "no timeout"), for reads and for writes."""
    done = threading.Event()

    def never_reads(conn: socket.socket) -> None:
        done.wait(10)

    with scripted_server(never_reads) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ReadTimeout):
                await stream.read(65536, timeout=0)

            async def fill_the_socket_buffers() -> None:
                for _ in range(1024):  # (bounded: the buffers fill long before)
                    await stream.write(b"x" * 65536, timeout=0)

            with pytest.raises(httplib.WriteTimeout):
                await fill_the_socket_buffers()
            await stream.aclose()

        try:
            run(case)
        finally:
            done.set()


def test_tls_after_a_timed_out_plain_read_keeps_its_own_timeouts(
    run: Run,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """As through a proxy's tunnel: plain reads with a timeout, then TLS on the same socket,
    whose reads still time out (and wait when told to)."""
    with scripted_server(echo, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ReadTimeout):  # (the server waits for a ClientHello)
                await plain.read(65536, timeout=0.05)
            stream = await plain.start_tls(client_ssl_context, "localhost", 5)
            with pytest.raises(httplib.ReadTimeout):
                await stream.read(65536, timeout=0.05)
            with pytest.raises(httplib.ReadTimeout):
                await stream.read(65536, timeout=0)
            await stream.write(b"secret", timeout=5)
            received = b""
            while len(received) < 6:
                received += await stream.read(65536, timeout=None)
            assert received == b"secret"
            await stream.aclose()

        run(case)


def test_connection_refused_is_a_connect_error(run: Run) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def case(backend: Any) -> None:
        with pytest.raises(httplib.ConnectError):
            await backend.connect(Endpoint("127.0.0.1", port), 5)

    run(case)


def test_tls_upgrade_and_echo(
    run: Run,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    with scripted_server(echo, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            stream = await plain.start_tls(client_ssl_context, "localhost", 5)
            assert stream.get_extra_info("ssl_object") is not None
            await stream.write(b"secret", timeout=5)
            received = b""
            while len(received) < 6:
                received += await stream.read(65536, timeout=5)
            assert received == b"secret"
            await stream.aclose()

        run(case)


def test_tls_reads_a_large_answer_whole_and_in_order(
    run: Run,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """Many TLS records, more than one read's worth at a time: under uvloop the stream's
    protocol lends uvloop the buffer it decrypts into (`_UvloopTlsProtocol`), filled again
    and again; every byte arrives once, in order."""
    payload = bytes(i % 251 for i in range(3 << 20))

    def answer(conn: socket.socket) -> None:
        read_until(conn, b"go")
        conn.sendall(payload)

    with scripted_server(answer, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            stream = await plain.start_tls(client_ssl_context, "localhost", 5)
            await stream.write(b"go", timeout=5)
            received = bytearray()
            for _ in range(10_000):  # (bounded: a read returns at least one byte until EOF)
                chunk = await stream.read(65536, timeout=5)
                if not chunk:
                    break
                received += chunk
            assert bytes(received) == payload
            await stream.aclose()

        run(case)


def test_untrusted_certificate_is_a_connect_error(
    run: Run, server_ssl_context: ssl.SSLContext
) -> None:
    with scripted_server(echo, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            with pytest.raises(httplib.ConnectError):
                await plain.start_tls(httplib.create_ssl_context(), "localhost", 5)

        run(case)


def test_is_readable_reports_a_closed_idle_connection(run: Run) -> None:
    closed = threading.Event()

    def close_at_once(conn: socket.socket) -> None:
        conn.close()
        closed.set()

    with scripted_server(close_at_once) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            assert closed.wait(5)  # the FIN is on its way over loopback
            # An event loop notices it on its next turns: yield (no waiting) a bounded number
            # of times; a blocking socket or trio answers at once.
            for _ in range(50):
                if stream.is_readable():
                    break
                await backend.sleep(0)
            assert stream.is_readable()
            await stream.aclose()

        run(case)


def test_unix_socket_and_socket_options(run: Run, tmp_path: Path) -> None:
    path = str(tmp_path / "echo.sock")
    with scripted_server(echo, unix_path=path):

        async def case(backend: Any) -> None:
            keepalive = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
            stream = await backend.connect(Endpoint("", 0, uds=path, socket_options=keepalive), 5)
            assert stream.get_extra_info("socket").getsockopt(
                socket.SOL_SOCKET, socket.SO_KEEPALIVE
            )
            await stream.write(b"over unix", timeout=5)
            received = b""
            while len(received) < 9:
                received += await stream.read(65536, timeout=5)
            assert received == b"over unix"
            await stream.aclose()

        run(case)


def test_tcp_socket_options_are_applied(run: Run) -> None:
    with scripted_server(echo) as server:

        async def case(backend: Any) -> None:
            keepalive = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
            endpoint = Endpoint("127.0.0.1", server.port, socket_options=keepalive)
            stream = await backend.connect(endpoint, 5)
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            await stream.aclose()

        run(case)


def test_what_the_server_sent_before_closing_is_read_after_a_failed_write(
    run: Run,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """An HTTP/2 server closes right after its last frames; our next write draws its reset and
    fails. The frames it sent are still in our socket buffer and must be readable (trio's
    SSLStream refuses every read once a write failed; the backend reads around it)."""
    closed = threading.Event()

    def last_words(conn: socket.socket) -> None:
        read_until(conn, b"request")
        conn.sendall(b"last words")
        conn.close()  # a FIN; our next write draws the reset
        closed.set()

    with scripted_server(last_words, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            stream = await plain.start_tls(client_ssl_context, "localhost", 5)
            await stream.write(b"request", timeout=5)
            assert closed.wait(5)
            # One turn of the loop first: asyncio and uvloop read as data arrives, so the last
            # words sit in the protocol's buffer, as they do in a client (over TLS, a send that
            # fails in the very turn they arrive is the loop's TLS transport's to lose; a plain
            # asyncio socket is read once more, see the next test). The blocking socket and
            # trio read only when asked: their kernel buffer holds them.
            await backend.sleep(0)
            failed = None
            for _ in range(100):  # the reset lands after a write or two
                try:
                    await stream.write(b"x" * 1024, timeout=5)
                except httplib.WriteError as exc:
                    failed = exc
                    break
                await backend.sleep(0)  # (asyncio reports a failed send on its next turn)
            assert isinstance(failed, httplib.WriteError)
            received = b""
            with contextlib.suppress(httplib.ReadError):  # the reset, after the data
                while chunk := await stream.read(65536, timeout=5):
                    received += chunk
            assert received == b"last words"
            await stream.aclose()

        run(case)


def test_what_a_reset_left_unread_is_read_after_the_write_it_failed(
    run: Run, request: pytest.FixtureRequest
) -> None:
    """The server sends its last bytes (an HTTP/2 GOAWAY, say) and resets the connection; our
    next write meets the reset before the loop has read them. They are still read (Linux keeps
    them after the reset), then the reset ends the stream. asyncio's transport stops reading
    and closes the socket on the failed write, so the backend reads them first
    (`_ByteProtocol._read_left_behind`)."""
    if request.node.callspec.params["run"] == "uvloop":
        pytest.skip("uvloop closes the descriptor inside the failed write: they are lost there")
    reset = threading.Event()

    def last_words_then_reset(conn: socket.socket) -> None:
        read_until(conn, b"request")
        conn.sendall(b"last words")
        reset_on_close(conn)
        conn.close()
        reset.set()

    with scripted_server(last_words_then_reset) as server:

        async def case(backend: Any) -> None:
            stream = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            await stream.write(b"request", timeout=5)
            assert reset.wait(5)  # (no turn of the loop: nothing has read the last words)
            with pytest.raises(httplib.WriteError):
                await stream.write(b"more", timeout=5)
            assert await stream.read(65536, timeout=5) == b"last words"
            with contextlib.suppress(httplib.ReadError):  # the reset, after the data
                assert await stream.read(65536, timeout=5) == b""
            await stream.aclose()

        run(case)


def test_closing_a_stream_the_server_already_closed_is_quiet(
    run: Run,
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """The exchange gives a connection back (and closes it) after the server closed it: no
    error from the runtime's transport, however often it is closed."""
    with scripted_server(greet_then_close, ssl_context=server_ssl_context) as server:

        async def case(backend: Any) -> None:
            plain = await backend.connect(Endpoint("127.0.0.1", server.port), 5)
            stream = await plain.start_tls(client_ssl_context, "localhost", 5)
            received = await read_to_eof(stream)
            assert received == b"bye"
            await backend.sleep(0)  # (asyncio finishes closing its side in the next turns)
            await backend.sleep(0)
            await stream.aclose()
            await stream.aclose()

        run(case)
