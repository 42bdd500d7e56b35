"""Pool limits hold whatever the server's write sizes: a streamed response keeps its connection
(HTTP/1.1) or stream (HTTP/2) until it is read to the end or closed, as in httpx, on every runtime.

A small body usually arrives in the same read as the head; the response must still hold its
connection, or `max_connections=1` would mean one thing for small bodies and another for large.
"""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from faults.conftest import Fault, pool_counts
from httplib._config import Limits, Timeout
from httplib._exceptions import PoolTimeout

ONE = Limits(max_connections=1)
SHORT_POOL = Timeout(10.0, pool=0.05)


@pytest.mark.parametrize("size", [10, 200_000])
def test_an_unread_streamed_response_holds_its_connection(
    fault: Fault, uvicorn_server: Any, size: int
) -> None:
    url = f"{uvicorn_server.url}/bytes/{size}"

    def sync_script(client: Any) -> None:
        with client.stream("GET", url) as response:
            assert pool_counts(client)["streams"] == 1
            with pytest.raises(PoolTimeout):
                client.get(url)
            assert len(response.read()) == size
        assert client.get(url).status_code == 200
        assert pool_counts(client)["streams"] == 0

    async def async_script(client: Any) -> None:
        async with client.stream("GET", url) as response:
            assert pool_counts(client)["streams"] == 1
            with pytest.raises(PoolTimeout):
                await client.get(url)
            assert len(await response.aread()) == size
        assert (await client.get(url)).status_code == 200
        assert pool_counts(client)["streams"] == 0

    script = async_script if fault.is_async else sync_script
    fault.with_client(script, limits=ONE, timeout=SHORT_POOL)


def test_reading_to_the_end_gives_the_connection_back(fault: Fault, uvicorn_server: Any) -> None:
    url = f"{uvicorn_server.url}/bytes/10"

    def sync_script(client: Any) -> None:
        with client.stream("GET", url) as first:
            assert len(b"".join(first.iter_bytes())) == 10
            # Read to the end: the connection is back before the block exits.
            assert pool_counts(client)["streams"] == 0
            assert client.get(url).status_code == 200

    async def async_script(client: Any) -> None:
        async with client.stream("GET", url) as first:
            assert len(b"".join([c async for c in first.aiter_bytes()])) == 10
            assert pool_counts(client)["streams"] == 0
            assert (await client.get(url)).status_code == 200

    script = async_script if fault.is_async else sync_script
    fault.with_client(script, limits=ONE, timeout=SHORT_POOL)


def test_an_unread_http2_response_holds_its_stream(
    fault: Fault, hypercorn_tls_server: Any, client_ssl_context: ssl.SSLContext
) -> None:
    url = f"{hypercorn_tls_server.url}/bytes/10"

    def sync_script(client: Any) -> None:
        with client.stream("GET", url) as response:
            assert response.http_version == "HTTP/2"
            assert pool_counts(client)["streams"] == 1
            assert client.get(url).status_code == 200  # multiplexed beside it
        assert pool_counts(client)["streams"] == 0

    async def async_script(client: Any) -> None:
        async with client.stream("GET", url) as response:
            assert response.http_version == "HTTP/2"
            assert pool_counts(client)["streams"] == 1
            assert (await client.get(url)).status_code == 200
        assert pool_counts(client)["streams"] == 0

    script = async_script if fault.is_async else sync_script
    fault.with_client(script, limits=ONE, http2=True, verify=client_ssl_context)
