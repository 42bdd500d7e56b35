"""Redirects through both clients against loopback servers: methods, bodies, limits, stripping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from httplib._client import AsyncClient, Client
from httplib._exceptions import (
    RemoteProtocolError,
    StreamConsumed,
    TooManyRedirects,
    UnsupportedProtocol,
)
from httplib._models import Request, Response
from httplib._transports.mock import MockTransport

pytestmark = pytest.mark.network


def redirect(base: str, code: int, to: str) -> str:
    return f"{base}/redirect/{code}?to={quote(to, safe='')}"


def echoed_headers(response: Response) -> dict[str, str]:
    return dict(response.json()["headers"])


SECRETS = {
    "Authorization": "Bearer secret",
    "Proxy-Authorization": "Basic cHJveHk=",
    "Cookie": "hand=1",
}


@pytest.mark.parametrize(
    ("code", "method", "expected_method", "keeps_body"),
    [
        (301, "POST", "GET", False),
        (301, "PUT", "PUT", True),
        (302, "POST", "GET", False),
        (302, "PUT", "GET", False),
        (303, "POST", "GET", False),
        (303, "HEAD", "HEAD", False),
        (307, "POST", "POST", True),
        (308, "PUT", "PUT", True),
    ],
)
def test_method_and_body_per_status(
    runner: Any, uvicorn_server: Any, code: int, method: str, expected_method: str, keeps_body: bool
) -> None:
    url = redirect(uvicorn_server.url, code, "/echo")
    response = runner.send(method, url, client={"follow_redirects": True}, content=b"payload")
    assert [r.status_code for r in response.history] == [code]
    assert response.request.method == expected_method
    if expected_method == "HEAD":
        return
    echo = response.json()
    assert echo["method"] == expected_method
    assert echo["body"] == ("payload" if keeps_body else "")
    assert ("content-length" in echoed_headers(response)) is keeps_body


def test_redirects_are_not_followed_by_default(runner: Any, uvicorn_server: Any) -> None:
    url = redirect(uvicorn_server.url, 302, "/json")
    response = runner.send("GET", url)
    assert response.status_code == 302
    assert response.next_request is not None
    assert response.next_request.url == uvicorn_server.url + "/json"

    def script(client: Any) -> Any:
        return client.send(response.next_request)

    assert runner.with_client(script).json()["name"] == "httplib"


def test_per_request_follow_redirects_overrides_the_client(
    runner: Any, uvicorn_server: Any
) -> None:
    url = redirect(uvicorn_server.url, 302, "/json")
    calls = [("GET", url, {}), ("GET", url, {"follow_redirects": False})]
    followed, stopped = runner.session(calls, follow_redirects=True)
    assert followed.status_code == 200
    assert stopped.status_code == 302


def test_three_hops_keep_history_in_order(
    runner: Any, uvicorn_server: Any, hypercorn_server: Any
) -> None:
    other_host = uvicorn_server.url.replace("127.0.0.1", "localhost")
    last = redirect(other_host, 308, "/echo")
    middle = redirect(hypercorn_server.url, 307, last)
    first = redirect(uvicorn_server.url, 302, middle)
    response = runner.send("GET", first, client={"follow_redirects": True}, headers=SECRETS)
    assert [r.status_code for r in response.history] == [302, 307, 308]
    assert [str(r.url) for r in response.history] == [first, middle, last]
    assert [len(r.history) for r in response.history] == [0, 1, 2]
    headers = echoed_headers(response)
    assert not {"authorization", "proxy-authorization", "cookie"} & set(headers)
    assert headers["host"] == other_host.removeprefix("http://")


def test_too_many_redirects(runner: Any, uvicorn_server: Any) -> None:
    url = redirect(uvicorn_server.url, 302, redirect(uvicorn_server.url, 302, "/echo"))
    with pytest.raises(
        TooManyRedirects, match=re.escape("Exceeded maximum allowed redirects.")
    ) as info:
        runner.send("GET", url, client={"follow_redirects": True, "max_redirects": 1})
    assert info.value.request.url.path == "/echo"
    ok = runner.send("GET", url, client={"follow_redirects": True, "max_redirects": 2})
    assert ok.status_code == 200


def test_a_redirect_loop_stops_at_twenty(runner: Any) -> None:
    count = 0

    def loop(request: Request) -> Response:
        nonlocal count
        count += 1
        return Response(302, headers={"location": "/again"})

    with pytest.raises(TooManyRedirects):
        runner.send(
            "GET", "http://a/", client={"transport": MockTransport(loop), "follow_redirects": True}
        )
    assert count == 21  # httpx too sends the original request and 20 redirects


# --- the stripping matrix -----------------------------------------------------------------------


def _cross_origin_headers(
    runner: Any, start: str, target: str, client: dict[str, Any]
) -> dict[str, str]:
    response = runner.send(
        "GET",
        redirect(start, 302, target),
        client={"follow_redirects": True, **client},
        headers=SECRETS,
    )
    assert response.history[0].status_code == 302
    return echoed_headers(response)


def test_same_origin_keeps_credentials_but_not_a_hand_set_cookie(
    runner: Any, uvicorn_server: Any
) -> None:
    headers = _cross_origin_headers(runner, uvicorn_server.url, "/echo", {})
    assert headers["authorization"] == "Bearer secret"
    assert headers["proxy-authorization"] == "Basic cHJveHk="
    assert "cookie" not in headers  # the jar is empty; hand-set cookies never follow


def test_different_host_strips_credentials(runner: Any, uvicorn_server: Any) -> None:
    target = uvicorn_server.url.replace("127.0.0.1", "localhost") + "/echo"
    headers = _cross_origin_headers(runner, uvicorn_server.url, target, {})
    assert not {"authorization", "proxy-authorization", "cookie"} & set(headers)


def test_different_port_strips_credentials(
    runner: Any, uvicorn_server: Any, hypercorn_server: Any
) -> None:
    headers = _cross_origin_headers(runner, uvicorn_server.url, hypercorn_server.url + "/echo", {})
    assert not {"authorization", "proxy-authorization", "cookie"} & set(headers)


def test_https_to_http_strips_credentials(
    runner: Any, uvicorn_tls_server: Any, uvicorn_server: Any, client_ssl_context: Any
) -> None:
    target = uvicorn_server.url + "/echo"
    headers = _cross_origin_headers(
        runner, uvicorn_tls_server.url, target, {"verify": client_ssl_context}
    )
    assert not {"authorization", "proxy-authorization", "cookie"} & set(headers)


def test_jar_cookies_follow_by_domain(runner: Any, uvicorn_server: Any) -> None:
    other_host = uvicorn_server.url.replace("127.0.0.1", "localhost")
    calls = [
        ("GET", uvicorn_server.url + "/set-cookie?session=s1", {}),
        ("GET", redirect(uvicorn_server.url, 302, "/cookies"), {}),
        ("GET", redirect(uvicorn_server.url, 302, other_host + "/cookies"), {}),
    ]
    _, same, other = runner.session(calls, follow_redirects=True)
    assert same.json() == {"session": "s1"}
    assert other.json() == {}


def test_cookie_set_by_the_redirect_is_sent_to_the_target(runner: Any) -> None:
    def handler(request: Request) -> Response:
        if request.url.path == "/login":
            return Response(303, headers={"location": "/home", "set-cookie": "sid=42; Path=/"})
        return Response(200, text=request.headers.get("cookie", ""))

    response = runner.send(
        "POST",
        "http://a/login",
        client={"transport": MockTransport(handler), "follow_redirects": True},
    )
    assert response.text == "sid=42"


# --- odd locations and bodies -------------------------------------------------------------------


def test_redirect_to_another_scheme_is_unsupported(runner: Any, uvicorn_server: Any) -> None:
    url = redirect(uvicorn_server.url, 302, "ftp://127.0.0.1/file")
    with pytest.raises(
        UnsupportedProtocol, match=re.escape("Request URL has an unsupported protocol 'ftp://'.")
    ):
        runner.send("GET", url, client={"follow_redirects": True})


def test_invalid_location_is_a_remote_protocol_error(runner: Any) -> None:
    transport = MockTransport(lambda request: Response(302, headers={"location": "http://a:bad/"}))
    with pytest.raises(RemoteProtocolError, match="Invalid URL in location header") as info:
        runner.send("GET", "http://a/", client={"transport": transport})
    assert str(info.value.request.url) == "http://a/"


def test_relative_and_protocol_relative_locations(runner: Any, uvicorn_server: Any) -> None:
    host_port = uvicorn_server.url.removeprefix("http://")
    relative = runner.send(
        "GET", redirect(uvicorn_server.url, 302, "../json"), client={"follow_redirects": True}
    )
    assert relative.url == uvicorn_server.url + "/json"
    protocol_relative = runner.send(
        "GET",
        redirect(uvicorn_server.url, 302, f"//{host_port}/json"),
        client={"follow_redirects": True},
    )
    assert protocol_relative.json()["name"] == "httplib"


def test_fragment_is_kept_across_the_redirect(runner: Any, uvicorn_server: Any) -> None:
    url = redirect(uvicorn_server.url, 302, "/json") + "#section"
    response = runner.send("GET", url)
    assert response.next_request is not None
    assert response.next_request.url.fragment == "section"


def test_307_cannot_replay_a_one_shot_stream(runner: Any, uvicorn_server: Any) -> None:
    url = redirect(uvicorn_server.url, 307, "/echo")
    if runner.is_async:

        async def agen() -> AsyncIterator[bytes]:
            yield b"once"

        async def main() -> None:
            async with AsyncClient(follow_redirects=True) as client:
                await client.post(url, content=agen())

        with pytest.raises(StreamConsumed):
            runner.run(main)
        return

    def gen() -> Iterator[bytes]:
        yield b"once"

    with Client(follow_redirects=True) as client, pytest.raises(StreamConsumed):
        client.post(url, content=gen())


def test_307_replays_a_replayable_body(runner: Any, uvicorn_server: Any) -> None:
    url = redirect(uvicorn_server.url, 307, "/echo")
    response = runner.send("POST", url, client={"follow_redirects": True}, json={"k": "v"})
    assert response.json()["body"] == '{"k":"v"}'
