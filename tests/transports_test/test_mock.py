"""MockTransport: the handler sees the request with its body read, sync and async, as in httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from httplib._client import AsyncClient, Client
from httplib._models import Request, Response
from httplib._transports.base import AsyncBaseTransport, BaseTransport
from httplib._transports.mock import MockTransport


def echo(request: Request) -> Response:
    return Response(
        200,
        headers={"X-Method": request.method, "X-Url": str(request.url)},
        content=request.content,
    )


def chunks() -> Iterator[bytes]:
    yield b"hello, "
    yield b"world"


async def achunks() -> AsyncIterator[bytes]:
    yield b"hello, "
    yield b"world"


def test_is_both_kinds_of_transport() -> None:
    transport = MockTransport(echo)
    assert isinstance(transport, BaseTransport)
    assert isinstance(transport, AsyncBaseTransport)
    assert transport.handler is echo


def test_sync_handler_sees_method_url_and_streamed_body_already_read() -> None:
    transport = MockTransport(echo)
    request = Request("PUT", "https://example.org/a?b=c", content=chunks())
    response = transport.handle_request(request)
    assert response.status_code == 200
    assert response.headers["X-Method"] == "PUT"
    assert response.headers["X-Url"] == "https://example.org/a?b=c"
    assert response.read() == b"hello, world"
    # The body was read into the request before the handler ran, so it can be replayed.
    assert request.content == b"hello, world"


def test_async_path_reads_async_body_and_accepts_sync_handler() -> None:
    request = Request("POST", "http://example.org/", content=achunks())
    response = asyncio.run(MockTransport(echo).handle_async_request(request))
    assert request.content == b"hello, world"
    assert response.content == b"hello, world"


def test_async_handler_is_awaited() -> None:
    seen: list[bytes] = []

    async def handler(request: Request) -> Response:
        await asyncio.sleep(0)
        seen.append(request.content)
        return Response(201, text="created")

    async def main() -> Response:
        return await MockTransport(handler).handle_async_request(
            Request("POST", "http://example.org/", content=b"payload")
        )

    response = asyncio.run(main())
    assert (response.status_code, response.text, seen) == (201, "created", [b"payload"])


def test_async_handler_in_sync_path_is_refused_without_a_never_awaited_warning() -> None:
    async def handler(request: Request) -> Response:
        return Response(200)  # pragma: no cover - never awaited

    # filterwarnings=error turns a "coroutine was never awaited" warning into a failure.
    with pytest.raises(TypeError, match=r"^Cannot use an async handler in a sync Client$"):
        MockTransport(handler).handle_request(Request("GET", "http://example.org/"))


class Awaitable:
    """An awaitable that is not a coroutine, so httpx's transport can refuse it without warning."""

    def __await__(self) -> Iterator[None]:  # pragma: no cover - never awaited
        yield None


def test_awaitable_in_sync_path_gets_httpx_message() -> None:
    with pytest.raises(TypeError) as ours:
        MockTransport(lambda r: Awaitable()).handle_request(  # type: ignore[arg-type]
            Request("GET", "http://example.org/")
        )
    with pytest.raises(TypeError) as theirs:
        httpx.MockTransport(lambda r: Awaitable()).handle_request(  # type: ignore[arg-type]
            httpx.Request("GET", "http://example.org/")
        )
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("result", [None, 404, "OK"])
def test_handler_returning_a_non_response_names_it(result: object) -> None:
    transport = MockTransport(lambda request: result)  # type: ignore[arg-type]
    request = Request("GET", "http://example.org/")
    with pytest.raises(TypeError, match=f"returned {result!r}, not a Response"):
        transport.handle_request(request)
    with pytest.raises(TypeError, match=f"returned {result!r}, not a Response"):
        asyncio.run(transport.handle_async_request(request))


def test_handler_exception_propagates_unchanged() -> None:
    def handler(request: Request) -> Response:
        raise LookupError("no route")

    with pytest.raises(LookupError, match="no route"):
        MockTransport(handler).handle_request(Request("GET", "http://example.org/"))


def test_streaming_response_from_handler_is_returned_unread() -> None:
    transport = MockTransport(lambda request: Response(200, content=chunks()))
    response = transport.handle_request(Request("GET", "http://example.org/"))
    assert not response.is_stream_consumed
    assert list(response.iter_bytes()) == [b"hello, ", b"world"]


def test_close_and_context_managers_are_no_ops() -> None:
    with MockTransport(echo) as transport:
        transport.close()

    async def main() -> None:
        async with MockTransport(echo) as atransport:
            await atransport.aclose()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Through the clients


def test_client_sends_through_the_handler() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, json={"path": request.url.path, "body": request.content.decode()})

    with Client(transport=MockTransport(handler), base_url="http://testserver") as client:
        response = client.post("/items", json={"a": 1}, headers={"X-Key": "k"})
    assert response.json() == {"path": "/items", "body": '{"a":1}'}
    assert response.request is seen[0]
    assert seen[0].headers["X-Key"] == "k"


def test_async_client_awaits_an_async_handler_and_follows_redirects() -> None:
    async def handler(request: Request) -> Response:
        if request.url.path == "/old":
            return Response(301, headers={"Location": "/new"})
        return Response(200, text=f"at {request.url.path}")

    async def main() -> Response:
        async with AsyncClient(transport=MockTransport(handler)) as client:
            return await client.get("http://testserver/old", follow_redirects=True)

    response = asyncio.run(main())
    assert (response.status_code, response.text) == (200, "at /new")
    assert [r.status_code for r in response.history] == [301]
