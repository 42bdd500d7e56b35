"""Pure policy code: redirect decisions and mount patterns, with httpx as the reference."""

from __future__ import annotations

import httpx
import pytest

from httplib._cookies import Cookies
from httplib._core.mounts import Mounts, URLPattern
from httplib._core.redirects import (
    build_redirect_request,
    is_same_origin,
    redirect_method,
    redirect_url,
)
from httplib._exceptions import RemoteProtocolError
from httplib._models import Request, Response
from httplib._urls import URL

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CODES = [301, 302, 303, 307, 308]


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("method", METHODS)
def test_redirect_method_matches_httpx(method: str, code: int) -> None:
    client = httpx.Client()
    expected = client._redirect_method(
        httpx.Request(method, "http://a/"), httpx.Response(code, headers={"location": "/"})
    )
    assert redirect_method(method, code) == expected


def test_redirect_method_table() -> None:
    assert redirect_method("POST", 303) == "GET"
    assert redirect_method("HEAD", 303) == "HEAD"
    assert redirect_method("PUT", 302) == "GET"
    assert redirect_method("PUT", 301) == "PUT"
    assert redirect_method("POST", 301) == "GET"
    assert redirect_method("POST", 307) == "POST"
    assert redirect_method("POST", 308) == "POST"


LOCATIONS = [
    "/other",
    "other",
    "../up",
    "//elsewhere.example/p",
    "https://secure.example/x?q=1",
    "/p#newfrag",
    "?only=query",
    "https:///no-host",
    "http://a:8080/port",
]


@pytest.mark.parametrize("location", LOCATIONS)
def test_redirect_url_matches_httpx(location: str) -> None:
    ours = redirect_url(
        Request("GET", "http://a/x/y?z=1#frag"),
        Response(302, headers={"location": location}),
    )
    theirs = httpx.Client()._redirect_url(
        httpx.Request("GET", "http://a/x/y?z=1#frag"),
        httpx.Response(302, headers={"location": location}),
    )
    assert str(ours) == str(theirs)


def test_fragment_kept_only_when_location_has_none() -> None:
    request = Request("GET", "http://a/x#keep")
    assert redirect_url(request, Response(302, headers={"location": "/y"})).fragment == "keep"
    moved = redirect_url(request, Response(302, headers={"location": "/y#new"}))
    assert moved.fragment == "new"


def test_invalid_location_is_a_remote_protocol_error_with_the_request() -> None:
    request = Request("GET", "http://a/")
    response = Response(302, headers={"location": "http://a:port/"})
    with pytest.raises(
        RemoteProtocolError, match="Invalid URL in location header: Invalid port"
    ) as info:
        redirect_url(request, response)
    assert info.value.request is request


def _next(url: str, location: str, headers: dict[str, str], code: int = 302) -> Request:
    request = Request("GET", url, headers=headers)
    response = Response(code, headers={"location": location}, request=request)
    return build_redirect_request(request, response, Cookies())


SECRETS = {"Authorization": "Bearer t", "Proxy-Authorization": "Basic p", "Cookie": "hand=1"}


@pytest.mark.parametrize(
    ("url", "location", "kept"),
    [
        ("http://a/", "/same", {"Authorization", "Proxy-Authorization"}),
        ("http://a/", "http://b/", set()),
        ("http://a/", "http://a:8080/", set()),
        ("https://a/", "http://a/", set()),  # downgrade on the same host
        ("https://a/", "https://a:8443/", set()),
        ("http://a/", "https://a/", {"Authorization", "Proxy-Authorization"}),  # upgrade
        ("http://a:8080/", "https://a:8443/", set()),  # not the default-port upgrade
    ],
)
def test_credentials_follow_only_the_origin(url: str, location: str, kept: set[str]) -> None:
    headers = _next(url, location, SECRETS).headers
    present = {name for name in SECRETS if name in headers}
    assert present == kept  # a hand-set Cookie never follows: the jar decides
    assert headers["Host"] == URL(location if "//" in location else url).netloc.decode()


def test_authorization_stripping_is_a_superset_of_httpx() -> None:
    cases = [("http://a/", "http://b/"), ("http://a/", "https://a/"), ("http://a/", "/x")]
    for url, location in cases:
        theirs = httpx.Client()._redirect_headers(
            httpx.Request("GET", url, headers=SECRETS),
            httpx.URL(url).join(location),
            "GET",
        )
        ours = _next(url, location, SECRETS).headers
        if "Authorization" not in theirs:
            assert "Authorization" not in ours


def test_cookies_come_from_the_jar_by_its_domain_rules() -> None:
    jar = Cookies()
    jar.set("only_a", "1", domain="a.example")
    request = Request("GET", "http://a.example/")
    to_a = Response(302, headers={"location": "/next"}, request=request)
    to_b = Response(302, headers={"location": "http://b.example/"}, request=request)
    assert build_redirect_request(request, to_a, jar).headers["Cookie"] == "only_a=1"
    assert "Cookie" not in build_redirect_request(request, to_b, jar).headers


@pytest.mark.parametrize(("code", "keeps"), [(302, False), (303, False), (307, True), (308, True)])
def test_body_follows_only_when_the_method_stays(code: int, keeps: bool) -> None:
    request = Request("POST", "http://a/", content=b"payload")
    response = Response(code, headers={"location": "/b"}, request=request)
    follow = build_redirect_request(request, response, Cookies())
    assert (follow.method == "POST") is keeps
    assert follow.read() == (b"payload" if keeps else b"")
    assert ("Content-Length" in follow.headers) is keeps


def test_same_origin_resolves_default_ports() -> None:
    assert is_same_origin(URL("http://a/"), URL("http://a:80/x"))
    assert not is_same_origin(URL("http://a/"), URL("https://a/"))
    assert not is_same_origin(URL("http://a/"), URL("http://A.b/"))


# --- mounts -------------------------------------------------------------------------------------

PATTERNS = [
    "all://",
    "http://",
    "https://",
    "all://example.com",
    "https://example.com",
    "all://*.example.com",
    "all://*example.com",
    "all://example.com:1234",
    "http://*",
]
URLS = [
    "http://example.com",
    "https://example.com",
    "https://www.example.com",
    "http://example.com:1234",
    "https://other.com",
    "http://notexample.com",
]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("url", URLS)
def test_pattern_matching_matches_httpx(pattern: str, url: str) -> None:
    from httpx._utils import URLPattern as HttpxPattern

    assert URLPattern(pattern).matches(URL(url)) == HttpxPattern(pattern).matches(httpx.URL(url))


def test_priority_order_matches_httpx() -> None:
    from httpx._utils import URLPattern as HttpxPattern

    ours = [p.pattern for p in sorted(URLPattern(p) for p in PATTERNS)]
    theirs = [p.pattern for p in sorted(HttpxPattern(p) for p in PATTERNS)]
    assert ours == theirs


def test_plain_scheme_key_is_refused_with_httpx_message() -> None:
    with pytest.raises(ValueError, match='Instead of "http", use "http://"'):
        URLPattern("http")


def test_mounts_route_most_specific_first_and_none_means_default() -> None:
    mounts: Mounts[str] = Mounts(
        {"all://": "any", "https://example.com": "exact", "all://*.example.com": None}
    )
    assert mounts.route(URL("https://example.com/"), "default") == "exact"
    assert mounts.route(URL("http://www.example.com/"), "default") == "default"
    assert mounts.route(URL("http://other/"), "default") == "any"
    assert sorted(mounts.transports()) == ["any", "exact"]
    assert not Mounts[str]()
