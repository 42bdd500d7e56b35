"""Request injection and URL handling (reliability catalogue 2.D and 2.E): CR, LF and NUL in any
part of a request are refused before a byte is written, on every runtime, and the next request
on the same client goes out clean; hostile URL text parses or fails at once."""

from __future__ import annotations

import time
from typing import Any

import pytest

from faults.conftest import Fault
from faults.routes import OK, routed_server
from httplib._exceptions import InvalidURL, LocalProtocolError
from httplib._urls import URL

# (what is poisoned, request keyword arguments relative to the server's URL, expected error)
CASES: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("path CRLF", {"path": "/a\r\nX-Injected: 1"}, InvalidURL),  # CVE-2019-9740
    ("query CRLF", {"path": "/a?q=1\r\nX-Injected: 1"}, InvalidURL),  # CVE-2019-9947
    ("path NUL", {"path": "/a\x00b"}, InvalidURL),
    ("method CRLF", {"method": "GET /x HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET"}, LocalProtocolError),
    ("method space", {"method": "GE T"}, LocalProtocolError),  # CVE-2020-26137
    ("header value CRLF", {"headers": {"X-A": "1\r\nX-Injected: 1"}}, LocalProtocolError),
    ("header value LF", {"headers": {"X-A": "1\nX-Injected: 1"}}, LocalProtocolError),
    ("header value NUL", {"headers": {"X-A": "1\x00"}}, LocalProtocolError),
    ("header name CRLF", {"headers": {"X-A\r\nX-Injected": "1"}}, LocalProtocolError),
    ("header name colon", {"headers": {"X-A: 2\r\nX": "1"}}, LocalProtocolError),
    ("Host CRLF", {"headers": {"Host": "h\r\nX-Injected: 1"}}, LocalProtocolError),  # Go
]


@pytest.mark.parametrize(("name", "request_args", "error"), CASES, ids=[c[0] for c in CASES])
def test_injection_is_refused_before_anything_is_sent(
    fault: Fault, name: str, request_args: dict[str, Any], error: type[Exception]
) -> None:
    with routed_server({"/ok": OK}) as server:
        args = dict(request_args)
        url = server.url + args.pop("path", "/a")
        method = args.pop("method", "GET")
        fault.expect(error, url, method=method, then=server.url + "/ok", **args)
    # Only the clean follow-up request reached the server.
    assert server.paths() == ["/ok"]
    assert all(not seen.header("X-Injected") for seen in server.seen)


def test_a_multipart_part_cannot_inject_headers(fault: Fault) -> None:
    # aiohttp GHSA-2vrm-gr82-f7m5: a part's content type or file name carrying CRLF.
    with routed_server({"/upload": OK}) as server:
        files = {"f": ("a\r\nX-Injected: 1.txt", b"data", "text/plain\r\nX-Injected: 1")}

        def sync_script(client: Any) -> bytes:
            client.post(server.url + "/upload", files=files)
            return server.seen[-1].body

        async def async_script(client: Any) -> bytes:
            await client.post(server.url + "/upload", files=files)
            return server.seen[-1].body

        try:
            body = fault.with_client(async_script if fault.is_async else sync_script)
        except (LocalProtocolError, ValueError):
            return  # refused outright: nothing was sent
    # Sent: then no CR or LF from the user's text reached a part's header lines.
    head = body.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nX-Injected" not in head, head


@pytest.mark.parametrize(
    "text",
    [
        "http://" + "@" * 10_000 + "[",  # urllib3 CVE-2021-33503 (ReDoS)
        "http://" + "a:" * 10_000 + "@example.com/",
        "http://[" + ":" * 10_000 + "]/",
        "http://example.com/" + "%" * 20_000,
        "http://" + "a." * 30_000 + "com/",
    ],
    ids=["at-signs", "colons", "ipv6", "percents", "labels"],
)
def test_hostile_url_text_parses_or_fails_at_once(text: str) -> None:
    started = time.perf_counter()
    try:
        URL(text)
    except InvalidURL:
        pass
    assert time.perf_counter() - started < 0.5
