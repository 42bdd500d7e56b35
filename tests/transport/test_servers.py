"""The transports against real HTTP/1.1 servers (uvicorn, hypercorn), clear text and TLS."""

from __future__ import annotations

import json
import ssl
import tracemalloc
from typing import Any

import pytest

from httplib._exceptions import ConnectError
from httplib._models import Request
from httplib._transports.base import BaseTransport
from httplib._transports.default import HTTPTransport
from servers.app import pattern_bytes
from servers.raw import scripted_server
from transport.transport_harness import Mode, Runner, read_request

SERVERS = ["uvicorn_server", "hypercorn_server"]


@pytest.fixture(params=SERVERS)
def server_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param).url)


def test_get_post_head(run_all: Runner, server_url: str) -> None:
    async def case(mode: Mode) -> None:
        client = mode.transport()
        response, body = await client.get(server_url + "/echo?a=1", headers={"X-Test": "yes"})
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        echoed = json.loads(body)
        assert (echoed["method"], echoed["query"]) == ("GET", "a=1")
        assert ["x-test", "yes"] in echoed["headers"]

        response = await client.send("POST", server_url + "/echo", content=b"hello")
        echoed = json.loads(await client.read(response))
        assert (echoed["method"], echoed["body"]) == ("POST", "hello")

        chunks = [b"abc", b"", b"def" * 1000]
        response = await client.send("POST", server_url + "/echo", content=client.body(chunks))
        echoed = json.loads(await client.read(response))
        assert echoed["body"] == "abc" + "def" * 1000
        assert ["transfer-encoding", "chunked"] in echoed["headers"]

        response = await client.send("HEAD", server_url + "/bytes/10")
        assert response.headers["content-length"] == "10"
        assert await client.read(response) == b""
        await client.close()

    run_all(case)


def test_status_and_streamed_chunked_response(run: Runner, server_url: str) -> None:
    async def case(mode: Mode) -> None:
        client = mode.transport()
        response, body = await client.get(server_url + "/status/404")
        assert (response.status_code, body) == (404, b"")
        response = await client.send("GET", server_url + "/stream/20/1000")
        assert "content-length" not in response.headers
        chunks = await client.chunks(response)
        assert b"".join(chunks) == pattern_bytes(1000) * 20
        assert response.is_closed
        await client.close()

    run(case)


def test_large_body_streams_in_bounded_memory(run: Runner) -> None:
    size, piece = 8 * 1024 * 1024, pattern_bytes(64 * 1024)

    def big(conn: Any) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(piece)):
            conn.sendall(piece)

    with scripted_server(big) as server:

        async def case(mode: Mode) -> None:
            client = mode.transport()
            response = await client.send("GET", server.url + "/big")
            sizes: list[int] = []
            tracemalloc.start()
            try:
                if client.is_async:
                    async for chunk in response.aiter_raw():
                        sizes.append(len(chunk))
                else:
                    sizes.extend(len(chunk) for chunk in response.iter_raw())
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert sum(sizes) == size
            assert max(sizes) <= 64 * 1024
            # The asyncio stream buffers at most ~1 MiB before pausing the socket.
            assert peak < 3 * 1024 * 1024
            await client.close()

        run(case)


def test_tls(run_all: Runner, uvicorn_tls_server: Any, client_ssl_context: ssl.SSLContext) -> None:
    async def case(mode: Mode) -> None:
        client = mode.transport(verify=client_ssl_context)
        response, body = await client.get(uvicorn_tls_server.url + "/bytes/100")
        assert body == pattern_bytes(100)
        stream = response.extensions["network_stream"]
        assert stream.get_extra_info("ssl_object") is not None
        await client.close()

        untrusting = mode.transport()  # certifi's CAs do not know the test CA
        with pytest.raises(ConnectError):
            await untrusting.get(uvicorn_tls_server.url + "/bytes/1")
        await untrusting.close()

    run_all(case)


def test_transport_public_names_match_httpx_behaviour() -> None:
    with pytest.raises(ValueError, match="Unknown scheme for proxy URL"):
        HTTPTransport(proxy="ftp://example.com:3128")
    with pytest.raises(NotImplementedError, match="'handle_request' method must be"):
        BaseTransport().handle_request(Request("GET", "http://x"))
