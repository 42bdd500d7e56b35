"""The public exception tree, identical in shape to httpx's.

```text
HTTPError
├── RequestError                    (a request could not be completed)
│   ├── TransportError              (raised by a transport)
│   │   ├── TimeoutException
│   │   │   ├── ConnectTimeout
│   │   │   ├── ReadTimeout
│   │   │   ├── WriteTimeout
│   │   │   ├── PoolTimeout
│   │   │   └── RateLimitTimeout    (httplib only: the client's RateLimit would wait too long)
│   │   ├── NetworkError
│   │   │   ├── ConnectError
│   │   │   ├── ReadError
│   │   │   ├── WriteError
│   │   │   └── CloseError
│   │   ├── ProtocolError
│   │   │   ├── LocalProtocolError
│   │   │   └── RemoteProtocolError
│   │   ├── ProxyError
│   │   ├── UnsupportedProtocol
│   │   └── CircuitOpenError        (httplib only: the CircuitBreaker fails a request fast)
│   ├── DecodingError
│   │   └── ContentTooLarge         (httplib only: a body over the `max_content_size` cap)
│   └── TooManyRedirects
└── HTTPStatusError                 (raise_for_status() on a non-2xx response)
InvalidURL                          (ValueError-like: a URL that cannot be parsed or built)
CookieConflict                      (Cookies.get() matched several cookies)
StreamError (RuntimeError)
├── StreamConsumed
├── StreamClosed
├── ResponseNotRead
└── RequestNotRead
```

Transports raise only from this tree: foreign errors (OSError, ssl, parser, h2) are mapped
once, at the shell boundary, by `map_exceptions`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._models import Request, Response

__all__ = [
    "CircuitOpenError",
    "CloseError",
    "ConnectError",
    "ConnectTimeout",
    "ContentTooLarge",
    "CookieConflict",
    "DecodingError",
    "HTTPError",
    "HTTPStatusError",
    "InvalidURL",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "RateLimitTimeout",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "RequestNotRead",
    "ResponseNotRead",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "map_exceptions",
    "mapped_exception",
    "request_context",
]


class HTTPError(Exception):
    """Base class for `RequestError` and `HTTPStatusError`.

    Lets callers catch either with one `except httplib.HTTPError as exc` and still reach
    `exc.request`.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._request: Request | None = None

    @property
    def request(self) -> Request:
        if self._request is None:
            raise RuntimeError("The .request property has not been set.")
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request


class RequestError(HTTPError):
    """An error occurred while issuing a request."""

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        # A transport raises without the request; the client attaches it on the way out
        # (see `request_context`), so users always find `exc.request` set.
        self._request = request


class TransportError(RequestError):
    """Base class for errors raised by a transport."""


class TimeoutException(TransportError):
    """A timeout elapsed; one subclass per phase."""


class ConnectTimeout(TimeoutException):
    """Timed out while connecting to the host."""


class ReadTimeout(TimeoutException):
    """Timed out while receiving data from the host."""


class WriteTimeout(TimeoutException):
    """Timed out while sending data to the host."""


class PoolTimeout(TimeoutException):
    """Timed out waiting for a connection from the pool."""


class RateLimitTimeout(TimeoutException):
    """The client's own `RateLimit` would hold the request longer than its `max_wait`.

    httplib's own addition to httpx's tree. Raised at once, before any byte is sent, instead of
    sleeping towards a failure known in advance. A `TimeoutException` because it is one: a
    bound on waiting before the request can go, as `PoolTimeout` is for a pool slot (it is not
    a pool wait, so it is a sibling rather than a subclass); code that handles httpx's
    timeouts, or retries on `TransportError`, treats it as a slow dependency without knowing
    the new name. `origin` is the (scheme, host, port) that was limited, `wait` the seconds it
    would have waited (None when built from a message alone).
    """

    def __init__(
        self,
        message: str,
        *,
        origin: tuple[str, str, int] | None = None,
        wait: float | None = None,
        request: Request | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.origin = origin
        self.wait = wait


class NetworkError(TransportError):
    """A network failure while talking to the host."""


class ReadError(NetworkError):
    """Failed to receive data from the network."""


class WriteError(NetworkError):
    """Failed to send data through the network."""


class ConnectError(NetworkError):
    """Failed to establish a connection."""


class CloseError(NetworkError):
    """Failed to close a connection."""


class ProxyError(TransportError):
    """The proxy refused or failed the request."""


class UnsupportedProtocol(TransportError):
    """The URL scheme is not supported (or missing), e.g. `ftp://` or `example.com/path`."""


class CircuitOpenError(TransportError):
    """The client's `CircuitBreaker` has opened the circuit to this origin: the request fails
    at once, without a byte sent, until the breaker lets a probe through.

    httplib's own addition to httpx's tree: a `TransportError`, since to the caller it is the
    origin being unreachable for now, so `except httpx.TransportError` handlers (and retry
    logic keyed on it) keep working. `origin` is the (scheme, host, port) and `retry_in` the
    seconds until the breaker lets a probe through (None when built from a message alone).
    """

    def __init__(
        self,
        message: str,
        *,
        origin: tuple[str, str, int] | None = None,
        retry_in: float | None = None,
        request: Request | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.origin = origin
        self.retry_in = retry_in


class ProtocolError(TransportError):
    """The HTTP protocol was violated."""


class LocalProtocolError(ProtocolError):
    """This client was about to violate the protocol, e.g. with an invalid header."""


class RemoteProtocolError(ProtocolError):
    """The server violated the protocol, e.g. with a malformed response."""


class DecodingError(RequestError):
    """The response body could not be decoded with its Content-Encoding."""


class ContentTooLarge(DecodingError):
    """A body read into memory grew past the `max_content_size` cap the caller set.

    httplib's own addition to httpx's tree. A `DecodingError` because it is raised where the
    body is turned into `Response.content`, about the content rather than the transport (which
    did nothing wrong, so retry logic keyed on `TransportError` must not fire), as the refusal
    of an over-long Content-Encoding chain already is; `except DecodingError` and
    `except RequestError` handlers keep catching it.
    """

    def __init__(self, message: str, *, limit: int, request: Request | None = None) -> None:
        super().__init__(message, request=request)
        self.limit = limit


class TooManyRedirects(RequestError):
    """The redirect limit (`max_redirects`) was exceeded."""


class HTTPStatusError(HTTPError):
    """`Response.raise_for_status()` was called on a non-2xx response."""

    def __init__(self, message: str, *, request: Request, response: Response) -> None:
        super().__init__(message)
        self.request = request
        self.response = response


class InvalidURL(Exception):
    """A URL could not be parsed or built; the message says which part is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class CookieConflict(Exception):
    """`Cookies.get()` found several cookies of that name; pass a domain or path."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StreamError(RuntimeError):
    """A stream was used the wrong way; always a bug in the calling code, never a network issue."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StreamConsumed(StreamError):
    """The body of a request or response was already iterated once."""

    def __init__(self) -> None:
        message = (
            "Attempted to read or stream some content, but the content has "
            "already been streamed. For requests, this could be due to passing "
            "a generator as request content, and then receiving a redirect "
            "response or a secondary request as part of an authentication flow."
            # httpx's text has no space here; kept identical for code that matches on it.
            "For responses, this could be due to attempting to stream the response "
            "content more than once."
        )
        super().__init__(message)


class StreamClosed(StreamError):
    """The response was closed before its body was read."""

    def __init__(self) -> None:
        message = "Attempted to read or stream content, but the stream has been closed."
        super().__init__(message)


class ResponseNotRead(StreamError):
    """`.content`/`.text`/`.json()` used on a streaming response that was not read."""

    def __init__(self) -> None:
        message = "Attempted to access streaming response content, without having called `read()`."
        super().__init__(message)


class RequestNotRead(StreamError):
    """`.content` used on a streaming request that was not read."""

    def __init__(self) -> None:
        message = "Attempted to access streaming request content, without having called `read()`."
        super().__init__(message)


@contextlib.contextmanager
def request_context(request: Request | None = None) -> Iterator[None]:
    """Attach `request` to any `RequestError` that passes through without one."""
    try:
        yield
    except RequestError as exc:
        if request is not None and exc._request is None:
            exc._request = request
        raise


def mapped_exception(
    exc: BaseException,
    mapping: Mapping[type[BaseException], type[Exception]],
    request: Request | None = None,
) -> Exception | None:
    """The httplib exception `exc` maps to (the most specific source class wins), or None."""
    target: type[Exception] | None = None
    best: type[BaseException] | None = None
    for source, candidate in mapping.items():
        if isinstance(exc, source) and (best is None or issubclass(source, best)):
            best, target = source, candidate
    if target is None or isinstance(exc, target):
        return None
    # (trio's BrokenResourceError says nothing itself; the OSError it wraps says what happened)
    message = str(exc) or str(exc.__cause__ or "") or type(exc).__name__
    if issubclass(target, RequestError):
        return target(message, request=request)
    return target(message)


@contextlib.contextmanager
def map_exceptions(
    mapping: Mapping[type[BaseException], type[Exception]],
    *,
    request: Request | None = None,
) -> Iterator[None]:
    """Re-raise foreign exceptions as their httplib equivalent, the most specific match winning.

    The one boundary where OSError, ssl, parser and h2 errors enter the public tree; the
    original exception stays reachable as `__cause__`. Hot paths call `mapped_exception`
    from a plain `except` instead, which costs nothing when no error occurs.
    """
    try:
        yield
    except Exception as exc:
        mapped = mapped_exception(exc, mapping, request)
        if mapped is None:
            raise
        raise mapped from exc
