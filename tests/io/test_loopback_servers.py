"""The loopback test servers answer as the test app promises (checked with the stdlib client)."""

from __future__ import annotations

import http.client
import json
import ssl

from servers.app import pattern_bytes
from servers.asgi_servers import RunningServer


def _get(
    server: RunningServer, path: str, context: ssl.SSLContext | None = None
) -> tuple[int, bytes]:
    if server.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            server.host, server.port, context=context, timeout=10
        )
    else:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_uvicorn_serves_echo_and_bytes(uvicorn_server: RunningServer) -> None:
    status, body = _get(uvicorn_server, "/echo?x=1")
    assert status == 200
    assert json.loads(body)["query"] == "x=1"
    assert _get(uvicorn_server, "/bytes/70000") == (200, pattern_bytes(70000))
    assert _get(uvicorn_server, "/nope")[0] == 404


def test_tls_servers_present_the_test_certificate(
    uvicorn_tls_server: RunningServer,
    hypercorn_tls_server: RunningServer,
    client_ssl_context: ssl.SSLContext,
) -> None:
    for server in (uvicorn_tls_server, hypercorn_tls_server):
        assert _get(server, "/status/201", client_ssl_context)[0] == 201


def test_hypercorn_streams_chunks(hypercorn_server: RunningServer) -> None:
    assert _get(hypercorn_server, "/stream/3/10") == (200, pattern_bytes(10) * 3)
