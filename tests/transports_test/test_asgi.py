"""ASGITransport under asyncio, uvloop and trio: the scope, receive/send, app errors, and httpx
parity."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
import trio
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from httplib._client import AsyncClient
from httplib._models import Request, Response
from httplib._transports.asgi import ASGITransport, Message, Receive, Scope, Send
from support.runtimes import ASYNC_RUNTIMES, params, run_async

Run = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]


@pytest.fixture(params=params(*ASYNC_RUNTIMES))
def run(request: pytest.FixtureRequest) -> Run:
    """Each test body runs under asyncio, uvloop and trio."""
    return functools.partial(run_async, request.param)


class Recorder:
    """An ASGI app that records its scope and every message it receives, and echoes the body."""

    def __init__(self) -> None:
        self.scope: Scope = {}
        self.received: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = dict(scope)
        body = b""
        while not self.received or self.received[-1].get("more_body"):
            self.received.append(await receive())
            body += self.received[-1].get("body", b"")
        headers = [(b"content-type", b"application/octet-stream"), (b"x-a", b"1"), (b"x-a", b"2")]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": body[:2], "more_body": True})
        await send({"type": "http.response.body", "body": body[2:]})


def send_through(
    app: Any, request: Request, **options: Any
) -> Callable[[], Coroutine[Any, Any, Response]]:
    async def main() -> Response:
        response = await ASGITransport(app, **options).handle_async_request(request)
        await response.aread()
        return response

    return main


# ---------------------------------------------------------------------------------------------
# The scope and receive


def test_scope_fields_seen_by_the_app(run: Run) -> None:
    app = Recorder()
    request = Request(
        "POST",
        "https://example.org:8443/a%20b/c?x=1&y=%20",
        headers={"X-Trace": "T1", "Content-Type": "text/plain"},
        content=b"body",
    )
    run(send_through(app, request, root_path="/mount", client=("10.0.0.7", 5555)))
    assert app.scope == {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "headers": [
            (b"host", b"example.org:8443"),
            (b"x-trace", b"T1"),
            (b"content-type", b"text/plain"),
            (b"content-length", b"4"),
        ],
        "scheme": "https",
        "path": "/a b/c",
        "raw_path": b"/a%20b/c",
        "query_string": b"x=1&y=%20",
        "server": ("example.org", 8443),
        "client": ("10.0.0.7", 5555),
        "root_path": "/mount",
    }


def test_default_port_and_client_are_httpxs(run: Run) -> None:
    app = Recorder()
    run(send_through(app, Request("GET", "http://example.org/")))
    assert app.scope["server"] == ("example.org", None)
    assert app.scope["client"] == ("127.0.0.1", 123)
    assert app.scope["root_path"] == ""


def test_streamed_request_body_arrives_chunk_by_chunk(run: Run) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"hello, "
        yield b"world"

    app = Recorder()
    response = run(send_through(app, Request("PUT", "http://a/", content=parts())))
    assert app.received == [
        {"type": "http.request", "body": b"hello, ", "more_body": True},
        {"type": "http.request", "body": b"world", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    assert response.content == b"hello, world"


async def timed_out(receive: Receive) -> bool:
    """Whether `receive()` is still waiting after 50 ms, under whichever library is running."""
    try:
        trio.lowlevel.current_task()
    except RuntimeError:  # not trio, so asyncio
        try:
            await asyncio.wait_for(receive(), 0.05)
        except TimeoutError:
            return True
        return False
    with trio.move_on_after(0.05):
        await receive()
        return False
    return True


def test_disconnect_comes_only_after_the_response_is_complete(run: Run) -> None:
    log: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive())["more_body"]:
            log.append("request chunk")
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        log.append(await timed_out(receive))
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        log.append(await receive())
        log.append(await receive())

    response = run(send_through(app, Request("POST", "http://a/", content=b"in")))
    disconnect = {"type": "http.disconnect"}
    assert log == ["request chunk", True, disconnect, disconnect]
    assert response.content == b"part"


def test_sync_only_request_body_is_refused(run: Run) -> None:
    request = Request("POST", "http://a/", content=iter([b"sync"]))
    with pytest.raises(AssertionError, match="async request body, got IteratorByteStream"):
        run(send_through(Recorder(), request))


# ---------------------------------------------------------------------------------------------
# Responses and app errors


def test_response_status_headers_and_buffered_body(run: Run) -> None:
    response = run(send_through(Recorder(), Request("POST", "http://a/", content=b"abcdef")))
    assert response.status_code == 201
    assert response.headers.get_list("x-a") == ["1", "2"]
    assert response.content == b"abcdef"


def test_head_response_has_no_body(run: Run) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"not for HEAD"})

    response = run(send_through(app, Request("HEAD", "http://a/")))
    assert (response.status_code, response.content) == (200, b"")


async def crashing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise LookupError("app crashed")


async def half_sent_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 202, "headers": [(b"x-a", b"b")]})
    await send({"type": "http.response.body", "body": b"so far", "more_body": True})
    raise LookupError("app crashed")


@pytest.mark.parametrize("app", [crashing_app, half_sent_app])
def test_app_exception_is_raised_by_default(run: Run, app: Any) -> None:
    with pytest.raises(LookupError, match="app crashed"):
        run(send_through(app, Request("GET", "http://a/")))


def test_app_exception_gives_500_when_not_raising(run: Run) -> None:
    response = run(
        send_through(crashing_app, Request("GET", "http://a/"), raise_app_exceptions=False)
    )
    assert (response.status_code, response.headers.raw, response.content) == (500, [], b"")


def test_app_exception_keeps_what_was_sent_when_not_raising(run: Run) -> None:
    request = Request("GET", "http://a/")
    response = run(send_through(half_sent_app, request, raise_app_exceptions=False))
    assert (response.status_code, response.headers["x-a"], response.content) == (
        202,
        "b",
        b"so far",
    )


def test_cancellation_is_not_swallowed_as_an_app_error() -> None:
    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await trio.sleep(10)

    async def main() -> None:
        transport = ASGITransport(slow_app, raise_app_exceptions=False)
        with trio.move_on_after(0.01) as scope:
            await transport.handle_async_request(Request("GET", "http://a/"))
        assert scope.cancelled_caught

    trio.run(main)


def messages_app(*messages: Message) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    return app


START: Message = {"type": "http.response.start", "status": 200}
BODY: Message = {"type": "http.response.body", "body": b"x"}
MORE: Message = {"type": "http.response.body", "body": b"x", "more_body": True}


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ((), "returned without sending 'http.response.start'"),
        ((BODY,), "sent 'http.response.body' before the response start"),
        ((START, START), "sent 'http.response.start' twice"),
        ((START, BODY, BODY), "sent 'http.response.body' after the last body"),
        ((START, MORE), "returned without completing the response body"),
    ],
)
def test_broken_message_order_fails_as_in_httpx(
    run: Run, messages: tuple[Message, ...], error: str
) -> None:
    app = messages_app(*messages)
    with pytest.raises(AssertionError, match=error):
        run(send_through(app, Request("GET", "http://a/")))

    async def with_httpx() -> None:
        await httpx.ASGITransport(app).handle_async_request(httpx.Request("GET", "http://a/"))

    with pytest.raises(AssertionError):
        run(with_httpx)


def test_unknown_message_types_are_ignored_like_httpx(run: Run) -> None:
    app = messages_app(START, {"type": "http.response.trailers"}, BODY)
    response = run(send_through(app, Request("GET", "http://a/")))
    assert (response.status_code, response.content) == (200, b"x")


# ---------------------------------------------------------------------------------------------
# Differential: httpx's own ASGITransport on the same apps


DIFF_CASES = [
    ("GET", "http://example.org/", {}, b""),
    ("GET", "http://example.org:80/caf%C3%A9/a%2525b?q=%C3%A9&r", {"Accept": "text/html"}, b""),
    ("POST", "https://api.example.org:8443/v1", {"Content-Type": "application/json"}, b"{}"),
    ("PATCH", "https://[::1]:8443/p", {"X-Custom-Header": "V", "Cookie": "a=b"}, b"data"),
    ("HEAD", "http://127.0.0.1:5000/h", {}, b""),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), DIFF_CASES)
def test_scope_messages_and_response_match_httpx(
    run: Run, method: str, url: str, headers: dict[str, str], body: bytes
) -> None:
    options: dict[str, Any] = {"root_path": "/r", "client": ("192.0.2.1", 4000)}
    ours, theirs = Recorder(), Recorder()

    async def main() -> tuple[Response, httpx.Response]:
        request = Request(method, url, headers=headers, content=body)
        our_response = await ASGITransport(ours, **options).handle_async_request(request)
        their_request = httpx.Request(method, url, headers=headers, content=body)
        their_transport = httpx.ASGITransport(theirs, **options)
        their_response = await their_transport.handle_async_request(their_request)
        await our_response.aread()
        await their_response.aread()
        return our_response, their_response

    our_response, their_response = run(main)
    assert sorted(ours.scope) == sorted(theirs.scope)
    for key, value in theirs.scope.items():
        assert ours.scope[key] == value, key
    assert ours.received == theirs.received
    assert our_response.status_code == their_response.status_code
    assert our_response.headers.raw == their_response.headers.raw
    assert our_response.content == their_response.content


# ---------------------------------------------------------------------------------------------
# A real framework


async def echo(request: StarletteRequest) -> JSONResponse:
    assert request.client is not None
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "root_path": request.scope["root_path"],
            "query": request.query_params.multi_items(),
            "body": (await request.body()).decode(),
            "client": [request.client.host, request.client.port],
            "agent": request.headers.get("user-agent"),
        }
    )


async def numbers(request: StarletteRequest) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for n in range(3):
            yield f"{n}\n"

    return StreamingResponse(lines(), media_type="text/plain")


async def boom(request: StarletteRequest) -> PlainTextResponse:
    raise ZeroDivisionError("starlette view failed")


STARLETTE_APP = Starlette(
    routes=[
        Route("/echo/{rest:path}", echo, methods=["GET", "POST"]),
        Route("/numbers", numbers),
        Route("/boom", boom),
    ]
)


def test_starlette_sees_the_request(run: Run) -> None:
    request = Request(
        "POST",
        "http://testserver/echo/caf%C3%A9?tag=a&tag=b",
        headers={"User-Agent": "ua/1"},
        content="h\u00e9llo".encode(),
    )
    options = {"client": ("203.0.113.9", 4321)}
    response = run(send_through(STARLETTE_APP, request, **options))
    assert response.status_code == 200
    assert response.json() == {
        "method": "POST",
        "path": "/echo/café",
        "root_path": "",
        "query": [["tag", "a"], ["tag", "b"]],
        "body": "h\u00e9llo",
        "client": ["203.0.113.9", 4321],
        "agent": "ua/1",
    }


def test_starlette_root_path_and_streaming(run: Run) -> None:
    request = Request("GET", "http://testserver/api/echo/x")
    response = run(send_through(STARLETTE_APP, request, root_path="/api"))
    assert (response.json()["path"], response.json()["root_path"]) == ("/api/echo/x", "/api")
    response = run(send_through(STARLETTE_APP, Request("GET", "http://testserver/numbers")))
    assert (response.status_code, response.text) == (200, "0\n1\n2\n")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_starlette_errors(run: Run) -> None:
    request = Request("GET", "http://testserver/boom")
    with pytest.raises(ZeroDivisionError, match="starlette view failed"):
        run(send_through(STARLETTE_APP, request))
    # Starlette sends its own 500 page, then re-raises: the page is what the client gets.
    response = run(send_through(STARLETTE_APP, request, raise_app_exceptions=False))
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    response = run(send_through(STARLETTE_APP, Request("GET", "http://testserver/missing")))
    assert response.status_code == 404


def test_starlette_through_an_async_client(run: Run) -> None:
    async def main() -> list[Any]:
        transport = ASGITransport(STARLETTE_APP)
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            posted = await client.post("/echo/x", params={"q": "1"}, content=b"payload")
            async with client.stream("GET", "/numbers") as streamed:
                lines = [line async for line in streamed.aiter_lines()]
            return [posted.json()["query"], posted.json()["body"], lines]

    assert run(main) == [[["q", "1"]], "payload", ["0", "1", "2"]]
