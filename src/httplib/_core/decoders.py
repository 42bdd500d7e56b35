"""Content decoders (RFC 9110 §8.4.1) and the byte/text/line chunkers behind `iter_*`.

Theory of operation: a response body arrives as raw chunks. `decoder_for(headers)` builds one
`ContentDecoder` that undoes the Content-Encoding chain; each raw chunk goes through
`iter_decode()` (or `decode()`), and `iter_flush()` (or `flush()`) ends the stream. The chunkers
then re-cut the decoded stream into the sizes the caller asked for.

Memory bound: `iter_decode()` yields pieces of at most about `MAX_DECODED_PIECE` bytes (brotli
may overshoot the limit by up to one internal buffer), so a consumer that handles each piece
before pulling the next holds one piece, never a whole expanded chunk. zlib honours the bound
exactly (`max_length` + `unconsumed_tail`), brotli >= 1.2 through `output_buffer_limit`. The
zstandard bindings offer no output limit, so zstd input is fed in `ZSTD_INPUT_SLICE` slices: one
zstd block is at most 128 KiB (RFC 8878 §3.1.1.2.4) and needs at least 4 input bytes, so one
slice expands to at most about 32 MiB. `decode()` joins a chunk's pieces, as httpx's API returns.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, AnyStr, Generic

from .._exceptions import DecodingError

try:  # The C bindings are the fast path on CPython; brotlicffi serves PyPy.
    import brotli as _brotli
except ImportError:  # pragma: no cover - exercised only where brotli is absent
    try:
        import brotlicffi as _brotli
    except ImportError:
        _brotli = None

try:
    import zstandard as _zstandard
except ImportError:  # pragma: no cover - exercised only where zstandard is absent
    _zstandard = None  # type: ignore[assignment]

__all__ = [
    "MAX_CHAINED_ENCODINGS",
    "MAX_DECODED_PIECE",
    "SUPPORTED_DECODERS",
    "BrotliDecoder",
    "ByteChunker",
    "ContentDecoder",
    "DeflateDecoder",
    "GZipDecoder",
    "IdentityDecoder",
    "LineDecoder",
    "MultiDecoder",
    "TextChunker",
    "TextDecoder",
    "ZStandardDecoder",
    "decoder_for",
]

# Largest piece `iter_decode()` yields: big enough that the per-piece Python overhead vanishes
# next to the decompression itself, small enough that a bomb cannot balloon one call.
MAX_DECODED_PIECE = 256 * 1024

# zstd input slice; see the module docstring for the expansion bound it gives.
ZSTD_INPUT_SLICE = 1024

# A longer Content-Encoding chain is refused: each link multiplies the expansion ratio, the
# decompression-bomb chain fixed in urllib3 as CVE-2025-66418 (GHSA-gm62-xv2j-4w53).
MAX_CHAINED_ENCODINGS = 5


def _decoding_error(encoding: str, exc: BaseException) -> DecodingError:
    return DecodingError(f"Failed to decode {encoding!r} content: {exc}")


def _truncated(encoding: str) -> DecodingError:
    # The framing (Content-Length or chunked) said the body was complete, but the coding's own
    # end-of-stream marker never came: the server (or something on the way) cut the stream.
    return DecodingError(
        f"Failed to decode {encoding!r} content: the body ended before the end of the "
        f"{encoding} stream (truncated content)"
    )


class ContentDecoder:
    """Undo one Content-Encoding incrementally: feed chunks to `decode`, then call `flush` once.

    Subclasses implement `decode`/`flush`; the bounded codecs implement `iter_decode`/
    `iter_flush` as well, which yield the same bytes in pieces of at most `MAX_DECODED_PIECE`.
    """

    def decode(self, data: bytes) -> bytes:
        raise NotImplementedError()

    def flush(self) -> bytes:
        raise NotImplementedError()

    def iter_decode(self, data: bytes) -> Iterator[bytes]:
        """Decode `data`, yielding bounded pieces; empty pieces are never yielded."""
        out = self.decode(data)
        if out:
            yield out

    def iter_flush(self) -> Iterator[bytes]:
        """End the stream, yielding any remaining bounded pieces."""
        out = self.flush()
        if out:
            yield out


class _PiecewiseDecoder(ContentDecoder):
    """A codec built on `iter_decode`/`iter_flush`; `decode`/`flush` join their pieces."""

    def decode(self, data: bytes) -> bytes:
        # bytes.join of a single piece returns that piece without copying.
        return b"".join(self.iter_decode(data))

    def flush(self) -> bytes:
        return b"".join(self.iter_flush())


class IdentityDecoder(ContentDecoder):
    """The body is not encoded: pass it through untouched."""

    def decode(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _ZlibStream:
    """One zlib decompressobj drained in pieces of at most `max_piece` bytes."""

    __slots__ = ("_decompressor", "_encoding", "_max_piece", "started")

    def __init__(self, wbits: int, encoding: str, max_piece: int) -> None:
        self._decompressor = zlib.decompressobj(wbits)
        self._encoding = encoding
        self._max_piece = max_piece
        self.started = False  # fed any input: from then on a missing end marker is truncation

    @property
    def eof(self) -> bool:
        return self._decompressor.eof

    @property
    def unused_data(self) -> bytes:
        return self._decompressor.unused_data

    def _step(self, data: bytes) -> bytes:
        try:
            return self._decompressor.decompress(data, self._max_piece)
        except zlib.error as exc:
            raise _decoding_error(self._encoding, exc) from exc

    def feed(self, data: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        self.started = self.started or bool(data)
        out = self._step(data)
        while True:
            if out:
                yield out
            # A full piece may leave output buffered inside zlib even with no input left.
            if decompressor.eof or (
                not decompressor.unconsumed_tail and len(out) < self._max_piece
            ):
                return
            out = self._step(decompressor.unconsumed_tail)

    def finish(self) -> bytes:
        """End the stream: a started stream whose end marker never came is truncated."""
        if self.started and not self._decompressor.eof:
            raise _truncated(self._encoding)
        # Everything was drained by `feed`, so what zlib still holds is below one window.
        try:
            return self._decompressor.flush()
        except zlib.error as exc:  # pragma: no cover - zlib's flush does not fail in practice
            raise _decoding_error(self._encoding, exc) from exc


class GZipDecoder(_PiecewiseDecoder):
    """'gzip' (RFC 1952), every member of a multi-member stream.

    A member cut short (no deflate end block and 8-byte trailer, RFC 1952 section 2.2) is a
    `DecodingError` at `flush`, where httpx silently returns the short body: a body completely
    framed by Content-Length or chunked yet truncated inside the coding is corrupt. An empty
    body is accepted, as httpx does (a HEAD, 204 or 304 answer may carry Content-Encoding).
    Bytes after a complete member that do not form another member are ignored, as httpx and
    gzip(1) ignore trailing garbage.
    """

    def __init__(self, max_piece: int = MAX_DECODED_PIECE) -> None:
        self._max_piece = max_piece
        self._stream = _ZlibStream(zlib.MAX_WBITS | 16, "gzip", max_piece)
        self._members_done = 0

    def iter_decode(self, data: bytes) -> Iterator[bytes]:
        while data and self._members_done >= 0:
            try:
                yield from self._stream.feed(data)
            except DecodingError:
                if not self._members_done:
                    raise
                self._members_done = -1  # trailing garbage after a member: ignore the rest
                return
            if not self._stream.eof:
                return
            # RFC 1952 §2.2: a gzip file is a series of members; decode each in turn.
            data = self._stream.unused_data
            self._members_done += 1
            self._stream = _ZlibStream(zlib.MAX_WBITS | 16, "gzip", self._max_piece)

    def iter_flush(self) -> Iterator[bytes]:
        if self._members_done >= 0:
            tail = self._stream.finish()
            if tail:
                yield tail


class DeflateDecoder(_PiecewiseDecoder):
    """'deflate': zlib-wrapped (RFC 1950) as specified, or raw (RFC 1951) as some servers send.

    The wrapper is detected from the first two bytes, as browsers do: a valid zlib header names
    method 8 and its 16-bit value is a multiple of 31 (RFC 1950 §2.2). A stream without its
    final block (and, zlib-wrapped, its Adler-32) is truncated: `DecodingError` at `flush`.
    """

    def __init__(self, max_piece: int = MAX_DECODED_PIECE) -> None:
        self._max_piece = max_piece
        self._stream: _ZlibStream | None = None
        self._head = b""

    def _open(self, head: bytes) -> _ZlibStream:
        is_zlib = (
            len(head) >= 2
            and head[0] & 0x0F == 8  # CM: deflate
            and head[0] >> 4 <= 7  # CINFO: window of at most 32 KiB
            and int.from_bytes(head[:2], "big") % 31 == 0  # FCHECK
        )
        wbits = zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS
        return _ZlibStream(wbits, "deflate", self._max_piece)

    def iter_decode(self, data: bytes) -> Iterator[bytes]:
        if self._stream is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            self._stream = self._open(data)
        if not self._stream.eof:  # data after the end of the stream is ignored, as in httpx
            yield from self._stream.feed(data)

    def iter_flush(self) -> Iterator[bytes]:
        if self._stream is None:
            if not self._head:
                return
            self._stream = self._open(self._head)
            yield from self._stream.feed(self._head)
        tail = self._stream.finish()
        if tail:
            yield tail


class BrotliDecoder(_PiecewiseDecoder):
    """'br' (RFC 7932) through `brotli` or `brotlicffi`, whichever is installed.

    A stream that never reached its last meta-block (ISLAST, RFC 7932 section 9.2) is
    truncated: `DecodingError` at `flush`, as httpx raises with `brotlicffi`.
    """

    def __init__(self, max_piece: int = MAX_DECODED_PIECE) -> None:
        if _brotli is None:
            raise ImportError(
                "Using 'BrotliDecoder', but neither of the 'brotlicffi' or 'brotli' "
                "packages have been installed. "
                "Make sure to install httplib using `pip install httplib[brotli]`."
            ) from None
        self._decompressor: Any = _brotli.Decompressor()
        self._max_piece = max_piece
        self._seen_data = False
        # brotli < 1.2 has no output limit; there each chunk decodes in one piece.
        self._bounded = hasattr(self._decompressor, "can_accept_more_data")

    def _process(self, data: bytes) -> bytes:
        try:
            if self._bounded:
                out: bytes = self._decompressor.process(data, output_buffer_limit=self._max_piece)
            else:  # pragma: no cover - old brotli releases
                out = self._decompressor.process(data)
        except _brotli.error as exc:
            raise _decoding_error("br", exc) from exc
        return out

    def iter_decode(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._seen_data = True
        out = self._process(data)
        if out:
            yield out
        # `can_accept_more_data()` can turn True while output is still pending (brotli 1.2.1),
        # so keep draining while pieces come back full.
        while self._bounded and (
            len(out) >= self._max_piece or not self._decompressor.can_accept_more_data()
        ):
            out = self._process(b"")
            if not out:
                return
            yield out

    def iter_flush(self) -> Iterator[bytes]:
        # Output is drained eagerly by `iter_decode`; nothing is ever held back here.
        is_finished = getattr(self._decompressor, "is_finished", None)  # (brotli >= 1.0.9)
        if self._seen_data and is_finished is not None and not is_finished():
            raise _truncated("br")
        return iter(())


class ZStandardDecoder(_PiecewiseDecoder):
    """'zstd' (RFC 8878), including several concatenated frames.

    Unlike gzip, a truncated zstd stream is a `DecodingError` at `flush`, as in httpx.
    """

    def __init__(self) -> None:
        if _zstandard is None:
            raise ImportError(
                "Using 'ZStandardDecoder', but the 'zstandard' package has not been installed. "
                "Make sure to install httplib using `pip install httplib[zstd]`."
            ) from None
        self._decompressor: Any = _zstandard.ZstdDecompressor().decompressobj()
        self._seen_data = False

    def _decompress(self, data: bytes | memoryview) -> bytes:
        # More input after a finished frame starts the next frame (RFC 8878 §3.1), whether it
        # comes in a later chunk or in the same one.
        try:
            if self._decompressor.eof:
                self._decompressor = _zstandard.ZstdDecompressor().decompressobj()
            out: bytes = self._decompressor.decompress(data)
            while self._decompressor.eof and self._decompressor.unused_data:
                rest = self._decompressor.unused_data
                self._decompressor = _zstandard.ZstdDecompressor().decompressobj()
                out += self._decompressor.decompress(rest)
        except _zstandard.ZstdError as exc:
            raise _decoding_error("zstd", exc) from exc
        return out

    def iter_decode(self, data: bytes) -> Iterator[bytes]:
        self._seen_data = self._seen_data or bool(data)
        view = memoryview(data)
        for start in range(0, len(data), ZSTD_INPUT_SLICE):
            out = self._decompress(view[start : start + ZSTD_INPUT_SLICE])
            if out:
                yield out

    def iter_flush(self) -> Iterator[bytes]:
        if self._seen_data and not self._decompressor.eof:
            raise _truncated("zstd")
        return iter(())


def _decode_all(child: ContentDecoder, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from child.iter_decode(piece)


def _decode_then_flush(child: ContentDecoder, pieces: Iterable[bytes]) -> Iterator[bytes]:
    yield from _decode_all(child, pieces)
    yield from child.iter_flush()


class MultiDecoder(_PiecewiseDecoder):
    """A chain of codings, `children` in the order they were applied (the header's order).

    Decoding runs the chain backwards (RFC 9110 §8.4); pieces flow lazily through the stages
    so the memory bound holds for the whole chain.
    """

    def __init__(self, children: Sequence[ContentDecoder]) -> None:
        self.children = list(reversed(children))

    def iter_decode(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return iter(())
        pieces: Iterable[bytes] = (data,)
        for child in self.children:
            pieces = _decode_all(child, pieces)
        return iter(pieces)

    def iter_flush(self) -> Iterator[bytes]:
        # Each stage's tail must still pass through every later stage before that one flushes.
        pieces: Iterable[bytes] = ()
        for child in self.children:
            pieces = _decode_then_flush(child, pieces)
        return iter(pieces)


SUPPORTED_DECODERS: dict[str, type[ContentDecoder]] = {
    "identity": IdentityDecoder,
    "gzip": GZipDecoder,
    "deflate": DeflateDecoder,
}
if _brotli is not None:
    SUPPORTED_DECODERS["br"] = BrotliDecoder
if _zstandard is not None:
    SUPPORTED_DECODERS["zstd"] = ZStandardDecoder


def decoder_for(content_encodings: Sequence[str]) -> ContentDecoder:
    """The decoder for a response's Content-Encoding header values (each may be a comma list).

    Unknown codings are skipped, as httpx does, leaving the body as received for that link.
    """
    names = [
        name
        for value in content_encodings
        for part in value.split(",")
        if (name := part.strip().lower()) in SUPPORTED_DECODERS
    ]
    if len(names) > MAX_CHAINED_ENCODINGS:
        raise DecodingError(
            f"Too many content encodings in the chain: {len(names)} > {MAX_CHAINED_ENCODINGS} "
            f"({', '.join(names)})"
        )
    decoders = [SUPPORTED_DECODERS[name]() for name in names if name != "identity"]
    if not decoders:
        return IdentityDecoder()
    if len(decoders) == 1:
        return decoders[0]
    return MultiDecoder(decoders)


class _FixedSizeChunker(Generic[AnyStr]):
    """Re-cut a stream of str or bytes into pieces of exactly `chunk_size` (the last may be short).

    With `chunk_size=None` every non-empty input passes through as it came.
    """

    def __init__(self, chunk_size: int | None, empty: AnyStr) -> None:
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
        self._size = chunk_size
        self._empty: AnyStr = empty
        self._pending: list[AnyStr] = []
        self._pending_len = 0

    def decode(self, content: AnyStr) -> list[AnyStr]:
        size = self._size
        if size is None:
            return [content] if content else []
        length = len(content)
        if self._pending_len + length < size:
            if content:
                self._pending.append(content)
                self._pending_len += length
            return []
        chunks: list[AnyStr] = []
        start = 0
        if self._pending:
            start = size - self._pending_len
            self._pending.append(content[:start])
            chunks.append(self._empty.join(self._pending))
            self._pending = []
            self._pending_len = 0
        end = length - (length - start) % size
        # Slicing a whole bytes/str object returns it as is, so aligned input is not copied.
        chunks.extend(content[i : i + size] for i in range(start, end, size))
        if end < length:
            self._pending.append(content[end:])
            self._pending_len = length - end
        return chunks

    def flush(self) -> list[AnyStr]:
        if not self._pending:
            return []
        rest = self._empty.join(self._pending)
        self._pending = []
        self._pending_len = 0
        return [rest]


class ByteChunker(_FixedSizeChunker[bytes]):
    """Bytes in chunks of exactly `chunk_size` (the last may be short), for `iter_bytes`."""

    def __init__(self, chunk_size: int | None = None) -> None:
        super().__init__(chunk_size, b"")


class TextChunker(_FixedSizeChunker[str]):
    """Text in chunks of exactly `chunk_size` characters (the last may be short)."""

    def __init__(self, chunk_size: int | None = None) -> None:
        super().__init__(chunk_size, "")


class TextDecoder:
    """Bytes to str across chunk boundaries; undecodable bytes become U+FFFD, as httpx does."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def decode(self, data: bytes) -> str:
        return self._decoder.decode(data)

    def flush(self) -> str:
        return self._decoder.decode(b"", True)


# The boundaries `str.splitlines` splits on; `\r\n` counts as one boundary.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


# In ASCII text only these end a line besides `\n` (`\x85`, `\u2028` and `\u2029` are not
# ASCII); text with none of them splits on `\n` alone, which scans faster than `splitlines`.
_ASCII_BREAKS_BUT_LF = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")


class LineDecoder:
    """Text to lines with `str.splitlines` semantics, however the text is chunked.

    A `\\r` ending a chunk is held back: the next chunk may open with the `\\n` of a `\\r\\n`.
    Each chunk is split in one call (`str.split` or `str.splitlines`), never line by line.
    """

    def __init__(self) -> None:
        self._partial: list[str] = []  # pieces of a line not yet terminated
        self._held_cr = False

    def decode(self, text: str) -> list[str]:
        if self._held_cr:
            text = "\r" + text
            self._held_cr = False
        if text.endswith("\r"):
            self._held_cr = True
            text = text[:-1]
        if not text:
            return []
        if text.isascii() and not any(brk in text for brk in _ASCII_BREAKS_BUT_LF):
            lines = text.split("\n")  # the last item is what follows the last newline
            rest = lines.pop()
        else:
            lines = text.splitlines()
            rest = "" if text[-1] in _LINE_BREAKS else lines.pop()
        if self._partial and lines:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial = []
        if rest:
            self._partial.append(rest)
        return lines

    def flush(self) -> list[str]:
        if not self._partial and not self._held_cr:
            return []
        line = "".join(self._partial)
        self._partial = []
        self._held_cr = False
        return [line]
