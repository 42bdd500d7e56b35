"""`Retry` end to end, for `Client` and `AsyncClient` on every runtime, against scripted
servers: what is sent again (503s, 429 with Retry-After, a connection lost before the
response, or under a body the client reads for its caller), what never is (a POST, a one-shot
body, a body the caller streams, a head cut off part way),
the retry budget stopping a storm, the total deadline cutting a wait short, and nothing at all
without `retries=`."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from faults.conftest import Fault, assert_pool_clean
from faults.routes import OK, Seen, redirect_to, response_with
from httplib import Client, Retry, RetryBudget, Timeout
from httplib._exceptions import ConnectTimeout, ReadError, ReadTimeout, RemoteProtocolError
from servers.raw import reset_on_close, scripted_server

# Tiny exact sleeps keep the suite fast and the timings checkable.
FAST = Retry(backoff_factor=0.01, backoff_jitter=0.0)
UNAVAILABLE = response_with(b"busy", status=503)

# A reply: bytes keep the connection open; a function (conn) -> None writes what it likes and
# the connection is closed after it.
Reply = bytes | Callable[[socket.socket], None]


def reset(conn: socket.socket) -> None:
    """Close with a TCP RST before any byte of response."""
    reset_on_close(conn)


def closed(conn: socket.socket) -> None:
    """Close (FIN) before any byte of response."""


def cut_off_body(conn: socket.socket) -> None:
    """The head and part of the body, then a reset: the response had started."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
    reset_on_close(conn)


@dataclass
class ScriptServer:
    url: str
    seen: list[Seen] = field(default_factory=list)

    def methods(self) -> list[str]:
        return [request.method for request in self.seen]


def read_request(
    conn: socket.socket, buffer: bytearray
) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    """The next request's method, target, header fields (names lower-cased) and body
    (Content-Length or chunked), or None at EOF."""

    def fill() -> bool:
        chunk = conn.recv(65536)
        buffer.extend(chunk)
        return bool(chunk)

    while b"\r\n\r\n" not in buffer:
        if not fill():
            return None
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end]).decode("latin-1").lower()
    del buffer[:end]
    method, target, _ = head.split(" ", 2)
    if "transfer-encoding: chunked" in head:
        while b"0\r\n\r\n" not in buffer:  # (enough for the bodies these tests send)
            if not fill():
                return None
        end = buffer.index(b"0\r\n\r\n") + 5
    else:
        length = 0
        for line in head.split("\r\n"):
            if line.startswith("content-length:"):
                length = int(line.partition(":")[2])
        while len(buffer) < length:
            if not fill():
                return None
        end = length
    body = bytes(buffer[:end])
    del buffer[:end]
    fields = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:] if line)
    ]
    return method.upper(), target, fields, body


@contextmanager
def script_server(*replies: Reply) -> Iterator[ScriptServer]:
    """Answers requests, on any connection, with `replies` in order; then 200 "ok"."""
    lock = threading.Lock()
    pending = list(replies)
    holder: list[ScriptServer] = []

    def handler(conn: socket.socket) -> None:
        buffer = bytearray()
        while (request := read_request(conn, buffer)) is not None:
            method, target, fields, body = request
            with lock:
                holder[0].seen.append(Seen(0, method, target, fields, body))
                reply = pending.pop(0) if pending else OK
            if callable(reply):
                reply(conn)
                return
            conn.sendall(reply)

    with scripted_server(handler) as server:
        holder.append(ScriptServer(server.url))
        yield holder[0]


def send(fault: Fault, method: str, url: str, client: dict[str, Any], **kw: Any) -> Any:
    """One request through a fresh client; the response (body read) and the seconds it took,
    with the pool checked clean afterwards."""

    def sync_script(c: Any) -> tuple[Any, float]:
        started = time.monotonic()
        response = c.request(method, url, **kw)
        elapsed = time.monotonic() - started
        assert_pool_clean(c)
        return response, elapsed

    async def async_script(c: Any) -> tuple[Any, float]:
        started = time.monotonic()
        response = await c.request(method, url, **kw)
        elapsed = time.monotonic() - started
        assert_pool_clean(c)
        return response, elapsed

    return fault.with_client(async_script if fault.is_async else sync_script, **client)


def retry_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "httplib" and text in r.message]


# --- what is retried -----------------------------------------------------------------------


def test_503_503_200(fault: Fault, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httplib")
    with script_server(UNAVAILABLE, UNAVAILABLE, OK) as server:
        response, _ = send(fault, "GET", server.url + "/a", {"retries": FAST})
    assert (response.status_code, response.text) == (200, "ok")
    assert response.extensions["attempts"] == 3
    assert server.methods() == ["GET"] * 3
    lines = retry_lines(caplog, "Retrying GET")
    assert len(lines) == 2
    assert "in 0.01 s (attempt 1 of this exchange: HTTP/1.1 503" in lines[0]


def test_retries_run_out_and_the_last_response_is_returned(fault: Fault) -> None:
    with script_server(*[UNAVAILABLE] * 5) as server:
        response, _ = send(fault, "GET", server.url, {"retries": Retry(2, **_exact(0.01))})
    assert (response.status_code, response.text) == (503, "busy")  # raise_for_status() works
    assert response.extensions["attempts"] == 3
    assert len(server.seen) == 3


def test_429_with_retry_after_waits_as_asked(fault: Fault) -> None:
    limited = response_with(b"", b"Retry-After: 1\r\n", status=429)
    with script_server(limited, OK) as server:
        response, elapsed = send(fault, "GET", server.url, {"retries": FAST})
    assert response.status_code == 200
    assert response.extensions["attempts"] == 2
    assert 0.95 <= elapsed < 3.0  # the server's second, not the 0.01 s backoff


def test_a_retry_after_beyond_the_cap_returns_at_once(fault: Fault) -> None:
    limited = response_with(b"", b"Retry-After: 120\r\n", status=429)
    with script_server(limited, OK) as server:
        response, elapsed = send(fault, "GET", server.url, {"retries": FAST})
    assert response.status_code == 429
    assert response.extensions["attempts"] == 1
    assert elapsed < 1.0
    assert len(server.seen) == 1


@pytest.mark.parametrize("lost", [reset, closed], ids=["reset", "closed"])
def test_a_connection_lost_before_the_response_is_retried(fault: Fault, lost: Reply) -> None:
    with script_server(lost, OK) as server:
        response, _ = send(fault, "GET", server.url, {"retries": FAST})
    assert response.status_code == 200
    assert response.extensions["attempts"] == 2
    assert server.methods() == ["GET", "GET"]


def closed_in_body(conn: socket.socket) -> None:
    """The head and part of the body, then a close (FIN): short of its Content-Length."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")


def chunked_then_closed(conn: socket.socket) -> None:
    """A chunked body's first chunk, then a close before its last chunk."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n")


@pytest.mark.parametrize(
    "cut", [cut_off_body, closed_in_body, chunked_then_closed], ids=["reset", "closed", "chunked"]
)
def test_a_body_cut_off_before_the_caller_saw_any_is_retried(
    fault: Fault, cut: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    """The client reads a non-streamed body for its caller: when the connection is lost under
    it, that response never reached anyone, and the policy retries it as it would a connection
    lost before the head (a wrapper around `client.get()` would)."""
    caplog.set_level(logging.INFO, logger="httplib")
    with script_server(cut, OK) as server:
        response, _ = send(fault, "GET", server.url + "/x", {"retries": FAST})
    assert (response.status_code, response.text) == (200, "ok")
    assert response.extensions["attempts"] == 2
    assert [r.path for r in server.seen] == ["/x", "/x"]
    assert len(retry_lines(caplog, "Retrying GET")) == 1


def test_a_body_cut_off_is_retried_through_the_whole_flow(fault: Fault) -> None:
    """With auth and an event hook (so not the client's fast path), the cut body goes through
    the flow's final read, and the request goes again with its credentials."""
    seen: list[int] = []

    def hook(response: Any) -> Any:
        seen.append(response.status_code)

    async def async_hook(response: Any) -> None:
        hook(response)

    with script_server(closed_in_body, OK) as server:
        response, _ = send(
            fault,
            "GET",
            server.url + "/x",
            {
                "retries": FAST,
                "auth": ("user", "pass"),
                "event_hooks": {"response": [async_hook if fault.is_async else hook]},
            },
        )
    assert (response.status_code, response.text) == (200, "ok")
    assert response.extensions["attempts"] == 2
    assert [r.path for r in server.seen] == ["/x", "/x"]
    assert [r.header("authorization") for r in server.seen] == [["basic dxnlcjpwyxnz"]] * 2
    assert seen == [200, 200]  # the hook ran for each exchange


def test_a_body_cut_off_is_retried_within_the_counts(fault: Fault) -> None:
    with script_server(cut_off_body, cut_off_body, cut_off_body) as server:
        fault.expect(
            ReadError,
            server.url + "/x",
            client={"retries": Retry(read=2, backoff_factor=0.01, backoff_jitter=0.0)},
            then=server.url + "/then",
        )
        assert [r.path for r in server.seen] == ["/x", "/x", "/x", "/then"]


def test_a_body_cut_off_is_not_retried_without_retries_or_for_a_post(fault: Fault) -> None:
    with script_server(cut_off_body, OK) as server:
        fault.expect(ReadError, server.url + "/x", then=server.url + "/then")
        assert [r.path for r in server.seen] == ["/x", "/then"]
    with script_server(closed_in_body, OK) as server:
        fault.expect(
            RemoteProtocolError, server.url + "/x", method="POST", content=b"order",
            client={"retries": FAST}, then=server.url + "/then",
        )  # fmt: skip
        assert [r.path for r in server.seen] == ["/x", "/then"]


def test_a_streamed_body_cut_off_is_not_retried(fault: Fault) -> None:
    """The caller streams the body and may have used part of it: its error is the outcome."""
    with script_server(closed_in_body, OK) as server:
        cut = pytest.raises(RemoteProtocolError, match="complete message body")

        def sync_script(c: Any) -> list[bytes]:
            chunks: list[bytes] = []
            with c.stream("GET", server.url + "/x") as response, cut:
                chunks.extend(response.iter_bytes())  # (keeps what came before the error)
            assert_pool_clean(c)
            return chunks

        async def async_script(c: Any) -> list[bytes]:
            chunks: list[bytes] = []

            async def read_into_chunks(response: Any) -> None:
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)

            async with c.stream("GET", server.url + "/x") as response:
                with cut:
                    await read_into_chunks(response)
            assert_pool_clean(c)
            return chunks

        script = async_script if fault.is_async else sync_script
        assert b"".join(fault.with_client(script, retries=FAST)) == b"partial"
        assert [r.path for r in server.seen] == ["/x"]


def test_a_body_that_times_out_is_retried_only_with_retry_on_timeout(fault: Fault) -> None:
    stop = threading.Event()

    def stalls(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        stop.wait(5)  # (released when the test ends)

    try:
        with script_server(stalls, OK) as server:
            fault.expect(
                ReadTimeout, server.url + "/x", client={"retries": FAST, "timeout": 0.2},
                then=server.url + "/then",
            )  # fmt: skip
            assert [r.path for r in server.seen] == ["/x", "/then"]
        on_timeout = Retry(backoff_factor=0.01, backoff_jitter=0.0, retry_on_timeout=True)
        with script_server(stalls, OK) as server:
            response, _ = send(
                fault, "GET", server.url + "/x", {"retries": on_timeout, "timeout": 0.2}
            )
            assert (response.status_code, response.extensions["attempts"]) == (200, 2)
    finally:
        stop.set()


def partial_head(conn: socket.socket) -> None:
    """Part of a response head, then a reset: the server had begun to answer."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
    reset_on_close(conn)


def test_a_head_cut_off_part_way_is_not_retried(fault: Fault) -> None:
    with script_server(partial_head, OK) as server:
        fault.expect(
            ReadError, server.url + "/x", client={"retries": FAST}, then=server.url + "/then"
        )
        assert [r.path for r in server.seen] == ["/x", "/then"]


def test_each_redirect_hop_is_retried_on_its_own(fault: Fault) -> None:
    with script_server(redirect_to("/b"), UNAVAILABLE, OK) as server:
        response, _ = send(
            fault, "GET", server.url + "/a", {"retries": FAST, "follow_redirects": True}
        )
    assert response.status_code == 200
    assert response.extensions["attempts"] == 2
    assert [r.path for r in server.seen] == ["/a", "/b", "/b"]
    assert [r.status_code for r in response.history] == [302]


# --- what is never retried -----------------------------------------------------------------


def test_a_post_is_not_retried(fault: Fault) -> None:
    with script_server(UNAVAILABLE, OK) as server:
        response, _ = send(fault, "POST", server.url, {"retries": FAST}, content=b"order")
        assert response.status_code == 503
        assert response.extensions["attempts"] == 1
        assert server.methods() == ["POST"]
    with script_server(reset, OK) as server:
        fault.expect(
            ReadError, server.url, method="POST", content=b"order", client={"retries": FAST},
            then=server.url,
        )  # fmt: skip
        assert server.methods() == ["POST", "GET"]


def test_a_listed_post_is_retried_with_its_body(fault: Fault) -> None:
    policy = Retry(allowed_methods={"POST"}, **_exact(0.01))
    with script_server(UNAVAILABLE, reset, OK) as server:
        response, _ = send(fault, "POST", server.url, {"retries": policy}, content=b"order")
    assert response.status_code == 200
    assert response.extensions["attempts"] == 3
    assert [(r.method, r.body) for r in server.seen] == [("POST", b"order")] * 3


def test_a_post_with_an_idempotency_key_is_retried_by_default(fault: Fault) -> None:
    """The key asks the server to act once however often the request arrives."""
    headers = {"Idempotency-Key": "5c1f0e9b"}
    for replies, attempts in [((UNAVAILABLE, UNAVAILABLE, OK), 3), ((reset, OK), 2)]:
        with script_server(*replies) as server:
            response, _ = send(
                fault, "POST", server.url, {"retries": FAST}, content=b"order", headers=headers
            )
        assert response.status_code == 200
        assert response.extensions["attempts"] == attempts
        assert [(r.method, r.body) for r in server.seen] == [("POST", b"order")] * attempts


def test_a_one_shot_body_is_never_resent(fault: Fault) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"once"

    async def achunks() -> AsyncIterator[bytes]:
        yield b"once"

    with script_server(UNAVAILABLE, OK) as server:
        url = server.url

        def sync_script(c: Any) -> Any:
            return c.put(url, content=chunks())

        async def async_script(c: Any) -> Any:
            return await c.put(url, content=achunks())

        script = async_script if fault.is_async else sync_script
        response = fault.with_client(script, retries=FAST)
        assert response.status_code == 503
        assert response.extensions["attempts"] == 1
        assert len(server.seen) == 1


def test_retries_are_off_by_default(fault: Fault) -> None:
    with script_server(UNAVAILABLE, OK) as server:
        response, _ = send(fault, "GET", server.url, {})
        assert response.status_code == 503
        assert "attempts" not in response.extensions
        assert len(server.seen) == 1
    with script_server(closed, OK) as server:
        fault.expect(RemoteProtocolError, server.url, then=server.url)
        assert len(server.seen) == 2


def test_a_request_turns_retries_on_or_off(fault: Fault) -> None:
    with script_server(UNAVAILABLE, UNAVAILABLE, OK) as server:
        off, _ = send(fault, "GET", server.url, {"retries": FAST}, extensions={"retries": 0})
        on, _ = send(fault, "GET", server.url, {}, extensions={"retries": FAST})
    assert off.status_code == 503
    assert "attempts" not in off.extensions
    assert on.status_code == 200
    assert on.extensions["attempts"] == 2
    assert len(server.seen) == 3


# --- the budget and the deadline -----------------------------------------------------------


def test_the_budget_stops_a_retry_storm(fault: Fault, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httplib")
    # A floor of 2 retries per 10 s and 20% of the requests: 10 requests may add 4 retries,
    # where Retry(total=3) alone would send 40.
    policy = Retry(3, budget=RetryBudget(ratio=0.2, min_per_second=0.2), **_exact(0.0))
    with script_server(*[UNAVAILABLE] * 100) as server:
        url = server.url

        def sync_script(c: Any) -> list[int]:
            return [c.get(url).extensions["attempts"] for _ in range(10)]

        async def async_script(c: Any) -> list[int]:
            return [(await c.get(url)).extensions["attempts"] for _ in range(10)]

        script = async_script if fault.is_async else sync_script
        attempts = fault.with_client(script, retries=policy)
        assert len(server.seen) == 14
    # The first call gets its floor; later ones a retry each time 20% adds up to one more.
    assert attempts == [3, 1, 1, 1, 2, 1, 1, 1, 1, 2]
    refusals = retry_lines(caplog, "retry budget spent")
    assert len(refusals) == 10  # one per request: each ended on a retry refused
    assert "2 retries for 1 requests in the last 10 s, 2.2 allowed" in refusals[0]
    assert "4 retries for 10 requests in the last 10 s, 4.0 allowed" in refusals[-1]
    assert all(r.levelno == logging.WARNING for r in caplog.records if "budget" in r.message)


def test_requests_answered_at_once_count_for_the_budget(fault: Fault) -> None:
    # No floor: retries come only from half the requests sent. Four answered at their first
    # attempt (never reaching the retry machinery) and the failing fifth allow two retries.
    policy = Retry(3, budget=RetryBudget(ratio=0.5, min_per_second=0.0), **_exact(0.0))
    with script_server(OK, OK, OK, OK, *[UNAVAILABLE] * 10) as server:
        url = server.url

        def sync_script(c: Any) -> list[int]:
            return [c.get(url).extensions["attempts"] for _ in range(5)]

        async def async_script(c: Any) -> list[int]:
            return [(await c.get(url)).extensions["attempts"] for _ in range(5)]

        script = async_script if fault.is_async else sync_script
        attempts = fault.with_client(script, retries=policy)
        assert len(server.seen) == 7
    assert attempts == [1, 1, 1, 1, 3]


def test_a_wait_past_the_deadline_returns_the_response_at_once(fault: Fault) -> None:
    limited = response_with(b"", b"Retry-After: 5\r\n", status=503)
    client = {"retries": FAST, "timeout": Timeout(5.0, total=1.0)}
    with script_server(limited, OK) as server:
        response, elapsed = send(fault, "GET", server.url, client)
    assert response.status_code == 503
    assert response.extensions["attempts"] == 1
    assert elapsed < 0.9
    assert len(server.seen) == 1


def test_a_wait_past_the_deadline_raises_the_deadline_timeout_at_once(fault: Fault) -> None:
    policy = Retry(backoff_factor=2.0, backoff_jitter=0.0)
    with script_server(reset, OK) as server:
        exc = fault.expect(
            ReadTimeout,
            server.url,
            match=r"total deadline of 1\.0 s .* ReadError",
            within=0.9,
            client={"retries": policy, "timeout": Timeout(5.0, total=1.0)},
            then=server.url,
        )
    assert type(exc.__cause__) is ReadError


def test_a_refused_connect_is_retried_then_stopped_by_the_deadline(fault: Fault) -> None:
    # A port nobody listens on (bound, then closed): every connect is refused at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = Retry(10, backoff_factor=0.1, backoff_jitter=0.0)
    started = time.monotonic()
    fault.expect(
        ConnectTimeout,
        f"http://127.0.0.1:{port}/",
        match=r"total deadline of 0\.5 s .* ConnectError",
        client={"retries": policy, "timeout": Timeout(5.0, total=0.5)},
    )
    # Slept 0.1 and 0.2 s, then a 0.4 s wait would have passed the deadline.
    assert 0.25 <= time.monotonic() - started < 0.5


# --- configuration -------------------------------------------------------------------------


def test_retries_as_an_int_and_as_an_attribute() -> None:
    with Client(retries=2) as client:
        assert client.retries == Retry(total=2)
        client.retries = None
        assert client.retries is None
    assert Client(retries=0).retries is None


@pytest.mark.parametrize("bad", ["3", -1, 1.5, True])
def test_bad_retries_are_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="retries= must be a Retry"):
        Client(retries=bad)  # type: ignore[arg-type]
    with Client() as client, pytest.raises(TypeError, match='"retries" extension'):
        client.get("http://127.0.0.1:1/", extensions={"retries": bad})


def _exact(factor: float) -> dict[str, float]:
    return {"backoff_factor": factor, "backoff_jitter": 0.0}


def test_a_retried_response_whose_body_breaks_is_still_retried(fault: Fault) -> None:
    def broken_503(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 503 X\r\nContent-Length: 100\r\n\r\ncut")
        reset_on_close(conn)

    with script_server(broken_503, OK) as server:
        response, _ = send(fault, "GET", server.url, {"retries": FAST})
    assert (response.status_code, response.extensions["attempts"]) == (200, 2)


def test_streaming_gets_the_retried_response_unread(fault: Fault) -> None:
    with script_server(UNAVAILABLE, response_with(b"streamed")) as server:
        url = server.url

        def sync_script(c: Any) -> tuple[int, bytes]:
            with c.stream("GET", url) as response:
                assert not response.is_stream_consumed
                return response.extensions["attempts"], response.read()

        async def async_script(c: Any) -> tuple[int, bytes]:
            async with c.stream("GET", url) as response:
                assert not response.is_stream_consumed
                return response.extensions["attempts"], await response.aread()

        script = async_script if fault.is_async else sync_script
        assert fault.with_client(script, retries=FAST) == (2, b"streamed")


def test_with_hooks_each_exchange_runs_them_once(fault: Fault) -> None:
    # Hooks take the client off its fast path: the same retries, through the whole flow.
    seen: list[str] = []
    hooks = {
        "request": [fault.hook(lambda request: seen.append(request.method))],
        "response": [fault.hook(lambda response: seen.append(str(response.status_code)))],
    }
    with script_server(reset, UNAVAILABLE, OK) as server:
        client = {"retries": FAST, "event_hooks": hooks}
        response, _ = send(fault, "GET", server.url, client)
    assert (response.status_code, response.extensions["attempts"]) == (200, 3)
    assert seen == ["GET", "200"]
    assert len(server.seen) == 3


def test_jitter_comes_from_the_clients_seedable_random(
    fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httplib")
    policy = Retry(backoff_factor=0.04)  # full jitter
    with script_server(UNAVAILABLE, UNAVAILABLE, OK) as server:
        url = server.url

        def sync_script(c: Any) -> Any:
            c._random.seed(11)
            return c.get(url)

        async def async_script(c: Any) -> Any:
            c._random.seed(11)
            return await c.get(url)

        script = async_script if fault.is_async else sync_script
        assert fault.with_client(script, retries=policy).extensions["attempts"] == 3
    expected = random.Random(11)
    delays = [f"in {policy.backoff(n, expected):.2f} s" for n in (1, 2)]
    lines = retry_lines(caplog, "Retrying GET")
    assert [delay in line for delay, line in zip(delays, lines, strict=True)] == [True, True]


def test_an_error_raised_after_retries_says_how_often_it_was_sent(fault: Fault) -> None:
    with script_server(reset, reset, reset, OK) as server:
        exc = fault.expect(
            ReadError, server.url, client={"retries": Retry(2, **_exact(0.01))}, then=server.url
        )
    assert exc.__notes__ == ["httplib: the request was sent 3 times (Retry)"]
