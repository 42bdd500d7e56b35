"""Request and Response: construction, attributes, errors, streaming (sync and async), parity."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import pickle
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from httplib._content import ByteStream
from httplib._exceptions import (
    DecodingError,
    HTTPStatusError,
    RequestNotRead,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
)
from httplib._models import Request, Response
from httplib._types import AsyncByteStream, SyncByteStream

# -- small in-memory streams ------------------------------------------------------------------


class ChunkedSync(SyncByteStream):
    """A sync body delivered in the given chunks; records whether it was closed."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


class ChunkedAsync(AsyncByteStream):
    """The async twin of `ChunkedSync`."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


def run(awaitable: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await awaitable

    return asyncio.run(main())


# Each streaming case runs in both modes: (make a stream from chunks, iterate a method by name).
Mode = tuple[Callable[..., Any], Callable[[Response, str, tuple[Any, ...]], list[Any]]]


def sync_iterate(response: Response, name: str, args: tuple[Any, ...]) -> list[Any]:
    return list(getattr(response, name)(*args))


def async_iterate(response: Response, name: str, args: tuple[Any, ...]) -> list[Any]:
    return run(collect(getattr(response, "a" + name)(*args)))  # type: ignore[no-any-return]


MODES = {"sync": (ChunkedSync, sync_iterate), "async": (ChunkedAsync, async_iterate)}


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    return MODES[request.param]


# -- Request ----------------------------------------------------------------------------------


def test_request_method_url_params_and_host() -> None:
    request = Request("get", "https://exämple.com:8443/p?a=1", params={"b": "2"})
    assert request.method == "GET"
    assert str(request.url) == "https://xn--exmple-cua.com:8443/p?b=2"  # params replace the query
    assert request.headers.raw == [(b"Host", b"xn--exmple-cua.com:8443")]
    assert repr(request) == "<Request('GET', 'https://xn--exmple-cua.com:8443/p?b=2')>"
    assert Request(b"post", "http://x.com/").method == "POST"


def test_request_host_omits_default_port_and_user_host_wins() -> None:
    assert Request("GET", "http://u:p@x.com:80/").headers.raw == [(b"Host", b"x.com")]
    assert Request("GET", "https://x.com:443/").headers["host"] == "x.com"
    assert Request("GET", "http://[::1]:8080/").headers["host"] == "[::1]:8080"
    assert Request("GET", "http://x.com/", headers={"Host": "y"}).headers.raw == [(b"Host", b"y")]
    assert "host" not in Request("GET", "/relative").headers


def test_request_body_headers() -> None:
    request = Request("POST", "http://x.com/", json={"a": 1})
    assert request.headers.raw == [
        (b"Host", b"x.com"),
        (b"Content-Length", b"7"),
        (b"Content-Type", b"application/json"),
    ]
    assert request.content == b'{"a":1}'
    empty_post = Request("POST", "http://x.com/", headers={"X": "1"})
    assert empty_post.headers.raw == [(b"Host", b"x.com"), (b"Content-Length", b"0"), (b"X", b"1")]
    assert "content-length" not in Request("DELETE", "http://x.com/").headers
    chunked = Request("PUT", "http://x.com/", headers={"Transfer-Encoding": "chunked"})
    assert "content-length" not in chunked.headers


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"content": b"x" * 1024}, None),
        ({"content": b"x"}, {"Content-Type": "text/plain", "content-length": "1"}),
        ({"content": "text"}, {"X-A": "1", "CONTENT-TYPE": "a/b"}),
        ({"json": {"a": 1}}, {"Content-Type": "application/vnd+json"}),
        ({"data": {"a": "1"}}, {"Host": "elsewhere"}),
        ({"content": [b"a", b"b"]}, {"Content-Length": "2"}),
        ({"content": [b"a", b"b"]}, {"Transfer-Encoding": "chunked", "X-B": "2"}),
        ({"content": b""}, {"X-C": "3"}),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_request_body_headers_match_httpx(
    method: str, body: dict[str, Any], headers: dict[str, str] | None
) -> None:
    """The fields a body adds (its length or chunked framing, its type) beside the user's own,
    which win, and Host first: as httpx sets them."""
    ours = Request(method, "http://x.com/p", headers=headers, **body)
    theirs = httpx.Request(method, "http://x.com/p", headers=headers, **body)
    assert ours.headers.raw == theirs.headers.raw


def test_request_user_content_length_suppresses_chunked_framing() -> None:
    request = Request(
        "POST", "http://x.com/", headers={"content-length": "1"}, content=iter([b"a"])
    )
    assert request.headers.raw == [(b"Host", b"x.com"), (b"content-length", b"1")]


def test_request_form_and_multipart_with_user_boundary() -> None:
    form = Request("POST", "http://x.com/", data={"a": "1", "b": "x y"})
    assert form.content == b"a=1&b=x+y"
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    multipart = Request(
        "POST",
        "http://x.com/",
        files={"f": b"abc"},
        headers={"content-type": "multipart/form-data; boundary=XYZ"},
    )
    body = multipart.read()
    assert body.startswith(b"--XYZ\r\n")
    assert body.endswith(b"--XYZ--\r\n")


def test_request_streaming_content_must_be_read_first() -> None:
    request = Request("POST", "http://x.com/", content=iter([b"a", b"b"]))
    assert request.headers["transfer-encoding"] == "chunked"
    with pytest.raises(RequestNotRead, match="without having called `read\\(\\)`"):
        _ = request.content
    assert request.read() == b"ab"
    assert request.content == b"ab"
    # The stream can be replayed after reading (a redirect resends it).
    assert b"".join(request.stream) == b"ab"  # type: ignore[arg-type]


def test_request_async_stream_aread() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"x"
        yield b"y"

    request = Request("POST", "http://x.com/", content=body())
    with pytest.raises(RuntimeError, match="sync read on an async request stream"):
        request.read()
    assert run(request.aread()) == b"xy"
    assert request.content == b"xy"


def test_request_explicit_stream_gets_no_auto_headers() -> None:
    request = Request("GET", "http://x.com/", stream=ByteStream(b"hi"))
    assert request.headers.raw == []
    with pytest.raises(RequestNotRead):
        _ = request.content
    assert request.read() == b"hi"


def test_request_extensions_and_cookies() -> None:
    request = Request("GET", "http://x.com/", extensions={"timeout": {}}, cookies={"a": "1"})
    assert request.extensions == {"timeout": {}}
    assert request.headers["cookie"] == "a=1"
    assert Request("GET", "http://x.com/").extensions == {}


def test_request_pickle_drops_the_stream() -> None:
    read = Request("POST", "http://x.com/", content=iter([b"a", b"b"]))
    read.read()
    clone = pickle.loads(pickle.dumps(read))
    assert clone.content == b"ab"
    assert clone.headers == read.headers
    assert clone.url == read.url
    unread = pickle.loads(pickle.dumps(Request("POST", "http://x.com/", content=iter([b"a"]))))
    with pytest.raises(RequestNotRead):
        _ = unread.content
    with pytest.raises(StreamClosed):
        unread.read()


# -- Response: attributes ---------------------------------------------------------------------


def test_response_reason_phrase_and_http_version() -> None:
    response = Response(200)
    assert (response.reason_phrase, response.http_version) == ("OK", "HTTP/1.1")
    assert repr(response) == "<Response [200 OK]>"
    custom = Response(200, extensions={"http_version": b"HTTP/2", "reason_phrase": b"Fine"})
    assert (custom.reason_phrase, custom.http_version) == ("Fine", "HTTP/2")
    assert repr(Response(299)) == "<Response [299 ]>"


@pytest.mark.parametrize(
    ("code", "flags"),
    [
        (101, "informational"),
        (204, "success"),
        (302, "redirect"),
        (404, "client_error error"),
        (503, "server_error error"),
    ],
)
def test_status_predicates(code: int, flags: str) -> None:
    response = Response(code)
    for name in ("informational", "success", "redirect", "client_error", "server_error", "error"):
        assert getattr(response, "is_" + name) is (name in flags.split())


def test_has_redirect_location() -> None:
    assert Response(302, headers={"location": "/x"}).has_redirect_location
    assert not Response(304, headers={"location": "/x"}).has_redirect_location
    assert not Response(302).has_redirect_location


def test_request_url_and_missing_request() -> None:
    response = Response(200)
    with pytest.raises(RuntimeError, match="The request instance has not been set"):
        _ = response.request
    with pytest.raises(RuntimeError, match="The request instance has not been set"):
        _ = response.url
    with pytest.raises(RuntimeError, match="Cannot call `raise_for_status`"):
        response.raise_for_status()
    response.request = Request("GET", "http://x.com/p")
    assert str(response.url) == "http://x.com/p"


@pytest.mark.parametrize(
    ("code", "headers"),
    [(101, {}), (301, {"location": "/a"}), (304, {}), (404, {}), (503, {}), (600, {})],
)
def test_raise_for_status_matches_httpx_message(code: int, headers: dict[str, str]) -> None:
    response = Response(code, headers=headers, request=Request("GET", "http://x.com/"))
    theirs = httpx.Response(code, headers=headers, request=httpx.Request("GET", "http://x.com/"))
    with pytest.raises(httpx.HTTPStatusError) as expected:
        theirs.raise_for_status()
    with pytest.raises(HTTPStatusError) as raised:
        response.raise_for_status()
    assert str(raised.value) == str(expected.value)
    assert raised.value.response is response
    assert raised.value.request is response.request


def test_raise_for_status_returns_self_on_success() -> None:
    response = Response(201, request=Request("GET", "http://x.com/"))
    assert response.raise_for_status() is response


def test_text_json_and_body_headers() -> None:
    text = Response(200, text="hé")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.content == "hé".encode()
    assert text.text == "hé"
    assert Response(200, html="<p>").headers["content-type"] == "text/html; charset=utf-8"
    data = Response(200, json={"a": [1]})
    assert data.json() == {"a": [1]}
    assert data.json(parse_int=str) == {"a": ["1"]}


def test_encoding_from_charset_default_and_callable() -> None:
    latin = Response(200, headers={"content-type": "text/plain; charset=Latin-1"}, content=b"\xe9")
    assert latin.charset_encoding == "latin-1"
    assert latin.text == "é"
    bogus = Response(200, headers={"content-type": "text/plain; charset=bogus"}, content=b"x")
    assert bogus.encoding == "utf-8"
    guessed = Response(200, content=b"caf\xe9", default_encoding=lambda _: "cp1252")
    assert (guessed.text, guessed.encoding) == ("café", "cp1252")
    assert Response(200, content=b"\xe9", default_encoding="latin-1").text == "é"
    assert Response(200, content=b"\xff").text == "\ufffd"
    assert Response(200).charset_encoding is None


def test_encoding_setter_and_its_limit() -> None:
    response = Response(200, content=b"\xe9")
    response.encoding = "latin-1"
    assert response.text == "é"
    with pytest.raises(ValueError, match="Setting encoding after `text` has been accessed"):
        response.encoding = "utf-8"


def test_links_header() -> None:
    header = '<https://a/?p=2>; rel="next", <https://a/?p=5>; rel="last", <https://b>'
    response = Response(200, headers={"link": header})
    assert response.links == {
        "next": {"url": "https://a/?p=2", "rel": "next"},
        "last": {"url": "https://a/?p=5", "rel": "last"},
        "https://b": {"url": "https://b"},
    }
    assert Response(200).links == {}


def test_elapsed_is_set_by_the_timer_on_close() -> None:
    response = Response(200, stream=ChunkedSync(b"a"))
    with pytest.raises(RuntimeError, match=r"'\.elapsed' may only be accessed after"):
        _ = response.elapsed
    response._elapsed_func = lambda: datetime.timedelta(seconds=1.5)
    response.read()
    assert response.elapsed == datetime.timedelta(seconds=1.5)
    timed = Response(200, stream=ChunkedSync(b"a"))
    timed._sent_at = time.perf_counter()  # how the clients time a request
    timed.close()
    assert datetime.timedelta(0) <= timed.elapsed < datetime.timedelta(seconds=60)
    timed.elapsed = datetime.timedelta(seconds=2)
    assert timed.elapsed.total_seconds() == 2


def test_history_next_request_and_default_extensions() -> None:
    first = Response(302)
    response = Response(200, history=[first])
    assert response.history == [first]
    assert response.next_request is None
    assert response.extensions == {}


def test_response_pickle() -> None:
    request = Request("GET", "http://a/")
    response = Response(200, content=b"x", request=request, extensions={"k": "v"})
    clone = pickle.loads(pickle.dumps(response))
    assert clone.content == b"x"
    assert clone.is_closed
    assert clone.extensions == {}
    assert repr(clone.request) == "<Request('GET', 'http://a/')>"
    streaming = pickle.loads(pickle.dumps(Response(200, stream=ChunkedSync(b"a"))))
    with pytest.raises(StreamClosed):
        streaming.read()


# -- Response: streaming ----------------------------------------------------------------------


def test_content_before_read_raises(mode: Mode) -> None:
    make, _ = mode
    response = Response(200, stream=make(b"a"))
    with pytest.raises(ResponseNotRead, match="without having called `read\\(\\)`"):
        _ = response.content
    with pytest.raises(ResponseNotRead):
        _ = response.text


def test_iter_bytes_rechunks_and_closes(mode: Mode) -> None:
    make, iterate = mode
    stream = make(b"ab", b"cde", b"f")
    response = Response(200, stream=stream)
    assert not response.is_closed
    assert iterate(response, "iter_bytes", (4,)) == [b"abcd", b"ef"]
    assert response.is_closed
    assert response.is_stream_consumed
    assert stream.closed
    assert response.num_bytes_downloaded == 6


def test_iter_raw_counts_and_keeps_encoding(mode: Mode) -> None:
    make, iterate = mode
    body = gzip.compress(b"hello " * 50)
    response = Response(200, headers={"content-encoding": "gzip"}, stream=make(*pieces(body, 9)))
    assert b"".join(iterate(response, "iter_raw", ())) == body
    assert response.num_bytes_downloaded == len(body)


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000])
def test_iter_bytes_decodes_gzip_chain_fed_per_chunk(mode: Mode, chunk_size: int | None) -> None:
    make, iterate = mode
    text = b"hello world " * 40
    inner = zlib.compress(text)
    body = gzip.compress(inner)
    headers = {"content-encoding": "deflate, gzip"}
    response = Response(200, headers=headers, stream=make(*pieces(body, 5)))
    chunks = iterate(response, "iter_bytes", (chunk_size,))
    assert b"".join(chunks) == text
    if chunk_size is not None:
        assert all(len(chunk) == chunk_size for chunk in chunks[:-1])
    assert response.num_bytes_downloaded == len(body)


def test_corrupt_body_raises_decodingerror_with_request(mode: Mode) -> None:
    make, iterate = mode
    request = Request("GET", "http://x.com/")
    response = Response(
        200, headers={"content-encoding": "gzip"}, stream=make(b"not gzip"), request=request
    )
    with pytest.raises(DecodingError) as info:
        iterate(response, "iter_bytes", ())
    assert info.value.request is request


def test_iter_text_decodes_across_chunk_boundaries(mode: Mode) -> None:
    make, iterate = mode
    data = "héllo wörld".encode()
    response = Response(200, stream=make(*pieces(data, 1)))
    chunks = iterate(response, "iter_text", (3,))
    assert "".join(chunks) == "héllo wörld"
    assert all(len(chunk) == 3 for chunk in chunks[:-1])


def test_iter_text_uses_charset(mode: Mode) -> None:
    make, iterate = mode
    headers = {"content-type": "text/plain; charset=latin-1"}
    response = Response(200, headers=headers, stream=make(b"caf", b"\xe9"))
    assert "".join(iterate(response, "iter_text", ())) == "café"


def test_iter_lines_splits_every_line_ending(mode: Mode) -> None:
    make, iterate = mode
    response = Response(200, stream=make(b"a\r", b"\nb\rc\n", b"d\n\ne"))
    assert iterate(response, "iter_lines", ()) == ["a", "b", "c", "d", "", "e"]


def test_streaming_twice_raises_streamconsumed(mode: Mode) -> None:
    make, iterate = mode
    response = Response(200, stream=make(b"a"))
    iterate(response, "iter_raw", ())
    with pytest.raises(StreamConsumed, match="already been streamed"):
        iterate(response, "iter_raw", ())


def test_read_after_streaming_raises_streamconsumed() -> None:
    response = Response(200, stream=ChunkedSync(b"a"))
    list(response.iter_raw())
    with pytest.raises(StreamConsumed):
        response.read()


def test_streaming_after_close_raises_streamclosed() -> None:
    response = Response(200, stream=ChunkedSync(b"a"))
    response.close()
    with pytest.raises(StreamClosed, match="stream has been closed"):
        response.read()
    areponse = Response(200, stream=ChunkedAsync(b"a"))
    run(areponse.aclose())
    with pytest.raises(StreamClosed):
        run(areponse.aread())


def test_read_then_content_and_reiteration_from_memory(mode: Mode) -> None:
    make, _ = mode
    response = Response(200, stream=make(b"ab", b"c"))
    if make is ChunkedSync:
        assert response.read() == b"abc"
    else:
        assert run(response.aread()) == b"abc"
    assert response.content == b"abc"
    assert list(response.iter_bytes(2)) == [b"ab", b"c"]
    assert run(collect(response.aiter_text())) == ["abc"]
    assert response.text == "abc"


def test_wrong_mode_raises_runtimeerror() -> None:
    async_response = Response(200, stream=ChunkedAsync(b"a"))
    with pytest.raises(RuntimeError, match="sync iterator on an async stream"):
        async_response.read()
    with pytest.raises(RuntimeError, match="an sync close on an async stream"):
        async_response.close()
    sync_response = Response(200, stream=ChunkedSync(b"a"))
    with pytest.raises(RuntimeError, match="async iterator on an sync stream"):
        run(sync_response.aread())
    with pytest.raises(RuntimeError, match="async close on an sync stream"):
        run(sync_response.aclose())


def test_context_managers_close() -> None:
    stream = ChunkedSync(b"a")
    with Response(200, stream=stream) as response:
        assert not response.is_closed
    assert stream.closed

    astream = ChunkedAsync(b"a")

    async def use() -> Response:
        async with Response(200, stream=astream) as aresponse:
            return aresponse

    assert run(use()).is_closed
    assert astream.closed


def test_in_memory_body_is_read_and_iterable_both_ways() -> None:
    response = Response(200, content=b"abcdef")
    assert response.is_stream_consumed
    assert response.num_bytes_downloaded == 0
    assert list(response.iter_bytes(4)) == [b"abcd", b"ef"]
    assert run(collect(response.aiter_bytes(4))) == [b"abcd", b"ef"]
    assert list(Response(200, content=b"").iter_lines()) == []


def test_generator_content_streams() -> None:
    response = Response(200, content=iter([b"a", b"b"]))
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.read() == b"ab"


# -- differential against httpx ---------------------------------------------------------------

RESPONSE_CASES: list[dict[str, Any]] = [
    {"status_code": 200, "content": b"hello"},
    {"status_code": 404, "text": "missing"},
    {"status_code": 200, "json": {"a": [1, 2]}},
    {"status_code": 302, "headers": {"location": "/next"}},
    {
        "status_code": 200,
        "headers": {"content-type": "text/html; charset=ISO-8859-1"},
        "content": b"\xe9",
    },
    {"status_code": 200, "headers": {"content-encoding": "gzip"}, "content": gzip.compress(b"zz")},
    {"status_code": 200, "headers": {"link": "<https://x/>; rel=next; title=a"}, "content": b""},
    {"status_code": 418, "extensions": {"reason_phrase": b"Teapot", "http_version": b"HTTP/2"}},
]


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_attributes_match_httpx(case: dict[str, Any]) -> None:
    ours, theirs = Response(**case), httpx.Response(**case)
    for name in (
        "status_code", "reason_phrase", "http_version", "content", "text", "encoding",
        "charset_encoding", "links", "is_success", "is_redirect", "is_error",
        "has_redirect_location", "is_closed", "is_stream_consumed", "num_bytes_downloaded",
    ):  # fmt: skip
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.headers.raw == theirs.headers.raw
    assert repr(ours) == repr(theirs)
    assert list(ours.iter_lines()) == list(theirs.iter_lines())


REQUEST_CASES: list[dict[str, Any]] = [
    {"method": "get", "url": "https://example.com/"},
    {"method": "POST", "url": "http://x.com:8080/p", "params": {"a": 1}, "json": {"x": 1}},
    {"method": "PUT", "url": "http://x.com/", "content": "text body"},
    {"method": "POST", "url": "http://x.com/", "data": {"k": ["v1", "v2"]}},
    {"method": "PATCH", "url": "http://x.com/", "headers": {"X-A": "1"}},
    {"method": "GET", "url": "http://x.com/", "cookies": {"c": "1"}, "headers": {"a": "b"}},
    {"method": "GET", "url": "http://bücher.de/?q=1", "params": {"q": "2", "r": "3"}},
]


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_attributes_match_httpx(case: dict[str, Any]) -> None:
    ours, theirs = Request(**case), httpx.Request(**case)
    assert ours.method == theirs.method
    assert str(ours.url) == str(theirs.url)
    assert ours.headers.raw == theirs.headers.raw
    assert ours.content == theirs.content
    assert repr(ours) == repr(theirs)
    assert ours.extensions == theirs.extensions


def test_request_params_replace_the_query_as_in_httpx() -> None:
    case: dict[str, Any] = {"params": {"b": "2"}}
    for url in ("http://x/?a=1", "http://x/"):
        assert str(Request("GET", url, **case).url) == str(httpx.Request("GET", url, **case).url)
    assert str(Request("GET", "http://x/?a=1", params={}).url) == "http://x/"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "<a>",
        "<a>; rel=x; foo",
        '<a>;rel="x",<b>; rel=y',
        "<a>; rel=x=y; t=1",
        '"<a>"',
        "<a,b>; rel=1",
        "<a>; rel=, <b>",
        "<a>;; rel=x",
        "junk",
        '<a>; title="x;y"',
        "<a>, <b>;rel=a,<c>",
    ],
)
def test_links_match_httpx_on_odd_headers(header: str) -> None:
    expected = httpx.Response(200, headers={"link": header}).links
    assert Response(200, headers={"link": header}).links == expected
