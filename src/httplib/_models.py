"""`Request` and `Response`: the data a client sends and receives, and their body streams.

Neither does I/O: a body is a `SyncByteStream` or `AsyncByteStream` that a transport fills.
A response body flows through one pipeline of stages (count raw bytes, undo Content-Encoding,
decode text, split lines, re-chunk) that the sync `iter_*` and async `aiter_*` methods share;
each stage is fed one chunk at a time so memory stays bounded by the chunk size.

Timing: a client that wants `Response.elapsed` sets `response._sent_at`, its `perf_counter()`
reading when the request was sent (no closure per request), or any clock as `_elapsed_func`;
the elapsed time is taken once, when the stream ends or the response is closed.
"""

from __future__ import annotations

import codecs
import datetime
import itertools
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._content import ByteStream, encode_request, encode_response
from ._cookies import Cookies
from ._core.decoders import (
    ByteChunker,
    ContentDecoder,
    LineDecoder,
    TextChunker,
    TextDecoder,
    decoder_for,
)
from ._exceptions import (
    ContentTooLarge,
    HTTPStatusError,
    RequestError,
    RequestNotRead,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
    request_context,
)
from ._headers import Headers
from ._status_codes import codes
from ._types import (
    AsyncByteStream,
    CookieTypes,
    HeaderTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    ResponseContent,
    ResponseExtensions,
    SyncByteStream,
)
from ._urls import URL

if TYPE_CHECKING:  # pragma: no cover
    import email.message

__all__ = ["Request", "Response"]

# Methods whose empty body is still announced with `Content-Length: 0` (RFC 9110 section 8.6:
# a user agent should send it when a body is expected but empty).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

_NO_BODY_HEADERS: dict[str, str] = {}
_HOST_AND_FRAMING = frozenset({b"host", b"content-length", b"transfer-encoding"})
# The body of every request without one: a `ByteStream` holds nothing but its bytes, so one
# serves all (a request waiting for a pool slot holds no stream of its own: issue 15).
_NO_BODY = ByteStream(b"")
# Method names as sent: a name already in capitals is kept, not copied by `upper()`.
_METHOD_NAMES = {
    name: name for name in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
}

# Status codes whose Location header makes a redirect (RFC 9110 section 15.4).
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

_STATUS_CLASS_NAMES = {
    1: "Informational response",
    3: "Redirect response",
    4: "Client error",
    5: "Server error",
}
_MDN_STATUS_URL = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/"

_SYNC_ITER_ON_ASYNC = "Attempted to call a sync iterator on an async stream."
_ASYNC_ITER_ON_SYNC = "Attempted to call an async iterator on an sync stream."
_SYNC_CLOSE_ON_ASYNC = "Attempted to call an sync close on an async stream."
_ASYNC_CLOSE_ON_SYNC = "Attempted to call an async close on an sync stream."


class _UnattachedStream(SyncByteStream, AsyncByteStream):
    """The body of an unpickled request or response: the original bytes source is gone."""

    def __iter__(self) -> Iterator[bytes]:
        raise StreamClosed()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        raise StreamClosed()
        yield b""  # pragma: no cover  (makes this an async generator)


# ---------------------------------------------------------------------------------------------
# The body pipeline shared by the sync and async iterators.


class _Stage(Protocol):
    def decode(self, item: Any, /) -> Iterable[Any]: ...

    def flush(self) -> Iterable[Any]: ...


class _ContentStage:
    """Undoes the Content-Encoding chain, yielding bounded pieces (decompression bombs).

    The decoder is built on the first body bytes: an empty body (HEAD, 204, 304) is never
    decoded, so even a refused chain (`MAX_CHAINED_ENCODINGS`) on it is no error.
    """

    def __init__(self, content_encodings: list[str]) -> None:
        self._encodings = content_encodings
        self._decoder: ContentDecoder | None = None

    def decode(self, data: bytes) -> Iterable[bytes]:
        decoder = self._decoder
        if decoder is None:
            if not data:
                return ()
            decoder = self._decoder = decoder_for(self._encodings)
        return decoder.iter_decode(data)

    def flush(self) -> Iterable[bytes]:
        return () if self._decoder is None else self._decoder.iter_flush()


class _TextStage:
    """Bytes to text across chunk boundaries; empty results are dropped."""

    def __init__(self, encoding: str) -> None:
        self._decoder = TextDecoder(encoding)

    def decode(self, data: bytes) -> list[str]:
        text = self._decoder.decode(data)
        return [text] if text else []

    def flush(self) -> list[str]:
        text = self._decoder.flush()
        return [text] if text else []


class _TallyStage:
    """Counts raw bytes into `Response.num_bytes_downloaded` as they arrive."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def decode(self, data: bytes) -> list[bytes]:
        self._response._num_bytes_downloaded += len(data)
        return [data]

    def flush(self) -> list[bytes]:
        return []


def _through(stage: _Stage, items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        yield from stage.decode(item)


def _drain(stage: _Stage, items: Iterable[Any]) -> Iterator[Any]:
    yield from _through(stage, items)
    yield from stage.flush()


class _Pipeline:
    """Chunks pass lazily through each stage in turn, so no stage's output is held whole."""

    def __init__(self, *stages: _Stage) -> None:
        self._stages = stages

    def feed(self, item: Any) -> Iterator[Any]:
        items: Iterator[Any] = iter((item,))
        for stage in self._stages:
            items = _through(stage, items)
        return items

    def flush(self) -> Iterator[Any]:
        """End of input: each stage's tail passes through the stages after it."""
        items: Iterator[Any] = iter(())
        for stage in self._stages:
            items = _drain(stage, items)
        return items


def _run(source: Iterable[Any], pipeline: _Pipeline) -> Iterator[Any]:
    for item in source:
        yield from pipeline.feed(item)
    yield from pipeline.flush()


async def _arun(source: AsyncIterable[Any], pipeline: _Pipeline) -> AsyncIterator[Any]:
    try:
        async for item in source:
            for out in pipeline.feed(item):
                yield out
        for out in pipeline.flush():
            yield out
    finally:
        await _aclose_iterator(source)


async def _aclose_iterator(iterator: Any) -> None:
    """Close an async generator that will not be iterated further (closed early, or failed):
    its clean-up runs now, not at garbage collection (which trio reports as a leak)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def _slices(content: bytes, chunk_size: int | None) -> list[bytes]:
    """An already-read body in `chunk_size` pieces (one piece when None), as httpx slices it."""
    size = len(content) if chunk_size is None else chunk_size
    return [content[i : i + size] for i in range(0, len(content), max(size, 1))]


# ---------------------------------------------------------------------------------------------
# Request


class Request:
    """An HTTP request: method, URL, headers and a body stream, ready for a transport."""

    def __init__(
        self,
        method: str | bytes,
        url: URL | str,
        *,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        stream: SyncByteStream | AsyncByteStream | None = None,
        extensions: RequestExtensions | None = None,
    ) -> None:
        if isinstance(method, bytes):
            method = method.decode("ascii")
        self.method = _METHOD_NAMES.get(method) or method.upper()
        # As in httpx, `params` replace the URL's query; the client merges before building.
        # A URL never changes, so one given as such is kept rather than copied.
        if params is not None:
            self.url = URL(url, params=params)
        else:
            self.url = url if type(url) is URL else URL(url)
        self.headers = Headers(headers)
        self.extensions: dict[str, Any] = {} if extensions is None else dict(extensions)
        if cookies:
            # A `Cookies` is only read here (no copy of its jar); other forms are wrapped.
            jar = cookies if isinstance(cookies, Cookies) else Cookies(cookies)
            jar.set_cookie_header(self)
        self._content: bytes | None = None
        if stream is None and content is None and data is None and files is None and json is None:
            self._no_body()
        elif stream is None:
            body_headers, body = encode_request(
                content=content,
                data=data,
                files=files,
                json=json,
                # (only a multipart body has a boundary to match)
                boundary=_multipart_boundary(self.headers) if files else None,
            )
            self._prepare(body_headers)
            self.stream: SyncByteStream | AsyncByteStream = body
            if type(body) is ByteStream:
                self._content = body._stream  # (what `read()` gives, without iterating it)
            elif isinstance(body, ByteStream):
                self.read()
        else:
            self.stream = stream

    @classmethod
    def _bodyless(
        cls, method: str, url: URL, headers: Headers, extensions: dict[str, Any]
    ) -> Request:
        """`Request(method, url, headers=headers, extensions=extensions)` for a client's plain
        call (no body, params or cookies), without binding eleven keyword arguments; it owns
        `extensions` (made for it), and copies `headers` as `Request` does."""
        self = cls.__new__(cls)
        self.method = _METHOD_NAMES.get(method) or method.upper()
        self.url = url
        self.extensions = extensions
        fields = headers._list
        for field in fields:
            if field[1] in _HOST_AND_FRAMING:
                self.headers = Headers(headers)
                self._no_body()
                return self
        # The usual client, none of whose fields is Host or framing: what `_no_body` gives
        # (its own fields first), made as one list instead of a copy prefixed (1.1 -> 0.8 us).
        self.headers = Headers._adopt(self._after_auto_fields(False, False, fields))
        self.stream = _NO_BODY
        self._content = b""
        return self

    def _no_body(self) -> None:
        """No body (every GET): what `encode_request` would build, without building it."""
        self._prepare(_NO_BODY_HEADERS)
        self.stream = _NO_BODY
        self._content = b""

    def _prepare(self, body_headers: dict[str, str]) -> None:
        """Add the body headers the user did not set, then Host (RFC 9110 section 7.2) first."""
        headers = self.headers
        headers._add_absent(body_headers)  # (this request's own copy)
        fields = headers._list
        has_host = framed = False
        # A plain loop over the names: a set comprehension costs a frame on every request.
        for field in fields:
            if field[1] in _HOST_AND_FRAMING:
                if field[1] == b"host":
                    has_host = True
                else:
                    framed = True
        if not has_host or not framed:
            headers._list = self._after_auto_fields(has_host, framed, fields)
            headers._changed()

    def _after_auto_fields(
        self, has_host: bool, framed: bool, fields: list[tuple[bytes, bytes, bytes]]
    ) -> list[tuple[bytes, bytes, bytes]]:
        """A new list of `fields` after those a request gets when its own lack them: Host
        (RFC 9110 section 7.2) and, for a method that sends a body, Content-Length 0. (Built
        from checked parts, a parsed URL's netloc, so stored as they are.)"""
        auto: list[tuple[bytes, bytes, bytes]] = []
        if not has_host and self.url.host:
            auto.append((b"Host", b"host", self.url.netloc))
        if not framed and self.method in _BODY_METHODS:
            auto.append((b"Content-Length", b"content-length", b"0"))
        auto += fields
        return auto

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RequestNotRead()
        return self._content

    def read(self) -> bytes:
        """Read a streaming body into memory, so the request can be sent again (redirects)."""
        if self._content is None:
            if not isinstance(self.stream, Iterable):
                raise RuntimeError("Attempted to call a sync read on an async request stream.")
            self._content = b"".join(self.stream)
            self._keep_content()
        return self._content

    async def aread(self) -> bytes:
        """Async twin of `read()`."""
        if self._content is None:
            if not isinstance(self.stream, AsyncIterable):
                raise RuntimeError("Attempted to call an async read on a sync request stream.")
            self._content = b"".join([part async for part in self.stream])
            self._keep_content()
        return self._content

    def _keep_content(self) -> None:
        # A generator can be iterated once; the bytes stream can be replayed for redirects.
        if not isinstance(self.stream, ByteStream) and self._content is not None:
            self.stream = ByteStream(self._content)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.method!r}, {str(self.url)!r})>"

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "stream"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.stream = _UnattachedStream()


def _content_type_message(content_type: str) -> email.message.Message:
    """A message holding only `content_type`, for the stdlib's RFC 2045 parameter parsing."""
    import email.message  # (on use: the email package is slow to import)

    message = email.message.Message()
    message["content-type"] = content_type
    return message


def _multipart_boundary(headers: Headers) -> bytes | None:
    """The boundary of a user-set multipart Content-Type, so the body is built to match it."""
    if b"content-type" not in [field[1] for field in headers._list]:
        return None
    content_type = headers["content-type"]
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    boundary = _content_type_message(content_type).get_param("boundary")
    return boundary.encode("ascii") if isinstance(boundary, str) else None


# ---------------------------------------------------------------------------------------------
# Response


class Response:
    """An HTTP response: status, headers and a body read whole or streamed in chunks."""

    # Per-response state starts at these class-level values, so a transport's response (one per
    # request) is built without setting each one; assignments then shadow them per instance.
    next_request: Request | None = None
    is_closed = False
    is_stream_consumed = False
    _num_bytes_downloaded = 0
    _body: bytes | None = None  # the whole body once read; httpx names it `_content` (below)
    _text: str | None = None
    _encoding: str | None = None
    _cookies: Cookies | None = None
    _elapsed: datetime.timedelta | None = None
    _elapsed_func: Callable[[], datetime.timedelta] | None = None
    _sent_at: float | None = None  # the client's `time.perf_counter()` when it sent the request
    _closed_at: float | None = None  # the same clock when the response was read or closed
    # Largest decoded body `read()`/`aread()` accept (the client's `max_content_size`); None:
    # unbounded, as in httpx.
    _max_content_size: int | None = None

    def __init__(
        self,
        status_code: int,
        *,
        headers: HeaderTypes | None = None,
        content: ResponseContent | None = None,
        text: str | None = None,
        html: str | None = None,
        json: Any = None,
        stream: SyncByteStream | AsyncByteStream | None = None,
        request: Request | None = None,
        extensions: ResponseExtensions | None = None,
        history: list[Response] | None = None,
        default_encoding: str | Callable[[bytes], str | None] = "utf-8",
    ) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self._request = request
        self.extensions: dict[str, Any] = {} if extensions is None else dict(extensions)
        self.history = [] if history is None else list(history)
        self.default_encoding = default_encoding
        if stream is None:
            body_headers, body = encode_response(content, text, html, json)
            self._prepare(body_headers)
            self.stream: SyncByteStream | AsyncByteStream = body
            if isinstance(body, ByteStream):
                self.read()
                # Built from bytes in memory: nothing was downloaded (httpx reports 0 too).
                self._num_bytes_downloaded = 0
        else:
            self.stream = stream

    @classmethod
    def _received(
        cls,
        status_code: int,
        headers: Headers,
        stream: SyncByteStream | AsyncByteStream,
        extensions: dict[str, Any],
    ) -> Response:
        """A streamed response from a transport's own parts, taken as they are: what
        `Response(status_code, headers=..., stream=..., extensions=...)` builds, without copying
        the headers and extensions or binding eleven keyword arguments (every response of the
        pooled transports comes here)."""
        self = cls.__new__(cls)
        self.status_code = status_code
        self.headers = headers
        self._request = None
        self.extensions = extensions
        self.history = []
        self.default_encoding = "utf-8"
        self.stream = stream
        return self

    @classmethod
    def _arrived(
        cls, status_code: int, headers: Headers, body: bytes, extensions: dict[str, Any]
    ) -> Response:
        """As `_received`, for a body that arrived whole (its connection given back already):
        read and closed, as `read()` leaves it; one to decode is read when asked, from memory."""
        self = cls._received(status_code, headers, ByteStream(body), extensions)
        if self._is_identity():
            self._body = body
            self._num_bytes_downloaded = len(body)
            self.is_stream_consumed = True
            self.is_closed = True
        return self

    def _prepare(self, body_headers: dict[str, str]) -> None:
        self.headers._add_absent(body_headers)

    # -- status -------------------------------------------------------------------------------

    @property
    def reason_phrase(self) -> str:
        phrase = self.extensions.get("reason_phrase")
        if isinstance(phrase, bytes):
            return phrase.decode("ascii", errors="ignore")
        return codes.get_reason_phrase(self.status_code)

    @property
    def http_version(self) -> str:
        version = self.extensions.get("http_version", b"HTTP/1.1")
        return version.decode("ascii", errors="ignore") if isinstance(version, bytes) else version

    @property
    def is_informational(self) -> bool:
        return codes.is_informational(self.status_code)

    @property
    def is_success(self) -> bool:
        return codes.is_success(self.status_code)

    @property
    def is_redirect(self) -> bool:
        return codes.is_redirect(self.status_code)

    @property
    def is_client_error(self) -> bool:
        return codes.is_client_error(self.status_code)

    @property
    def is_server_error(self) -> bool:
        return codes.is_server_error(self.status_code)

    @property
    def is_error(self) -> bool:
        return codes.is_error(self.status_code)

    @property
    def has_redirect_location(self) -> bool:
        return self.status_code in _REDIRECT_CODES and "Location" in self.headers

    def raise_for_status(self) -> Response:
        """Return self for a 2xx response; raise `HTTPStatusError` for any other status."""
        if self._request is None:
            raise RuntimeError(
                "Cannot call `raise_for_status` as the request instance has not been set on "
                "this response."
            )
        if self.is_success:
            return self
        kind = _STATUS_CLASS_NAMES.get(self.status_code // 100, "Invalid status code")
        lines = [f"{kind} '{self.status_code} {self.reason_phrase}' for url '{self.url}'"]
        if self.has_redirect_location:
            lines.append(f"Redirect location: '{self.headers['location']}'")
        lines.append(f"For more information check: {_MDN_STATUS_URL}{self.status_code}")
        raise HTTPStatusError("\n".join(lines), request=self._request, response=self)

    # -- request, timing ----------------------------------------------------------------------

    @property
    def request(self) -> Request:
        if self._request is None:
            raise RuntimeError("The request instance has not been set on this response.")
        return self._request

    @request.setter
    def request(self, value: Request) -> None:
        self._request = value

    @property
    def url(self) -> URL:
        return self.request.url

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request until the body was read or the response closed."""
        elapsed = self._elapsed
        if elapsed is None:
            if self._closed_at is None or self._sent_at is None:
                raise RuntimeError(
                    "'.elapsed' may only be accessed after the response has been read or closed."
                )
            # Made on first use: a timedelta costs a keyword-parsing call on every response.
            elapsed = self._elapsed = datetime.timedelta(seconds=self._closed_at - self._sent_at)
        return elapsed

    @elapsed.setter
    def elapsed(self, value: datetime.timedelta) -> None:
        self._elapsed = value

    @property
    def num_bytes_downloaded(self) -> int:
        return self._num_bytes_downloaded

    # -- body as a whole ----------------------------------------------------------------------

    # httpx keeps the read body in `_content` and leaves it unset until then; libraries test
    # `hasattr(response, "_content")` for "was the body read" (httpx-cache before storing a
    # response), set it to give a response a body, or delete it to have the stream read again.
    @property
    def _content(self) -> bytes:
        if self._body is None:
            raise AttributeError("'Response' object has no attribute '_content'")
        return self._body

    @_content.setter
    def _content(self, value: bytes) -> None:
        self._body = value

    @_content.deleter
    def _content(self) -> None:
        self._body = None

    @property
    def content(self) -> bytes:
        if self._body is None:
            raise ResponseNotRead()
        return self._body

    @property
    def text(self) -> str:
        if self._text is None:
            content = self.content
            decoder = TextDecoder(self.encoding or "utf-8")
            self._text = decoder.decode(content) + decoder.flush() if content else ""
        return self._text

    @property
    def encoding(self) -> str | None:
        """The codec for `text`: the Content-Type charset when known, else `default_encoding`."""
        if self._encoding is None:
            encoding = self.charset_encoding
            if encoding is None or not _is_known_encoding(encoding):
                if isinstance(self.default_encoding, str):
                    encoding = self.default_encoding
                elif self._body is not None:
                    encoding = self.default_encoding(self._body)
            self._encoding = encoding or "utf-8"
        return self._encoding

    @encoding.setter
    def encoding(self, value: str) -> None:
        if self._text is not None:
            raise ValueError("Setting encoding after `text` has been accessed is not allowed.")
        self._encoding = value

    @property
    def charset_encoding(self) -> str | None:
        """The `charset` parameter of Content-Type (lower-cased), or None."""
        content_type = self.headers.get("Content-Type")
        if content_type is None:
            return None
        charset: str | None = _content_type_message(content_type).get_content_charset(None)
        return charset

    def json(self, **kwargs: Any) -> Any:
        import json  # on first use: most programs that import httplib never decode JSON

        return json.loads(self.content, **kwargs)

    @property
    def cookies(self) -> Cookies:
        if self._cookies is None:
            self._cookies = Cookies()
            self._cookies.extract_cookies(self)
        return self._cookies

    @property
    def links(self) -> dict[str | None, dict[str, str]]:
        """The Link header (RFC 8288) as {rel or url: {"url": ..., param: value}}."""
        header = self.headers.get("link")
        if header is None:
            return {}
        return {link.get("rel") or link.get("url"): link for link in _parse_links(header)}

    # -- streaming ----------------------------------------------------------------------------

    def _bytes_stages(self, chunk_size: int | None) -> _Pipeline:
        encodings = self.headers.get_list("content-encoding")
        return _Pipeline(_ContentStage(encodings), ByteChunker(chunk_size))

    def _text_stages(self, chunk_size: int | None) -> _Pipeline:
        return _Pipeline(_TextStage(self.encoding or "utf-8"), TextChunker(chunk_size))

    def _begin_raw(self, kind: type[Any], wrong_kind_message: str) -> Any:
        """Check the raw stream may be read now, in this mode, and mark it consumed."""
        if self.is_stream_consumed:
            raise StreamConsumed()
        if self.is_closed:
            raise StreamClosed()
        if not isinstance(self.stream, kind):
            raise RuntimeError(wrong_kind_message)
        self.is_stream_consumed = True
        self._num_bytes_downloaded = 0
        return self.stream

    def _mark_closed(self) -> bool:
        """Record closing (and the elapsed time) once; False when it was already closed."""
        if self.is_closed:
            return False
        self.is_closed = True
        if self._sent_at is not None:
            self._closed_at = time.perf_counter()  # (`elapsed` makes the timedelta)
        elif self._elapsed_func is not None:
            self._elapsed = self._elapsed_func()
        return True

    def _is_identity(self) -> bool:
        """No Content-Encoding to undo: the raw chunks are the decoded body."""
        # A plain loop: a comprehension costs a frame of its own on every response.
        for field in self.headers._list:  # noqa: SIM110
            if field[1] == b"content-encoding":
                return False
        return True

    def _take_arrived(self) -> bytes | None:
        """The whole identity body when it has already arrived (our transports' streams offer
        it through `take_arrived()`), consumed as `iter_raw` would; else None."""
        take = getattr(self.stream, "take_arrived", None)
        if take is None or self.is_stream_consumed or self.is_closed or not self._is_identity():
            return None
        body: bytes | None = take()
        if body is not None:
            self.is_stream_consumed = True
            self._num_bytes_downloaded = len(body)
            self._body = body
        return body

    def _content_length(self) -> int | None:
        """The Content-Length the server announced, when it is one plain number."""
        value = self.headers.get("content-length")
        if value is None or not value.isdigit() or len(value) > 20:
            return None
        return int(value)

    def _too_large(self, limit: int) -> ContentTooLarge:
        return ContentTooLarge(
            f"The response content is larger than max_content_size={limit} bytes (decoded); "
            "raise the limit, or stream the body with iter_bytes()",
            limit=limit,
            request=self._request,
        )

    def _announced_over(self, limit: int) -> bool:
        """An identity body whose Content-Length is over `limit`: refused before reading."""
        length = self._content_length()
        return length is not None and length > limit and self._is_identity()

    def read(self) -> bytes:
        """Read the whole body into memory (decoded) and close the response.

        Under a `max_content_size` cap (see `Client`) a body that decodes to more raises
        `ContentTooLarge` and closes the response, having held at most the cap plus one
        decoded piece (`MAX_DECODED_PIECE`).
        """
        if self._body is None:
            limit = self._max_content_size
            early = self._read_without_waiting(limit)
            if early is not None:
                self.close()
                if isinstance(early, ContentTooLarge):
                    raise early
                return early
            chunks = self.iter_raw() if self._is_identity() else self.iter_bytes()
            if limit is None:
                self._body = b"".join(chunks)
            else:
                kept = _Capped(limit)
                for part in chunks:
                    if not kept.add(part):
                        _close_iterator(chunks)
                        self.close()  # early: the connection is dropped, not drained
                        raise self._too_large(limit)
                self._body = kept.joined()
        return self._body

    def _read_without_waiting(self, limit: int | None) -> bytes | ContentTooLarge | None:
        """What `read()` can settle before reading from the stream (the caller then closes
        the response): the whole body when it has already arrived, the cap's error when the
        body is over it, or None when the body must be read."""
        if limit is not None and self._announced_over(limit):
            return self._too_large(limit)
        body = self._take_arrived()
        if body is not None and limit is not None and len(body) > limit:
            self._body = None
            return self._too_large(limit)
        return body

    def _discard_needs_reading(self, limit: int) -> bool:
        """Whether `_discard` must read anything: not when the body was read or closed, has
        already arrived, or announces more than `limit` (it is cut off unread)."""
        if self._body is not None or self.is_stream_consumed or self.is_closed:
            return False
        length = self._content_length()
        return not ((length is not None and length > limit) or self._take_arrived() is not None)

    def _discard(self, limit: int) -> None:
        """Read and drop a body nobody asked for (a redirect's), raw and never decoded.

        At most `limit` raw bytes are read; a longer body is cut off by closing the response
        (its connection is closed, not drained). An identity body that fits is kept as
        `content`, as httpx keeps a redirect's body; an encoded one is not decoded, so its
        `content` stays unread (urllib3's CVE-2026-21441: a redirect body inflated in memory).
        """
        try:
            if not self._discard_needs_reading(limit):
                return
            raw = self.iter_raw()
            kept = _Capped(limit)
            for part in raw:
                if not kept.add(part):
                    _close_iterator(raw)
                    return
            if self._is_identity():
                self._body = kept.joined()
        finally:
            self.close()

    def iter_raw(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body exactly as received (still Content-Encoded), in `chunk_size` pieces."""
        stream = self._begin_raw(SyncByteStream, _SYNC_ITER_ON_ASYNC)
        try:
            if chunk_size is None:
                for chunk in stream:
                    if chunk:
                        self._num_bytes_downloaded += len(chunk)
                        yield chunk
            else:
                yield from _run(stream, _Pipeline(_TallyStage(self), ByteChunker(chunk_size)))
        except RequestError as exc:
            _attach_request(exc, self._request)
            raise
        self.close()

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body with Content-Encoding undone, in `chunk_size` pieces."""
        if self._body is not None:
            yield from _slices(self._body, chunk_size)
        elif chunk_size is None and self._is_identity():
            yield from self.iter_raw()
        else:
            with request_context(request=self._request):
                yield from _run(self.iter_raw(), self._bytes_stages(chunk_size))

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """The body decoded with `encoding`, in pieces of `chunk_size` characters."""
        yield from _run(self.iter_bytes(), self._text_stages(chunk_size))

    def iter_lines(self) -> Iterator[str]:
        """The body's text line by line, without the line endings."""
        return _Lines.over(self._line_batches())

    def _line_batches(self) -> Iterator[list[str]]:
        """The lines of each decoded chunk, split in one `splitlines` call per chunk."""
        decoder = LineDecoder()
        decode = decoder.decode
        for text in self.iter_text():
            yield decode(text)
        yield decoder.flush()

    def close(self) -> None:
        """Release the connection; the rest of the body is no longer available."""
        if not isinstance(self.stream, SyncByteStream):
            raise RuntimeError(_SYNC_CLOSE_ON_ASYNC)
        if self._mark_closed():
            try:
                self.stream.close()
            except RequestError as exc:
                _attach_request(exc, self._request)
                raise

    async def aread(self) -> bytes:
        """Async twin of `read()`."""
        if self._body is None:
            limit = self._max_content_size
            early = self._read_without_waiting(limit)
            if early is not None:
                await self.aclose()
                if isinstance(early, ContentTooLarge):
                    raise early
                return early
            chunks = self.aiter_raw() if self._is_identity() else self.aiter_bytes()
            if limit is None:
                self._body = b"".join([part async for part in chunks])
            else:
                kept = _Capped(limit)
                async for part in chunks:
                    if not kept.add(part):
                        await _aclose_iterator(chunks)
                        await self.aclose()
                        raise self._too_large(limit)
                self._body = kept.joined()
        return self._body

    async def _adiscard(self, limit: int) -> None:
        """Async twin of `_discard()`."""
        try:
            if not self._discard_needs_reading(limit):
                return
            raw = self.aiter_raw()
            kept = _Capped(limit)
            async for part in raw:
                if not kept.add(part):
                    await _aclose_iterator(raw)
                    return
            if self._is_identity():
                self._body = kept.joined()
        finally:
            await self.aclose()

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Async twin of `iter_raw()`."""
        stream = self._begin_raw(AsyncByteStream, _ASYNC_ITER_ON_SYNC)
        chunks = stream.__aiter__()
        try:
            if chunk_size is None:
                async for chunk in chunks:
                    if chunk:
                        self._num_bytes_downloaded += len(chunk)
                        yield chunk
            else:
                pipeline = _Pipeline(_TallyStage(self), ByteChunker(chunk_size))
                async for chunk in _arun(chunks, pipeline):
                    yield chunk
        except RequestError as exc:
            _attach_request(exc, self._request)
            raise
        finally:
            await _aclose_iterator(chunks)
        await self.aclose()

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Async twin of `iter_bytes()`."""
        if self._body is not None:
            for piece in _slices(self._body, chunk_size):
                yield piece
            return
        if chunk_size is None and self._is_identity():
            raw = self.aiter_raw()
            try:
                async for chunk in raw:
                    yield chunk
            finally:
                await _aclose_iterator(raw)
            return
        with request_context(request=self._request):
            decoded = _arun(self.aiter_raw(), self._bytes_stages(chunk_size))
            try:
                async for chunk in decoded:
                    yield chunk
            finally:
                # Closed early (a capped read, a break): the stages close now, not at GC.
                await _aclose_iterator(decoded)

    async def aiter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        """Async twin of `iter_text()`."""
        texts = _arun(self.aiter_bytes(), self._text_stages(chunk_size))
        try:
            async for text in texts:
                yield text
        finally:
            await _aclose_iterator(texts)

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Async twin of `iter_lines()`."""
        # One async generator between the caller and each chunk's lines: every extra layer
        # is paid once per line, and lines are short (NDJSON, server-sent events).
        decoder = LineDecoder()
        decode = decoder.decode
        texts = self.aiter_text()
        try:
            async for text in texts:
                for line in decode(text):
                    yield line
        finally:
            await _aclose_iterator(texts)
        for line in decoder.flush():
            yield line

    async def aclose(self) -> None:
        """Async twin of `close()`."""
        if not isinstance(self.stream, AsyncByteStream):
            raise RuntimeError(_ASYNC_CLOSE_ON_SYNC)
        if self._mark_closed():
            try:
                await self.stream.aclose()
            except RequestError as exc:
                _attach_request(exc, self._request)
                raise

    # -- context managers, repr, pickling -----------------------------------------------------

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status_code} {self.reason_phrase}]>"

    def __getstate__(self) -> dict[str, Any]:
        dropped = {"stream", "is_closed", "_elapsed_func"}
        return {key: value for key, value in self.__dict__.items() if key not in dropped}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.is_closed = True
        self.extensions = {}
        self._elapsed_func = None
        self.stream = _UnattachedStream()


class _Capped:
    """Body parts kept up to `limit` bytes in all: `add` says False once they go past it."""

    __slots__ = ("limit", "parts", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, part: bytes) -> bool:
        self.size += len(part)
        if self.size > self.limit:
            return False
        self.parts.append(part)
        return True

    def joined(self) -> bytes:
        return b"".join(self.parts)


class _Lines(itertools.chain[str]):
    """`iter_lines()`: each chunk's lines walked in C, so a line costs no generator resume.

    `close()` behaves as closing httpx's generator: no further line, even of the chunk being
    walked, and the body iterators are finalised now rather than at garbage collection.
    """

    _batches: Iterator[list[str]]
    _walking: list[str]

    @classmethod
    def over(cls, batches: Iterator[list[str]]) -> _Lines:
        def tracked() -> Iterator[list[str]]:
            for batch in batches:
                lines._walking = batch
                yield batch

        lines = cast("_Lines", cls.from_iterable(tracked()))
        lines._batches, lines._walking = batches, []
        return lines

    def close(self) -> None:
        self._walking.clear()  # the chain's iterator over this list is now exhausted
        _close_iterator(self._batches)


def _close_iterator(iterator: Iterator[Any]) -> None:
    """Close a generator that will not be iterated further: its clean-up runs now."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _attach_request(exc: RequestError, request: Request | None) -> None:
    """What `request_context` does, inline for the per-response path."""
    if request is not None and exc._request is None:
        exc._request = request


def _is_known_encoding(encoding: str) -> bool:
    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    return True


# RFC 8288 section 3: links are separated by commas, each `<uri>` followed by `; param=value`.
_LINK_SPLIT = re.compile(r",\s*(?=<)")
_LINK_QUOTES = " '\""


def _parse_links(header: str) -> list[dict[str, str]]:
    """Each link of a Link header as {"url": uri, param: value, ...}, quotes stripped."""
    links = []
    for entry in _LINK_SPLIT.split(header.strip(_LINK_QUOTES)):
        if not entry:
            continue
        target, _, params = entry.partition(";")
        link = {"url": target.strip("<> '\"")}
        for param in params.split(";") if params else []:
            name, equals, value = param.partition("=")
            if not equals or "=" in value:
                break
            link[name.strip(_LINK_QUOTES)] = value.strip(_LINK_QUOTES)
        links.append(link)
    return links
