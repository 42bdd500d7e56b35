"""Which transport each request goes through: `proxy=`, the environment's proxies, `mounts=`,
`trust_env`, httpx's overridable hooks (`_init_transport`, `_init_proxy_transport`,
`_transport_for_url`), and the redirect rule for a user's `Proxy-Authorization`.

Everything here is decided above the transport, so a request's path is seen either in the
transport the client picks (`_transport_for_url`, with the `Proxy` it was built with) or by
mock transports standing in for the proxies; what goes over the wire to a proxy is the engine's
and is tested with proxy servers.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

import httplib
from httplib import URL, AsyncClient, AsyncHTTPTransport, Client, HTTPTransport, Proxy
from httplib._models import Request, Response
from httplib._transports.mock import MockTransport
from support.clients import Runner

CLIENTS = [Client, AsyncClient]
AnyClient = Client | AsyncClient


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable of the host's leaks into these tests; each sets its own."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture(params=["sync", "asyncio"])
def runner(request: pytest.FixtureRequest) -> Runner:
    # Routing does not depend on the event loop: one async runtime is enough here.
    return Runner(request.param)


def proxy_url(client: AnyClient, url: str) -> str | None:
    """The proxy the transport chosen for `url` was built with, or None when it has none."""
    transport = client._transport_for_url(URL(url))
    assert isinstance(transport, (HTTPTransport, AsyncHTTPTransport))
    return None if transport._proxy is None else str(transport._proxy.url)


def frozen_config(transport: Any) -> Any:
    """The `ConnectionConfig` a pooled transport froze (the async driver builds its engine
    lazily, on the first request's event loop)."""
    driver = transport._driver
    return driver._config if isinstance(transport, AsyncHTTPTransport) else driver.engine.config


def tagged(tag: str, seen: list[Request] | None = None) -> MockTransport:
    """A transport answering with `tag`, recording what it was sent."""

    def handle(request: Request) -> Response:
        if seen is not None:
            seen.append(request)
        return Response(200, text=tag)

    return MockTransport(handle)


def send_all(runner: Runner, client: AnyClient, urls: list[str], **kw: Any) -> list[Response]:
    """GET each of `urls` through `client` (closed afterwards), in order."""
    if isinstance(client, Client):
        with client:
            return [client.get(url, **kw) for url in urls]
    async_client = client

    async def main() -> list[Response]:
        async with async_client:
            return [await async_client.get(url, **kw) for url in urls]

    return runner.run(main)


# --- proxy= -------------------------------------------------------------------------------------


@pytest.mark.parametrize("client_class", CLIENTS)
def test_a_proxy_object_reaches_the_transport_with_its_credentials_and_headers(
    client_class: type[AnyClient],
) -> None:
    proxy = Proxy("https://proxy.internal:8443", auth=("user", "pw"), headers={"X-Tenant": "7"})
    client = client_class(proxy=proxy)
    transport = client._transport_for_url(URL("http://a.test/"))
    assert isinstance(transport, (HTTPTransport, AsyncHTTPTransport))
    assert transport._proxy is not None
    assert transport._proxy.url == URL("https://proxy.internal:8443")
    assert transport._proxy.auth == ("user", "pw")
    assert transport._proxy.headers["X-Tenant"] == "7"


@pytest.mark.parametrize("client_class", CLIENTS)
@pytest.mark.parametrize("given", ["socks5://proxy.internal:1080", URL("http://p.internal:3128")])
def test_a_url_or_string_proxy_becomes_a_proxy(
    client_class: type[AnyClient], given: str | URL
) -> None:
    client = client_class(proxy=given)
    assert proxy_url(client, "https://a.test/") == str(URL(given))


@pytest.mark.parametrize("client_class", CLIENTS)
def test_proxy_argument_ignores_the_environment_entirely(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    # As httpx: with proxy= the environment is not read, NO_PROXY included.
    clean_environ.setenv("HTTPS_PROXY", "http://env-proxy:1")
    clean_environ.setenv("NO_PROXY", "a.test")
    client = client_class(proxy="http://given:2")
    assert proxy_url(client, "https://a.test/") == "http://given:2"
    assert proxy_url(client, "https://b.test/") == "http://given:2"


@pytest.mark.parametrize("client_class", CLIENTS)
def test_proxy_with_a_transport_still_routes_through_the_proxy(
    client_class: type[AnyClient],
) -> None:
    # httpx mounts the proxy on all:// whatever `transport=` is; that transport is the default
    # for nothing then, and must not silently carry the requests direct.
    custom = tagged("custom")
    client = client_class(proxy="http://given:2", transport=custom)
    assert client._transport is custom
    assert proxy_url(client, "http://a.test/") == "http://given:2"


# --- the environment ----------------------------------------------------------------------------


@pytest.mark.parametrize("client_class", CLIENTS)
def test_environment_proxies_route_by_scheme_with_no_proxy_exclusions(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.setenv("HTTP_PROXY", "plain-proxy:3128")
    clean_environ.setenv("https_proxy", "http://tls-proxy:3129")
    clean_environ.setenv("NO_PROXY", "localhost,.corp.test,10.0.0.0/8")
    client = client_class()
    assert proxy_url(client, "http://a.test/") == "http://plain-proxy:3128"
    assert proxy_url(client, "https://a.test/") == "http://tls-proxy:3129"
    for direct in ("http://localhost:8000/", "https://git.corp.test/", "https://10.9.8.7/"):
        assert client._transport_for_url(URL(direct)) is client._transport, direct
    assert client._transport._proxy is None  # type: ignore[union-attr]


@pytest.mark.parametrize("client_class", CLIENTS)
def test_a_scheme_proxy_wins_over_all_proxy_for_its_scheme(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.setenv("ALL_PROXY", "socks5://every:1080")
    clean_environ.setenv("HTTPS_PROXY", "http://tls-only:3128")
    client = client_class()
    assert proxy_url(client, "https://a.test/") == "http://tls-only:3128"
    assert proxy_url(client, "http://a.test/") == "socks5://every:1080"


@pytest.mark.parametrize("client_class", CLIENTS)
def test_no_proxy_star_and_trust_env_false_route_everything_direct(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.setenv("ALL_PROXY", "http://every:3128")
    assert proxy_url(client_class(trust_env=False), "https://a.test/") is None
    clean_environ.setenv("NO_PROXY", "*")
    assert proxy_url(client_class(), "https://a.test/") is None


@pytest.mark.parametrize("client_class", CLIENTS)
def test_a_given_transport_turns_the_environment_off(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.setenv("ALL_PROXY", "http://every:3128")
    custom = tagged("custom")
    client = client_class(transport=custom)
    assert client._transport_for_url(URL("https://a.test/")) is custom


@pytest.mark.parametrize("client_class", CLIENTS)
def test_mounts_override_the_environment_pattern_by_pattern(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.setenv("HTTP_PROXY", "http://env-http:1")
    clean_environ.setenv("HTTPS_PROXY", "http://env-https:2")
    clean_environ.setenv("NO_PROXY", "direct.test")
    mine = tagged("mine")
    client = client_class(
        mounts={
            "http://": mine,  # replaces HTTP_PROXY's mount
            "all://*direct.test": mine,  # replaces the NO_PROXY exclusion
            "all://internal.test": None,  # one more host routed direct
        }
    )
    assert client._transport_for_url(URL("http://a.test/")) is mine
    assert client._transport_for_url(URL("https://x.direct.test/")) is mine
    assert proxy_url(client, "https://a.test/") == "http://env-https:2"
    assert client._transport_for_url(URL("https://internal.test/")) is client._transport


@pytest.mark.parametrize("client_class", CLIENTS)
def test_the_environment_is_read_when_the_client_is_built(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    client = client_class()
    clean_environ.setenv("ALL_PROXY", "http://later:3128")
    assert proxy_url(client, "https://a.test/") is None
    assert proxy_url(client_class(), "https://a.test/") == "http://later:3128"


def test_an_environment_proxy_with_an_unknown_scheme_fails_the_client_as_httpx(
    clean_environ: pytest.MonkeyPatch,
) -> None:
    # Going direct would ignore what the environment asks for; httpx raises the same.
    clean_environ.setenv("HTTPS_PROXY", "ftp://proxy:21")
    with pytest.raises(ValueError, match="Unknown scheme for proxy URL"):
        Client()


# --- the proxy transports get the client's settings (httpx's `_init_proxy_transport`) -----------


@pytest.mark.parametrize("client_class", CLIENTS)
def test_proxy_transports_are_built_with_the_client_settings(
    client_class: type[AnyClient], clean_environ: pytest.MonkeyPatch
) -> None:
    built: list[tuple[Proxy, dict[str, Any]]] = []

    def _init_proxy_transport(self: Any, proxy: Proxy, **settings: Any) -> Any:
        built.append((proxy, settings))
        return super(subclass, self)._init_proxy_transport(proxy, **settings)

    subclass = type("Recording", (client_class,), {"_init_proxy_transport": _init_proxy_transport})
    clean_environ.setenv("HTTP_PROXY", "http://p1:1")
    clean_environ.setenv("HTTPS_PROXY", "http://p2:2")
    limits = httplib.Limits(max_connections=3)
    client = subclass(http1=False, http2=True, verify=False, limits=limits, trust_env=True)
    assert [str(proxy.url) for proxy, _ in built] == ["http://p1:1", "http://p2:2"]
    for _, settings in built:
        assert settings == {
            "verify": False,
            "cert": None,
            "trust_env": True,
            "http1": False,
            "http2": True,
            "limits": limits,
        }
    config = frozen_config(client._transport_for_url(URL("https://a.test/")))
    assert (config.http1, config.http2) == (False, True)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_http2_reaches_a_proxy_given_as_argument(client_class: type[AnyClient]) -> None:
    client = client_class(proxy="http://p:1", http2=True)
    assert frozen_config(client._transport_for_url(URL("https://a.test/"))).http2 is True
    assert frozen_config(client_class(proxy="http://p:1")._transport).http2 is False


def test_requests_go_through_the_transports_the_hooks_build(
    runner: Runner, clean_environ: pytest.MonkeyPatch
) -> None:
    """httpx's hooks, overridden: each environment proxy and the default transport is what
    `_init_proxy_transport` / `_init_transport` return, and requests go where routing says."""
    clean_environ.setenv("HTTP_PROXY", "http://plain:1")
    clean_environ.setenv("HTTPS_PROXY", "http://tls:2")
    clean_environ.setenv("NO_PROXY", "direct.test")

    def _init_transport(self: Any, **settings: Any) -> Any:
        assert settings["transport"] is None
        return tagged("direct")

    def _init_proxy_transport(self: Any, proxy: Proxy, **settings: Any) -> Any:
        return tagged(f"via {proxy.url}")

    hooks = {"_init_transport": _init_transport, "_init_proxy_transport": _init_proxy_transport}
    client = type("Hooked", (runner.client_class,), hooks)()
    urls = ["http://a.test/", "https://a.test/", "https://www.direct.test/"]
    texts = [response.text for response in send_all(runner, client, urls)]
    assert texts == ["via http://plain:1", "via http://tls:2", "direct"]


def test_an_overridden_transport_for_url_is_used_without_mounts(runner: Runner) -> None:
    # No mounts would let the client skip routing; a subclass that routes must still be asked.
    special = tagged("special")

    def _transport_for_url(self: Any, url: URL) -> Any:
        if url.path.startswith("/special"):
            return special
        return super(subclass, self)._transport_for_url(url)

    subclass = type("Routing", (runner.client_class,), {"_transport_for_url": _transport_for_url})
    client = subclass(transport=tagged("default"))
    urls = ["http://a.test/special/1", "http://a.test/other"]
    assert [r.text for r in send_all(runner, client, urls)] == ["special", "default"]


def test_closing_the_client_closes_its_proxy_transports(runner: Runner) -> None:
    closed: list[str] = []

    class Closing(MockTransport):
        def close(self) -> None:
            closed.append("sync")

        async def aclose(self) -> None:
            closed.append("async")

    def _init_proxy_transport(self: Any, proxy: Proxy, **settings: Any) -> Any:
        return Closing(lambda request: Response(200))

    hooks = {"_init_proxy_transport": _init_proxy_transport}
    client = type("Hooked", (runner.client_class,), hooks)(
        proxy="http://p:1", transport=tagged("default")
    )
    send_all(runner, client, ["http://a.test/"])
    assert closed == ["async" if runner.is_async else "sync"]


# --- redirects and a user's Proxy-Authorization -------------------------------------------------

CREDENTIALS = {"Authorization": "Bearer origin", "Proxy-Authorization": "Basic cHJveHk="}


def redirecting(to: str, seen: list[Request]) -> MockTransport:
    """Answers a first request with a 302 to `to`, and records every request."""

    def handle(request: Request) -> Response:
        seen.append(request)
        if len(seen) == 1:
            return Response(302, headers={"Location": to})
        return Response(200)

    return MockTransport(handle)


def test_proxy_authorization_follows_a_redirect_on_the_same_route(runner: Runner) -> None:
    seen: list[Request] = []
    # One transport for both schemes (as `proxy=` mounts): the upgrade stays on its route.
    client = runner.client_class(mounts={"all://": redirecting("https://a.test/next", seen)})
    send_all(runner, client, ["http://a.test/"], headers=CREDENTIALS, follow_redirects=True)
    assert [str(r.url) for r in seen] == ["http://a.test/", "https://a.test/next"]
    assert seen[1].headers["Proxy-Authorization"] == "Basic cHJveHk="
    assert seen[1].headers["Authorization"] == "Bearer origin"


def test_proxy_authorization_is_dropped_when_the_redirect_changes_route(runner: Runner) -> None:
    seen: list[Request] = []
    shared = redirecting("https://a.test/next", seen)
    # As HTTP_PROXY and HTTPS_PROXY naming two proxies: the upgrade moves to the other one.
    other = MockTransport(lambda request: (seen.append(request), Response(200))[1])
    client = runner.client_class(mounts={"http://": shared, "https://": other})
    send_all(runner, client, ["http://a.test/"], headers=CREDENTIALS, follow_redirects=True)
    assert [str(r.url) for r in seen] == ["http://a.test/", "https://a.test/next"]
    assert "Proxy-Authorization" not in seen[1].headers
    # Authorization is for the origin, which the upgrade keeps (as in httpx).
    assert seen[1].headers["Authorization"] == "Bearer origin"


def test_proxy_authorization_is_dropped_on_a_same_origin_redirect_routed_elsewhere(
    runner: Runner,
) -> None:
    seen: list[Request] = []
    first = redirecting("/elsewhere", seen)
    second = MockTransport(lambda request: (seen.append(request), Response(200))[1])

    def _transport_for_url(self: Any, url: URL) -> Any:
        return second if url.path == "/elsewhere" else first

    client = type("Routing", (runner.client_class,), {"_transport_for_url": _transport_for_url})()
    send_all(runner, client, ["http://a.test/"], headers=CREDENTIALS, follow_redirects=True)
    assert [str(r.url) for r in seen] == ["http://a.test/", "http://a.test/elsewhere"]
    assert "Proxy-Authorization" not in seen[1].headers
    assert seen[1].headers["Authorization"] == "Bearer origin"


def test_a_proxy_credential_is_never_put_in_the_request_headers(runner: Runner) -> None:
    # The transport adds its proxy's credentials as it sends; a redirect therefore has nothing
    # of them to carry, wherever it goes.
    seen: list[Request] = []

    def _init_proxy_transport(self: Any, proxy: Proxy, **settings: Any) -> Any:
        assert proxy.auth == ("user", "secret")
        return redirecting("http://other.test/", seen)

    hooks = {"_init_proxy_transport": _init_proxy_transport}
    client = type("Hooked", (runner.client_class,), hooks)(
        proxy="http://user:secret@p:1", transport=tagged("default")
    )
    send_all(runner, client, ["http://a.test/"], follow_redirects=True)
    assert len(seen) == 2
    assert all("Proxy-Authorization" not in request.headers for request in seen)


# --- the top-level functions --------------------------------------------------------------------


class ViaProxy(Client):
    """A client whose proxy transports answer with the proxy's URL."""

    def _init_proxy_transport(self, proxy: Proxy, **settings: Any) -> Any:
        return tagged(f"via {proxy.url}")


@pytest.mark.parametrize("name", ["get", "head", "options", "delete", "post", "put", "patch"])
def test_top_level_functions_take_proxy(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr("httplib._api.Client", ViaProxy)
    response = getattr(httplib, name)("http://a.test/", proxy="http://p.internal:3128")
    assert response.text == "via http://p.internal:3128"
    assert response.request.url == URL("http://a.test/")


def test_request_and_stream_take_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("httplib._api.Client", ViaProxy)
    with httplib.stream("GET", "http://a.test/", proxy="http://p.internal:3128") as streamed:
        assert streamed.read() == b"via http://p.internal:3128"
    response = httplib.request("GET", "http://a.test/", proxy=Proxy("http://q.internal:1"))
    assert response.text == "via http://q.internal:1"


# --- the same routing as httpx ------------------------------------------------------------------

ENV_CASES = [
    ("http://google.com", {}),
    ("http://google.com", {"HTTP_PROXY": "http://example.com"}),
    ("http://google.com", {"HTTP_PROXY": "example.com"}),
    ("http://google.com", {"HTTP_PROXY": "http://example.com", "NO_PROXY": "google.com"}),
    ("http://127.0.0.1", {"ALL_PROXY": "http://localhost:123", "NO_PROXY": ""}),
    ("http://127.0.0.1", {"ALL_PROXY": "http://localhost:123", "NO_PROXY": "127.0.0.1"}),
    ("http://127.0.0.1", {"ALL_PROXY": "http://localhost:123", "NO_PROXY": "https://127.0.0.1"}),
    ("http://127.0.0.1", {"ALL_PROXY": "http://localhost:123", "NO_PROXY": "1.1.1.1"}),
    ("http://courses.mit.edu", {"ALL_PROXY": "http://localhost:123", "NO_PROXY": "mit.edu"}),
    ("https://mit.edu.info", {"ALL_PROXY": "http://localhost:123", "NO_PROXY": "mit.edu"}),
    ("https://mit.edu.info", {"ALL_PROXY": "http://l:1", "NO_PROXY": "mit.edu, edu.info"}),
    ("https://foo.example.com", {"ALL_PROXY": "http://l:1", "NO_PROXY": "www.example.com"}),
    ("https://www.example1.com", {"ALL_PROXY": "http://l:1", "NO_PROXY": ".example1.com"}),
    ("https://example1.com", {"ALL_PROXY": "http://l:1", "NO_PROXY": ".example1.com"}),
    ("https://www.example2.com", {"ALL_PROXY": "http://l:1", "NO_PROXY": "ample2.com"}),
    ("https://www.example3.com", {"ALL_PROXY": "http://l:1", "NO_PROXY": "*"}),
    ("https://a.test:8443", {"HTTPS_PROXY": "https://s:1", "NO_PROXY": "a.test:8443"}),
    ("https://a.test", {"HTTPS_PROXY": "https://s:1", "NO_PROXY": "a.test:8443"}),
    ("https://[::1]:8000", {"HTTPS_PROXY": "http://s:1", "NO_PROXY": "::1"}),
    ("http://a.test", {"https_proxy": "http://s:1", "HTTP_PROXY": "socks5://h:2"}),
]


def _httpx_proxy(transport: Any) -> tuple[str, str, int | None] | None:
    pool = transport._pool
    if not hasattr(pool, "_proxy_url"):
        return None
    url = pool._proxy_url
    return (url.scheme.decode(), url.host.decode(), url.port)


def _our_proxy(transport: Any) -> tuple[str, str, int | None] | None:
    proxy = transport._proxy
    return None if proxy is None else (proxy.url.scheme, proxy.url.host, proxy.url.port)


@pytest.mark.parametrize(("url", "env"), ENV_CASES)
def test_environment_routing_matches_httpx(
    clean_environ: pytest.MonkeyPatch, url: str, env: dict[str, str]
) -> None:
    for name, value in env.items():
        clean_environ.setenv(name, value)
    ours = Client()._transport_for_url(URL(url))
    theirs = httpx.Client()._transport_for_url(httpx.URL(url))
    assert _our_proxy(ours) == _httpx_proxy(theirs)
