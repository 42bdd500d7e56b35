"""The request that follows a redirect response: method, URL, headers and body, decided purely.

httpx's rules, with these deliberate differences (each stricter than httpx):

- On a change of origin httpx strips only `Authorization`; we also strip `Proxy-Authorization`,
  and never carry either from https to http, even on the same host (the credential leaks behind
  CVE-2018-18074 in requests, CVE-2018-20060 / CVE-2024-37891 in urllib3, CVE-2025-4673 in Go).
  A `Proxy-Authorization` the user set is also dropped when the new URL is routed to another
  transport than the last one (another proxy, or none): it was meant for the proxy the request
  went through (httpx keeps it on every redirect). The proxy transport's own credentials are
  never in `request.headers`: it adds them as it sends, so they go only to its proxy.
  A `Cookie` header is always rebuilt from the client's jar, whose own domain rules decide what
  the new URL gets (as httpx does; urllib3's CVE-2023-43804 was a hand-set one that followed).
- A redirect that turns the request into a bodiless GET drops every header describing the body
  (RFC 9110 section 15.4 lists them), not only the framing ones: urllib3's CVE-2023-45803.
- A server-chosen Location is only followed to http or https: anything else (`data:`,
  `javascript:`, `file:`, `ws:`...) is `UnsupportedProtocol` before any connection is made,
  where httpx raises `InvalidURL` (outside the `HTTPError` tree) for `data:` and dials `ws://`
  as HTTP. A Location that does not parse is `RemoteProtocolError`, as in httpx.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._cookies import Cookies
from .._exceptions import InvalidURL, RemoteProtocolError, UnsupportedProtocol
from .._headers import Headers
from .._urls import URL
from .plan import DEFAULT_PORTS

if TYPE_CHECKING:  # pragma: no cover
    from .._models import Request, Response

__all__ = [
    "MAX_REDIRECT_BODY",
    "build_redirect_request",
    "is_https_upgrade",
    "is_same_origin",
    "redirect_method",
    "redirect_url",
]

# Headers that carry credentials; they only go where the user sent them (see the docstring).
_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization")
# Headers that describe a body; they go when a redirect turns the request into a bodiless GET:
# RFC 9110 section 15.4's content-specific fields (as urllib3 drops them), the framing field
# Transfer-Encoding, and the RFC 9530 digests that replace `Digest`.
_BODY_HEADERS = (
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Location",
    "Content-Type",
    "Content-Digest",
    "Digest",
    "Last-Modified",
    "Repr-Digest",
    "Transfer-Encoding",
)
# The schemes a server may send the client to.
_FOLLOWED_SCHEMES = frozenset({"http", "https"})
# RFC 3986 section 3.1, after the leading C0 controls and spaces a URL parser strips.
_SCHEME = re.compile(r"[\x00-\x20]*([A-Za-z][A-Za-z0-9+.\-]*):")

# Most raw bytes read from a redirect's body before it is dropped (never decoded). A redirect
# body is a short note for humans; past this, closing the connection is cheaper than reading
# on, and a hostile server cannot make a redirect cost more than this.
MAX_REDIRECT_BODY = 64 * 1024


def _port(url: URL) -> int | None:
    return url.port if url.port is not None else DEFAULT_PORTS.get(url.scheme)


def is_same_origin(url: URL, other: URL) -> bool:
    """Same scheme, host and (default-resolved) port: RFC 6454 section 4."""
    return url.scheme == other.scheme and url.host == other.host and _port(url) == _port(other)


def is_https_upgrade(url: URL, location: URL) -> bool:
    """`http://host[:80]` -> `https://host[:443]`: the only origin change that keeps credentials."""
    return (
        url.host == location.host
        and url.scheme == "http"
        and _port(url) == 80
        and location.scheme == "https"
        and _port(location) == 443
    )


def redirect_method(method: str, status_code: int) -> str:
    """The method after a redirect, as browsers and httpx do it.

    303 turns anything but HEAD into GET (RFC 9110 section 15.4.4); 302 does too, as browsers
    do despite the RFC; 301 turns only POST into GET (RFC 9110 section 15.4.2 allows it).
    307 and 308 keep the method.
    """
    if status_code in (302, 303) and method != "HEAD":
        return "GET"
    if status_code == 301 and method == "POST":
        return "GET"
    return method


def _unsupported(scheme: str, request: Request) -> UnsupportedProtocol:
    # httpx's wording for a request to such a URL, so one `match=` serves both.
    return UnsupportedProtocol(
        f"Request URL has an unsupported protocol '{scheme}://'.", request=request
    )


def redirect_url(request: Request, response: Response) -> URL:
    """The absolute URL a redirect's `Location` points to (RFC 9110 section 10.2.2).

    A relative or protocol-relative location resolves against the request URL; the request's
    fragment carries over when the location has none (RFC 9110 section 10.2.2). Only http and
    https are followed (`UnsupportedProtocol`, checked before parsing so `data:` or
    `javascript:` URLs never reach the URL parser); a location that does not parse, or names
    a port outside 1-65535, is `RemoteProtocolError`.
    """
    location = response.headers["Location"]
    scheme = _SCHEME.match(location)
    if scheme is not None and scheme[1].lower() not in _FOLLOWED_SCHEMES:
        raise _unsupported(scheme[1].lower(), request)
    try:
        url = URL(location)
        # A malformed "absolute" location without a host (`https:///path`, `https://:443/`)
        # keeps the current host, as httpx does (encode/httpx#771) and curl (its test1141).
        if url.scheme and not url.host:
            url = url.copy_with(host=request.url.host)
        if url.is_relative_url:
            url = request.url.join(url)
    except InvalidURL as exc:
        raise RemoteProtocolError(
            f"Invalid URL in location header: {exc}.", request=request
        ) from None
    if url.scheme not in _FOLLOWED_SCHEMES:  # a relative location under a ws:// request
        raise _unsupported(url.scheme, request)
    if url.port is not None and not 0 < url.port < 65536:
        raise RemoteProtocolError(
            f"Invalid URL in location header: port {url.port} is out of range.", request=request
        )
    if request.url.fragment and not url.fragment:
        url = url.copy_with(fragment=request.url.fragment)
    return url


def _redirect_headers(
    request: Request, url: URL, method: str, transport_for_url: Callable[[URL], object] | None
) -> Headers:
    headers = Headers(request.headers)
    if not is_same_origin(url, request.url):
        headers["Host"] = url.netloc.decode("ascii")
        # https -> http is always a change of origin, so credentials never travel downgraded.
        if not is_https_upgrade(request.url, url):
            for name in _CREDENTIAL_HEADERS:
                headers.pop(name, None)
    if (
        transport_for_url is not None
        and "Proxy-Authorization" in headers
        and transport_for_url(url) is not transport_for_url(request.url)
    ):
        # Routed elsewhere (an https upgrade moving from HTTP_PROXY's proxy to HTTPS_PROXY's,
        # or a mount of its own): the credential was for the proxy the request left behind.
        headers.pop("Proxy-Authorization")
    if method != request.method and method == "GET":
        for name in _BODY_HEADERS:
            headers.pop(name, None)
    # The jar decides which cookies the new URL gets; a hand-set header never follows.
    headers.pop("Cookie", None)
    return headers


def build_redirect_request(
    request: Request,
    response: Response,
    cookies: Cookies,
    transport_for_url: Callable[[URL], object] | None = None,
) -> Request:
    """The next request for a redirect response; the body goes only when the method stays.

    `transport_for_url` is the client's router: a user's `Proxy-Authorization` follows only
    to a URL routed to the same transport (see the module docstring). A 307/308 replays
    `request.stream`: a one-shot streamed body raises `StreamConsumed` when the transport
    reads it a second time, as with httpx.
    """
    method = redirect_method(request.method, response.status_code)
    url = redirect_url(request, response)
    keeps_body = method == request.method or method != "GET"
    # Built as the caller's own Request class, so this module needs no import of the models.
    return type(request)(
        method,
        url,
        headers=_redirect_headers(request, url, method, transport_for_url),
        cookies=cookies,
        stream=request.stream if keeps_body else None,
        extensions=request.extensions,
    )
