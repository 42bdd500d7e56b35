"""`ASGITransport`: runs an ASGI 3 application (Starlette, FastAPI, ...) in-process.

As in httpx 0.28 the app runs to completion inside `handle_async_request` and the response body
is buffered whole: the app's task then never outlives the call, so no task group is needed and
the transport works the same under asyncio and trio. Where httpx fails an `assert` (an app that
breaks the ASGI message order), this module raises `AssertionError` too, with a message saying
what went wrong, and independently of `python -O`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from .._models import Request, Response
from .._types import AsyncByteStream
from .base import AsyncBaseTransport

__all__ = ["ASGITransport"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISCONNECT: Message = {"type": "http.disconnect"}


class _Event(Protocol):
    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


def _new_event() -> _Event:
    """An event of the running async library, found without sniffio."""
    # Imported here: the async driver loads asyncio, which sync-only programs never need.
    from .._io.async_driver import running_under_trio

    if running_under_trio():
        import trio

        return trio.Event()
    import asyncio

    return asyncio.Event()


class ASGIResponseStream(AsyncByteStream):
    """The buffered response body, yielded as one chunk."""

    def __init__(self, body: list[bytes]) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"".join(self._body)


class _Exchange:
    """One request/response between the transport and the app: `receive` and `send` of ASGI."""

    def __init__(self, request: Request) -> None:
        if not isinstance(request.stream, AsyncByteStream):
            raise AssertionError(
                f"ASGITransport needs an async request body, got {type(request.stream).__name__}"
            )
        self._request_chunks = aiter(request.stream)
        self._request_complete = False
        self._is_head = request.method == "HEAD"
        self.status_code: int | None = None
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.body: list[bytes] = []
        self.complete = _new_event()

    async def receive(self) -> Message:
        """The request body chunk by chunk; then, once the response is done, a disconnect."""
        if self._request_complete:
            await self.complete.wait()
            return dict(_DISCONNECT)
        try:
            chunk = await anext(self._request_chunks)
        except StopAsyncIteration:
            self._request_complete = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: Message) -> None:
        """Record the response start and body; other message types are ignored, as in httpx."""
        if message["type"] == "http.response.start":
            self._start(message)
        elif message["type"] == "http.response.body":
            self._body(message)

    def _start(self, message: Message) -> None:
        if self.status_code is not None:
            raise AssertionError("The ASGI app sent 'http.response.start' twice")
        self.status_code = message["status"]
        self.headers = list(message.get("headers", []))

    def _body(self, message: Message) -> None:
        if self.status_code is None:
            raise AssertionError("The ASGI app sent 'http.response.body' before the response start")
        if self.complete.is_set():
            raise AssertionError("The ASGI app sent 'http.response.body' after the last body")
        body = message.get("body", b"")
        if body and not self._is_head:  # RFC 9110 section 9.3.2: HEAD has no content.
            self.body.append(body)
        if not message.get("more_body", False):
            self.complete.set()

    def fail(self) -> None:
        """The app raised: answer with what it sent so far, a 500 if it sent nothing."""
        self.complete.set()
        if self.status_code is None:
            self.status_code = 500
        if self.headers is None:
            self.headers = []

    def response(self) -> Response:
        if self.status_code is None or self.headers is None:
            raise AssertionError("The ASGI app returned without sending 'http.response.start'")
        if not self.complete.is_set():
            raise AssertionError("The ASGI app returned without completing the response body")
        return Response(
            self.status_code, headers=self.headers, stream=ASGIResponseStream(self.body)
        )


class ASGITransport(AsyncBaseTransport):
    """Sends each request to the ASGI `app` and returns its response once the app has finished.

    With `raise_app_exceptions`, an exception the app raises propagates; otherwise the client
    gets what the app had sent, or a bare 500. `client` is the (host, port) the app sees.
    """

    def __init__(
        self,
        app: ASGIApp,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 123),
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.root_path = root_path
        self.client = client

    async def handle_async_request(self, request: Request) -> Response:
        exchange = _Exchange(request)
        try:
            await self.app(self._scope(request), exchange.receive, exchange.send)
        except Exception:
            if self.raise_app_exceptions:
                raise
            exchange.fail()
        return exchange.response()

    def _scope(self, request: Request) -> dict[str, Any]:
        url = request.url
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.partition(b"?")[0],
            "query_string": url.query,
            # As in httpx: the port is None when the URL leaves it to the scheme's default.
            "server": (url.host, url.port),
            "client": self.client,
            "root_path": self.root_path,
        }
