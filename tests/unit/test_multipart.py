"""multipart/form-data bodies, parsed back with python-multipart and compared with httpx 0.28."""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from httpx._content import encode_request as httpx_encode_request
from hypothesis import given, settings
from hypothesis import strategies as st
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from httplib._content import CHUNK_SIZE, encode_request
from httplib._exceptions import StreamConsumed
from httplib._multipart import MultipartStream, format_form_param

# Shared with the content tests; pytest puts this directory on sys.path (no __init__.py here).
from support.files import RecordingFile

BOUNDARY = b"fixed-boundary-1234"


@dataclass
class Part:
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""

    @property
    def params(self) -> dict[str, str]:
        _, options = parse_options_header(self.headers["content-disposition"].encode())
        return {key.decode(): value.decode() for key, value in options.items()}

    @property
    def name(self) -> str:
        return self.params["name"]


def parse(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart body into parts with a real parser, fed in small pieces."""
    boundary = re.fullmatch(r"multipart/form-data; boundary=(\S+)", content_type)
    assert boundary is not None, content_type
    parts: list[Part] = []
    header = {"field": b"", "value": b""}

    def on_part_begin() -> None:
        parts.append(Part())

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data += data[start:end]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        parts[-1].headers[header["field"].decode().lower()] = header["value"].decode()
        header.update(field=b"", value=b"")

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
    }
    parser = MultipartParser(boundary.group(1), callbacks, max_header_count=32)
    for offset in range(0, len(body), 7):
        parser.write(body[offset : offset + 7])
    parser.finalize()
    return parts


def encode(**kwargs: Any) -> tuple[dict[str, str], bytes, list[Part]]:
    headers, stream = encode_request(boundary=BOUNDARY, **kwargs)
    assert isinstance(stream, MultipartStream)
    body = b"".join(stream)
    return headers, body, parse(body, headers["Content-Type"])


def httpx_body(**kwargs: Any) -> tuple[dict[str, str], bytes]:
    headers, stream = httpx_encode_request(boundary=BOUNDARY, **kwargs)
    return headers, b"".join(stream)  # type: ignore[arg-type]


# --- parsed back -----------------------------------------------------------------------------


def test_fields_and_several_files_parse_back() -> None:
    headers, body, parts = encode(
        data={"title": "Report", "tags": ["a", "b"], "count": 3, "ok": True, "blank": None},
        files=[
            ("doc", ("report.pdf", b"%PDF-1.7 ...")),
            ("doc", ("notes.txt", "plain text \u00e9")),
            ("raw", b"\x00\x01\xff"),
        ],
    )
    assert headers["Content-Length"] == str(len(body))
    assert [(p.name, p.data) for p in parts] == [
        ("title", b"Report"),
        ("tags", b"a"),
        ("tags", b"b"),
        ("count", b"3"),
        ("ok", b"true"),
        ("blank", b""),
        ("doc", b"%PDF-1.7 ..."),
        ("doc", "plain text \u00e9".encode()),
        ("raw", b"\x00\x01\xff"),
    ]
    assert "filename" not in parts[0].params
    files = parts[6:]
    assert [p.params["filename"] for p in files] == ["report.pdf", "notes.txt", "upload"]
    assert [p.headers["content-type"] for p in files] == [
        "application/pdf",
        "text/plain",
        "application/octet-stream",
    ]


def test_unicode_names_and_filenames_are_utf8() -> None:
    _, body, parts = encode(
        data={"\u540d\u524d": "\u5024"}, files={"\u00fcpload": ("\u00fcber \u2603.txt", b"x")}
    )
    assert parts[0].name == "\u540d\u524d"
    assert parts[0].data == "\u5024".encode()
    assert parts[1].name == "\u00fcpload"
    assert parts[1].params["filename"] == "\u00fcber \u2603.txt"
    assert 'filename="\u00fcber \u2603.txt"'.encode() in body


@pytest.mark.parametrize(
    ("filename", "on_the_wire"),
    [
        ('say "hi".txt', b'filename="say %22hi%22.txt"'),
        ("back\\slash.txt", b'filename="back\\\\slash.txt"'),
        ("line\r\nbreak.txt", b'filename="line%0D%0Abreak.txt"'),
        ("tab\there\x00.txt", b'filename="tab%09here%00.txt"'),
        ("esc\x1b.txt", b'filename="esc\x1b.txt"'),
        ("semi;colon = ok.txt", b'filename="semi;colon = ok.txt"'),
        ("percent%22.txt", b'filename="percent%22.txt"'),
    ],
)
def test_odd_filenames_are_escaped_like_httpx(filename: str, on_the_wire: bytes) -> None:
    headers, body, parts = encode(files={"f": (filename, b"data")})
    assert on_the_wire in body
    assert body == httpx_body(files={"f": (filename, b"data")})[1]
    # Escaping never lets a name break out of its header or its part.
    assert len(parts) == 1
    assert parts[0].data == b"data"
    assert headers["Content-Length"] == str(len(body))


def test_odd_field_names_are_escaped() -> None:
    _, body, parts = encode(data={'a"b\\c\nd': "v"}, files={"f": b""})
    assert b'name="a%22b\\\\c%0Ad"' in body
    assert parts[0].name == "a%22b\\c%0Ad"  # the parser undoes the backslash doubling


def test_format_form_param() -> None:
    assert format_form_param("name", 'x"y') == b'name="x%22y"'
    assert format_form_param("filename", "\u00e9") == 'filename="\u00e9"'.encode()


def test_custom_content_type_and_headers() -> None:
    _, body, parts = encode(
        files={
            "a": ("a.png", b"1", "image/x-custom"),
            "b": ("b.png", b"2", None),
            "c": ("c.bin", b"3", "application/x-c", {"X-Trace": "42", "Content-Language": "en"}),
            "d": ("d.txt", b"4", "text/plain", {"content-TYPE": "application/x-user"}),
            "e": (None, b"5"),
            "f": ("", b"6", "text/csv"),
        }
    )
    by_name = {p.name: p for p in parts}
    assert by_name["a"].headers["content-type"] == "image/x-custom"
    assert by_name["b"].headers["content-type"] == "image/png"
    assert by_name["c"].headers["x-trace"] == "42"
    assert by_name["c"].headers["content-language"] == "en"
    assert by_name["c"].headers["content-type"] == "application/x-c"
    assert by_name["d"].headers["content-type"] == "application/x-user"
    assert b"text/plain" not in body  # the user's Content-Type header replaced it
    assert "content-type" not in by_name["e"].headers  # no filename, nothing to guess from
    assert "filename" not in by_name["e"].params
    assert by_name["f"].headers["content-type"] == "text/csv"
    assert [p.data for p in parts] == [b"1", b"2", b"3", b"4", b"5", b"6"]


def test_header_merely_containing_content_type_does_not_suppress_it() -> None:
    # httpx 0.28 matches by substring and drops Content-Type here; an exact match is meant.
    _, _, parts = encode(files={"f": ("f.json", b"{}", None, {"X-Content-Type-Options": "x"})})
    assert parts[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nContent-Type: text/html"}, {"X-Evil\n": "a"}, {"X-Ok": "a\rb"}],
)
def test_header_injection_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        encode_request(files={"f": ("f.txt", b"x", None, headers)})
    with pytest.raises(ValueError, match="CR or LF"):
        encode_request(files={"f": ("f.txt", b"x", "text/plain\r\nX-Evil: 1")})


# --- streaming files -------------------------------------------------------------------------


def test_large_file_is_streamed_in_chunks() -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 64)  # 4 chunks' worth
    big = RecordingFile(data)
    headers, stream = encode_request(files={"upload": big}, boundary=BOUNDARY)
    assert isinstance(stream, MultipartStream)
    chunks = list(stream)
    body = b"".join(chunks)
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
    assert set(big.read_sizes) == {CHUNK_SIZE}
    assert len(big.read_sizes) == 5  # four full chunks and the empty read that ends the file
    assert headers["Content-Length"] == str(len(body)) == str(stream.get_content_length())
    (part,) = parse(body, headers["Content-Type"])
    assert part.params["filename"] == "big.bin"
    assert part.data == data


def test_real_files_on_disk(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"x,y\n1,2\n")
    (tmp_path / "b.json").write_bytes(b"[]")
    with (tmp_path / "a.csv").open("rb") as a, (tmp_path / "b.json").open("rb") as b:
        headers, body, parts = encode(files={"a": a, "b": ("renamed.bin", b)})
        assert (headers, body) == httpx_body(files={"a": a, "b": ("renamed.bin", b)})
    assert [p.params["filename"] for p in parts] == ["a.csv", "renamed.bin"]
    assert [p.headers["content-type"] for p in parts] == ["text/csv", "application/octet-stream"]
    assert [p.data for p in parts] == [b"x,y\n1,2\n", b"[]"]


def test_seekable_files_replay_from_the_start() -> None:
    file = io.BytesIO(b"0123456789")
    file.read(4)  # httpx sends the whole file regardless of the position
    headers, stream = encode_request(files={"f": file}, boundary=BOUNDARY)
    first = b"".join(stream)  # type: ignore[arg-type]
    assert first == b"".join(stream)  # type: ignore[arg-type]
    assert first == httpx_body(files={"f": io.BytesIO(b"0123456789")})[1]
    assert headers["Content-Length"] == str(len(first))


def test_non_seekable_file_is_chunked_and_single_use() -> None:
    file = RecordingFile(b"stream", seekable=False)
    headers, stream = encode_request(files={"f": file}, data={"k": "v"}, boundary=BOUNDARY)
    assert isinstance(stream, MultipartStream)
    assert "Content-Length" not in headers
    assert headers["Transfer-Encoding"] == "chunked"
    assert stream.get_content_length() is None
    parts = parse(b"".join(stream), headers["Content-Type"])
    assert [p.data for p in parts] == [b"v", b"stream"]
    with pytest.raises(StreamConsumed):
        list(stream)


def test_async_iteration_matches_sync() -> None:
    stream = MultipartStream(
        data={"a": "1"}, files={"f": RecordingFile(b"x" * (CHUNK_SIZE + 1))}, boundary=BOUNDARY
    )

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in stream])

    assert asyncio.run(collect()) == b"".join(stream)


# --- compatibility and boundaries ------------------------------------------------------------

HTTPX_CASES: list[dict[str, Any]] = [
    {"files": {"f": b"abc"}},
    {"files": {"f": "text body"}},
    {"files": [("f", b"1"), ("f", b"2"), ("g", ("g.html", b"<p>"))]},
    {"files": {"f": ("x.png", b"x", "image/custom", {"X-A": "1"})}},
    {"files": {"f": ("", b"x")}},
    {"files": {"\u00fc": ("\u00fc.txt", b"x")}},
    {"files": {"f": b"x"}, "data": {"a": ["1", "2"], "n": 3, "fl": 1.5, "b": b"by", "t": None}},
    {"files": {"f": ('a"b\\c\x01\x1b\n.txt', b"x")}, "data": {'q"': "v"}},
]


@pytest.mark.parametrize("kwargs", HTTPX_CASES)
def test_byte_for_byte_equal_to_httpx(kwargs: dict[str, Any]) -> None:
    headers, stream = encode_request(boundary=BOUNDARY, **kwargs)
    assert (headers, b"".join(stream)) == httpx_body(**kwargs)  # type: ignore[arg-type]


def test_random_boundary_is_32_hex_digits_and_fresh() -> None:
    first = MultipartStream({}, {"f": b""})
    second = MultipartStream({}, {"f": b""})
    assert re.fullmatch(rb"[0-9a-f]{32}", first.boundary)
    assert first.boundary != second.boundary
    assert first.get_headers()["Content-Type"] == (
        f"multipart/form-data; boundary={first.boundary.decode()}"
    )
    assert b"".join(first).endswith(b"--" + first.boundary + b"--\r\n")


def test_files_without_data_and_empty_files_fall_back() -> None:
    headers, stream = encode_request(files={}, data={"a": "b"})
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    headers, stream = encode_request(files={"f": b"x"})
    assert isinstance(stream, MultipartStream)


# --- errors ----------------------------------------------------------------------------------


def test_text_files_are_rejected_like_httpx(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"require 'io.BytesIO', not 'io.StringIO'"):
        encode_request(files={"f": io.StringIO("x")})  # type: ignore[dict-item]
    path = tmp_path / "t.txt"
    path.write_text("x")
    with path.open() as text, pytest.raises(TypeError, match="must be opened in binary mode"):
        encode_request(files={"f": ("t.txt", text)})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"files": {"f": 123}}, TypeError, r"file 'f'.*<class 'int'>: 123"),
        ({"files": {"f": ("a", None)}}, TypeError, r"file 'f'.*NoneType"),
        ({"files": {1: b"x"}}, TypeError, r"Expected str, got <class 'int'>: 1"),
        ({"files": {"f": b"x"}, "data": {2: "x"}}, TypeError, r"got <class 'int'>: 2"),
        ({"files": {"f": b"x"}, "data": {"d": {"k": 1}}}, TypeError, r"primitive type.*dict"),
        ({"files": {"f": ("a", b"x", None, {}, "extra")}}, ValueError, r"'f'.*got 5 items"),
        ({"files": {"f": ("a",)}}, ValueError, r"'f'.*got 1 items"),
        ({"files": {"f": ("a", b"x", None, ["h"])}}, TypeError, r"headers of file 'f'"),
    ],
)
def test_bad_input_gets_a_clear_error(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        encode_request(**kwargs)


def test_text_chunks_from_a_file_object_are_rejected() -> None:
    class TextReader:
        def read(self, size: int = -1) -> str:
            return "text"

    _, stream = encode_request(files={"f": TextReader()})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="'str'"):
        list(stream)  # type: ignore[arg-type]


# --- property-based --------------------------------------------------------------------------

field_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=15)


@settings(max_examples=75, deadline=None)
@given(
    data=st.dictionaries(field_text.filter(bool), field_text, max_size=4),
    files=st.lists(st.tuples(field_text.filter(bool), field_text, st.binary(max_size=300))),
)
def test_any_fields_and_files_parse_back(
    data: dict[str, str], files: list[tuple[str, str, bytes]]
) -> None:
    file_args: list[tuple[str, Any]] = [
        (name, (filename, content)) for name, filename, content in files
    ] or [("f", ("f", b""))]
    headers, stream = encode_request(data=data, files=file_args, boundary=BOUNDARY)
    assert isinstance(stream, MultipartStream)
    body = b"".join(stream)
    assert headers["Content-Length"] == str(len(body))
    parts = parse(body, headers["Content-Type"])
    assert [p.data for p in parts] == [v.encode() for v in data.values()] + [
        content for _, (_, content) in file_args
    ]
    assert [p.name for p in parts[: len(data)]] == [name.replace('"', "%22") for name in data]
    assert body == httpx_body(data=data, files=file_args)[1]
