"""One fixture runs each client test with `Client` and with `AsyncClient` (under asyncio).

A test describes requests as data; `Runner.session` sends them through one client of the kind
under test and returns the responses, bodies read, with the client closed afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from httplib._client import AsyncClient, Client
from httplib._models import Response

# (method, url, keyword arguments for client.request)
Call = tuple[str, str, dict[str, Any]]


@dataclass
class Runner:
    """Sends requests through a fresh `Client` or `AsyncClient`."""

    is_async: bool

    @property
    def client_class(self) -> type[Client] | type[AsyncClient]:
        return AsyncClient if self.is_async else Client

    def session(self, calls: list[Call], **client_kwargs: Any) -> list[Response]:
        """Send `calls` in order through one client; the client is closed afterwards."""
        if not self.is_async:
            with Client(**client_kwargs) as client:
                return [client.request(m, url, **kw) for m, url, kw in calls]

        async def main() -> list[Response]:
            async with AsyncClient(**client_kwargs) as client:
                return [await client.request(m, url, **kw) for m, url, kw in calls]

        return asyncio.run(main())

    def send(
        self, method: str, url: str, client: dict[str, Any] | None = None, **kw: Any
    ) -> Response:
        """One request through a fresh client built with `client` keyword arguments."""
        return self.session([(method, url, kw)], **(client or {}))[0]

    def with_client(self, script: Callable[[Any], Any], **client_kwargs: Any) -> Any:
        """Run `script(client)`; for AsyncClient what it returns is awaited, then closes."""
        if not self.is_async:
            with Client(**client_kwargs) as client:
                return script(client)

        async def main() -> Any:
            async with AsyncClient(**client_kwargs) as client:
                return await script(client)

        return asyncio.run(main())

    def hook(self, func: Callable[[Any], None]) -> Callable[[Any], Any]:
        """An event hook in the form this client calls: plain, or a coroutine function."""
        if not self.is_async:
            return func

        async def async_hook(value: Any) -> None:
            func(value)

        return async_hook


@pytest.fixture(params=["sync", "async"])
def runner(request: pytest.FixtureRequest) -> Runner:
    return Runner(is_async=request.param == "async")
