"""`iter_lines`/`aiter_lines`/`iter_text` on a streamed response, however the body is chunked.

The definition (httpx's): the body decoded whole with the response's encoding (undecodable bytes
as U+FFFD) and split once with `str.splitlines`. Random chunkings must give exactly that, and
exactly what httpx gives for the same chunks: `\\r\\n` split across chunks, a `\\r` alone, empty
lines, a last line without a newline, a multibyte character cut between chunks.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import httplib

PIECES = st.sampled_from(
    [*"ab é☃𝄞 \n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", "\r\n", "\r\r\n", "\n\n", "xyz"]
)
# Charsets a server names in Content-Type: UTF-8 (1 to 4 bytes a character), single-byte ones,
# UTF-16 (every character two bytes or four, so most cuts land inside one).
CHARSETS = st.sampled_from(["utf-8", "iso-8859-1", "cp1252", "utf-16-le", "utf-16"])


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


class _Chunks(httplib.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)


class _AsyncChunks(httplib.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def _headers(charset: str | None) -> dict[str, str]:
    return {"content-type": "text/plain" + (f"; charset={charset}" if charset else "")}


def sync_response(chunks: list[bytes], charset: str | None) -> httplib.Response:
    return httplib.Response(200, headers=_headers(charset), stream=_Chunks(chunks))


def async_response(chunks: list[bytes], charset: str | None) -> httplib.Response:
    return httplib.Response(200, headers=_headers(charset), stream=_AsyncChunks(chunks))


async def _alines(response: httplib.Response) -> list[str]:
    return [line async for line in response.aiter_lines()]


def httpx_lines(chunks: list[bytes], charset: str | None) -> list[str]:
    response = httpx.Response(200, headers=_headers(charset), content=iter(chunks))
    return list(response.iter_lines())


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(PIECES, max_size=60),
    charset=CHARSETS,
    cuts=st.lists(st.integers(min_value=0), max_size=12),
    junk=st.binary(max_size=4),
)
def test_lines_and_text_match_one_decode_and_one_split(
    pieces: list[str], charset: str, cuts: list[int], junk: bytes
) -> None:
    text = "".join(pieces)
    # Unencodable characters (a snowman in Latin-1) become "?"; junk bytes may be invalid in
    # the charset, and must turn into U+FFFD exactly as a whole decode does.
    data = text.encode(charset, "replace") + junk
    whole = data.decode(charset, "replace")
    chunks = split_at(data, cuts)

    lines = list(sync_response(chunks, charset).iter_lines())
    assert lines == whole.splitlines()
    assert lines == httpx_lines(chunks, charset)
    assert asyncio.run(_alines(async_response(chunks, charset))) == lines
    assert "".join(sync_response(chunks, charset).iter_text()) == whole


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"a\r", b"\nb"], ["a", "b"]),  # \r\n across chunks: one boundary
        ([b"a\r", b"\r", b"\n"], ["a", ""]),
        ([b"a\r"], ["a"]),  # a last \r ends the line
        ([b"\r"], [""]),
        ([b"\n\n", b"\n"], ["", "", ""]),  # empty lines kept
        ([b"tail", b" end"], ["tail end"]),  # last line without a newline
        ([b"\xe2\x98", b"\x83\n"], ["\u2603"]),  # a snowman cut in two
        ([b"\xf0", b"\x9d", b"\x84\x9e"], ["\U0001d11e"]),  # four bytes in three chunks
        ([b"ok\n\xff\n"], ["ok", "\ufffd"]),  # undecodable byte
        ([], []),
        ([b""], []),
    ],
)
def test_line_edges(chunks: list[bytes], expected: list[str]) -> None:
    assert list(sync_response(chunks, "utf-8").iter_lines()) == expected
    assert asyncio.run(_alines(async_response(chunks, "utf-8"))) == expected
    assert httpx_lines(chunks, "utf-8") == expected


def test_lines_use_the_default_encoding_without_a_charset() -> None:
    body = "première\nligne\n".encode("cp1252")
    response = httplib.Response(
        200, headers=_headers(None), stream=_Chunks([body[:5], body[5:]]), default_encoding="cp1252"
    )
    assert list(response.iter_lines()) == ["première", "ligne"]


def test_iter_lines_is_lazy_and_closable() -> None:
    """Nothing is read until the first line; `close()` on it finishes the body iterator now,
    as closing httpx's generator does, and a second read says the stream was consumed."""
    pulled: list[bytes] = []

    class Counting(httplib.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            for chunk in (b"a\nb\n", b"c\n"):
                pulled.append(chunk)
                yield chunk

    response = httplib.Response(200, stream=Counting())
    lines = response.iter_lines()
    assert pulled == []
    assert next(lines) == "a"
    lines.close()  # type: ignore[attr-defined]
    assert list(lines) == []
    assert pulled == [b"a\nb\n"]
    with pytest.raises(httplib.StreamConsumed):
        next(response.iter_lines())


def test_aiter_lines_closed_early_closes_the_body_iterator() -> None:
    finished: list[bool] = []

    class Tracked(httplib.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                yield b"a\nb\n"
                yield b"c\n"
            finally:
                finished.append(True)

    async def main() -> str:
        lines = httplib.Response(200, stream=Tracked()).aiter_lines()
        first = await lines.__anext__()
        await lines.aclose()  # type: ignore[attr-defined]
        return first

    assert asyncio.run(main()) == "a"
    assert finished == [True]
