"""A scripted keep-alive server that answers by path with exact bytes, and records what it got.

For fault cases that need several hops (redirects) or a well-behaved "next request": each
route maps a path to the raw response bytes (or a function writing them); every request head
(and body, by Content-Length) is recorded in order, with the connection it came on.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from servers.raw import ScriptedServer, scripted_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Reply = bytes | Callable[[socket.socket], None]


@dataclass
class Seen:
    """One request as the server received it."""

    connection: int
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class RoutedServer:
    server: ScriptedServer
    url: str = ""  # kept from the start: still readable after the server stopped
    port: int = 0
    seen: list[Seen] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [request.path for request in self.seen]


def _read_request(conn: socket.socket, buffer: bytearray) -> tuple[bytes, bytes] | None:
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end])
    del buffer[:end]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(buffer) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body


@contextmanager
def routed_server(routes: dict[str, Reply]) -> Iterator[RoutedServer]:
    """Serve `routes` ({path: reply}); an unknown path gets 200 "ok". A reply function may
    close the connection (return after writing); bytes replies keep it alive."""
    lock = threading.Lock()
    counter = iter(range(1_000_000))
    holder: list[RoutedServer] = []

    def handler(conn: socket.socket) -> None:
        with lock:
            number = next(counter)
        buffer = bytearray()
        while True:
            request = _read_request(conn, buffer)
            if request is None:
                return
            head, body = request
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = [
                (name.strip(), value.strip())
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            ]
            with lock:
                holder[0].seen.append(Seen(number, method, target, headers, body))
            reply = routes.get(target.partition("?")[0], OK)
            if callable(reply):
                reply(conn)
                return
            conn.sendall(reply)

    with scripted_server(handler) as server:
        routed = RoutedServer(server, server.url, server.port)
        holder.append(routed)
        yield routed


def redirect_to(
    location: str | bytes, status: int = 302, body: bytes = b"", headers: bytes = b""
) -> bytes:
    """A redirect response framed by Content-Length (`headers`: lines each ending in CRLF)."""
    if isinstance(location, str):
        location = location.encode("utf-8")
    head = b"HTTP/1.1 %d Redirect\r\nLocation: %s\r\n%s" % (status, location, headers)
    return head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def response_with(body: bytes, headers: bytes = b"", status: int = 200) -> bytes:
    """A response framed by Content-Length (`headers`: lines each ending in CRLF)."""
    return b"HTTP/1.1 %d X\r\n%sContent-Length: %d\r\n\r\n%s" % (status, headers, len(body), body)
