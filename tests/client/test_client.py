"""Client and AsyncClient behaviour, each case run for both through the `runner` fixture."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import ssl
from typing import Any

import httpx
import pytest

from httplib._client import USE_CLIENT_DEFAULT, AsyncClient, Client
from httplib._config import Limits, Timeout
from httplib._core.auth import Auth, DigestAuth
from httplib._core.decoders import SUPPORTED_DECODERS
from httplib._exceptions import ConnectError, InvalidURL, ReadTimeout, RequestError
from httplib._models import Request, Response
from httplib._transports.default import AsyncHTTPTransport, HTTPTransport
from httplib._transports.mock import MockTransport
from httplib._urls import URL

pytestmark = pytest.mark.network


def _echo(response: Response) -> dict[str, Any]:
    document: dict[str, Any] = response.json()
    document["headers"] = dict(document["headers"])
    return document


def echo_handler(request: Request) -> Response:
    """Mock endpoint: the request as JSON (method, url, headers, body)."""
    return Response(
        200,
        json={
            "method": request.method,
            "url": str(request.url),
            "headers": dict(request.headers),
            "body": request.content.decode(),
            "timeout": request.extensions.get("timeout"),
        },
    )


# --- defaults and merging -----------------------------------------------------------------------


def test_default_headers_match_httpx_except_user_agent(runner: Any, uvicorn_server: Any) -> None:
    ours = _echo(runner.send("GET", uvicorn_server.url + "/echo"))["headers"]
    with httpx.Client() as client:
        theirs = client.get(uvicorn_server.url + "/echo").json()["headers"]
    theirs = dict(theirs)
    assert ours.pop("user-agent").startswith("python-httplib/")
    assert theirs.pop("user-agent").startswith("python-httpx/")
    assert ours == theirs


def test_accept_encoding_lists_only_available_decoders(runner: Any) -> None:
    response = runner.send("GET", "http://a/", client={"transport": MockTransport(echo_handler)})
    offered = response.json()["headers"]["accept-encoding"].split(", ")
    assert offered == [name for name in SUPPORTED_DECODERS if name != "identity"]
    assert {"gzip", "deflate"} <= set(offered)


@pytest.mark.parametrize(
    ("base_url", "url", "expected"),
    [
        ("http://h/api", "/users", "http://h/api/users"),
        ("http://h/api/", "users", "http://h/api/users"),
        ("http://h/api/", "/users?x=1", "http://h/api/users?x=1"),
        ("http://h", "/a", "http://h/a"),
        ("http://h/api", "http://other/abs", "http://other/abs"),
        ("", "http://plain/", "http://plain/"),
    ],
)
def test_base_url_merging_matches_httpx(base_url: str, url: str, expected: str) -> None:
    ours = Client(base_url=base_url).build_request("GET", url)
    theirs = httpx.Client(base_url=base_url).build_request("GET", url)
    assert str(ours.url) == str(theirs.url) == expected


def test_base_url_always_ends_with_a_slash() -> None:
    client = Client(base_url="http://h/api")
    assert str(client.base_url) == "http://h/api/"
    client.base_url = "http://h/v2"
    assert str(client.base_url) == "http://h/v2/"


def test_build_request_matches_httpx() -> None:
    kwargs: dict[str, Any] = {
        "params": {"a": "1", "shared": "client"},
        "headers": {"X-Client": "c", "X-Shared": "client"},
        "cookies": {"c": "1"},
        "timeout": Timeout(2.0, read=7.0),
    }
    ours = Client(**kwargs).build_request(
        "POST", "http://h/p?q=0", params={"shared": "request"}, headers={"X-Shared": "req"},
        json={"k": [1, 2]},
    )  # fmt: skip
    kwargs["timeout"] = httpx.Timeout(2.0, read=7.0)
    theirs = httpx.Client(**kwargs).build_request(
        "POST", "http://h/p?q=0", params={"shared": "request"}, headers={"X-Shared": "req"},
        json={"k": [1, 2]},
    )  # fmt: skip
    assert str(ours.url) == str(theirs.url)
    assert ours.extensions == theirs.extensions
    assert ours.read() == theirs.read()
    our_headers = [(k, v) for k, v in ours.headers.multi_items() if k != "user-agent"]
    their_headers = [(k, v) for k, v in theirs.headers.multi_items() if k != "user-agent"]
    assert our_headers == their_headers


@pytest.mark.parametrize("method", ["GET", "get", "POST", "DELETE"])
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"base_url": "http://h/api/", "headers": {"X-Client": "c"}, "timeout": 3.0},
        {"headers": {"Host": "other:81", "X-Client": "c"}},
        {"headers": {"Content-Length": "0"}},
    ],
    ids=["defaults", "configured", "own-host", "own-length"],
)
def test_a_plain_build_request_matches_httpx(method: str, settings: dict[str, Any]) -> None:
    """A call with only a method and a URL (built without binding its keyword arguments),
    after the client's headers changed too."""

    def built(client: Any) -> tuple[Any, ...]:
        client.headers["X-Later"] = "1"
        request = client.build_request(method, "/p?q=1" if settings else "http://h/p?q=1")
        headers = [(k, v) for k, v in request.headers.multi_items() if k != "user-agent"]
        return request.method, str(request.url), request.extensions, headers, request.read()

    with Client(**settings) as ours, httpx.Client(**settings) as theirs:
        assert built(ours) == built(theirs)


def test_params_and_headers_merge_request_wins(runner: Any, uvicorn_server: Any) -> None:
    response = runner.send(
        "GET",
        uvicorn_server.url + "/echo?fixed=1",
        client={"params": {"a": "client", "b": "client"}, "headers": {"X-A": "client"}},
        params={"b": "request"},
        headers={"X-A": "request", "X-B": "request"},
    )
    echoed = _echo(response)
    assert echoed["query"] == "a=client&b=request"
    assert echoed["headers"]["x-a"] == "request"
    assert echoed["headers"]["x-b"] == "request"


def test_timeout_reaches_the_transport_as_a_dict(runner: Any) -> None:
    transport = MockTransport(echo_handler)
    calls = [
        ("GET", "http://a/", {}),
        ("GET", "http://a/", {"timeout": 1.5}),
        ("GET", "http://a/", {"timeout": None}),
    ]
    responses = runner.session(calls, transport=transport, timeout=Timeout(3.0, connect=1.0))
    seen = [r.json()["timeout"] for r in responses]
    assert seen[0] == {"connect": 1.0, "read": 3.0, "write": 3.0, "pool": 3.0}
    assert seen[1] == Timeout(1.5).as_dict()
    assert seen[2] == Timeout(None).as_dict()
    assert Client().timeout == Timeout(5.0)


def test_properties_have_setters() -> None:
    client = Client()
    client.headers = {"X-New": "1"}
    assert client.headers["X-New"] == "1"
    assert client.headers["Accept"] == "*/*"
    client.params = {"p": "1"}
    assert client.params["p"] == "1"
    client.cookies = {"c": "v"}
    assert client.cookies["c"] == "v"
    client.timeout = 9.0
    assert client.timeout == Timeout(9.0)
    client.auth = ("u", "p")
    assert client.auth is not None
    client.event_hooks = {"request": [print]}
    assert client.event_hooks == {"request": [print], "response": []}
    assert client.trust_env is True
    assert not client.is_closed
    assert repr(USE_CLIENT_DEFAULT) == "USE_CLIENT_DEFAULT"


def test_per_request_cookies_warn_as_httpx(runner: Any) -> None:
    transport = MockTransport(echo_handler)
    with pytest.warns(DeprecationWarning, match="Setting per-request cookies=<...> is being"):
        response = runner.send(
            "GET", "http://a/", client={"transport": transport}, cookies={"x": "1"}
        )
    assert response.json()["headers"]["cookie"] == "x=1"


def test_per_request_cookies_warn_at_the_callers_line(runner: Any) -> None:
    """(httpx reports its shortcuts' warning inside its own module; `stream` warns in neither.)"""
    cookies = {"x": "1"}
    deprecated = "Setting per-request cookies"

    def script(client: Any) -> Any:
        if not runner.is_async:
            with pytest.warns(DeprecationWarning, match=deprecated) as shortcut:
                client.get("http://a/", cookies=cookies)
            with pytest.warns(DeprecationWarning, match=deprecated) as request:
                client.request("GET", "http://a/", cookies=cookies)
            return [shortcut, request]

        async def go() -> list[Any]:
            with pytest.warns(DeprecationWarning, match=deprecated) as shortcut:
                await client.get("http://a/", cookies=cookies)
            with pytest.warns(DeprecationWarning, match=deprecated) as request:
                await client.request("GET", "http://a/", cookies=cookies)
            return [shortcut, request]

        return go()

    records = runner.with_client(script, transport=MockTransport(echo_handler))
    assert [[w.filename for w in record] for record in records] == [[__file__]] * 2


def test_response_carries_request_elapsed_and_encoding(runner: Any, uvicorn_server: Any) -> None:
    response = runner.send(
        "GET", uvicorn_server.url + "/bytes/10", client={"default_encoding": "latin-1"}
    )
    assert response.request.url == uvicorn_server.url + "/bytes/10"
    assert response.elapsed.total_seconds() > 0
    assert response.encoding == "latin-1"
    assert response.is_closed


def test_gzip_is_decoded(runner: Any, uvicorn_server: Any) -> None:
    assert runner.send("GET", uvicorn_server.url + "/gzip").json()["name"] == "httplib"


def _read_state(response: Any, is_async: bool) -> tuple[Any, ...]:
    """What a user can see of a response `send` read (its state, and what each way of
    reading it again gives), the same for httplib's and httpx's."""
    try:
        raw: Any = b"".join(response.iter_raw()) if not is_async else "not tried"
    except Exception as exc:  # (httpx: StreamConsumed)
        raw = type(exc).__name__
    return (
        response.status_code,
        response.http_version,
        response.is_closed,
        response.is_stream_consumed,
        response.num_bytes_downloaded,
        response.content,
        response.elapsed.total_seconds() > 0,
        b"".join(response.iter_bytes()),
        raw,
        response.extensions["network_stream"] is not None,
    )


@pytest.mark.parametrize("path", ["/bytes/10", "/gzip"])
@pytest.mark.parametrize("http2", [False, True], ids=["h1", "h2"])
def test_a_read_response_is_left_as_httpx_leaves_it(
    runner: Any,
    hypercorn_tls_server: Any,
    client_ssl_context: ssl.SSLContext,
    path: str,
    http2: bool,
) -> None:
    """A small body arrives with its head: the client gives the connection back before it
    builds the response (no body flow), which must still look read and closed as httpx's."""
    url = hypercorn_tls_server.url + path
    options = {"http2": http2, "verify": client_ssl_context}

    def script(client: Any) -> Any:
        if not runner.is_async:
            return [_read_state(client.get(url), False) for _ in range(2)]

        async def go() -> list[tuple[Any, ...]]:
            return [_read_state(await client.get(url), True) for _ in range(2)]

        return go()

    ours = runner.with_client(script, **options)
    with httpx.Client(**options) as client:  # type: ignore[arg-type]
        theirs = [_read_state(client.get(url), runner.is_async) for _ in range(2)]
    assert ours == theirs


def test_tls_with_a_custom_context(
    runner: Any, uvicorn_tls_server: Any, client_ssl_context: ssl.SSLContext
) -> None:
    response = runner.send(
        "GET", uvicorn_tls_server.url + "/json", client={"verify": client_ssl_context}
    )
    assert response.status_code == 200


def test_works_against_hypercorn(runner: Any, hypercorn_server: Any) -> None:
    assert runner.send("POST", hypercorn_server.url + "/echo", content=b"hi").json()["body"] == "hi"


# --- streaming ----------------------------------------------------------------------------------


def test_stream_closes_the_response_on_exit(uvicorn_server: Any) -> None:
    with Client() as client:
        with client.stream("GET", uvicorn_server.url + "/stream/3/5") as response:
            assert not response.is_closed
            chunks = list(response.iter_bytes())
        assert response.is_closed
    assert b"".join(chunks) == bytes(range(5)) * 3


def test_async_stream_closes_the_response_on_exit(async_runner: Any, uvicorn_server: Any) -> None:
    async def main() -> tuple[bytes, bool, bool]:
        async with AsyncClient() as client:
            async with client.stream("GET", uvicorn_server.url + "/stream/3/5") as response:
                was_open = not response.is_closed
                body = b"".join([chunk async for chunk in response.aiter_bytes()])
            return body, was_open, response.is_closed

    body, was_open, closed = async_runner.run(main)
    assert body == bytes(range(5)) * 3
    assert was_open
    assert closed


def test_send_with_stream_true_leaves_the_body_unread(runner: Any, uvicorn_server: Any) -> None:
    def script(client: Any) -> Any:
        request = client.build_request("GET", uvicorn_server.url + "/bytes/4")
        if not runner.is_async:
            response = client.send(request, stream=True)
            return response.is_stream_consumed, response.read()

        async def go() -> tuple[bool, bytes]:
            response = await client.send(request, stream=True)
            return response.is_stream_consumed, await response.aread()

        return go()

    consumed_before_read, body = runner.with_client(script)
    assert consumed_before_read is False
    assert body == bytes(range(4))


def test_a_failing_hook_closes_the_response(runner: Any) -> None:
    seen: list[Response] = []

    def explode(response: Response) -> None:
        seen.append(response)
        raise ValueError("no")

    def stream_handler(request: Request) -> Response:
        body = [b"a", b"b"]
        return Response(200, content=iter(body) if not runner.is_async else _agen(body))

    client = {
        "transport": MockTransport(stream_handler),
        "event_hooks": {"response": [runner.hook(explode)]},
    }
    with pytest.raises(ValueError, match="no"):
        runner.send("GET", "http://a/", client=client)
    assert seen[0].is_closed


async def _agen(items: list[bytes]) -> Any:
    for item in items:
        yield item


def test_an_overriding_auth_generator_is_closed_when_sending_fails(runner: Any) -> None:
    closed: list[str] = []

    class Closing(Auth):
        def sync_auth_flow(self, request: Request) -> Any:
            try:
                yield request
            finally:
                closed.append("sync")

        async def async_auth_flow(self, request: Request) -> Any:
            try:
                yield request
            finally:
                closed.append("async")

    def failing(request: Request) -> Response:
        raise RequestError("down")

    with pytest.raises(RequestError, match="down"):
        runner.send(
            "GET", "http://a/", client={"transport": MockTransport(failing)}, auth=Closing()
        )
    # The generator was suspended at its yield when the send failed: the client closed it.
    assert closed == ["async" if runner.is_async else "sync"]


def test_concurrent_requests_through_one_async_client(
    async_runner: Any, uvicorn_server: Any
) -> None:
    """Twenty requests at once through two pooled connections, on each event loop."""

    async def main() -> list[Any]:
        async with AsyncClient(limits=Limits(max_connections=2)) as client:
            return await async_runner.gather(
                [lambda i=i: client.get(f"{uvicorn_server.url}/echo?i={i}") for i in range(20)]
            )

    responses = async_runner.run(main)
    assert [_echo(r)["query"] for r in responses] == [f"i={i}" for i in range(20)]


# --- lifecycle ----------------------------------------------------------------------------------


def test_closed_client_refuses_to_send(runner: Any) -> None:
    client = runner.client_class(transport=MockTransport(echo_handler))
    if runner.is_async:
        runner.run(client.aclose)

        async def send() -> Any:
            return await client.get("http://a/")
    else:
        client.close()

        def send() -> Any:
            return client.get("http://a/")

    assert client.is_closed
    message = re.escape("Cannot send a request, as the client has been closed.")
    with pytest.raises(RuntimeError, match=message):
        runner.run(send) if runner.is_async else send()


def test_reopening_is_refused_with_httpx_messages(async_runner: Any) -> None:
    client = Client(transport=MockTransport(echo_handler))
    with (
        client,
        pytest.raises(RuntimeError, match=r"Cannot open a client instance more than once\."),
    ):
        client.__enter__()
    with pytest.raises(RuntimeError, match="Cannot reopen a client instance, once it has been"):
        client.__enter__()

    async def main() -> None:
        async_client = AsyncClient(transport=MockTransport(echo_handler))
        async with async_client:
            pass
        with pytest.raises(RuntimeError, match="Cannot reopen a client instance"):
            await async_client.__aenter__()

    async_runner.run(main)


def test_sending_opens_the_client_so_with_is_refused() -> None:
    client = Client(transport=MockTransport(echo_handler))
    client.get("http://a/")
    with pytest.raises(RuntimeError, match="more than once"):
        client.__enter__()
    client.close()


def test_wrong_kind_of_request_body_or_transport_is_refused(async_runner: Any) -> None:
    async def agen() -> Any:
        yield b"x"

    with Client(transport=MockTransport(echo_handler)) as client:
        request = Request("POST", "http://a/", content=agen())
        with pytest.raises(RuntimeError, match="async request with a sync Client"):
            client.send(request)

    async def main() -> None:
        async with AsyncClient(transport=MockTransport(echo_handler)) as client:
            request = Request("POST", "http://a/", content=iter([b"x"]))
            with pytest.raises(RuntimeError, match="sync request with an AsyncClient"):
                await client.send(request)

    async_runner.run(main)
    from httplib._transports.default import AsyncHTTPTransport, HTTPTransport

    with pytest.raises(TypeError, match="Client needs a sync transport"):
        Client(transport=AsyncHTTPTransport())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AsyncClient needs an async transport"):
        AsyncClient(mounts={"all://": HTTPTransport()})  # type: ignore[dict-item]


def test_unclosed_unused_async_client_does_not_warn() -> None:
    # httpx 0.28 has no unclosed-client warning; with filterwarnings=error any warning fails.
    AsyncClient()
    gc.collect()


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_proxy_routes_every_url_through_one_proxy_transport(
    client_class: type[Client] | type[AsyncClient],
) -> None:
    # (the engine's side, what goes over the wire to the proxy, is tested with proxy servers)
    client = client_class(proxy="http://user:pw@proxy.internal:8080", trust_env=False)
    routed = {client._transport_for_url(URL(url)) for url in ("http://a/", "https://b:8443/")}
    (transport,) = routed
    assert transport is not client._transport
    assert isinstance(transport, (HTTPTransport, AsyncHTTPTransport))
    assert transport._proxy is not None
    assert transport._proxy.url == URL("http://proxy.internal:8080")
    assert transport._proxy.auth == ("user", "pw")
    assert client._transport._proxy is None  # type: ignore[union-attr]
    without = client_class(proxy=None, trust_env=False)
    assert without._transport_for_url(URL("http://a/")) is without._transport


# --- errors -------------------------------------------------------------------------------------


def test_read_timeout_against_a_slow_endpoint(runner: Any, uvicorn_server: Any) -> None:
    # Only the read is short: a loaded machine must not turn it into a ConnectTimeout.
    timeout = Timeout(10.0, read=0.2)
    with pytest.raises(ReadTimeout) as info:
        runner.send("GET", uvicorn_server.url + "/delay/2", client={"timeout": timeout})
    assert info.value.request.url.path == "/delay/2"


def test_connect_error_carries_the_request(runner: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: the connection is refused
        with pytest.raises(ConnectError) as info:
            runner.send("GET", f"http://127.0.0.1:{port}/x")
    assert str(info.value.request.url) == f"http://127.0.0.1:{port}/x"


def test_errors_from_a_transport_get_the_request(runner: Any) -> None:
    def failing(request: Request) -> Response:
        raise RequestError("boom")

    with pytest.raises(RequestError) as info:
        runner.send("GET", "http://a/x", client={"transport": MockTransport(failing)})
    assert str(info.value.request.url) == "http://a/x"


# --- auth ---------------------------------------------------------------------------------------


def test_basic_auth_tuple_at_client_and_request(runner: Any, uvicorn_server: Any) -> None:
    url = uvicorn_server.url + "/basic-auth/user/pw"
    calls = [
        ("GET", url, {}),
        ("GET", url, {"auth": ("user", "wrong")}),
        ("GET", url, {"auth": None}),
    ]
    statuses = [r.status_code for r in runner.session(calls, auth=("user", "pw"))]
    # auth=None per request disables the client's auth, as in httpx.
    assert statuses == [200, 401, 401]


def test_credentials_in_the_url_mean_basic_auth(runner: Any, uvicorn_server: Any) -> None:
    url = uvicorn_server.url.replace("http://", "http://user:pw@") + "/basic-auth/user/pw"
    assert runner.send("GET", url).json() == {"user": "user"}


def test_callable_and_custom_auth(runner: Any) -> None:
    def add_token(request: Request) -> Request:
        request.headers["Authorization"] = "Token abc"
        return request

    class HeaderAuth(Auth):
        def auth_flow(self, request: Request) -> Any:
            request.headers["X-Auth"] = "custom"
            yield request

    transport = MockTransport(echo_handler)
    first, second = runner.session(
        [("GET", "http://a/", {}), ("GET", "http://a/", {"auth": HeaderAuth()})],
        transport=transport,
        auth=add_token,
    )
    assert first.json()["headers"]["authorization"] == "Token abc"
    assert second.json()["headers"]["x-auth"] == "custom"
    assert "authorization" not in second.json()["headers"]


def test_invalid_auth_is_a_type_error() -> None:
    with pytest.raises(TypeError, match='Invalid "auth" argument: 123'):
        Client(auth=123)  # type: ignore[arg-type]


def test_digest_auth_against_a_real_challenge(runner: Any, uvicorn_server: Any) -> None:
    url = uvicorn_server.url + "/digest-auth/user/secret"
    response = runner.send("GET", url, auth=DigestAuth("user", "secret"))
    assert response.status_code == 200
    assert response.json() == {"user": "user"}
    assert [r.status_code for r in response.history] == [401]
    failed = runner.send("GET", url, auth=DigestAuth("user", "nope"))
    assert failed.status_code == 401


def test_auth_overriding_sync_and_async_flows_is_driven(runner: Any) -> None:
    class Tracking(Auth):
        def sync_auth_flow(self, request: Request) -> Any:
            request.headers["X-Flow"] = "sync"
            yield request

        async def async_auth_flow(self, request: Request) -> Any:
            request.headers["X-Flow"] = "async"
            yield request

    response = runner.send(
        "GET", "http://a/", client={"transport": MockTransport(echo_handler)}, auth=Tracking()
    )
    assert response.json()["headers"]["x-flow"] == ("async" if runner.is_async else "sync")


# --- cookies ------------------------------------------------------------------------------------


def test_cookies_persist_across_a_login_flow(runner: Any, uvicorn_server: Any) -> None:
    calls = [
        ("GET", uvicorn_server.url + "/set-cookie?session=abc&theme=dark", {}),
        ("GET", uvicorn_server.url + "/cookies", {}),
    ]
    login, check = runner.session(calls, cookies={"preset": "1"})
    assert login.cookies["session"] == "abc"
    assert check.json() == {"preset": "1", "session": "abc", "theme": "dark"}


# --- event hooks --------------------------------------------------------------------------------


def test_event_hooks_see_request_then_response_before_body(
    runner: Any, uvicorn_server: Any
) -> None:
    seen: list[Any] = []

    def on_request(request: Request) -> None:
        seen.append(("request", request.method, request.url.path))

    def on_response(response: Response) -> None:
        seen.append(("response", response.status_code, response.is_stream_consumed))

    hooks = {"request": [runner.hook(on_request)], "response": [runner.hook(on_response)]}
    runner.send(
        "GET",
        uvicorn_server.url + "/redirect/302?to=/json",
        client={"event_hooks": hooks, "follow_redirects": True},
    )
    assert seen == [
        ("request", "GET", "/redirect/302"),
        ("response", 302, False),
        ("request", "GET", "/json"),
        ("response", 200, False),
    ]


def test_hook_exceptions_propagate(runner: Any) -> None:
    def explode(response: Response) -> None:
        raise ValueError("hook says no")

    hooks = {"response": [runner.hook(explode)]}
    with pytest.raises(ValueError, match="hook says no"):
        runner.send(
            "GET",
            "http://a/",
            client={"transport": MockTransport(echo_handler), "event_hooks": hooks},
        )


# --- mounts -------------------------------------------------------------------------------------


def _tagged(tag: str) -> MockTransport:
    return MockTransport(lambda request: Response(200, text=tag))


def test_mounts_route_by_pattern(runner: Any) -> None:
    mounts = {
        "all://": _tagged("all"),
        "https://": _tagged("https"),
        "all://*.example.com": _tagged("subdomain"),
        "all://example.com:1234": _tagged("port"),
        "http://skip.example.com": None,
    }
    calls = [
        ("GET", url, {})
        for url in (
            "http://plain.org/",
            "https://plain.org/",
            "https://www.example.com/",
            "http://example.com:1234/",
            "http://skip.example.com/",
        )
    ]
    responses = runner.session(calls, mounts=mounts, transport=_tagged("default"))
    assert [r.text for r in responses] == ["all", "https", "subdomain", "port", "default"]


# --- misc ---------------------------------------------------------------------------------------


def test_method_shortcuts_send_their_method(runner: Any) -> None:
    def script(client: Any) -> Any:
        calls = [
            client.get("http://a/"),
            client.options("http://a/"),
            client.head("http://a/"),
            client.delete("http://a/"),
            client.post("http://a/", content=b"p"),
            client.put("http://a/", data={"k": "v"}),
            client.patch("http://a/", json={"j": 1}),
        ]
        if not runner.is_async:
            return calls

        async def gather() -> list[Response]:
            return [await call for call in calls]

        return gather()

    responses = runner.with_client(script, transport=MockTransport(echo_handler))
    methods = [r.json()["method"] if r.request.method != "HEAD" else "HEAD" for r in responses]
    assert methods == ["GET", "OPTIONS", "HEAD", "DELETE", "POST", "PUT", "PATCH"]
    bodies = [r.json()["body"] for r in responses if r.request.method in ("POST", "PUT", "PATCH")]
    assert bodies == ["p", "k=v", json.dumps({"j": 1}, separators=(",", ":"))]


def test_async_shortcuts_build_when_awaited(async_runner: Any) -> None:
    """`AsyncClient.get(...)` builds its request when the coroutine runs, as httpx's does: a
    bad URL raises at the `await`, not at the call; the per-request cookies warning names the
    caller's line."""

    async def main() -> Response:
        async with AsyncClient(transport=MockTransport(echo_handler)) as client:
            call = client.get("http://[::1/")  # (no error yet)
            with pytest.raises(InvalidURL):
                await call
            with pytest.warns(DeprecationWarning, match="per-request cookies") as warned:
                response = await client.post("http://a/", content=b"x", cookies={"c": "1"})
            assert [w.filename for w in warned] == [__file__]
            return response

    response = async_runner.run(main)
    assert response.json()["headers"]["cookie"] == "c=1"
    assert response.json()["body"] == "x"


def test_async_shortcuts_go_through_a_replaced_request_or_send(async_runner: Any) -> None:
    """A subclass's `request`, or a `send` patched on the instance, sees every shortcut's
    call with a built `Request`, as in httpx (whose shortcuts call `request`, which calls
    `send`)."""
    seen: list[tuple[str, str]] = []

    class Recording(AsyncClient):
        async def request(self, method: str, url: Any, **kwargs: Any) -> Response:
            seen.append(("request", method))
            return await super().request(method, url, **kwargs)

    async def main() -> None:
        async with Recording(transport=MockTransport(echo_handler)) as client:
            assert (await client.get("http://a/")).json()["method"] == "GET"
        async with AsyncClient(transport=MockTransport(echo_handler)) as client:
            send = client.send

            async def spy(request: Any, **kwargs: Any) -> Response:
                seen.append(("send", type(request).__name__))
                return await send(request, **kwargs)

            client.send = spy  # type: ignore[method-assign]
            assert (await client.delete("http://a/")).json()["method"] == "DELETE"

    async_runner.run(main)
    assert seen == [("request", "GET"), ("send", "Request")]


# Keyword arguments httplib adds to httpx's (each with a default that keeps httpx's behaviour).
HTTPLIB_ONLY = {"__init__": {"max_content_size", "retries", "rate_limit", "circuit_breaker"}}


def test_signatures_match_httpx() -> None:
    import inspect

    for ours, theirs in ((Client, httpx.Client), (AsyncClient, httpx.AsyncClient)):
        for name in ("request", "stream", "send", "build_request", "get", "options", "head",
                     "post", "put", "patch", "delete", "__init__"):  # fmt: skip
            our_params = set(inspect.signature(getattr(ours, name)).parameters)
            their_params = set(inspect.signature(getattr(theirs, name)).parameters)
            assert our_params - HTTPLIB_ONLY.get(name, set()) == their_params, name


# --- in-process apps ----------------------------------------------------------------------------


def test_async_client_over_asgi_transport_runs_the_whole_flow(async_runner: Any) -> None:
    from httplib._transports.asgi import ASGITransport
    from servers.app import app

    async def main() -> Response:
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            await client.get("/set-cookie?sid=7")
            return await client.get("/redirect/302?to=/cookies", follow_redirects=True)

    response = async_runner.run(main)
    assert response.json() == {"sid": "7"}
    assert [r.status_code for r in response.history] == [302]


def test_client_over_wsgi_transport() -> None:
    from httplib._transports.wsgi import WSGITransport

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode(), b"?", environ["QUERY_STRING"].encode()]

    with Client(transport=WSGITransport(app=wsgi_app), params={"p": "1"}) as client:
        assert client.get("http://testserver/path").text == "/path?p=1"


def test_a_transport_method_patched_on_the_class_is_honoured(
    monkeypatch: pytest.MonkeyPatch, uvicorn_server: Any
) -> None:
    """The async client reaches its pooled transport's driver directly (a waiting request holds
    one frame less), unless `handle_async_request` was replaced, as pytest-httpx and other
    mocking tools do on the class: then the replacement answers."""
    seen: list[str] = []

    async def patched(self: AsyncHTTPTransport, request: Request) -> Response:
        seen.append(str(request.url))
        return Response(299, request=request)

    async def main() -> None:
        async with AsyncClient() as client:
            assert (await client.get(f"{uvicorn_server.url}/json")).status_code == 200
            monkeypatch.setattr(AsyncHTTPTransport, "handle_async_request", patched)
            assert (await client.get(f"{uvicorn_server.url}/x")).status_code == 299

    asyncio.run(main())
    assert seen == [f"{uvicorn_server.url}/x"]
