"""Fixtures for token auth: the OAuth2 server on loopback, the runtime matrix, and bursts.

`oauth` is the token endpoint and protected API (`servers/oauth_app.py`) under uvicorn, reset
for each test. `burst` sends N concurrent GETs through one client: 8 threads on a `Client`, or
50 tasks on an `AsyncClient` (asyncio or trio). `waiters` holds the next token request until
that many flows are waiting for it (counted where they register, `Flight.on_done`), so a burst
is known to overlap the fetch instead of hoping it does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import httplib
from httplib._core.token_auth import Flight
from servers.asgi_servers import RunningServer, run_uvicorn
from servers.oauth_app import OAuthApp
from support.runtimes import gather, run_async

RUNTIMES = ("sync", "asyncio", "trio")
BURST = {"sync": 8, "asyncio": 50, "trio": 50}
CLIENT_ID = "app id:1"  # (characters that form-urlencoding changes: RFC 6749 section 2.3.1)
CLIENT_SECRET = "s3cr:t/+é %"


@dataclass
class OAuth:
    app: OAuthApp
    server: RunningServer

    def url(self, path: str) -> str:
        return self.server.url + path

    @property
    def token_url(self) -> str:
        return self.url("/token")

    def client_credentials(self, **kwargs: Any) -> httplib.OAuth2ClientCredentials:
        """An auth for the registered client (`secret=` overrides the secret it sends)."""
        secret = kwargs.pop("secret", CLIENT_SECRET)
        return httplib.OAuth2ClientCredentials(self.token_url, CLIENT_ID, secret, **kwargs)


@pytest.fixture(scope="session")
def oauth_server() -> Iterator[tuple[OAuthApp, RunningServer]]:
    app = OAuthApp()
    with run_uvicorn(app) as server:
        yield app, server


@pytest.fixture
def oauth(oauth_server: tuple[OAuthApp, RunningServer]) -> Iterator[OAuth]:
    app, server = oauth_server
    app.reset()
    app.clients[CLIENT_ID] = CLIENT_SECRET
    yield OAuth(app, server)
    if app.hold is not None:
        app.hold.set()  # (a request still held must not outlive the test)
    app.reset()


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Waiters:
    """Counts flows that start waiting for a token fetch; runs `then` at the `count`-th."""

    def __init__(self) -> None:
        self.seen = 0
        self._lock = threading.Lock()
        self._target: tuple[int, Callable[[], None]] | None = None

    def at(self, count: int, then: Callable[[], None]) -> None:
        self.seen = 0
        self._target = (count, then)

    def hold_token_until(self, app: OAuthApp, count: int) -> threading.Event:
        """The next token request is answered once `count` flows wait for it."""
        release = threading.Event()
        app.hold = release
        self.at(count, release.set)
        return release

    def saw(self) -> None:
        with self._lock:
            self.seen += 1
            target = self._target
            if target is None or self.seen != target[0]:
                return
        target[1]()


@pytest.fixture
def waiters(monkeypatch: pytest.MonkeyPatch) -> Waiters:
    spy = Waiters()
    real = Flight.on_done

    def on_done(flight: Flight, wake: Callable[[], None]) -> bool:
        registered = real(flight, wake)
        if registered:
            spy.saw()
        return registered

    monkeypatch.setattr(Flight, "on_done", on_done)
    return spy


Outcome = httplib.Response | Exception


def burst(
    runtime: str,
    auth: httplib.Auth,
    url: str,
    n: int | None = None,
    **client_options: Any,
) -> list[Outcome]:
    """`n` (default: the runtime's burst size) concurrent GETs of `url` through one new client
    with `auth`; each response (read) or the exception it raised."""
    count = BURST[runtime] if n is None else n
    if runtime == "sync":
        results: list[Outcome | None] = [None] * count
        start = threading.Barrier(count)
        with httplib.Client(auth=auth, **client_options) as client:

            def one(i: int) -> None:
                start.wait(10)
                try:
                    results[i] = client.get(url)
                except Exception as exc:
                    results[i] = exc

            threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        assert all(result is not None for result in results), "a thread did not finish"
        return [result for result in results if result is not None]

    async def main() -> list[Outcome]:
        async with httplib.AsyncClient(auth=auth, **client_options) as client:
            return await gather(runtime, [lambda: client.get(url)] * count)

    return run_async(runtime, main)


def call(runtime: str, auth: httplib.Auth, method: str, url: str, **kwargs: Any) -> Outcome:
    """One request through a new client; the response (read) or the exception it raised."""
    client_options = kwargs.pop("client", {})
    if runtime == "sync":
        with httplib.Client(auth=auth, **client_options) as client:
            try:
                return client.request(method, url, **kwargs)
            except Exception as exc:
                return exc

    async def main() -> Outcome:
        async with httplib.AsyncClient(auth=auth, **client_options) as client:
            try:
                return await client.request(method, url, **kwargs)
            except Exception as exc:
                return exc

    return run_async(runtime, main)


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
