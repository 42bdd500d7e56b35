"""A reused HTTP/2 connection the server closed without GOAWAY: requests that may be replayed
are resent once on a fresh connection (as for HTTP/1.1 keep-alive), others fail, and a failure
on a fresh connection is never retried. The scripted peer closes silently after `close_after`
answers per connection."""

from __future__ import annotations

from typing import Any

import pytest

from httplib._config import Limits
from httplib._core.resend import MAX_HANDSHAKE_CUTS
from httplib._exceptions import ReadError, RemoteProtocolError, WriteError
from servers.h2_peer import run_h2_peer
from transport.transport_harness import Adapter, Mode, Runner, timeouts

STALE_ERRORS = (RemoteProtocolError, ReadError, WriteError)


def h2c(mode: Mode, **kwargs: Any) -> Adapter:
    """Prior-knowledge HTTP/2 with one connection at most: a leaked slot would block the next
    request until its pool timeout."""
    return mode.transport(http1=False, http2=True, limits=Limits(max_connections=1), **kwargs)


def short_pool() -> dict[str, Any]:
    return timeouts(5.0, pool=2.0)


def test_idempotent_and_bodiless_requests_are_resent_on_a_new_connection(run_all: Runner) -> None:
    with run_h2_peer(close_after=1) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            response, body = await client.get(peer.url + "/first")
            assert (response.http_version, body) == ("HTTP/2", b"/first")
            # The first connection is dead now, unknown to the client.
            response, body = await client.get(peer.url + "/second", extensions=short_pool())
            assert (response.status_code, body) == (200, b"/second")
            # The second one too: a POST whose body is empty may be resent (nothing was sent).
            response = await client.send("POST", peer.url + "/upload", extensions=short_pool())
            assert await client.read(response) == b"0"
            await client.close()

        run_all(case)
        assert peer.connections == 3


@pytest.mark.parametrize("streamed", [False, True], ids=["post-body", "get-streamed-body"])
def test_requests_that_cannot_be_replayed_fail(run: Runner, streamed: bool) -> None:
    with run_h2_peer(close_after=1) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            assert (await client.get(peer.url + "/first"))[1] == b"/first"
            if streamed:  # an iterator body cannot be sent twice, whatever the method
                method, content = "GET", client.body([b"once"])
            else:  # a non-idempotent request whose body went out may have been processed
                method, content = "POST", b"data"
            with pytest.raises(STALE_ERRORS):
                await client.send(method, peer.url + "/upload", content=content)
            assert peer.connections == 1
            # The dead connection's slot is free again: the only one the pool allows.
            response, body = await client.get(peer.url + "/after", extensions=short_pool())
            assert (response.status_code, body) == (200, b"/after")
            await client.close()

        run(case)
        assert peer.connections == 2


def test_a_fresh_connection_that_fails_is_not_retried(run: Runner) -> None:
    with run_h2_peer(close_after=0) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            with pytest.raises(RemoteProtocolError, match="Server disconnected"):
                await client.get(peer.url + "/never")
            assert peer.connections == 1
            await client.close()

        run(case)
        assert peer.connections == 1


def test_a_new_connection_closed_before_its_settings_is_replaced(run: Runner) -> None:
    """A restarting server closes connections it had just accepted, before its SETTINGS: no
    request had left, so the request (a POST too) goes again at once on a new one."""
    with run_h2_peer(close_at_accept=MAX_HANDSHAKE_CUTS) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            response = await client.send("POST", peer.url + "/upload", content=b"data")
            assert (response.http_version, await client.read(response)) == ("HTTP/2", b"4")
            await client.close()

        run(case)
        assert peer.connections == MAX_HANDSHAKE_CUTS + 1


def test_new_connections_cut_before_settings_again_fail_and_free_their_slot(run: Runner) -> None:
    """Again at once `MAX_HANDSHAKE_CUTS` times, no more by default (a server that drops every
    connection is down); the pool's only slot is free again afterwards."""
    dropped = 1 + MAX_HANDSHAKE_CUTS
    with run_h2_peer(close_at_accept=dropped) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode)
            with pytest.raises(STALE_ERRORS):
                await client.get(peer.url + "/never")
            assert peer.connections == dropped
            response, body = await client.get(peer.url + "/after", extensions=short_pool())
            assert (response.status_code, body) == (200, b"/after")
            await client.close()

        run(case)
        assert peer.connections == dropped + 1


def test_handshake_cuts_count_against_the_connect_retries_asked_for(run: Runner) -> None:
    """With httpx's `retries=n`, a new connection cut before its SETTINGS is a failed connect:
    n more tries, with its backoff (0 s, then 0.5 s)."""
    with run_h2_peer(close_at_accept=2) as peer:

        async def case(mode: Mode) -> None:
            client = h2c(mode, retries=2)
            response, body = await client.get(peer.url + "/third")
            assert (response.status_code, body) == (200, b"/third")
            await client.close()

        run(case)
        assert peer.connections == 3
