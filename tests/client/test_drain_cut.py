"""A response body cut by a server draining its HTTP/2 connection (GOAWAY, then the connection
closed under a stream it had accepted, as graceful reloads of Apache, Caddy and lighttpd do):
an idempotent, non-streamed request is fetched again on a new connection, at most
`MAX_DRAIN_RESENDS` times; a cut without GOAWAY goes to the retry policy when there is one;
everything else fails as before. Every case runs for `Client` and
for `AsyncClient` on asyncio, uvloop and trio against a scripted h2c server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from httplib import Retry
from httplib._core.resend import MAX_DRAIN_RESENDS
from httplib._exceptions import RemoteProtocolError
from servers.raw import scripted_server
from support.clients import Runner

BODY = bytes(range(256)) * 64  # 16 KiB


def draining_server(
    cut_connections: int, goaway: bool = True, head: bool = True
) -> Callable[[socket.socket], None]:
    """An h2c handler: on each of the first `cut_connections` connections, every request gets
    its head and part of its body (none of either without `head`), then (with `goaway`) GOAWAY
    naming it processed, then the connection closes; later connections answer in full."""
    lock = threading.Lock()
    seen = [0]

    def handler(sock: socket.socket) -> None:
        with lock:
            seen[0] += 1
            cut = seen[0] <= cut_connections
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        conn = h2.connection.H2Connection(config=config)
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        while data := sock.recv(65536):
            for event in conn.receive_data(data):
                if not isinstance(event, h2.events.StreamEnded):
                    continue
                sid = event.stream_id
                fields = [(b":status", b"200"), (b"content-length", str(len(BODY)).encode())]
                if not cut:
                    conn.send_headers(sid, fields)
                    conn.send_data(sid, BODY, end_stream=True)
                    continue
                if head:
                    conn.send_headers(sid, fields)
                    conn.send_data(sid, BODY[:1000])
                if goaway:
                    conn.close_connection(h2.errors.ErrorCodes.NO_ERROR, last_stream_id=sid)
                sock.sendall(conn.data_to_send())
                return  # (the server closes the connection)
            sock.sendall(conn.data_to_send())

    return handler


def h2c_client() -> dict[str, Any]:
    return {"http1": False, "http2": True}


def test_a_body_cut_by_a_draining_server_is_fetched_again(runner: Runner) -> None:
    with scripted_server(draining_server(cut_connections=1)) as server:
        response = runner.send("GET", server.url + "/big", client=h2c_client())
        assert response.status_code == 200
        assert response.content == BODY
        assert server.connections_accepted == 2


def test_each_reload_met_costs_one_fetch_up_to_the_limit(runner: Runner) -> None:
    cut = MAX_DRAIN_RESENDS + 1  # the first send and every fetch again are cut
    with scripted_server(draining_server(cut_connections=cut)) as server:
        with pytest.raises(RemoteProtocolError, match="Server disconnected"):
            runner.send("GET", server.url + "/big", client=h2c_client())
        assert server.connections_accepted == cut
    with scripted_server(draining_server(cut_connections=cut - 1)) as server:
        assert runner.send("GET", server.url + "/big", client=h2c_client()).content == BODY


@pytest.mark.parametrize(
    ("case", "goaway", "method"),
    [
        ("a cut without GOAWAY", False, "GET"),
        ("a POST (not idempotent)", True, "POST"),
    ],
)
def test_other_cuts_are_not_sent_again(
    runner: Runner, case: str, goaway: bool, method: str
) -> None:
    with scripted_server(draining_server(cut_connections=1, goaway=goaway)) as server:
        with pytest.raises(RemoteProtocolError, match="Server disconnected"):
            runner.send(method, server.url + "/big", client=h2c_client(), content=b"x")
        assert server.connections_accepted == 1, case


def test_a_cut_without_goaway_goes_to_the_retry_policy(runner: Runner) -> None:
    """No GOAWAY, so no free fetch: with `retries=` the body cut counts as a connection lost
    (the caller saw none of it), for an idempotent request only."""
    retries = {**h2c_client(), "retries": Retry(backoff_factor=0.01, backoff_jitter=0.0)}
    with scripted_server(draining_server(cut_connections=1, goaway=False)) as server:
        response = runner.send("GET", server.url + "/big", client=retries)
        assert (response.content, response.extensions["attempts"]) == (BODY, 2)
        assert server.connections_accepted == 2
    with scripted_server(draining_server(cut_connections=1, goaway=False)) as server:
        with pytest.raises(RemoteProtocolError, match="Server disconnected"):
            runner.send("POST", server.url + "/big", client=retries, content=b"x")
        assert server.connections_accepted == 1
    # Closed before the head, without GOAWAY: a connection lost before the response.
    with scripted_server(draining_server(cut_connections=1, goaway=False, head=False)) as server:
        response = runner.send("GET", server.url + "/big", client=retries)
        assert (response.content, response.extensions["attempts"]) == (BODY, 2)


@pytest.mark.parametrize(
    ("method", "headers", "again"),
    [
        ("GET", {}, True),
        ("POST", {"Idempotency-Key": "0b7c"}, True),
        ("POST", {}, False),  # it may have been acted on
    ],
)
def test_a_draining_server_cutting_a_new_connection_before_any_answer(
    runner: Runner, method: str, headers: dict[str, str], again: bool
) -> None:
    """GOAWAY naming the stream processed, then a close before its head, on a connection that
    had served nothing: the server's draining, not the request's doing."""
    with scripted_server(draining_server(cut_connections=1, head=False)) as server:
        url = server.url + "/big"
        kw = {"client": h2c_client(), "content": b"x", "headers": headers}
        if again:
            assert runner.send(method, url, **kw).content == BODY
            assert server.connections_accepted == 2
        else:
            with pytest.raises(RemoteProtocolError, match="Server disconnected"):
                runner.send(method, url, **kw)
            assert server.connections_accepted == 1


def test_a_post_with_an_idempotency_key_is_fetched_again(runner: Runner) -> None:
    """The key asks the server to act on the request once, however often it arrives."""
    with scripted_server(draining_server(cut_connections=1)) as server:
        headers = {"Idempotency-Key": "7d9e0c2a"}
        url = server.url + "/big"
        response = runner.send("POST", url, client=h2c_client(), content=b"x", headers=headers)
        assert response.content == BODY
        assert server.connections_accepted == 2


def test_a_streamed_response_is_not_fetched_again(runner: Runner) -> None:
    """The caller holds the response (and may have read part of it): the cut is theirs."""
    with scripted_server(draining_server(cut_connections=1)) as server:

        def sync_script(client: Any) -> None:
            with (
                client.stream("GET", server.url + "/big") as response,
                pytest.raises(RemoteProtocolError),
            ):
                response.read()

        async def async_script(client: Any) -> None:
            async with client.stream("GET", server.url + "/big") as response:
                with pytest.raises(RemoteProtocolError):
                    await response.aread()

        script = async_script if runner.is_async else sync_script
        runner.with_client(script, **h2c_client())
        assert server.connections_accepted == 1


def test_response_hooks_see_the_fetch_again(runner: Runner) -> None:
    """Through the flow (a response hook, so no fast path): the hook sees both responses, and
    the final response is complete."""
    seen: list[int] = []
    hook = runner.hook(lambda response: seen.append(response.status_code))
    with scripted_server(draining_server(cut_connections=1)) as server:
        client = {**h2c_client(), "event_hooks": {"response": [hook]}}
        response = runner.send("GET", server.url + "/big", client=client)
        assert response.content == BODY
        assert seen == [200, 200]
        assert server.connections_accepted == 2
