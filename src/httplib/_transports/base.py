"""The transport interfaces a client sends through: one request in, one response out."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from .._models import Request, Response

__all__ = ["AsyncBaseTransport", "BaseTransport"]

T = TypeVar("T", bound="BaseTransport")
A = TypeVar("A", bound="AsyncBaseTransport")


class BaseTransport:
    """A blocking transport: `handle_request` returns a response whose body may still stream."""

    def __enter__(self: T) -> T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()

    def handle_request(self, request: Request) -> Response:
        """Send `request` and return the response (its body a `SyncByteStream`)."""
        raise NotImplementedError("The 'handle_request' method must be implemented.")

    def close(self) -> None:
        """Release every resource the transport holds (connections, sockets)."""


class AsyncBaseTransport:
    """An async transport: `handle_async_request` returns a response with an async body."""

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

    async def handle_async_request(self, request: Request) -> Response:
        """Send `request` and return the response (its body an `AsyncByteStream`)."""
        raise NotImplementedError("The 'handle_async_request' method must be implemented.")

    async def aclose(self) -> None:
        """Release every resource the transport holds (connections, sockets)."""
