"""`MockTransport`: answers every request with a user function instead of the network."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from .._models import Request, Response
from .base import AsyncBaseTransport, BaseTransport

__all__ = ["MockTransport"]

SyncHandler = Callable[[Request], Response]
AsyncHandler = Callable[[Request], Awaitable[Response]]


class MockTransport(AsyncBaseTransport, BaseTransport):
    """Answers each request with `handler(request)`; `AsyncClient` also accepts async handlers.

    The request body is read first, as httpx does, so the handler can use `request.content`.
    """

    def __init__(self, handler: SyncHandler | AsyncHandler) -> None:
        self.handler = handler

    def handle_request(self, request: Request) -> Response:
        request.read()
        response = self.handler(request)
        if inspect.isawaitable(response):
            # Close a coroutine so Python does not also warn that it was never awaited.
            if inspect.iscoroutine(response):
                response.close()
            raise TypeError("Cannot use an async handler in a sync Client")
        return _checked(response)

    async def handle_async_request(self, request: Request) -> Response:
        await request.aread()
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        return _checked(response)


def _checked(response: object) -> Response:
    if not isinstance(response, Response):
        raise TypeError(f"MockTransport handler returned {response!r}, not a Response")
    return response
