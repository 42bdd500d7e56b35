"""`WSGITransport`: calls a WSGI application (Flask, Django, ...) in-process, without a socket.

The environ follows PEP 3333. Where httpx 0.28 strays from the PEP this module follows the PEP,
because the difference only shows where httpx fails: non-ASCII header values and paths are
carried as latin-1 "native strings" (httpx raises UnicodeError on headers, and hands Flask a
mangled path), repeated request headers are joined with "," as WSGI servers do (httpx keeps
only the last), and data passed to `write()` is part of the body (httpx drops it).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import unquote_to_bytes

from .._models import Request, Response
from .._types import SyncByteStream
from .base import BaseTransport

__all__ = ["WSGITransport"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
OptExcInfo = ExcInfo | tuple[None, None, None]
WriteCallable = Callable[[bytes], object]
StartResponse = Callable[..., WriteCallable]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# CGI names these two without the HTTP_ prefix (RFC 3875 section 4.1).
_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


def _checked(chunk: object) -> bytes:
    """PEP 3333 bodies are bytes; anything else is named rather than passed on to fail later."""
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"The WSGI app's body yielded {type(chunk).__name__} {chunk!r:.60}, not bytes")


class _StartResponse:
    """The `start_response` callable of PEP 3333: records the status line, headers and exc_info."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.exc_info: OptExcInfo | None = None
        self.headers_sent = False
        self.written: list[bytes] = []

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> WriteCallable:
        if exc_info is not None and exc_info[1] is not None and self.headers_sent:
            # Too late to change the response: PEP 3333 says to re-raise the app's error.
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers, self.exc_info = status, headers, exc_info
        return self.written.append

    def take_written(self) -> list[bytes]:
        chunks, self.written[:] = self.written[:], []
        return chunks

    def status_code(self) -> int:
        if self.status is None:
            raise AssertionError("The WSGI app returned without calling start_response()")
        code = (self.status.split(maxsplit=1) or [""])[0]
        if not (code.isascii() and code.isdigit()):
            raise ValueError(f"Invalid WSGI status line: {self.status!r}")
        return int(code)


class WSGIByteStream(SyncByteStream):
    """The app's iterable as a response body, pulled lazily; `close()` reaches the iterable's."""

    def __init__(self, result: Iterable[bytes], start: _StartResponse) -> None:
        self._result = result
        self._chunks: Iterator[bytes] = iter(())
        self._start = start
        self._first = b""

    def read_first(self) -> None:
        """Pull until the first body data; until then the app may still call start_response."""
        self._chunks = iter(self._result)
        while not self._first and not self._start.written:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._first = _checked(chunk)
        self._start.headers_sent = True

    def __iter__(self) -> Iterator[bytes]:
        # Data given to write() while the app produced a chunk goes out before that chunk.
        yield from self._start.take_written()
        if self._first:
            yield self._first
        for chunk in self._chunks:
            yield from self._start.take_written()
            if data := _checked(chunk):
                yield data
        yield from self._start.take_written()

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


class WSGITransport(BaseTransport):
    """Sends each request to `app` in this thread and returns its response, body streamed.

    An exception the app raises propagates. With `raise_app_exceptions`, an error the app reports
    through `start_response(..., exc_info)` is raised too; otherwise the app's (error) response
    is returned, as in httpx.
    """

    def __init__(
        self,
        app: WSGIApplication,
        raise_app_exceptions: bool = True,
        script_name: str = "",
        remote_addr: str = "127.0.0.1",
        wsgi_errors: TextIO | None = None,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.script_name = script_name
        self.remote_addr = remote_addr
        self.wsgi_errors = wsgi_errors

    def handle_request(self, request: Request) -> Response:
        request.read()
        start = _StartResponse()
        stream = WSGIByteStream(self.app(self._environ(request), start), start)
        try:
            stream.read_first()
            exc_info = start.exc_info
            if exc_info is not None and exc_info[1] is not None and self.raise_app_exceptions:
                raise exc_info[1].with_traceback(exc_info[2])
            status_code = start.status_code()
        except BaseException:
            stream.close()  # PEP 3333: the iterable is closed however the request ends.
            raise
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in start.headers]
        return Response(status_code, headers=headers, stream=stream)

    def _environ(self, request: Request) -> dict[str, Any]:
        url = request.url
        path = url.raw_path.partition(b"?")[0]
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(request.content),
            "wsgi.errors": self.wsgi_errors or sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": self.script_name,
            # PEP 3333: the percent-decoded bytes, one character per byte.
            "PATH_INFO": _latin1(unquote_to_bytes(path)),
            "QUERY_STRING": _latin1(url.query),
            "SERVER_NAME": url.host,
            "SERVER_PORT": str(url.port or _DEFAULT_PORTS[url.scheme]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
        }
        for raw_name, raw_value in request.headers.raw:
            key = _latin1(raw_name).upper().replace("-", "_")
            key = key if key in _UNPREFIXED else "HTTP_" + key
            value = _latin1(raw_value)
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ
