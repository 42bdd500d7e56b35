"""Requests through real proxy software on loopback (pproxy: HTTP, HTTP with auth, HTTP over
TLS, SOCKS5, SOCKS5 with auth; tinyproxy when installed), for `Client` and `AsyncClient` on
asyncio, uvloop and trio: http origins forwarded or tunnelled, https origins over HTTP/1.1 and
HTTP/2 inside the tunnel (TLS inside TLS through the https:// proxy), credentials right and
wrong, the environment's variables with NO_PROXY, and mounts."""

from __future__ import annotations

import json
import ssl
from typing import Any

import pytest

from httplib import AsyncHTTPTransport, HTTPTransport, Proxy
from httplib._exceptions import ConnectError, ProxyError
from servers.asgi_servers import RunningServer
from servers.proxies import PROXY_USER, RunningProxy, ScriptedProxy
from support.clients import Runner
from support.runtimes import ALL_RUNTIMES, params

PROXIES = ["http_proxy", "http_proxy_auth", "https_proxy", "socks5_proxy", "socks5_proxy_auth"]


@pytest.fixture(params=params(*ALL_RUNTIMES))
def runner(request: pytest.FixtureRequest) -> Runner:
    return Runner(request.param)


@pytest.fixture(params=PROXIES)
def proxy(request: pytest.FixtureRequest) -> RunningProxy:
    running: RunningProxy = request.getfixturevalue(request.param)
    return running


def proxy_for(proxy: RunningProxy, **kwargs: Any) -> Proxy:
    """`proxy` as a `Proxy`, trusting an https:// proxy's certificate."""
    context = proxy.ssl_context() if proxy.scheme == "https" else None
    return Proxy(proxy.url, ssl_context=context, **kwargs)


def through(runner: Runner, proxy: Proxy | str, **transport: Any) -> dict[str, Any]:
    """Client arguments: a transport for `runner`'s runtime sending through `proxy`."""
    cls = AsyncHTTPTransport if runner.is_async else HTTPTransport
    return {"transport": cls(proxy=proxy, **transport)}


def echoed_headers(response: Any) -> dict[str, str]:
    document = json.loads(response.content)
    return {name.lower(): value for name, value in document["headers"]}


def test_an_http_origin_through_every_proxy(
    runner: Runner, proxy: RunningProxy, uvicorn_server: RunningServer
) -> None:
    url = uvicorn_server.url + "/echo?via=proxy"
    responses = runner.session(
        [("GET", url, {}), ("POST", url, {"content": b"x" * 100_000})],
        **through(runner, proxy_for(proxy)),
    )
    assert [r.status_code for r in responses] == [200, 200]
    document = json.loads(responses[1].content)
    assert (document["path"], document["query"], len(document["body"])) == (
        "/echo",
        "via=proxy",
        100_000,
    )
    if proxy.scheme == "socks5":  # a tunnel: the origin sees what a direct request carries
        assert "proxy-authorization" not in echoed_headers(responses[0])


def test_an_https_origin_through_a_tunnel_of_every_proxy(
    runner: Runner,
    proxy: RunningProxy,
    uvicorn_tls_server: RunningServer,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """CONNECT (or SOCKS5), then TLS to the origin inside the tunnel: inside the proxy's own TLS
    for the https:// proxy. The proxy's credentials never reach the origin."""
    url = uvicorn_tls_server.url + "/echo"
    responses = runner.session(
        [("GET", url, {}), ("GET", url, {"headers": {"X-Second": "1"}})],
        **through(runner, proxy_for(proxy), verify=client_ssl_context),
    )
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[1].http_version == "HTTP/1.1"
    headers = echoed_headers(responses[1])
    assert headers["x-second"] == "1"
    assert "proxy-authorization" not in headers
    stream = responses[1].extensions["network_stream"]
    assert stream.get_extra_info("ssl_object") is not None


@pytest.mark.parametrize("name", ["http_proxy_auth", "https_proxy", "socks5_proxy"])
def test_http2_inside_the_tunnel_multiplexes_requests(
    runner: Runner,
    name: str,
    request: pytest.FixtureRequest,
    hypercorn_tls_server: RunningServer,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """ALPN runs on the origin's TLS inside the tunnel, so HTTP/2 works through any proxy; many
    concurrent requests share the one tunnelled connection."""
    proxy: RunningProxy = request.getfixturevalue(name)
    url = hypercorn_tls_server.url + "/echo"
    kwargs = through(runner, proxy_for(proxy), verify=client_ssl_context, http2=True)

    def sync(client: Any) -> list[Any]:
        return [client.get(url, params={"n": n}) for n in range(10)]

    async def asynchronous(client: Any) -> list[Any]:
        return list(
            await runner.gather(
                [lambda n=n: client.get(url, params={"n": n}) for n in range(20)]  # type: ignore[misc]
            )
        )

    responses = runner.with_client(asynchronous if runner.is_async else sync, **kwargs)
    assert {r.http_version for r in responses} == {"HTTP/2"}
    assert [json.loads(r.content)["query"] for r in responses] == [
        f"n={n}" for n in range(len(responses))
    ]
    # One tunnel carried them all.
    assert len({id(r.extensions["network_stream"]) for r in responses}) == 1


def test_wrong_proxy_credentials(
    runner: Runner,
    http_proxy_auth: RunningProxy,
    socks5_proxy_auth: RunningProxy,
    uvicorn_server: RunningServer,
    uvicorn_tls_server: RunningServer,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """A forwarded request gets the proxy's 407 as its response (as in httpx); a refused
    tunnel is a ProxyError naming the status; SOCKS5 names the step (pproxy closes the
    connection rather than answer a rejection)."""
    wrong = (PROXY_USER, "wrong")
    forwarded = runner.send(
        "GET",
        uvicorn_server.url + "/echo",
        client=through(runner, Proxy(http_proxy_auth.url_without_auth, auth=wrong)),
    )
    assert forwarded.status_code == 407

    with pytest.raises(ProxyError, match="407"):
        runner.send(
            "GET",
            uvicorn_tls_server.url + "/echo",
            client=through(
                runner,
                Proxy(http_proxy_auth.url_without_auth, auth=wrong),
                verify=client_ssl_context,
            ),
        )
    with pytest.raises(ProxyError, match="instead of answering the username and password"):
        runner.send(
            "GET",
            uvicorn_server.url + "/echo",
            client=through(runner, Proxy(socks5_proxy_auth.url_without_auth, auth=wrong)),
        )


def test_an_https_proxy_with_an_untrusted_certificate_is_a_connect_error(
    runner: Runner, https_proxy: RunningProxy, uvicorn_server: RunningServer
) -> None:
    with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        runner.send("GET", uvicorn_server.url + "/echo", client=through(runner, https_proxy.url))


def test_tinyproxy_forwards_and_tunnels(
    runner: Runner,
    tinyproxy_proxy_auth: RunningProxy,
    uvicorn_server: RunningServer,
    uvicorn_tls_server: RunningServer,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """tinyproxy closes the connection after each forwarded response without saying so: the
    next request finds it closed and goes on a fresh one."""
    kwargs = through(runner, tinyproxy_proxy_auth.url, verify=client_ssl_context)
    plain = uvicorn_server.url + "/echo"
    responses = runner.session(
        [("GET", plain, {}), ("GET", plain, {}), ("GET", uvicorn_tls_server.url + "/echo", {})],
        **kwargs,
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "tinyproxy" in echoed_headers(responses[0]).get("via", "")  # it went through
    assert "via" not in echoed_headers(responses[2])  # a tunnel: untouched


# --- routing: the environment and mounts ---------------------------------------------------


def test_the_environment_routes_through_the_proxy_and_no_proxy_goes_direct(
    runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
    proxy_auth_required: ScriptedProxy,
    uvicorn_server: RunningServer,
) -> None:
    """HTTP_PROXY names a proxy that answers 407 to everything: a request routed through it gets
    that 407; one that NO_PROXY exempts reaches the origin directly."""
    monkeypatch.setenv("HTTP_PROXY", proxy_auth_required.url)
    url = uvicorn_server.url + "/echo"
    assert runner.send("GET", url).status_code == 407
    assert proxy_auth_required.received[0].startswith(f"GET {url} HTTP/1.1".encode())

    for exempt in ("127.0.0.1", "127.0.0.0/8", "localhost,127.0.0.1"):
        monkeypatch.setenv("NO_PROXY", exempt)
        assert runner.send("GET", url).status_code == 200
    monkeypatch.setenv("no_proxy", "example.com")  # the lowercase variable wins
    assert runner.send("GET", url).status_code == 407
    assert runner.send("GET", url, client={"trust_env": False}).status_code == 200


def test_environment_proxies_carry_credentials(
    runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
    http_proxy_auth: RunningProxy,
    socks5_proxy_auth: RunningProxy,
    uvicorn_server: RunningServer,
) -> None:
    url = uvicorn_server.url + "/echo"
    monkeypatch.setenv("HTTP_PROXY", http_proxy_auth.url)
    assert runner.send("GET", url).status_code == 200
    monkeypatch.setenv("http_proxy", socks5_proxy_auth.url)
    assert runner.send("GET", url).status_code == 200


def test_mounts_pick_a_proxy_per_origin(
    runner: Runner,
    proxy_auth_required: ScriptedProxy,
    http_proxy: RunningProxy,
    uvicorn_server: RunningServer,
) -> None:
    """The most specific pattern wins; `None` sends a pattern's requests direct."""
    cls = AsyncHTTPTransport if runner.is_async else HTTPTransport
    port = uvicorn_server.url.rsplit(":", 1)[1]
    mounts = {
        "all://": cls(proxy=proxy_auth_required.url),
        f"http://127.0.0.1:{port}": cls(proxy=http_proxy.url),
        f"http://localhost:{port}": None,
    }
    calls = [
        ("GET", f"http://127.0.0.1:{port}/echo", {}),
        ("GET", f"http://localhost:{port}/echo", {}),
        ("GET", f"http://127.0.0.2:{port}/echo", {}),
    ]
    responses = runner.session(calls, mounts=mounts)
    assert [r.status_code for r in responses] == [200, 200, 407]
    assert len(proxy_auth_required.received) == 1
