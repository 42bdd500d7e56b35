"""`multipart/form-data` request bodies (RFC 7578), byte-compatible with httpx 0.28's output.

Each form field and file becomes one part: `--boundary CRLF`, its headers, a blank line, its
content, CRLF; a closing `--boundary--` ends the body. Headers are rendered once up front; file
contents are streamed in chunks, so a large upload is never held in memory whole.
"""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import PurePath
from typing import Any

from ._content import CHUNK_SIZE, check_chunk, filelike_size, is_seekable
from ._exceptions import StreamConsumed
from ._types import AsyncByteStream, RequestData, RequestFiles, SyncByteStream
from ._utils import primitive_value_to_str

__all__ = ["MultipartStream", "format_form_param"]

# HTML's form encoding for names in Content-Disposition (WHATWG HTML, "multipart/form-data
# encoding algorithm"), as httpx applies it: `"` and control characters are percent-escaped,
# and a backslash is doubled. ESC (0x1B) is left alone, as httpx does.
_PARAM_ESCAPES: dict[int, str] = {c: f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_PARAM_ESCAPES[ord('"')] = "%22"
_PARAM_ESCAPES[ord("\\")] = "\\\\"

_DEFAULT_FILENAME = "upload"
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CRLF = b"\r\n"


def format_form_param(name: str, value: str) -> bytes:
    """One `name="value"` parameter of a Content-Disposition header, escaped as browsers do."""
    return f'{name}="{value.translate(_PARAM_ESCAPES)}"'.encode()


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Invalid type for name. Expected str, got {type(name)}: {name!r}")
    return name


def _check_header(name: str, value: str) -> bytes:
    """One part header line; CR or LF would let a value forge extra headers, so they are refused."""
    for item in (name, value):
        if not isinstance(item, str):
            raise TypeError(f"Invalid type for multipart header: {name!r}: {value!r}")
        if "\r" in item or "\n" in item:
            raise ValueError(f"Invalid multipart header, CR or LF not allowed: {name!r}: {value!r}")
    return f"{name}: {value}".encode()


class _DataField:
    """A plain form field: headers and value are both known bytes."""

    replayable = True

    def __init__(self, name: object, value: object) -> None:
        name = _check_name(name)
        if isinstance(value, bytes):
            self._data = value
        elif isinstance(value, str):
            self._data = value.encode("utf-8")
        elif value is None or isinstance(value, int | float):
            self._data = primitive_value_to_str(value).encode("utf-8")
        else:
            raise TypeError(
                f"Invalid type for value. Expected primitive type, got {type(value)}: {value!r}"
            )
        self._headers = b"Content-Disposition: form-data; " + format_form_param("name", name)

    def get_length(self) -> int:
        return len(self._headers) + 4 + len(self._data)

    def render(self) -> Iterator[bytes]:
        yield self._headers + b"\r\n\r\n"
        yield self._data


def _check_file(name: str, file: object) -> object:
    """Accept bytes, str or a binary file object; text files get httpx's explanation."""
    if isinstance(file, io.StringIO):
        raise TypeError("Multipart file uploads require 'io.BytesIO', not 'io.StringIO'.")
    if isinstance(file, io.TextIOBase):
        raise TypeError("Multipart file uploads must be opened in binary mode, not text mode.")
    if isinstance(file, bytes | str) or callable(getattr(file, "read", None)):
        return file
    raise TypeError(
        f"Invalid type for file {name!r}. Expected a binary file object, bytes or str, "
        f"got {type(file)}: {file!r}"
    )


def _unpack_file_value(name: str, value: Any) -> tuple[str | None, object, str | None, Any]:
    """Split `file`, `(filename, file)`, `(.., content_type)` or `(.., headers)` into 4 parts."""
    if not isinstance(value, tuple):
        filename = PurePath(str(getattr(value, "name", _DEFAULT_FILENAME))).name
        return filename, value, None, {}
    if not 2 <= len(value) <= 4:
        raise ValueError(
            f"Invalid file tuple for {name!r}: expected (filename, file), (filename, file, "
            f"content_type) or (filename, file, content_type, headers), got {len(value)} items."
        )
    filename, file, content_type, headers = (*value, None, {})[:4]
    return filename, file, content_type, {} if headers is None else headers


class _FileField:
    """A file part: headers are rendered up front, the content is read in chunks when sent."""

    def __init__(self, name: object, value: Any) -> None:
        name = _check_name(name)
        filename, file, content_type, headers = _unpack_file_value(name, value)
        self._file = _check_file(name, file)
        if not isinstance(headers, Mapping):
            raise TypeError(f"Invalid type for headers of file {name!r}: {type(headers)}")
        if content_type is None and filename:
            content_type = mimetypes.guess_type(filename)[0] or _DEFAULT_CONTENT_TYPE
        lines = [b"Content-Disposition: form-data; " + format_form_param("name", name)]
        if filename:
            lines[0] += b"; " + format_form_param("filename", filename)
        lines.extend(_check_header(key, val) for key, val in headers.items())
        # A Content-Type the caller put in the headers wins over the given or guessed one.
        if content_type is not None and all(key.lower() != "content-type" for key in headers):
            lines.append(_check_header("Content-Type", content_type))
        self._headers = _CRLF.join(lines) + b"\r\n\r\n"
        is_file = not isinstance(self._file, bytes | str)
        self.replayable = not is_file or is_seekable(self._file)

    def get_length(self) -> int | None:
        if isinstance(self._file, bytes):
            return len(self._headers) + len(self._file)
        if isinstance(self._file, str):
            return len(self._headers) + len(self._file.encode("utf-8"))
        # The whole file is sent (it is rewound to 0 first, as httpx does), so its full size.
        size = filelike_size(self._file) if self.replayable else None
        return None if size is None else len(self._headers) + size

    def render(self) -> Iterator[bytes]:
        yield self._headers
        file: Any = self._file
        if isinstance(file, bytes | str):
            yield file.encode("utf-8") if isinstance(file, str) else file
            return
        if self.replayable:
            file.seek(0)
        while chunk := file.read(CHUNK_SIZE):
            yield check_chunk(chunk)


class MultipartStream(SyncByteStream, AsyncByteStream):
    """A `multipart/form-data` body of form fields then files, iterable sync and async.

    It replays (for redirects and auth retries) when every file can be rewound; otherwise a
    second iteration raises `StreamConsumed` rather than sending parts without their content.
    """

    def __init__(
        self, data: RequestData, files: RequestFiles, boundary: bytes | None = None
    ) -> None:
        if boundary is None:
            boundary = os.urandom(16).hex().encode("ascii")
        self.boundary = boundary
        self.content_type = f"multipart/form-data; boundary={boundary.decode('ascii')}"
        self._fields: list[_DataField | _FileField] = [
            *self._data_fields(data),
            *self._file_fields(files),
        ]
        self._replayable = all(field.replayable for field in self._fields)
        self._started = False

    @staticmethod
    def _data_fields(data: RequestData) -> Iterator[_DataField]:
        for name, value in data.items():
            for item in value if isinstance(value, list | tuple) else (value,):
                yield _DataField(name, item)

    @staticmethod
    def _file_fields(files: RequestFiles) -> Iterator[_FileField]:
        items = files.items() if isinstance(files, Mapping) else files
        for name, value in items:
            yield _FileField(name, value)

    def get_content_length(self) -> int | None:
        """Exact body size, or None when some file's size cannot be known in advance."""
        # Each part adds `--boundary\r\n` before and `\r\n` after; the end is `--boundary--\r\n`.
        per_part = len(self.boundary) + 6
        total = len(self.boundary) + 6
        for field in self._fields:
            length = field.get_length()
            if length is None:
                return None
            total += per_part + length
        return total

    def get_headers(self) -> dict[str, str]:
        """Content-Type with the boundary, and Content-Length or else chunked framing."""
        length = self.get_content_length()
        if length is None:
            return {"Transfer-Encoding": "chunked", "Content-Type": self.content_type}
        return {"Content-Length": str(length), "Content-Type": self.content_type}

    def iter_chunks(self) -> Iterator[bytes]:
        if self._started and not self._replayable:
            raise StreamConsumed()
        self._started = True
        delimiter = b"--" + self.boundary + b"\r\n"
        for field in self._fields:
            yield delimiter
            yield from field.render()
            yield _CRLF
        yield b"--" + self.boundary + b"--\r\n"

    def __iter__(self) -> Iterator[bytes]:
        yield from self.iter_chunks()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.iter_chunks():
            yield chunk
