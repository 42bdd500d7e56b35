"""A raw-socket server that runs a scripted handler per connection: exact bytes, delays, resets.

Used where a real HTTP server would never misbehave on purpose. Every connection runs in its own
thread; `stop()` closes the listener and every accepted socket and joins the threads.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket], None]


class ScriptedServer:
    """Listens on 127.0.0.1 (or a Unix socket path) and runs `handler(conn)` per connection."""

    def __init__(
        self,
        handler: Handler,
        *,
        ssl_context: ssl.SSLContext | None = None,
        unix_path: str | None = None,
        reset_first: int = 0,
    ) -> None:
        self.handler = handler
        # The first `reset_first` connections are reset as soon as accepted (a restart
        # dropping the connections its listener had queued), before any TLS.
        self.reset_first = reset_first
        self.ssl_context = ssl_context
        self.unix_path = unix_path
        if unix_path is not None:
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(unix_path)
        else:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.1)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections_accepted = 0
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections_accepted += 1
                number = self.connections_accepted
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            # Inside the try: stop() may already have closed `conn` before this thread ran.
            conn.settimeout(10)
            if number <= self.reset_first:
                reset_on_close(conn)
                return
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conns.append(conn)
            self.handler(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self) -> None:
        self._stopping.set()
        # Wake the acceptor now rather than at its next 0.1 s accept timeout (on Linux a
        # shutdown listener's accept returns at once; elsewhere the timeout still ends it).
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def scripted_server(
    handler: Handler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    unix_path: str | None = None,
    reset_first: int = 0,
) -> Iterator[ScriptedServer]:
    server = ScriptedServer(
        handler, ssl_context=ssl_context, unix_path=unix_path, reset_first=reset_first
    )
    try:
        yield server
    finally:
        server.stop()


def read_until(conn: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    """Read from `conn` until `marker` has been received (or the peer closed)."""
    data = b""
    while marker not in data and len(data) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def reset_on_close(conn: socket.socket) -> None:
    """Make `conn.close()` send a TCP RST instead of a FIN (SO_LINGER on, timeout 0)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def read_request_head(conn: socket.socket, pending: bytes = b"") -> tuple[bytes, bytes]:
    """One request head (without the blank line) and whatever arrived after it; b"" heads
    when the peer closed first."""
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def keep_alive(respond: Callable[[socket.socket, bytes, int], bool]) -> Handler:
    """A handler that serves requests on one connection in turn: `respond(conn, head, n)` for
    the n-th request (from 1) answers it and says whether to go on (False: close)."""

    def handler(conn: socket.socket) -> None:
        pending = b""
        n = 0
        while True:
            head, pending = read_request_head(conn, pending)
            if not head:
                return
            n += 1
            if not respond(conn, head, n):
                return

    return handler
