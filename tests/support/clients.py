"""`Runner`: sends requests through a fresh `Client` ("sync") or `AsyncClient` on asyncio,
uvloop or trio, so a client test is written once for every runtime (see tests/client and
tests/faults)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from httplib._client import AsyncClient, Client
from httplib._models import Response
from support.runtimes import gather, run_async

T = TypeVar("T")

# (method, url, keyword arguments for client.request)
Call = tuple[str, str, dict[str, Any]]


@dataclass
class Runner:
    """Sends requests through a fresh `Client` or `AsyncClient` on `runtime`."""

    runtime: str  # "sync", "asyncio", "uvloop" or "trio"

    @property
    def is_async(self) -> bool:
        return self.runtime != "sync"

    @property
    def client_class(self) -> type[Client] | type[AsyncClient]:
        return AsyncClient if self.is_async else Client

    def run(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run the coroutine function `fn` to completion on this runner's event loop: what a
        test calls instead of `asyncio.run`, so it works on trio too. Async runners only."""
        if not self.is_async:
            raise TypeError("the sync runner has no event loop")
        return run_async(self.runtime, fn)

    async def gather(self, factories: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
        """Inside `run`: the coroutine functions run concurrently (tasks, or a trio nursery);
        their results, or the exceptions they raised, in order."""
        return await gather(self.runtime, factories)

    def session(self, calls: list[Call], **client_kwargs: Any) -> list[Response]:
        """Send `calls` in order through one client; the client is closed afterwards."""
        if not self.is_async:
            with Client(**client_kwargs) as client:
                return [client.request(m, url, **kw) for m, url, kw in calls]

        async def main() -> list[Response]:
            async with AsyncClient(**client_kwargs) as client:
                return [await client.request(m, url, **kw) for m, url, kw in calls]

        return self.run(main)

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

        return self.run(main)

    def hook(self, func: Callable[[Any], None]) -> Callable[[Any], Any]:
        """An event hook in the form this client calls: plain, or a coroutine function."""
        if not self.is_async:
            return func

        async def async_hook(value: Any) -> None:
            func(value)

        return async_hook
