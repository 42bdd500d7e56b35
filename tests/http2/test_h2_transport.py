"""HTTP/2 through the transports and clients: hypercorn (TLS h2, h2c), uvicorn's HTTP/1.1
fallback, and the scripted h2 peer for stream limits, GOAWAY, RST_STREAM and cancellation."""

from __future__ import annotations

import json
import ssl
import threading
from typing import Any

import pytest

from httplib._client import AsyncClient, Client
from httplib._config import Limits
from httplib._core.effects import READ, WAIT
from httplib._exceptions import RemoteProtocolError
from servers.app import pattern_bytes
from servers.h2_peer import run_h2_peer
from transport.transport_harness import (
    Adapter,
    Mode,
    Runner,
)

CANCEL = 8  # RFC 9113 section 7: the CANCEL error code


def h2c(mode: Mode, **kwargs: Any) -> Adapter:
    """A transport that speaks HTTP/2 with prior knowledge to the scripted clear-text peer."""
    return mode.transport(http1=False, http2=True, **kwargs)


async def fetch(client: Adapter, url: str) -> bytes:
    return (await client.get(url))[1]


def test_tls_h2_get_and_post(
    run_all: Runner, hypercorn_tls_server: Any, client_ssl_context: ssl.SSLContext
) -> None:
    url = str(hypercorn_tls_server.url)

    async def case(mode: Mode) -> None:
        client = mode.transport(http2=True, verify=client_ssl_context)
        response, body = await client.get(url + "/echo?a=1", headers={"X-Test": "yes"})
        assert response.http_version == "HTTP/2"
        assert response.extensions["http_version"] == b"HTTP/2"
        echoed = json.loads(body)
        assert (echoed["method"], echoed["query"], echoed["http_version"]) == ("GET", "a=1", "2")
        assert ["x-test", "yes"] in echoed["headers"]
        response = await client.send("POST", url + "/echo", content=b"hello")
        echoed = json.loads(await client.read(response))
        assert (echoed["method"], echoed["body"]) == ("POST", "hello")
        await client.close()

    run_all(case)


def test_tls_h2_large_bodies_and_trailers(
    run: Runner, hypercorn_tls_server: Any, client_ssl_context: ssl.SSLContext
) -> None:
    url = str(hypercorn_tls_server.url)

    async def case(mode: Mode) -> None:
        client = mode.transport(http2=True, verify=client_ssl_context)
        response, body = await client.get(url + "/bytes/8388608")
        assert response.http_version == "HTTP/2"
        assert body == pattern_bytes(8388608)
        upload = b"u" * (4 << 20)
        response = await client.send("POST", url + "/echo", content=upload)
        assert json.loads(await client.read(response))["body"] == upload.decode()
        streamed = await client.send("POST", url + "/echo", content=client.body([b"a", b"b"]))
        assert json.loads(await client.read(streamed))["body"] == "ab"
        response, body = await client.get(url + "/trailers")
        assert (response.status_code, body) == (200, b"body")
        await client.close()

    run(case)


def test_h2c_prior_knowledge(run_all: Runner, hypercorn_server: Any) -> None:
    url = str(hypercorn_server.url)

    async def case(mode: Mode) -> None:
        client = h2c(mode)
        response, body = await client.get(url + "/echo")
        assert response.http_version == "HTTP/2"
        assert json.loads(body)["http_version"] == "2"
        await client.close()

    run_all(case)


def test_falls_back_to_http11_when_the_server_has_no_h2(
    run: Runner, uvicorn_tls_server: Any, client_ssl_context: ssl.SSLContext
) -> None:
    url = str(uvicorn_tls_server.url)

    async def case(mode: Mode) -> None:
        client = mode.transport(http2=True, verify=client_ssl_context)
        response, body = await client.get(url + "/echo")
        assert response.http_version == "HTTP/1.1"
        assert json.loads(body)["http_version"] == "1.1"
        await client.close()

    run(case)


def test_http2_off_keeps_http11_on_an_h2_server(
    run: Runner, hypercorn_tls_server: Any, client_ssl_context: ssl.SSLContext
) -> None:
    async def case(mode: Mode) -> None:
        h2 = mode.transport(http2=True, verify=client_ssl_context)
        h1 = mode.transport(verify=client_ssl_context)  # same context, its own ALPN offer
        for client, version in ((h2, "HTTP/2"), (h1, "HTTP/1.1")):
            response, _ = await client.get(str(hypercorn_tls_server.url) + "/echo")
            assert response.http_version == version
            await client.close()

    run(case)


def test_async_client_100_concurrent_requests_share_one_connection(run_async: Runner) -> None:
    with run_h2_peer(answer_after=100) as peer:

        async def case(mode: Mode) -> None:
            async with AsyncClient(http1=False, http2=True) as client:
                urls = [f"{peer.url}/r{i}" for i in range(100)]
                responses = await mode.gather([lambda url=url: client.get(url) for url in urls])
            assert [r.text for r in responses] == [f"/r{i}" for i in range(100)]
            assert {r.http_version for r in responses} == {"HTTP/2"}

        run_async(case)
        assert (peer.connections, peer.max_open_streams) == (1, 100)


def test_client_shared_by_100_threads_uses_one_connection() -> None:
    with run_h2_peer(answer_after=100) as peer, Client(http1=False, http2=True) as client:
        results: dict[int, str] = {}

        def one(i: int) -> None:
            results[i] = client.get(f"{peer.url}/t{i}").text

        threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == {i: f"/t{i}" for i in range(100)}
        assert (peer.connections, peer.max_open_streams) == (1, 100)


@pytest.mark.parametrize("max_connections", [1, 10])
def test_stream_limit_overflow_waits_or_opens_connections(
    run: Runner, max_connections: int
) -> None:
    with run_h2_peer(max_concurrent_streams=5) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode, limits=Limits(max_connections=max_connections))
            paths = [f"/s{i}" for i in range(20)]
            bodies = await mode.gather([lambda p=p: fetch(client, peer.url + p) for p in paths])
            assert bodies == [p.encode() for p in paths]
            await client.close()

        run(case)
        assert peer.max_open_streams <= 5
        assert 1 <= peer.connections <= max_connections


def test_goaway_mid_flight_is_retried_on_a_new_connection(run: Runner) -> None:
    with run_h2_peer(goaway_after=3, answer_after=6) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            paths = [f"/g{i}" for i in range(6)]
            bodies = await mode.gather([lambda p=p: fetch(client, peer.url + p) for p in paths])
            assert bodies == [p.encode() for p in paths]
            assert await fetch(client, peer.url + "/later") == b"/later"
            await client.close()

        run(case)
        assert peer.connections >= 2


def test_rst_stream_fails_only_its_request(run: Runner) -> None:
    with run_h2_peer(answer_after=3) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            paths = ["/a", "/reset", "/b"]
            a, reset, b = await mode.gather(
                [lambda p=p: fetch(client, peer.url + p) for p in paths]
            )
            assert isinstance(reset, RemoteProtocolError)
            assert "INTERNAL_ERROR" in str(reset)
            assert (a, b) == (b"/a", b"/b")
            assert await fetch(client, peer.url + "/after") == b"/after"
            await client.close()

        run(case)
        assert peer.connections == 1


def test_cancelling_one_stream_resets_it_and_keeps_the_connection(run_async: Runner) -> None:
    with run_h2_peer(answer_after=1) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            assert await fetch(client, peer.url + "/first") == b"/first"

            async def held() -> bool:
                # Cancelled where it waits for its answer (as the reader or parked): no timer.
                hold = lambda: fetch(client, peer.url + "/hold")  # noqa: E731
                return await mode.cancel_at(client, {READ, WAIT}, hold)

            others = [lambda i=i: fetch(client, f"{peer.url}/o{i}") for i in range(5)]
            cancelled, *bodies = await mode.gather([held, *others])
            assert cancelled is True
            assert bodies == [b"/o%d" % i for i in range(5)]
            assert await fetch(client, peer.url + "/after") == b"/after"
            await client.close()

        run_async(case)
        assert peer.connections == 1
        assert CANCEL in [code for _, code in peer.resets_received]


def test_closing_a_response_early_resets_only_its_stream(run: Runner) -> None:
    with run_h2_peer() as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            response = await client.send("GET", peer.url + "/bytes/8388608")
            first = await client.first_chunk(response)
            assert first.strip(b"x") == b""
            assert len(first) > 0
            await client.close_response(response)
            assert await fetch(client, peer.url + "/next") == b"/next"
            await client.close()

        run(case)
        assert peer.connections == 1
        assert [code for _, code in peer.resets_received] == [CANCEL]


def test_closing_the_transport_says_goodbye_with_goaway(run: Runner) -> None:
    with run_h2_peer() as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            assert await fetch(client, peer.url + "/one") == b"/one"
            await client.close()

        run(case)
        # The peer's thread reads the frame after the client has gone: wait for it, bounded.
        assert peer.goaway_received.wait(5)
        assert peer.goaways_received == [0]  # NO_ERROR


def test_a_write_interrupted_mid_frame_retires_the_connection() -> None:
    """Blocking sockets: a KeyboardInterrupt inside `sendall` may leave half a frame on the
    wire; the connection is failed, and the next request goes out on a fresh one."""
    from httplib._core.effects import WRITE_SHIELDED
    from httplib._io import sync_driver
    from httplib._models import Request
    from httplib._transports.default import HTTPTransport

    body = b"x" * 4000
    original = sync_driver.PERFORM

    def half_then_interrupt(effect: Any) -> Any:
        data = bytes(effect[2])
        if body[:1000] in data:
            effect[1].write(data[: len(data) // 2], effect[3])
            raise KeyboardInterrupt
        return original[WRITE_SHIELDED](effect)

    with run_h2_peer() as peer:
        transport = HTTPTransport(http1=False, http2=True)
        patched = list(original)
        patched[WRITE_SHIELDED] = half_then_interrupt
        sync_driver.PERFORM = tuple(patched)
        try:
            with pytest.raises(KeyboardInterrupt):
                transport.handle_request(Request("POST", peer.url + "/upload", content=body))
        finally:
            sync_driver.PERFORM = original
        response = transport.handle_request(Request("GET", peer.url + "/next"))
        assert response.read() == b"/next"
        transport.close()
    assert peer.connections == 2
