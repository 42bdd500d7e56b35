"""Hostile redirects, end to end for Client and AsyncClient on every runtime.

Redirect bodies (bombs, garbage, endless), Locations a server must not be able to send us to,
malformed Locations, the body headers of a request turned into a GET, and the credential
stripping matrix (catalogue sections 2.A, 2.B, 2.E #29, 2.G #40 and 3.G).
"""

from __future__ import annotations

import gzip
import socket
from typing import Any

import pytest

from faults.conftest import Fault, assert_pool_clean
from faults.routes import RoutedServer, redirect_to, routed_server
from httplib._core.redirects import MAX_REDIRECT_BODY
from httplib._exceptions import (
    RemoteProtocolError,
    ResponseNotRead,
    TooManyRedirects,
    UnsupportedProtocol,
)
from servers.raw import read_until

pytestmark = pytest.mark.network

FOLLOW = {"follow_redirects": True}


def _get(fault: Fault, url: str, client: dict[str, Any] | None = None, **request: Any) -> Any:
    """One request through a fresh client; the pool must be clean afterwards."""

    def sync_script(c: Any) -> Any:
        response = c.request(request.pop("method", "GET"), url, **request)
        assert_pool_clean(c)
        return response

    async def async_script(c: Any) -> Any:
        response = await c.request(request.pop("method", "GET"), url, **request)
        assert_pool_clean(c)
        return response

    return fault.with_client(async_script if fault.is_async else sync_script, **(client or {}))


# --- redirect bodies ---------------------------------------------------------------------------

BOMB = gzip.compress(bytes(16 * 1024 * 1024), compresslevel=9)  # 16 MiB of zeros in ~16 KB


def test_a_redirect_body_is_never_decoded(fault: Fault) -> None:
    # A gzip bomb on the first hop, bytes that are not gzip at all on the second: following
    # must neither inflate the one nor fail on the other (urllib3's CVE-2026-21441).
    gz = b"Content-Encoding: gzip\r\n"
    routes = {
        "/bomb": redirect_to("/garbage", body=BOMB, headers=gz),
        "/garbage": redirect_to("/ok", body=b"not gzip!", headers=gz),
    }
    with routed_server(routes) as server:
        response = _get(fault, server.url + "/bomb", client=FOLLOW)
    assert response.content == b"ok"
    assert [r.status_code for r in response.history] == [302, 302]
    for hop in response.history:
        assert hop.is_closed
        with pytest.raises(ResponseNotRead):
            hop.content  # noqa: B018 - never decoded, so never read as content
    assert response.history[0].num_bytes_downloaded == len(BOMB)


def test_an_identity_redirect_body_is_kept_as_content(fault: Fault) -> None:
    note = b"<a href='/ok'>moved</a>"
    with routed_server({"/r": redirect_to("/ok", body=note)}) as server:
        response = _get(fault, server.url + "/r", client=FOLLOW)
    assert response.history[0].content == note  # as httpx keeps it


def _endless_redirect(chunked: bool) -> Any:
    def reply(conn: socket.socket) -> None:
        if chunked:
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            piece = b"%x\r\n%s\r\n" % (16384, b"x" * 16384)
            for _ in range(4 * MAX_REDIRECT_BODY // 16384):  # four times the cap, then wait
                conn.sendall(piece)
        else:
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 1000000000\r\n\r\n"
                + b"x" * 1000
            )
        read_until(conn, b"never sent")  # until the client closes: reading on would hang

    return reply


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_redirect_body_past_the_cap_closes_the_connection(fault: Fault, chunked: bool) -> None:
    with routed_server({"/long": _endless_redirect(chunked)}) as server:
        response = _get(fault, server.url + "/long", client=FOLLOW)
        seen = list(server.seen)
    assert response.content == b"ok"
    assert [r.path for r in seen] == ["/long", "/ok"]
    assert seen[0].connection != seen[1].connection  # the first was closed, not drained


# --- where a Location may send us --------------------------------------------------------------

UNSUPPORTED = {
    "data:text/html,<script>alert(1)</script>": "data",
    "javascript:alert(document.cookie)": "javascript",
    "ws://127.0.0.1:{port}/socket": "ws",
    "wss://127.0.0.1:{port}/socket": "wss",
    "file:///etc/passwd": "file",
    "ftp://127.0.0.1:{port}/file": "ftp",
    "gopher://127.0.0.1:{port}/_GET": "gopher",
    "  JavaScript:alert(1)": "javascript",
}


def _serve_locations(server: RoutedServer, routes: dict[str, Any], locations: list[str]) -> None:
    """Routes /0, /1, ... each redirecting to one of `locations` ({port}: the server's own)."""
    for i, location in enumerate(locations):
        routes[f"/{i}"] = redirect_to(location.format(port=server.port))


def test_only_http_and_https_locations_are_followed(fault: Fault) -> None:
    locations = list(UNSUPPORTED)
    routes: dict[str, Any] = {}
    with routed_server(routes) as server:
        _serve_locations(server, routes, locations)
        for i, location in enumerate(locations):
            exc = fault.expect(
                UnsupportedProtocol, f"{server.url}/{i}", client=FOLLOW, then=server.url + "/ok"
            )
            scheme = UNSUPPORTED[location]
            assert f"unsupported protocol '{scheme}://'" in str(exc), location
            assert str(exc.request.url) == f"{server.url}/{i}"  # type: ignore[attr-defined]
        # Nothing but the redirects and the next requests reached the server (ws:// is the same
        # address: it was never dialled as HTTP).
        assert {r.path for r in server.seen} == {*(f"/{i}" for i in range(len(locations))), "/ok"}


def test_malformed_locations_are_remote_protocol_errors(fault: Fault) -> None:
    locations = ["http://[::1", "http://127.0.0.1:99999/", "http://127.0.0.1:0/", "http:ok"]
    routes: dict[str, Any] = {}
    with routed_server(routes) as server:
        _serve_locations(server, routes, locations)
        for i, location in enumerate(locations):
            exc = fault.expect(
                RemoteProtocolError, f"{server.url}/{i}", client=FOLLOW, then=server.url + "/ok"
            )
            assert "Invalid URL in location header" in str(exc), location


def test_a_location_without_a_host_keeps_the_current_host(fault: Fault) -> None:
    # httpx's handling of `https://:443/`-style Locations (encode/httpx#771), and curl's.
    routes: dict[str, Any] = {}
    with routed_server(routes) as server:
        _serve_locations(server, routes, ["http://:{port}/ok"])
        response = _get(fault, server.url + "/0", client=FOLLOW)
    assert response.url == server.url + "/ok"


def test_odd_but_valid_locations_are_followed(fault: Fault) -> None:
    long_path = "/ok/" + "a" * 8000
    routes = {"/utf8": redirect_to("/ok/caf\u00e9"), "/long": redirect_to(long_path)}
    with routed_server(routes) as server:
        routes["/upper"] = redirect_to(f"HTTP://127.0.0.1:{server.port}/ok")
        urls = [server.url + path for path in ("/utf8", "/long", "/upper")]

        def sync_script(c: Any) -> list[str]:
            return [c.get(url).request.url.raw_path.decode() for url in urls]

        async def async_script(c: Any) -> list[str]:
            return [(await c.get(url)).request.url.raw_path.decode() for url in urls]

        paths = fault.with_client(async_script if fault.is_async else sync_script, **FOLLOW)
    assert paths == ["/ok/caf%C3%A9", long_path, "/ok"]


def test_redirect_limits_hold_for_every_request(fault: Fault) -> None:
    # urllib3's CVE-2025-50181: a client-level "no redirects" must hold; the target is never
    # dialled.
    with routed_server({"/r": redirect_to("/target"), "/loop": redirect_to("/loop")}) as server:
        fault.expect(TooManyRedirects, server.url + "/r", client={**FOLLOW, "max_redirects": 0})
        not_followed = _get(fault, server.url + "/r")
        fault.expect(TooManyRedirects, server.url + "/loop", client={**FOLLOW, "max_redirects": 3})
        paths = server.paths()
    assert not_followed.status_code == 302
    assert "/target" not in paths
    assert paths.count("/loop") == 4  # the request and three redirects


def test_a_redirect_status_without_location_is_the_response(fault: Fault) -> None:
    reply = b"HTTP/1.1 302 Found\r\nContent-Length: 2\r\n\r\nno"
    with routed_server({"/r": reply}) as server:
        response = _get(fault, server.url + "/r", client=FOLLOW)
    assert response.status_code == 302
    assert response.content == b"no"


# --- method and body ---------------------------------------------------------------------------

BODY_HEADERS = {
    "Content-Type": "application/json",
    "Content-Language": "en",
    "Content-Encoding": "identity",
    "Content-Location": "/doc",
    "Digest": "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "Content-Digest": "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
}


def test_a_post_turned_get_drops_its_body_and_every_body_header(fault: Fault) -> None:
    # urllib3's CVE-2023-45803 (303), and 301/302 after a POST as browsers do them.
    routes = {f"/{code}": redirect_to("/target", code) for code in (301, 302, 303)}
    routes["/307"] = redirect_to("/target", 307)
    with routed_server(routes) as server:
        for code in (301, 302, 303, 307):
            _get(
                fault,
                f"{server.url}/{code}",
                client=FOLLOW,
                method="POST",
                content=b'{"secret": 1}',
                headers=BODY_HEADERS,
            )
        targets = [r for r in server.seen if r.path == "/target"]
    assert [r.method for r in targets] == ["GET", "GET", "GET", "POST"]
    for request in targets[:3]:
        assert request.body == b""
        names = {name.lower() for name, _ in request.headers}
        assert not names & {h.lower() for h in BODY_HEADERS}, names
        assert not names & {"content-length", "transfer-encoding"}, names
    kept = targets[3]
    assert kept.body == b'{"secret": 1}'
    assert kept.header("Content-Type") == ["application/json"]


# --- the credential stripping matrix (catalogue 2.A) -------------------------------------------

SECRETS = {"Authorization": "Bearer secret", "Proxy-Authorization": "Basic cHJveHk="}
SECRET_NAMES = {"authorization", "proxy-authorization", "cookie"}


def _target_headers(server: RoutedServer, path: str = "/target") -> set[str]:
    requests = [r for r in server.seen if r.path == path]
    assert len(requests) == 1, server.paths()
    return {name.lower() for name, _ in requests[0].headers}


def test_credentials_stay_on_the_same_origin_but_a_hand_set_cookie_does_not(
    fault: Fault,
) -> None:
    with routed_server({"/r": redirect_to("/target")}) as server:
        _get(fault, server.url + "/r", client=FOLLOW, headers={**SECRETS, "Cookie": "hand=1"})
        target = next(r for r in server.seen if r.path == "/target")
    assert target.header("Authorization") == ["Bearer secret"]
    assert target.header("Proxy-Authorization") == ["Basic cHJveHk="]
    assert target.header("Cookie") == []


@pytest.mark.parametrize("change", ["port", "host"])
def test_a_change_of_origin_strips_every_credential(fault: Fault, change: str) -> None:
    with routed_server({}) as other:
        target = other.url + "/target"
        if change == "host":
            target = target.replace("127.0.0.1", "localhost")
        with routed_server({"/r": redirect_to(target)}) as server:
            # Each credential twice (aiohttp #13180 dropped only the first), per-request
            # cookies (aiohttp #12550), Basic auth from `auth=`.
            headers = [*SECRETS.items(), *SECRETS.items(), ("Cookie", "hand=1")]
            with pytest.warns(DeprecationWarning, match="per-request cookies"):
                _get(
                    fault,
                    server.url + "/r",
                    client=FOLLOW,
                    headers=headers,
                    cookies={"session": "s1"},
                )
            _get(fault, server.url + "/r", client={**FOLLOW, "auth": ("user", "pass")})
            userinfo_url = server.url.replace("://", "://user:pass@") + "/r"
            _get(fault, userinfo_url, client=FOLLOW)
        targets = [r for r in other.seen if r.path == "/target"]
    assert len(targets) == 3
    for request in targets:
        names = {name.lower() for name, _ in request.headers}
        assert not names & SECRET_NAMES, names


def test_stripped_credentials_never_return_on_a_later_hop(fault: Fault) -> None:
    # Go's CVE-2024-45336: a -> b dropped them, b -> a restored them.
    home_routes: dict[str, Any] = {}
    away_routes: dict[str, Any] = {}
    with routed_server(home_routes) as home, routed_server(away_routes) as away:
        home_routes["/r"] = redirect_to(away.url + "/away")
        away_routes["/away"] = redirect_to(home.url + "/target")
        response = _get(fault, home.url + "/r", client=FOLLOW, headers=SECRETS)
        names = _target_headers(home)
    assert len(response.history) == 2
    assert not names & SECRET_NAMES, names
