"""The redirect policy as pure functions: the credential matrix rows loopback servers cannot
reach (default ports, https), body headers, Locations; and memory bounds with tracemalloc."""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Iterator

import pytest

from httplib._client import Client
from httplib._cookies import Cookies
from httplib._core.redirects import MAX_REDIRECT_BODY, build_redirect_request, redirect_url
from httplib._exceptions import ContentTooLarge, RemoteProtocolError, UnsupportedProtocol
from httplib._models import Request, Response
from httplib._transports.mock import MockTransport
from httplib._types import SyncByteStream

CREDENTIALS = [("Authorization", "Bearer a"), ("Proxy-Authorization", "Basic b")]


def _next(url: str, location: str, status: int = 302, method: str = "GET") -> Request:
    request = Request(method, url, headers=[*CREDENTIALS, ("Cookie", "hand=1")])
    response = Response(status, headers={"Location": location}, request=request)
    return build_redirect_request(request, response, Cookies())


@pytest.mark.parametrize(
    ("start", "location", "keeps"),
    [
        ("https://h/a", "/b", True),  # same origin
        ("https://h/a", "https://h:443/b", True),  # the default port spelled out
        ("http://h/a", "https://h/b", True),  # the upgrade httpx allows
        ("http://h:80/a", "https://h:443/b", True),
        ("http://h/a", "https://h:8443/b", False),  # upgrade with a port change
        ("http://h:8080/a", "https://h/b", False),
        ("https://h/a", "http://h/b", False),  # downgrade: requests' CVE-2018-18074
        ("https://h:443/a", "http://h:443/b", False),
        ("https://h/a", "https://other/b", False),  # host
        ("https://h/a", "https://h.evil/b", False),
        ("https://sub.h/a", "https://h/b", False),
        ("https://h/a", "https://h:444/b", False),  # port
        ("http://h/a", "ftp://h/b", None),  # never followed at all
    ],
)
def test_credential_matrix(start: str, location: str, keeps: bool | None) -> None:
    if keeps is None:
        with pytest.raises(UnsupportedProtocol):
            _next(start, location)
        return
    headers = _next(start, location).headers
    for name, value in CREDENTIALS:
        assert headers.get_list(name) == ([value] if keeps else []), (name, start, location)
    assert "Cookie" not in headers  # always rebuilt from the jar


def test_duplicated_credentials_are_all_dropped() -> None:
    request = Request("GET", "https://h/", headers=CREDENTIALS * 2)
    response = Response(302, headers={"Location": "https://other/"}, request=request)
    headers = build_redirect_request(request, response, Cookies()).headers
    assert not {"authorization", "proxy-authorization"} & {k.lower() for k in headers}


@pytest.mark.parametrize(
    ("status", "method", "new_method"),
    [(301, "POST", "GET"), (302, "POST", "GET"), (302, "PUT", "GET"), (303, "PUT", "GET")],
)
def test_a_request_turned_get_has_no_body_and_no_body_headers(
    status: int, method: str, new_method: str
) -> None:
    request = Request(
        method,
        "https://h/",
        content=b"{}",
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "identity",
            "Content-Language": "en",
            "Content-Location": "/x",
            "Digest": "sha-256=x",
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            "X-Kept": "1",
        },
    )
    response = Response(status, headers={"Location": "/next"}, request=request)
    follow = build_redirect_request(request, response, Cookies())
    assert follow.method == new_method
    assert follow.stream is not request.stream
    assert {k.lower() for k in follow.headers} == {"host", "x-kept"}


def test_307_keeps_the_body_and_its_headers() -> None:
    request = Request("POST", "https://h/", content=b"{}", headers={"Content-Type": "a/b"})
    response = Response(307, headers={"Location": "/next"}, request=request)
    follow = build_redirect_request(request, response, Cookies())
    assert follow.stream is request.stream
    assert follow.headers["Content-Type"] == "a/b"
    assert follow.headers["Content-Length"] == "2"


@pytest.mark.parametrize(
    ("start", "location", "expected"),
    [
        ("https://h:8443/a#frag", "/b", "https://h:8443/b#frag"),
        ("https://h/a", "//other/b", "https://other/b"),
        ("https://h:8443/a", "https://:8443/b", "https://h:8443/b"),  # encode/httpx#771
        ("https://h/a", "http:///b", "http://h/b"),
        ("https://h/a", "HTTPS://h/b", "https://h/b"),
    ],
)
def test_redirect_url_resolution(start: str, location: str, expected: str) -> None:
    request = Request("GET", start)
    assert str(redirect_url(request, Response(302, headers={"Location": location}))) == expected


@pytest.mark.parametrize(
    ("location", "error"),
    [
        ("data:text/plain,x", UnsupportedProtocol),
        ("JaVaScRiPt:alert(1)", UnsupportedProtocol),
        ("\tjavascript:alert(1)", UnsupportedProtocol),
        ("wss://h/", UnsupportedProtocol),
        ("localhost:8080/x", UnsupportedProtocol),  # RFC 3986: "localhost" is the scheme
        ("http://[::1", RemoteProtocolError),
        ("http://h:65536/", RemoteProtocolError),
    ],
)
def test_locations_that_are_refused(location: str, error: type[Exception]) -> None:
    request = Request("GET", "https://h/")
    with pytest.raises(error) as info:
        redirect_url(request, Response(302, headers={"Location": location}))
    assert info.value.request is request  # type: ignore[attr-defined]


def test_a_relative_location_under_a_ws_request_is_not_followed() -> None:
    request = Request("GET", "ws://h/a")
    with pytest.raises(UnsupportedProtocol, match="'ws://'"):
        redirect_url(request, Response(302, headers={"Location": "/b"}))


# --- memory: what the user never asked for stays out of memory -----------------------------------


class _Chunks(SyncByteStream):
    def __init__(self, body: bytes, size: int = 16384) -> None:
        self._body = body
        self._size = size
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self._body), self._size):
            yield self._body[i : i + self._size]

    def close(self) -> None:
        self.closed = True


def _peak(fn: object) -> int:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# 64 MiB of zeros in about 64 KB of gzip, kept under the redirect cap once halved.
BOMB = gzip.compress(bytes(48 * 1024 * 1024), compresslevel=9)
assert len(BOMB) < MAX_REDIRECT_BODY


def test_a_redirect_bomb_costs_its_raw_size_not_its_decoded_size() -> None:
    def handler(request: Request) -> Response:
        if request.url.path == "/bomb":
            headers = {"Location": "/ok", "Content-Encoding": "gzip"}
            return Response(302, headers=headers, stream=_Chunks(BOMB))
        return Response(200, content=b"ok")

    def follow() -> None:
        with Client(transport=MockTransport(handler), follow_redirects=True) as client:
            assert client.get("http://h/bomb").content == b"ok"

    assert _peak(follow) < 4 * 1024 * 1024  # 48 MiB if the body were decoded


def test_the_content_cap_bounds_memory_of_a_bomb_read_whole() -> None:
    stream = _Chunks(BOMB)

    def handler(request: Request) -> Response:
        return Response(200, headers={"Content-Encoding": "gzip"}, stream=stream)

    def read() -> None:
        with (
            Client(transport=MockTransport(handler), max_content_size=1 << 20) as client,
            pytest.raises(ContentTooLarge, match="max_content_size=1048576"),
        ):
            client.get("http://h/")

    assert _peak(read) < 4 * 1024 * 1024
    assert stream.closed


@pytest.mark.parametrize("value", [-1, 1.5, "10", True])
def test_the_content_cap_is_checked(value: object) -> None:
    with pytest.raises(ValueError, match="max_content_size"):
        Client(max_content_size=value)  # type: ignore[arg-type]
    request = Request("GET", "http://h/", extensions={"max_content_size": value})
    with Client() as client, pytest.raises(ValueError, match="max_content_size extension"):
        client._bind(Response(200), request, 0.0)
