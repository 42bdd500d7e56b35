"""Content decoders, chunkers, TextDecoder and LineDecoder, with differential tests vs httpx."""

from __future__ import annotations

import functools
import gzip
import itertools
import zlib
from collections.abc import Callable, Iterator, Sequence

import brotli
import httpx
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._core import decoders
from httplib._core.decoders import (
    MAX_DECODED_PIECE,
    SUPPORTED_DECODERS,
    ZSTD_INPUT_SLICE,
    BrotliDecoder,
    ByteChunker,
    ContentDecoder,
    DeflateDecoder,
    GZipDecoder,
    IdentityDecoder,
    LineDecoder,
    MultiDecoder,
    TextChunker,
    TextDecoder,
    ZStandardDecoder,
    decoder_for,
)
from httplib._exceptions import DecodingError

SETTINGS = settings(max_examples=100, deadline=None)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


# encoding label -> (Content-Encoding token, compressor)
CODECS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "identity": ("identity", lambda data: data),
    "gzip": ("gzip", gzip.compress),
    "deflate-zlib": ("deflate", zlib.compress),
    "deflate-raw": ("deflate", raw_deflate),
    "br": ("br", brotli.compress),
    "zstd": ("zstd", zstd),
}
COMPRESSED_CODECS = [label for label in CODECS if label != "identity"]

PAYLOAD = b"".join(
    b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(300)
)


def feed(decoder: ContentDecoder, chunks: Sequence[bytes]) -> bytes:
    out = [decoder.decode(chunk) for chunk in chunks]
    out.append(decoder.flush())
    return b"".join(out)


def feed_pieces(decoder: ContentDecoder, chunks: Sequence[bytes]) -> list[bytes]:
    pieces = [piece for chunk in chunks for piece in decoder.iter_decode(chunk)]
    return pieces + list(decoder.iter_flush())


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


def httpx_content(encoding: str, body: bytes) -> bytes:
    return httpx.Response(200, headers={"Content-Encoding": encoding}, content=body).content


def new_decoder(label: str) -> ContentDecoder:
    return SUPPORTED_DECODERS[CODECS[label][0]]()


# --- each codec: whole, byte by byte, random splits --------------------------------------------


@pytest.mark.parametrize("label", CODECS)
def test_whole_and_byte_at_a_time_agree(label: str) -> None:
    body = CODECS[label][1](PAYLOAD)
    assert feed(new_decoder(label), [body]) == PAYLOAD
    assert feed(new_decoder(label), [body[i : i + 1] for i in range(len(body))]) == PAYLOAD


@pytest.mark.parametrize("label", CODECS)
@SETTINGS
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(min_value=0), max_size=12))
def test_random_split_points_give_same_bytes(label: str, data: bytes, cuts: list[int]) -> None:
    body = CODECS[label][1](data)
    assert feed(new_decoder(label), split_at(body, cuts)) == data
    assert b"".join(feed_pieces(new_decoder(label), split_at(body, cuts))) == data


@pytest.mark.parametrize("label", CODECS)
def test_empty_body_decodes_to_nothing_like_httpx(label: str) -> None:
    token = CODECS[label][0]
    assert feed(new_decoder(label), []) == b""
    assert feed(new_decoder(label), [b""]) == b""
    assert httpx_content(token, b"") == b""


@pytest.mark.parametrize("label", COMPRESSED_CODECS)
def test_whole_body_matches_httpx(label: str) -> None:
    token, compress = CODECS[label]
    body = compress(PAYLOAD)
    assert feed(new_decoder(label), [body]) == httpx_content(token, body) == PAYLOAD


def test_iter_decode_never_yields_empty_pieces() -> None:
    for label in CODECS:
        body = CODECS[label][1](PAYLOAD)
        pieces = feed_pieces(new_decoder(label), [body[i : i + 3] for i in range(0, len(body), 3)])
        assert all(pieces), label


# --- corrupt and truncated input ---------------------------------------------------------------

CORRUPT: list[tuple[str, bytes]] = [
    ("gzip", b"this is not gzip data"),
    ("gzip", gzip.compress(PAYLOAD)[:-8] + b"\x00\x00\x00\x00" + gzip.compress(PAYLOAD)[-4:]),
    ("deflate", b"\xff" * 16),  # raw deflate with the reserved block type 3
    ("deflate", zlib.compress(PAYLOAD)[:2] + b"\xff" * 16),
    ("deflate", zlib.compress(PAYLOAD)[:-4] + b"\x00\x00\x00\x00"),  # bad Adler-32
    ("br", b"this is not brotli data"),
    ("br", brotli.compress(PAYLOAD) + b"trailing"),
    ("zstd", b"this is not zstd data"),
    ("zstd", zstd(PAYLOAD) + b"trailing garbage"),
]


@pytest.mark.parametrize(("token", "body"), CORRUPT)
@pytest.mark.parametrize("step", [None, 1])
def test_corrupt_input_raises_decoding_error_naming_the_encoding(
    token: str, body: bytes, step: int | None
) -> None:
    chunks = [body] if step is None else [body[i : i + step] for i in range(len(body))]
    with pytest.raises(DecodingError, match=f"Failed to decode '{token}' content: ") as info:
        feed(SUPPORTED_DECODERS[token](), chunks)
    # httpx fails on the same bodies; we only add the encoding to the message.
    with pytest.raises(httpx.DecodingError):
        httpx_content(token, body)
    assert isinstance(info.value.__cause__, Exception)


TRUNCATABLE: dict[str, Callable[[bytes], bytes]] = {
    label: compress for label, (_, compress) in CODECS.items() if label != "identity"
}


@pytest.mark.parametrize("label", TRUNCATABLE)
@pytest.mark.parametrize("where", ["one byte", "half", "all but one byte"])
@pytest.mark.parametrize("step", [None, 1])
def test_a_truncated_stream_is_a_decoding_error(label: str, where: str, step: int | None) -> None:
    # httpx returns the decodable prefix for gzip, deflate and brotli (the `brotli` package),
    # so a body cut inside the coding but completely framed passed as a short body.
    token, compress = CODECS[label]
    body = compress(PAYLOAD)
    cut = {"one byte": 1, "half": len(body) // 2, "all but one byte": len(body) - 1}[where]
    body = body[:cut]
    chunks = [body] if step is None else [body[i : i + 1] for i in range(len(body))]
    with pytest.raises(DecodingError, match=f"'{token}'.*truncated content"):
        feed(new_decoder(label), chunks)
    with pytest.raises(DecodingError, match="truncated content"):
        feed_pieces(new_decoder(label), chunks)


@pytest.mark.parametrize("cut", [-8, -4, -1])
def test_gzip_without_its_trailer_is_truncated_though_httpx_accepts_it(cut: int) -> None:
    body = gzip.compress(PAYLOAD)[:cut]
    assert httpx_content("gzip", body) == PAYLOAD  # the CRC and length were never checked
    with pytest.raises(DecodingError, match="truncated"):
        feed(GZipDecoder(), [body])


def test_a_truncated_second_gzip_member_is_truncated() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second")[:-3]
    with pytest.raises(DecodingError, match=r"'gzip'.*truncated"):
        feed(GZipDecoder(), [body])


def test_a_truncated_member_inside_a_chain_is_truncated() -> None:
    body = zlib.compress(gzip.compress(PAYLOAD)[:-8])
    with pytest.raises(DecodingError, match=r"'gzip'.*truncated"):
        feed(decoder_for(["gzip, deflate"]), [body])


def test_truncated_zstd_is_a_decoding_error_like_httpx() -> None:
    body = zstd(PAYLOAD)[:-3]
    decoder = ZStandardDecoder()
    decoder.decode(body)
    with pytest.raises(DecodingError, match=r"'zstd'.*truncated"):
        decoder.flush()
    with pytest.raises(httpx.DecodingError):
        httpx_content("zstd", body)


def test_gzip_trailing_garbage_is_ignored_like_httpx() -> None:
    body = gzip.compress(PAYLOAD) + b"\x00\x00 trailing junk"
    assert feed(GZipDecoder(), [body]) == httpx_content("gzip", body) == PAYLOAD
    assert feed(GZipDecoder(), [body[i : i + 1] for i in range(len(body))]) == PAYLOAD


def test_gzip_decodes_every_member() -> None:
    # RFC 1952 §2.2; httpx 0.28 stops after the first member, losing the rest of the body.
    body = gzip.compress(b"first ") + gzip.compress(b"second ") + gzip.compress(b"third")
    assert feed(GZipDecoder(), [body]) == b"first second third"
    assert feed(GZipDecoder(), [body[i : i + 1] for i in range(len(body))]) == (
        b"first second third"
    )


def test_raw_deflate_opening_like_a_zlib_header_with_a_bad_window_is_raw() -> None:
    # A stored block whose first two bytes pass zlib's method and FCHECK tests but name a
    # window over 32 KiB, which RFC 1950 §2.2 forbids: only raw deflate can read it.
    data = b"stored block data, 28 bytes."
    body = b"\x88" + len(data).to_bytes(2, "little") + (len(data) ^ 0xFFFF).to_bytes(2, "little")
    body += data + b"\x01\x00\x00\xff\xff"
    assert int.from_bytes(body[:2], "big") % 31 == 0
    assert feed(DeflateDecoder(), [body]) == httpx_content("deflate", body) == data


def test_deflate_ignores_data_after_the_stream_like_httpx() -> None:
    body = zlib.compress(PAYLOAD) + b"junk"
    assert feed(DeflateDecoder(), [body]) == httpx_content("deflate", body) == PAYLOAD


def test_zstd_decodes_concatenated_frames() -> None:
    body = zstd(b"one ") + zstd(b"two ") + zstd(b"three")
    assert feed(ZStandardDecoder(), [body]) == httpx_content("zstd", body) == b"one two three"
    assert feed(ZStandardDecoder(), [body[i : i + 1] for i in range(len(body))]) == (
        b"one two three"
    )


# --- bounded output ----------------------------------------------------------------------------

BOMB = b"\x00" * (16 * 1024 * 1024)


@pytest.mark.parametrize("token", ["gzip", "deflate"])
def test_zlib_pieces_never_exceed_the_bound(token: str) -> None:
    body = (gzip.compress if token == "gzip" else zlib.compress)(BOMB)
    pieces = feed_pieces(SUPPORTED_DECODERS[token](), [body])
    assert max(map(len, pieces)) <= MAX_DECODED_PIECE
    assert sum(map(len, pieces)) == len(BOMB)


@functools.cache
def brotli_bomb(quality: int) -> bytes:
    body: bytes = brotli.compress(BOMB, quality=quality)
    return body


@pytest.mark.parametrize("quality", [1, 11])
@pytest.mark.parametrize("step", [None, 10])
def test_brotli_pieces_stay_near_the_bound(quality: int, step: int | None) -> None:
    # At quality 11 the whole bomb is 27 bytes, so output piles up inside the decompressor.
    body = brotli_bomb(quality)
    chunks = [body] if step is None else [body[i : i + step] for i in range(0, len(body), step)]
    pieces = feed_pieces(BrotliDecoder(), chunks)
    assert max(map(len, pieces)) <= 2 * MAX_DECODED_PIECE
    assert sum(map(len, pieces)) == len(BOMB)


def test_zstd_pieces_bounded_by_input_slice() -> None:
    body = zstd(BOMB * 4)
    pieces = feed_pieces(ZStandardDecoder(), [body])
    # One 128 KiB block per 4 input bytes at most (RFC 8878 §3.1.1.2), plus one block in flight.
    assert max(map(len, pieces)) <= (ZSTD_INPUT_SLICE // 4 + 1) * 128 * 1024
    assert sum(map(len, pieces)) == 4 * len(BOMB)


def test_chain_pieces_stay_bounded() -> None:
    body = gzip.compress(zlib.compress(BOMB))
    pieces = feed_pieces(decoder_for(["deflate, gzip"]), [body])
    assert max(map(len, pieces)) <= MAX_DECODED_PIECE
    assert sum(map(len, pieces)) == len(BOMB)


# --- chains and decoder_for --------------------------------------------------------------------


def apply_chain(tokens: Sequence[str], data: bytes) -> bytes:
    compressors = {CODECS[label][0]: CODECS[label][1] for label in CODECS if label != "deflate-raw"}
    for token in tokens:
        data = compressors[token](data)
    return data


@pytest.mark.parametrize(
    "tokens",
    [["gzip", "br"], ["br", "gzip"], ["deflate", "zstd", "gzip"], ["zstd", "zstd"], ["gzip"] * 5],
)
@pytest.mark.parametrize("step", [None, 7])
def test_chains_decode_in_reverse_header_order(tokens: list[str], step: int | None) -> None:
    body = apply_chain(tokens, PAYLOAD)
    chunks = [body] if step is None else [body[i : i + step] for i in range(0, len(body), step)]
    assert feed(decoder_for([", ".join(tokens)]), chunks) == PAYLOAD
    assert feed(decoder_for(tokens), chunks) == PAYLOAD
    if "zstd" not in tokens:
        # httpx 0.28 feeds b"" to a finished zstd decompressobj when flushing a chain, and fails.
        assert httpx_content(", ".join(tokens), body) == PAYLOAD


def test_multi_decoder_takes_children_in_applied_order() -> None:
    body = brotli.compress(gzip.compress(PAYLOAD))
    assert feed(MultiDecoder([GZipDecoder(), BrotliDecoder()]), [body]) == PAYLOAD
    assert feed(MultiDecoder([]), [b"as is"]) == b"as is"


class _HoldUntilFlush(ContentDecoder):
    """A stage that emits everything only when flushed, as a buffering codec may."""

    def __init__(self) -> None:
        self._held: list[bytes] = []

    def decode(self, data: bytes) -> bytes:
        self._held.append(data)
        return b""

    def flush(self) -> bytes:
        return b"".join(self._held)


def test_multi_decoder_flush_passes_tails_through_later_stages() -> None:
    # The inner stage (applied first, decoded last) still gets the outer stage's flushed tail.
    body = zlib.compress(gzip.compress(PAYLOAD))
    chain = MultiDecoder([GZipDecoder(), DeflateDecoder(), _HoldUntilFlush()])
    assert feed(chain, [body[i : i + 7] for i in range(0, len(body), 7)]) == PAYLOAD


@pytest.mark.parametrize(
    ("values", "expected_type"),
    [
        ([], IdentityDecoder),
        ([""], IdentityDecoder),
        (["identity"], IdentityDecoder),
        (["GZip "], GZipDecoder),
        ([" Deflate"], DeflateDecoder),
        (["br"], BrotliDecoder),
        (["zstd"], ZStandardDecoder),
        (["identity, gzip"], GZipDecoder),
        (["gzip", "br"], MultiDecoder),
        (["compress"], IdentityDecoder),
    ],
)
def test_decoder_for_picks_the_decoder(values: list[str], expected_type: type) -> None:
    assert type(decoder_for(values)) is expected_type


@pytest.mark.parametrize("header", ["foo", "gzip, foo", "x-unknown, gzip", "gzip, , br"])
def test_unknown_encodings_are_skipped_like_httpx(header: str) -> None:
    tokens = [t.strip() for t in header.split(",") if t.strip() in SUPPORTED_DECODERS]
    body = apply_chain(tokens, PAYLOAD)
    assert feed(decoder_for([header]), [body]) == httpx_content(header, body) == PAYLOAD


def test_more_than_five_encodings_is_refused() -> None:
    with pytest.raises(DecodingError, match="Too many content encodings in the chain: 6 > 5"):
        decoder_for(["gzip, gzip, gzip", "gzip, gzip", "br"])
    with pytest.raises(DecodingError, match="6 > 5"):
        decoder_for(["identity"] * 6)
    assert isinstance(decoder_for(["gzip"] * 5 + ["unknown"] * 10), MultiDecoder)


def test_missing_packages_give_install_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoders, "_brotli", None)
    monkeypatch.setattr(decoders, "_zstandard", None)
    with pytest.raises(ImportError, match=r"`pip install httplib\[brotli\]`"):
        BrotliDecoder()
    with pytest.raises(ImportError, match=r"'zstandard' package.*`pip install httplib\[zstd\]`"):
        ZStandardDecoder()


def test_brotlicffi_backend_decodes_and_maps_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    brotlicffi = pytest.importorskip("brotlicffi")
    monkeypatch.setattr(decoders, "_brotli", brotlicffi)
    body = brotli.compress(PAYLOAD)
    assert feed(BrotliDecoder(), [body[i : i + 5] for i in range(0, len(body), 5)]) == PAYLOAD
    with pytest.raises(DecodingError, match="'br'"):
        feed(BrotliDecoder(), [b"this is not brotli data"])


# --- chunkers ----------------------------------------------------------------------------------

sizes = st.none() | st.integers(min_value=1, max_value=40)


def check_chunks(
    chunks: list[str] | list[bytes], size: int | None, inputs: list[str] | list[bytes]
) -> None:
    assert all(chunks), "no empty chunk is ever produced"
    if size is None:
        assert chunks == [piece for piece in inputs if piece]
        return
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert not chunks or 1 <= len(chunks[-1]) <= size


@SETTINGS
@given(inputs=st.lists(st.binary(max_size=60), max_size=12), size=sizes)
def test_byte_chunker(inputs: list[bytes], size: int | None) -> None:
    chunker = ByteChunker(size)
    chunks = [chunk for piece in inputs for chunk in chunker.decode(piece)] + chunker.flush()
    assert b"".join(chunks) == b"".join(inputs)
    check_chunks(chunks, size, inputs)
    assert chunker.flush() == []


@SETTINGS
@given(inputs=st.lists(st.text(max_size=60), max_size=12), size=sizes)
def test_text_chunker(inputs: list[str], size: int | None) -> None:
    chunker = TextChunker(size)
    chunks = [chunk for piece in inputs for chunk in chunker.decode(piece)] + chunker.flush()
    assert "".join(chunks) == "".join(inputs)
    check_chunks(chunks, size, inputs)


@SETTINGS
@given(
    data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=8), size=sizes
)
def test_byte_chunker_matches_httpx_iter_bytes(
    data: bytes, cuts: list[int], size: int | None
) -> None:
    chunks = split_at(data, cuts)
    chunker = ByteChunker(size)
    ours = [chunk for piece in chunks for chunk in chunker.decode(piece)] + chunker.flush()
    theirs = list(httpx.Response(200, content=iter(chunks)).iter_bytes(chunk_size=size))
    assert ours == theirs


@pytest.mark.parametrize("chunker", [ByteChunker, TextChunker])
@pytest.mark.parametrize("size", [0, -1])
def test_chunk_size_must_be_positive(chunker: type, size: int) -> None:
    with pytest.raises(
        ValueError, match=f"chunk_size must be a positive integer or None, got {size}"
    ):
        chunker(size)


def test_aligned_input_passes_through_without_copy() -> None:
    data = b"x" * 64
    assert ByteChunker(64).decode(data)[0] is data


# --- TextDecoder -------------------------------------------------------------------------------


@SETTINGS
@given(
    text=st.text(max_size=200),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32", "gb18030", "shift_jis"]),
)
def test_text_decoder_rejoins_split_multibyte_characters(
    text: str, cuts: list[int], encoding: str
) -> None:
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
        encoding = "utf-8"
    decoder = TextDecoder(encoding)
    decoded = "".join(decoder.decode(piece) for piece in split_at(data, cuts)) + decoder.flush()
    assert decoded == data.decode(encoding)


def test_text_decoder_replaces_bad_bytes_and_truncated_characters() -> None:
    decoder = TextDecoder()
    snowman = "☃".encode()
    assert decoder.decode(b"ok \xff " + snowman[:1]) == "ok \ufffd "
    assert decoder.decode(snowman[1:2]) == ""
    assert decoder.flush() == "\ufffd"
    assert TextDecoder().decode(snowman[:2]) + TextDecoder().flush() == ""


def test_text_decoder_unknown_encoding_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="no-such-codec"):
        TextDecoder("no-such-codec")


# --- LineDecoder -------------------------------------------------------------------------------

LINE_ALPHABET = st.sampled_from([*"abé☃ \n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", "\r\n"])


def our_lines(chunks: Sequence[bytes]) -> list[str]:
    text_decoder, line_decoder = TextDecoder(), LineDecoder()
    lines = [line for chunk in chunks for line in line_decoder.decode(text_decoder.decode(chunk))]
    return lines + line_decoder.decode(text_decoder.flush()) + line_decoder.flush()


def chunks_of(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    return iter(split_at(data, cuts))


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(LINE_ALPHABET, max_size=40),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_line_decoder_matches_httpx_iter_lines(pieces: list[str], cuts: list[int]) -> None:
    text = "".join(pieces)
    data = text.encode()
    theirs = list(httpx.Response(200, content=chunks_of(data, cuts)).iter_lines())
    assert our_lines(split_at(data, cuts)) == theirs
    assert our_lines([data]) == text.splitlines()


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["a\r", "\nb"], ["a", "b"]),
        (["a\r", "\r", "\n"], ["a", ""]),
        (["a\r", "", "\nb\r"], ["a", "b"]),
        (["\r"], [""]),
        (["a\n", "\r"], ["a", ""]),
        (["a", "b", "c"], ["abc"]),
        (["a\u2028b"], ["a", "b"]),
        ([""], []),
    ],
)
def test_line_decoder_edges(chunks: list[str], expected: list[str]) -> None:
    decoder = LineDecoder()
    lines = [line for chunk in chunks for line in decoder.decode(chunk)] + decoder.flush()
    assert lines == expected
    assert lines == "".join(chunks).splitlines()
    assert decoder.flush() == []
