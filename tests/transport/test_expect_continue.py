"""`Expect: 100-continue` over HTTP/1.1 (RFC 9110 section 10.1.1), against scripted servers on
every runtime: the body waits for the server's 100, is never sent when a final answer comes
first, goes after a bounded wait when the server says nothing, and a POST whose stale
connection closed before the 100 is resent (none of its body left)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from servers.raw import read_request_head, scripted_server
from transport.transport_harness import Mode, Runner, ok, read_request, timeouts

EXPECT = {"Expect": "100-continue"}


def read_body(conn: socket.socket, head: bytes, early: bytes) -> bytes:
    """The body after `head`, `early` being what of it came with the head (its framing is read
    as `read_request` reads it)."""
    _, body, _ = read_request(conn, head + b"\r\n\r\n" + early)
    return body


class Seen:
    """What the scripted server saw, recorded under a lock (its handler runs in a thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.early: list[bytes] = []  # body bytes that came with a head, before any answer
        self.after_answer: list[bytes] = []  # bytes after a final answer, until the close

    def add(self, field: list[bytes], data: bytes) -> None:
        with self.lock:
            field.append(data)


def continue_then_echo(seen: Seen) -> Callable[[socket.socket], None]:
    """Answers 100 after each head, then the length of the body it reads."""

    def handler(conn: socket.socket) -> None:
        while True:
            head, early = read_request_head(conn)
            if not head:
                return
            seen.add(seen.early, early)
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = read_body(conn, head, early)
            conn.sendall(ok(b"%d" % len(body)))

    return handler


def test_the_body_waits_for_100_continue(run: Runner) -> None:
    seen = Seen()
    with scripted_server(continue_then_echo(seen)) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport()
            for content in (b"hello", b"x" * (1 << 20)):  # in memory: inline-sized, and large
                response = await client.send(
                    "POST", server.url + "/up", content=content, headers=EXPECT
                )
                assert response.status_code == 200
                assert await client.read(response) == b"%d" % len(content)
            assert server.connections_accepted == 1  # and the connection is reused
            await client.close()

        run(case)
    assert seen.early
    assert all(early == b"" for early in seen.early)


def test_a_final_answer_before_100_keeps_the_body(run: Runner) -> None:
    seen = Seen()
    finished = threading.Event()  # the connection that had the expectation saw its close

    def handler(conn: socket.socket) -> None:
        head, early = read_request_head(conn)
        if b"100-continue" not in head.lower():
            conn.sendall(ok(b"plain"))
            return
        seen.add(seen.early, early)
        conn.sendall(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
        rest = b""
        try:
            while chunk := conn.recv(65536):
                rest += chunk
        except OSError:
            pass  # a reset ends the connection as well as a close does
        finally:
            seen.add(seen.after_answer, rest)
            finished.set()

    with scripted_server(handler) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport()
            response = await client.send(
                "POST", server.url + "/up", content=b"secret", headers=EXPECT
            )
            assert response.status_code == 417
            assert await client.read(response) == b""
            # The request never ended on that connection: it is closed as the response ends
            # (the server sees the close; its thread, so this blocking wait is bounded).
            assert finished.wait(10)
            response = await client.send("POST", server.url + "/up", content=b"secret")
            assert await client.read(response) == b"plain"
            assert server.connections_accepted == 2
            await client.close()

        run(case)
    assert seen.early == [b""]
    assert seen.after_answer == [b""]  # not one byte of the body, ever


def test_a_silent_server_gets_the_body_after_a_bounded_wait(run: Runner) -> None:
    seen = Seen()

    def handler(conn: socket.socket) -> None:
        head, early = read_request_head(conn)
        if not head:
            return
        seen.add(seen.early, early)  # no 100: a server that waits for the body
        body = read_body(conn, head, early)
        conn.sendall(ok(b"%d" % len(body)))

    with scripted_server(handler) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport()
            # The read timeout caps the wait for the 100 (`EXPECT_CONTINUE_TIMEOUT` otherwise).
            response = await client.send(
                "POST",
                server.url + "/up",
                content=b"hello",
                headers=EXPECT,
                extensions=timeouts(10.0, read=0.2),
            )
            assert response.status_code == 200
            assert await client.read(response) == b"5"
            await client.close()

        run(case)
    assert seen.early
    assert all(early == b"" for early in seen.early)


def test_a_post_cut_by_a_stale_connection_before_100_is_resent(run: Runner) -> None:
    """The server closed the kept-alive connection as the POST's head arrived: no byte of its
    body left, so it cannot have been acted on, and it goes again on a fresh connection."""
    seen = Seen()
    connections = [0]
    echo = continue_then_echo(seen)

    def handler(conn: socket.socket) -> None:
        with seen.lock:
            connections[0] += 1
            first = connections[0] == 1
        if not first:
            echo(conn)
            return
        head, _, _ = read_request(conn)
        conn.sendall(ok(head.split(b" ")[1]))
        read_request_head(conn)  # the POST's head, then the close
        conn.close()

    with scripted_server(handler) as server:

        async def case(mode: Mode) -> None:
            with seen.lock:
                connections[0] = 0
            client = mode.transport()
            await client.get(server.url + "/one")
            response = await client.send(
                "POST", server.url + "/up", content=b"order", headers=EXPECT
            )
            assert await client.read(response) == b"5"
            assert server.connections_accepted == 2
            await client.close()

        run(case)
