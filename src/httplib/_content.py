"""Request and response bodies: `content=`, `data=`, `files=` and `json=` become headers + a stream.

Every encoder returns `(headers, stream)`: the headers are the ones the body implies
(Content-Length, Transfer-Encoding, Content-Type) and are only added by the caller when the user
did not set them. In-memory bodies are `ByteStream`s and can be replayed on redirects and auth
retries; iterator bodies replay only when their source can be rewound.
"""

from __future__ import annotations

import functools
import io
import math
import os
import stat
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any
from urllib.parse import urlencode

from ._exceptions import StreamConsumed
from ._types import (
    AsyncByteStream,
    RequestContent,
    RequestData,
    RequestFiles,
    ResponseContent,
    SyncByteStream,
)
from ._utils import primitive_value_to_str

__all__ = [
    "CHUNK_SIZE",
    "FILE_READ_SIZE",
    "AsyncIteratorByteStream",
    "ByteStream",
    "IteratorByteStream",
    "check_chunk",
    "encode_content",
    "encode_json",
    "encode_request",
    "encode_response",
    "encode_urlencoded_data",
    "filelike_size",
    "is_seekable",
]

# Files are read in pieces of this size so a large upload never sits in memory whole.
CHUNK_SIZE = 65_536
# A blocking upload from a file reads this much at a time: a piece fills a loopback or LAN
# socket's send buffer in one `sendall`, and a 64 MiB upload costs 256 reads and writes rather
# than 1,024 (about 15% less CPU, measured with bench/micro/upload.py).
FILE_READ_SIZE = 256 * 1024

_BYTES_LIKE = (bytes, bytearray, memoryview)
_TEXT_PLAIN = "text/plain; charset=utf-8"
_TEXT_HTML = "text/html; charset=utf-8"


# httpx 0.28's compact JSON: no spaces, raw UTF-8 rather than \u escapes, and no NaN/Infinity,
# which are not JSON (RFC 8259 section 6). One shared encoder saves building one per request;
# it (and the json module) is made on first use, so `import httplib` does not load json.
@functools.cache
def _json_encoder() -> Any:
    import json

    return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


_DATA_DEPRECATION = "Use 'content=<...>' to upload raw bytes/text content."

Headers = dict[str, str]
Encoded = tuple[Headers, SyncByteStream | AsyncByteStream]


class ByteStream(SyncByteStream, AsyncByteStream):
    """An in-memory body: yields its bytes once per iteration, as often as asked, sync or async."""

    def __init__(self, data: bytes) -> None:
        self._stream = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._stream


def check_chunk(chunk: object) -> bytes:
    """Return `chunk` as bytes, or raise a TypeError naming what a body iterator produced."""
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, _BYTES_LIKE):
        return bytes(chunk)
    raise TypeError(
        f"Request content must yield bytes, got {type(chunk).__name__!r}: {_short_repr(chunk)}"
    )


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def filelike_size(file: Any) -> int | None:
    """Total size of a file object in bytes, or None when it cannot be known without reading.

    `st_size` is only trusted for regular files: a pipe or socket reports 0 whatever it holds.
    """
    try:
        st = os.fstat(file.fileno())
    except (AttributeError, OSError):
        pass
    else:
        if stat.S_ISREG(st.st_mode):
            return st.st_size
    if not is_seekable(file):
        return None
    try:
        offset = file.tell()
        size = file.seek(0, os.SEEK_END)
        file.seek(offset)
    except (AttributeError, OSError):
        return None
    return size if isinstance(size, int) else None


def is_seekable(file: Any) -> bool:
    """Whether `file` can be rewound: its own `seekable()` answer, else having seek and tell."""
    seekable = getattr(file, "seekable", None)
    if seekable is not None:
        try:
            return bool(seekable())
        except (OSError, ValueError):
            return False
    return callable(getattr(file, "seek", None)) and callable(getattr(file, "tell", None))


def _start_position(file: Any) -> int | None:
    """Where reading starts, when the file can be rewound there for a replay; else None."""
    if not is_seekable(file):
        return None
    try:
        position = file.tell()
    except (AttributeError, OSError):
        return None
    return position if isinstance(position, int) else None


def _read_chunks(file: Any) -> Iterator[bytes]:
    while chunk := file.read(FILE_READ_SIZE):
        yield check_chunk(chunk)


def _reject_text_file(file: object) -> None:
    if isinstance(file, io.TextIOBase):
        raise TypeError(
            f"Request content files must be opened in binary mode, not text mode: {file!r}"
        )


def _is_file_source(stream: object, read: str, wanted: type, other: type) -> bool:
    """True for a file object (has `read`), False for an iterable; TypeError for anything else."""
    if callable(getattr(stream, read, None)):
        return True
    if isinstance(stream, wanted):
        return False
    sync = wanted is Iterable
    expected = "a sync iterable of bytes or a binary file object"
    if not sync:
        expected = "an async iterable of bytes or an async file object (with 'aread')"
    hint = ""
    if isinstance(stream, other):
        hint = "; use AsyncIteratorByteStream" if sync else "; use IteratorByteStream"
    name = "IteratorByteStream" if sync else "AsyncIteratorByteStream"
    raise TypeError(f"{name} expects {expected}, got {type(stream).__name__!r}{hint}.")


class IteratorByteStream(SyncByteStream):
    """A body read from a sync iterable of bytes or a binary file object (`.read`), in chunks.

    Iterators and generators run once: a second iteration raises `StreamConsumed`. A seekable
    file is rewound to where it started; a re-iterable collection (a list) simply replays.
    """

    def __init__(self, stream: Iterable[bytes] | Any) -> None:
        is_file = _is_file_source(stream, "read", Iterable, AsyncIterable)
        _reject_text_file(stream)
        self._stream: Any = stream
        self._is_file = is_file
        self._start = _start_position(stream) if is_file else None
        self._one_shot = self._start is None if is_file else isinstance(stream, Iterator)
        self._started = False

    def get_content_length(self) -> int | None:
        """Bytes left to send from a file of known size; None for iterables (sent chunked)."""
        size = filelike_size(self._stream) if self._is_file else None
        if size is None:
            return None
        return max(size - (self._start or 0), 0)

    def file_region(self) -> tuple[Any, int] | None:
        """The file and the offset it starts at, when this body is a regular file that can be
        sent from there by the kernel (sendfile(2)) instead of iterated; then that counts as
        this body's iteration (a replay sends it from the same offset). None for anything
        else, with nothing changed."""
        # (`socket.sendfile` refuses a file whose mode says text, whatever its reads give)
        if (
            not self._is_file
            or self._start is None
            or "b" not in str(getattr(self._stream, "mode", "b"))
        ):
            return None
        try:
            if not stat.S_ISREG(os.fstat(self._stream.fileno()).st_mode):
                return None
        except (AttributeError, OSError, ValueError):  # (no descriptor, or a closed file)
            return None
        self._started = True
        return self._stream, self._start

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            if self._one_shot:
                raise StreamConsumed()
            if self._start is not None:
                self._stream.seek(self._start)
        self._started = True
        if self._is_file:
            yield from _read_chunks(self._stream)
            return
        for chunk in self._stream:
            # An empty chunk carries nothing, and on the wire in chunked framing it would end
            # the body early (RFC 9112 section 7.1), so it is not passed on.
            if data := check_chunk(chunk):
                yield data


class AsyncIteratorByteStream(AsyncByteStream):
    """A body read from an async iterable of bytes or an async file object (`await .aread(n)`).

    Async iterators and generators run once; a second iteration raises `StreamConsumed`.
    """

    def __init__(self, stream: AsyncIterable[bytes] | Any) -> None:
        is_file = _is_file_source(stream, "aread", AsyncIterable, Iterable)
        self._stream: Any = stream
        self._is_file = is_file
        self._one_shot = is_file or isinstance(stream, AsyncIterator)
        self._started = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started and self._one_shot:
            raise StreamConsumed()
        self._started = True
        if self._is_file:
            while chunk := await self._stream.aread(CHUNK_SIZE):
                yield check_chunk(chunk)
            return
        stream = self._stream
        try:
            async for chunk in stream:
                if data := check_chunk(chunk):
                    yield data
        finally:
            # Abandoned mid-way (the request failed or was cancelled): a one-shot async
            # generator will never run again, so close it now rather than at garbage collection
            # (trio warns about the latter), letting its own clean-up run promptly.
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()


def _encode_bytes(body: bytes) -> Encoded:
    headers = {"Content-Length": str(len(body))} if body else {}
    return headers, ByteStream(body)


def _encode_iterable(content: Any) -> Encoded:
    stream = IteratorByteStream(content)
    length = stream.get_content_length()
    if length is None:
        return {"Transfer-Encoding": "chunked"}, stream
    return {"Content-Length": str(length)}, stream


def encode_content(content: RequestContent | ResponseContent | Any) -> Encoded:
    """Headers and stream for `content=`: bytes/str, a sync or async iterable, or a file."""
    if isinstance(content, bytes):
        return _encode_bytes(content)
    if isinstance(content, str):
        return _encode_bytes(content.encode("utf-8"))
    if isinstance(content, bytearray | memoryview):
        return _encode_bytes(bytes(content))
    if callable(getattr(content, "read", None)) or (
        isinstance(content, Iterable) and not isinstance(content, Mapping)
    ):
        return _encode_iterable(content)
    if isinstance(content, AsyncIterable) or callable(getattr(content, "aread", None)):
        return {"Transfer-Encoding": "chunked"}, AsyncIteratorByteStream(content)
    raise TypeError(f"Unexpected type for 'content', {type(content)!r}")


def encode_urlencoded_data(data: RequestData) -> Encoded:
    """`application/x-www-form-urlencoded` body; a list or tuple value repeats its key."""
    pairs: list[tuple[Any, str]] = []
    for key, value in data.items():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            if type(item) is str:
                pairs.append((key, item))
                continue
            try:
                pairs.append((key, primitive_value_to_str(item)))
            except TypeError as exc:
                raise TypeError(f"Invalid value for form field {key!r}: {exc}") from None
    body = urlencode(pairs).encode("ascii")
    headers = {
        "Content-Length": str(len(body)),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return headers, ByteStream(body)


def encode_json(json: Any) -> Encoded:
    """Compact UTF-8 JSON body, as httpx 0.28 sends it."""
    try:
        body = _json_encoder().encode(json).encode("utf-8")
    except ValueError as exc:
        raise _explain_json_error(json, exc) from exc
    headers = {"Content-Length": str(len(body)), "Content-Type": "application/json"}
    return headers, ByteStream(body)


def _explain_json_error(value: Any, exc: ValueError) -> ValueError:
    """json's NaN error names no value; point at the offending float and where it sits."""
    if isinstance(exc, UnicodeError) or not str(exc).startswith("Out of range float"):
        return exc
    found = _find_non_finite(value, "", set())
    if found is None:
        return exc
    where, number = found
    location = f" at {where}" if where else ""
    return ValueError(f"Out of range float values are not JSON compliant: {number!r}{location}")


def _find_non_finite(value: Any, path: str, seen: set[int]) -> tuple[str, float] | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if not isinstance(value, dict | list | tuple) or id(value) in seen:
        return None
    seen.add(id(value))
    items: Iterable[tuple[Any, Any]] = (
        value.items() if isinstance(value, dict) else enumerate(value)
    )
    for key, item in items:
        # Float object keys are written as strings, but NaN keys are rejected all the same.
        if isinstance(key, float) and not math.isfinite(key):
            return f"{path} (an object key)", key
        found = _find_non_finite(item, f"{path}[{key!r}]", seen)
        if found is not None:
            return found
    return None


def _encode_multipart(data: RequestData, files: RequestFiles, boundary: bytes | None) -> Encoded:
    # Deferred import: the multipart module builds on this module's file helpers.
    from ._multipart import MultipartStream

    stream = MultipartStream(data, files, boundary=boundary)
    return stream.get_headers(), stream


def encode_request(
    content: RequestContent | None = None,
    data: RequestData | RequestContent | None = None,
    files: RequestFiles | None = None,
    json: Any | None = None,
    boundary: bytes | None = None,
) -> Encoded:
    """Headers and stream for a request body; raw data, content, files, data, json in that order."""
    if data is not None and not isinstance(data, Mapping):
        # httpx accepted raw bodies as `data=` once; it still does, with this warning.
        warnings.warn(_DATA_DEPRECATION, DeprecationWarning, stacklevel=2)
        return encode_content(data)
    if content is not None:
        return encode_content(content)
    if files:
        return _encode_multipart(data or {}, files, boundary)
    if data:
        return encode_urlencoded_data(data)
    if json is not None:
        return encode_json(json)
    return {}, ByteStream(b"")


def _encode_text(text: str, content_type: str) -> Encoded:
    body = text.encode("utf-8")
    return {"Content-Length": str(len(body)), "Content-Type": content_type}, ByteStream(body)


def encode_response(
    content: ResponseContent | None = None,
    text: str | None = None,
    html: str | None = None,
    json: Any | None = None,
) -> Encoded:
    """Headers and stream for a response built in code (mock transports, tests)."""
    if content is not None:
        return encode_content(content)
    if text is not None:
        return _encode_text(text, _TEXT_PLAIN)
    if html is not None:
        return _encode_text(html, _TEXT_HTML)
    if json is not None:
        return encode_json(json)
    return {}, ByteStream(b"")
