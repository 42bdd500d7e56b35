"""A small local HTTP server for the examples, standing in for a real API (standard library only).

`with serve() as base_url:` runs it on 127.0.0.1 on a free port in a background thread, one
thread per connection, HTTP/1.1 keep-alive, and stops it on exit. Routes:

  /json                  a small JSON document
  /delay/{seconds}       waits (at most 5 s), then answers {"waited": seconds}
  /bytes/{n}             n bytes (at most 64 MiB), with Content-Length
  /status/{code}         an empty response with that status
  /redirect?to=/path     302 to `to`
  /basic-auth/{u}/{p}    200 {"user": u} with those Basic credentials, else 401
  /users/{id}            {"id": id, "name": ...} if the Bearer token is "example-token", else 401;
                         404 for ids above 100
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_DELAY = 5.0
MAX_BYTES = 64 * 1024 * 1024
TOKEN = "example-token"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep the examples' output clean
        pass

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode())

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        route = parts[0] if parts else ""
        if route == "json":
            self._json(200, {"message": "hello", "numbers": [1, 2, 3]})
        elif route == "delay" and len(parts) == 2:
            seconds = min(float(parts[1]), MAX_DELAY)
            time.sleep(seconds)
            self._json(200, {"waited": seconds})
        elif route == "bytes" and len(parts) == 2:
            self._send_bytes(min(int(parts[1]), MAX_BYTES))
        elif route == "status" and len(parts) == 2:
            self._send(int(parts[1]))
        elif route == "redirect":
            target = parse_qs(url.query).get("to", ["/json"])[0]
            self._send(302, headers={"Location": target})
        elif route == "basic-auth" and len(parts) == 3:
            expected = base64.b64encode(f"{parts[1]}:{parts[2]}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {expected}":
                self._json(200, {"user": parts[1]})
            else:
                self._send(401, headers={"WWW-Authenticate": 'Basic realm="example"'})
        elif route == "users" and len(parts) == 2 and parts[1].isdigit():
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._json(401, {"error": "missing or wrong token"})
            elif int(parts[1]) > 100:
                self._json(404, {"error": f"no user {parts[1]}"})
            else:
                self._json(200, {"id": int(parts[1]), "name": f"user {parts[1]}"})
        else:
            self._json(404, {"error": "not found"})

    def _send_bytes(self, n: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = bytes(range(256)) * 256  # 64 KiB
        remaining = n
        while remaining > 0:
            piece = chunk[: min(remaining, len(chunk))]
            self.wfile.write(piece)
            remaining -= len(piece)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the fan-out examples open dozens of connections at once


@contextlib.contextmanager
def serve() -> Iterator[str]:
    """Run the server on a free loopback port; yields its base URL, stops it on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
