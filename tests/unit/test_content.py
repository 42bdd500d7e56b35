"""Request and response body encoding, checked against httpx 0.28 where behaviour is shared."""

from __future__ import annotations

import asyncio
import io
import json
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from httpx._content import encode_request as httpx_encode_request
from httpx._content import encode_response as httpx_encode_response
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._content import (
    CHUNK_SIZE,
    FILE_READ_SIZE,
    AsyncIteratorByteStream,
    ByteStream,
    IteratorByteStream,
    encode_request,
    encode_response,
)
from httplib._exceptions import StreamConsumed
from httplib._types import AsyncByteStream, SyncByteStream
from httplib._utils import primitive_value_to_str
from support.files import RecordingFile


def read_sync(stream: Any) -> bytes:
    assert isinstance(stream, SyncByteStream)
    return b"".join(stream)


def read_async(stream: Any) -> bytes:
    assert isinstance(stream, AsyncByteStream)

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream])

    return asyncio.run(collect())


class NonSeekableReader:
    """The smallest thing with `.read`: no seek, no tell, no fileno."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


class AsyncReader:
    """An async file object in the style of anyio/aiofiles: `await aread(n)`."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.read_sizes: list[int] = []

    async def aread(self, size: int) -> bytes:
        self.read_sizes.append(size)
        return self._data.read(size)


# --- ByteStream ------------------------------------------------------------------------------


def test_byte_stream_is_sync_and_async_and_replays() -> None:
    stream = ByteStream(b"hello")
    assert isinstance(stream, SyncByteStream)
    assert isinstance(stream, AsyncByteStream)
    assert list(stream) == [b"hello"]
    assert list(stream) == [b"hello"]
    assert read_async(stream) == b"hello"
    assert read_async(stream) == b"hello"


# --- content= --------------------------------------------------------------------------------

SIMPLE_REQUESTS: list[dict[str, Any]] = [
    {},
    {"content": b""},
    {"content": ""},
    {"content": b"abc"},
    {"content": "h\u00e9llo \u2603"},
    {"content": [b"a", b"bc"]},
    {"data": {"a": [1, True, None, 1.5], "b": "x y&z=", "c": ("p", "q")}},
    {"data": {}},
    {"data": {"a": ()}},
    {"data": {1: "numeric key"}},
    {"json": {"a": "\u00e9", "b": [1, 2.5, None, True], "c": {"d": "\u2603"}}},
    {"json": []},
    {"json": ""},
    {"json": 0},
    {"json": None},
    {"data": {}, "json": {"x": 1}},
    {"files": {}, "data": {"a": "b"}},
    {"content": b"wins", "json": {"a": 1}},
]


@pytest.mark.parametrize("kwargs", SIMPLE_REQUESTS)
def test_encode_request_matches_httpx(kwargs: dict[str, Any]) -> None:
    headers, stream = encode_request(**kwargs)
    expected_headers, expected_stream = httpx_encode_request(**kwargs)
    assert headers == expected_headers
    assert read_sync(stream) == b"".join(expected_stream)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"content": b"raw"},
        {"content": "caf\u00e9"},
        {"text": ""},
        {"text": "caf\u00e9"},
        {"html": "<p>\u2603</p>"},
        {"json": {"a": [1, "\u00e9"]}},
        {"json": None},
        {"content": b"first", "text": "ignored"},
    ],
)
def test_encode_response_matches_httpx(kwargs: dict[str, Any]) -> None:
    headers, stream = encode_response(**kwargs)
    expected_headers, expected_stream = httpx_encode_response(**kwargs)
    assert headers == expected_headers
    assert read_sync(stream) == b"".join(expected_stream)  # type: ignore[arg-type]


def test_response_text_and_html_content_types() -> None:
    assert encode_response(text="x")[0]["Content-Type"] == "text/plain; charset=utf-8"
    assert encode_response(html="x")[0]["Content-Type"] == "text/html; charset=utf-8"
    assert encode_response(json=[1])[0]["Content-Type"] == "application/json"


def test_in_memory_bodies_are_byte_streams() -> None:
    cases: list[dict[str, Any]] = [{"content": b"x"}, {"data": {"a": "b"}}, {"json": {}}, {}]
    for kwargs in cases:
        assert isinstance(encode_request(**kwargs)[1], ByteStream)


def test_bytes_like_content_is_sent_as_bytes() -> None:
    for content in (bytearray(b"abc"), memoryview(b"abc")):
        headers, stream = encode_request(content=content)  # type: ignore[arg-type]
        assert headers == {"Content-Length": "3"}
        assert read_sync(stream) == b"abc"


@pytest.mark.parametrize("content", [123, 1.5, {"a": 1}, object()])
def test_unsupported_content_type_is_rejected_like_httpx(content: Any) -> None:
    with pytest.raises(TypeError) as ours:
        encode_request(content=content)
    with pytest.raises(TypeError) as theirs:
        httpx_encode_request(content=content)
    assert str(ours.value) == str(theirs.value)
    assert type(content).__name__ in str(ours.value)


def test_generator_content_is_chunked_and_single_use() -> None:
    def body() -> Iterator[bytes]:
        yield b"one "
        yield b""
        yield b"two"

    headers, stream = encode_request(content=body())
    assert headers == {"Transfer-Encoding": "chunked"}
    assert isinstance(stream, IteratorByteStream)
    assert list(stream) == [b"one ", b"two"]  # the empty chunk is not passed on
    with pytest.raises(StreamConsumed):
        list(stream)


def test_plain_iterator_is_single_use_but_list_replays() -> None:
    _, once = encode_request(content=iter([b"a", b"b"]))
    assert read_sync(once) == b"ab"
    with pytest.raises(StreamConsumed):
        read_sync(once)
    _, replay = encode_request(content=[b"a", b"b"])
    assert read_sync(replay) == b"ab"
    assert read_sync(replay) == b"ab"


@pytest.mark.parametrize("bad", ["text", 7, None, {"k": "v"}])
def test_non_bytes_chunk_is_a_type_error_naming_the_type(bad: Any) -> None:
    _, stream = encode_request(content=iter([b"ok", bad]))
    with pytest.raises(TypeError, match=repr(type(bad).__name__)):
        read_sync(stream)


def test_async_generator_content() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"async "
        yield bytearray(b"body")  # type: ignore[misc]

    headers, stream = encode_request(content=body())
    assert headers == {"Transfer-Encoding": "chunked"}
    assert isinstance(stream, AsyncIteratorByteStream)
    assert not isinstance(stream, SyncByteStream)
    assert read_async(stream) == b"async body"
    with pytest.raises(StreamConsumed):
        read_async(stream)


def test_async_non_bytes_chunk_is_a_type_error() -> None:
    async def body() -> AsyncIterator[str]:
        yield "text"

    _, stream = encode_request(content=body())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'str'"):
        read_async(stream)


def test_async_file_object_is_read_in_chunks() -> None:
    data = b"z" * (CHUNK_SIZE * 2 + 5)
    reader = AsyncReader(data)
    headers, stream = encode_request(content=reader)  # type: ignore[arg-type]
    assert headers == {"Transfer-Encoding": "chunked"}
    assert read_async(stream) == data
    assert set(reader.read_sizes) == {CHUNK_SIZE}
    with pytest.raises(StreamConsumed):
        read_async(stream)


def test_iterator_stream_rejects_async_source_with_a_hint() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b""  # pragma: no cover

    gen = body()
    with pytest.raises(TypeError, match="AsyncIteratorByteStream"):
        IteratorByteStream(gen)
    asyncio.run(gen.aclose())  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="'int'"):
        IteratorByteStream(5)


def test_async_iterator_stream_rejects_sync_source_with_a_hint() -> None:
    with pytest.raises(TypeError, match="use IteratorByteStream"):
        AsyncIteratorByteStream([b"a"])
    with pytest.raises(TypeError, match="'int'"):
        AsyncIteratorByteStream(5)


# --- files as content= -----------------------------------------------------------------------


def test_file_content_has_length_and_is_read_in_chunks() -> None:
    data = bytes(range(256)) * 2100
    file = RecordingFile(data)
    headers, stream = encode_request(content=file)
    assert headers == {"Content-Length": str(len(data))}
    chunks = list(stream)  # type: ignore[arg-type]
    assert b"".join(chunks) == data
    assert len(chunks) == 3
    assert max(len(chunk) for chunk in chunks) <= FILE_READ_SIZE
    assert set(file.read_sizes) == {FILE_READ_SIZE}


def test_seekable_file_content_replays_from_its_start_position(tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(b"header:payload")
    with path.open("rb") as file:
        file.read(7)
        headers, stream = encode_request(content=file)
        # Only what is left is sent, and Content-Length says so.
        assert headers == {"Content-Length": "7"}
        assert read_sync(stream) == b"payload"
        assert read_sync(stream) == b"payload"


def test_non_seekable_file_content_is_chunked_and_single_use() -> None:
    for file in (NonSeekableReader(b"stream me"), RecordingFile(b"stream me", seekable=False)):
        headers, stream = encode_request(content=file)  # type: ignore[arg-type]
        assert headers == {"Transfer-Encoding": "chunked"}
        assert read_sync(stream) == b"stream me"
        with pytest.raises(StreamConsumed):
            read_sync(stream)


def test_pipe_is_not_trusted_for_its_size() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"piped")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        headers, stream = encode_request(content=pipe)
        assert headers == {"Transfer-Encoding": "chunked"}
        assert read_sync(stream) == b"piped"


def test_text_mode_file_content_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("text")
    with path.open("r") as file, pytest.raises(TypeError, match="binary mode"):
        encode_request(content=file)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary mode"):
        encode_request(content=io.StringIO("text"))  # type: ignore[arg-type]


# --- data= -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"raw bytes", b"raw bytes"),
        ("raw text", b"raw text"),
        ([b"raw ", b"chunks"], b"raw chunks"),
    ],
)
def test_raw_data_warns_like_httpx_and_acts_as_content(raw: Any, expected: bytes) -> None:
    with pytest.warns(DeprecationWarning, match="Use 'content=<...>'") as ours:
        headers, stream = encode_request(data=raw)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        expected_headers, _ = httpx_encode_request(data=raw)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert str(ours[0].message) == "Use 'content=<...>' to upload raw bytes/text content."
    assert headers == expected_headers
    assert b"".join(stream) == expected  # type: ignore[arg-type]


def test_form_lists_expand_to_repeated_keys() -> None:
    headers, stream = encode_request(data={"tag": ["a", "b"], "flag": False, "none": None})
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert read_sync(stream) == b"tag=a&tag=b&flag=false&none="


def test_form_rejects_nested_values_naming_the_field() -> None:
    with pytest.raises(TypeError, match=r"'nested'.*dict"):
        encode_request(data={"nested": {"a": 1}})


form_keys = st.text(min_size=1, max_size=12)
primitive = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
form_values = st.one_of(primitive, st.lists(primitive, max_size=4))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(form_keys, form_values, max_size=6))
def test_form_encoding_round_trips_through_parse_qsl(data: dict[str, Any]) -> None:
    headers, stream = encode_request(data=data)
    body = read_sync(stream)
    expected = [
        (key, primitive_value_to_str(item))
        for key, value in data.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    assert parse_qsl(body.decode("ascii"), keep_blank_values=True) == expected
    if data:
        assert headers["Content-Length"] == str(len(body))
    assert body == b"".join(httpx_encode_request(data=data)[1])  # type: ignore[arg-type]


# --- json= -----------------------------------------------------------------------------------


def test_json_is_compact_utf8() -> None:
    headers, stream = encode_request(json={"name": "J\u00f6rg \u2603", "n": [1, 2]})
    body = read_sync(stream)
    assert body == '{"name":"J\u00f6rg \u2603","n":[1,2]}'.encode()
    assert headers == {"Content-Length": str(len(body)), "Content-Type": "application/json"}


def test_json_nan_names_the_value_and_where_it_is() -> None:
    with pytest.raises(ValueError, match=r"nan at \['a'\]\[1\]"):
        encode_request(json={"a": [1.0, float("nan")]})
    with pytest.raises(ValueError, match="inf"):
        encode_request(json=float("inf"))
    with pytest.raises(ValueError, match="object key"):
        encode_request(json={float("-inf"): 1})


def test_json_unserialisable_type_is_named() -> None:
    with pytest.raises(TypeError, match="set"):
        encode_request(json={"a": {1, 2}})


def test_json_circular_reference_is_a_value_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        encode_request(json=loop)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_json_round_trips_and_matches_httpx(value: Any) -> None:
    headers, stream = encode_request(json=value)
    body = read_sync(stream)
    # json=None means "no JSON body", as in httpx.
    assert (json.loads(body) if value is not None else None) == value
    assert (body == b"") == (value is None)
    expected_headers, expected_stream = httpx_encode_request(json=value)
    assert (headers, body) == (expected_headers, b"".join(expected_stream))  # type: ignore[arg-type]


# --- content round trips ---------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_bytes_content_round_trips(data: bytes) -> None:
    headers, stream = encode_request(content=data)
    assert read_sync(stream) == data
    assert read_async(stream) == data
    assert headers == ({"Content-Length": str(len(data))} if data else {})


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_text_content_round_trips_as_utf8(text: str) -> None:
    _, stream = encode_request(content=text)
    assert read_sync(stream).decode("utf-8") == text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=10))
def test_chunked_content_round_trips_sync_and_async(chunks: list[bytes]) -> None:
    _, sync_stream = encode_request(content=iter(chunks))
    assert read_sync(sync_stream) == b"".join(chunks)

    async def agen() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    _, async_stream = encode_request(content=agen())
    assert read_async(async_stream) == b"".join(chunks)


def test_only_a_regular_binary_file_offers_its_region_to_the_kernel(tmp_path: Path) -> None:
    """`file_region` (what a blocking upload hands to sendfile): a regular file from where it
    stood, counted as the body's iteration; a pipe, an in-memory file or an iterable is read
    as usual, and asking leaves it untouched."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as f:
        f.seek(3)
        stream = IteratorByteStream(f)
        assert stream.file_region() == (f, 3)
        assert list(stream) == [b"3456789"]  # (a replay: rewound to where it stood)
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as pipe, os.fdopen(write_end, "wb") as writer:
        writer.write(b"piped")
        writer.close()
        piped = IteratorByteStream(pipe)
        assert piped.file_region() is None
        assert list(piped) == [b"piped"]
    in_memory = IteratorByteStream(io.BytesIO(b"mem"))
    assert in_memory.file_region() is None
    assert list(in_memory) == [b"mem"]
    assert IteratorByteStream([b"a", b"b"]).file_region() is None
