"""Hostile or broken Content-Encoding, end to end for Client and AsyncClient on every runtime.

Truncated streams inside a complete framing, bombs under the `max_content_size` cap, chained
encodings, empty encoded bodies (catalogue sections 2.G and 3.H). Each failing case checks the
exact error, a prompt failure, a clean pool and a working next request (`fault.expect`).
"""

from __future__ import annotations

import gzip
import socket
import zlib
from collections.abc import Callable
from typing import Any

import brotli
import pytest
import zstandard

from faults.conftest import Fault
from faults.routes import response_with, routed_server
from httplib._core.decoders import MAX_DECODED_PIECE
from httplib._exceptions import ContentTooLarge, DecodingError
from servers.raw import read_until

pytestmark = pytest.mark.network

PAYLOAD = b"".join(b"line %d of a body that compresses well\n" % i for i in range(4000))


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


CODECS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "deflate": ("deflate", zlib.compress),
    "deflate-raw": ("deflate", _raw_deflate),
    "br": ("br", lambda data: brotli.compress(data, quality=5)),
    "zstd": ("zstd", zstandard.ZstdCompressor().compress),
}
# Each codec's PAYLOAD, compressed once (brotli's best quality is slow).
COMPRESSED = {label: (token, compress(PAYLOAD)) for label, (token, compress) in CODECS.items()}

# 16 MiB of zeros in about 16 KB: one request that would hold 16 MiB without a cap.
BOMB_SIZE = 16 * 1024 * 1024
BOMB = gzip.compress(bytes(BOMB_SIZE), compresslevel=9)
CAP = 1024 * 1024


def _encoded(body: bytes, encoding: str) -> bytes:
    return response_with(body, b"Content-Encoding: %s\r\n" % encoding.encode())


# --- truncated streams -------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["gzip", "deflate", "br", "zstd"])  # raw deflate: unit tests
def test_a_stream_cut_in_half_but_completely_framed_is_a_decoding_error(
    fault: Fault, label: str
) -> None:
    token, body = COMPRESSED[label]
    routes = {"/cut": _encoded(body[: len(body) // 2], token)}
    with routed_server(routes) as server:
        exc = fault.expect(DecodingError, server.url + "/cut", then=server.url + "/ok")
    assert f"'{token}'" in str(exc)
    assert "truncated" in str(exc)


def test_a_chunked_gzip_body_cut_inside_the_stream_is_a_decoding_error(fault: Fault) -> None:
    body = gzip.compress(PAYLOAD)[:-8]  # no CRC32 and ISIZE trailer (RFC 1952 section 2.2)
    chunked = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with routed_server({"/cut": chunked}) as server:
        fault.expect(DecodingError, server.url + "/cut", then=server.url + "/ok")


def test_an_empty_encoded_body_is_an_empty_body_as_in_httpx(fault: Fault) -> None:
    tokens = ["gzip", "deflate", "br", "zstd"]
    with routed_server({f"/{token}": _encoded(b"", token) for token in tokens}) as server:
        base = server.url

        def sync_script(client: Any) -> list[bytes]:
            return [client.get(f"{base}/{token}").content for token in tokens]

        async def async_script(client: Any) -> list[bytes]:
            return [(await client.get(f"{base}/{token}")).content for token in tokens]

        bodies = fault.with_client(async_script if fault.is_async else sync_script)
    assert bodies == [b""] * len(tokens)


# --- the max_content_size cap ------------------------------------------------------------------


def test_a_gzip_bomb_over_the_cap_is_content_too_large(fault: Fault) -> None:
    with routed_server({"/bomb": _encoded(BOMB, "gzip")}) as server:
        exc = fault.expect(
            ContentTooLarge,
            server.url + "/bomb",
            client={"max_content_size": CAP},
            then=server.url + "/ok",
        )
    assert isinstance(exc, ContentTooLarge)
    assert exc.limit == CAP
    assert f"max_content_size={CAP}" in str(exc)
    assert str(exc.request.url).endswith("/bomb")


def test_a_request_extension_sets_or_lifts_the_cap(fault: Fault) -> None:
    with routed_server({"/bomb": _encoded(BOMB, "gzip")}) as server:
        url = server.url + "/bomb"
        # A cap on one request of an uncapped client.
        fault.expect(ContentTooLarge, url, extensions={"max_content_size": CAP})

        def script(client: Any) -> Any:
            return client.get(url, extensions={"max_content_size": None})

        lifted = fault.with_client(script, max_content_size=CAP)
    assert len(lifted.content) == BOMB_SIZE


def _hold_open_after_a_huge_head(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n" + b"x" * 1000)
    read_until(conn, b"never sent")  # until the client closes


def test_an_identity_body_announced_over_the_cap_is_refused_before_reading(
    fault: Fault,
) -> None:
    # Reading on would wait for a gigabyte that never comes: the refusal must be prompt.
    with routed_server({"/huge": _hold_open_after_a_huge_head}) as server:
        fault.expect(
            ContentTooLarge,
            server.url + "/huge",
            client={"max_content_size": CAP},
            then=server.url + "/ok",
        )


def test_an_identity_body_under_the_cap_is_read_whole(fault: Fault) -> None:
    with routed_server({"/small": response_with(PAYLOAD)}) as server:
        url = server.url + "/small"

        def script(client: Any) -> Any:
            return client.get(url)

        response = fault.with_client(script, max_content_size=len(PAYLOAD))
    assert response.content == PAYLOAD


def test_streaming_is_not_capped_and_each_piece_stays_bounded(fault: Fault) -> None:
    with routed_server({"/bomb": _encoded(BOMB, "gzip")}) as server:
        url = server.url + "/bomb"

        def sync_script(client: Any) -> list[int]:
            with client.stream("GET", url) as response:
                return [len(piece) for piece in response.iter_bytes()]

        async def async_script(client: Any) -> list[int]:
            async with client.stream("GET", url) as response:
                return [len(piece) async for piece in response.aiter_bytes()]

        script = async_script if fault.is_async else sync_script
        sizes = fault.with_client(script, max_content_size=CAP)
    assert sum(sizes) == BOMB_SIZE
    assert max(sizes) <= MAX_DECODED_PIECE


# --- chains, members, garbage ------------------------------------------------------------------


def test_more_than_five_encodings_across_headers_is_a_decoding_error(fault: Fault) -> None:
    body = PAYLOAD
    for _ in range(6):
        body = gzip.compress(body)
    headers = b"Content-Encoding: gzip\r\n" * 6  # the cap counts every header's codings
    with routed_server({"/chain": response_with(body, headers)}) as server:
        exc = fault.expect(DecodingError, server.url + "/chain", then=server.url + "/ok")
    assert "Too many content encodings" in str(exc)


def test_an_empty_body_with_a_refused_chain_is_not_decoded(fault: Fault) -> None:
    headers = b"Content-Encoding: gzip, gzip, gzip, gzip, gzip, gzip\r\n"
    with routed_server({"/none": response_with(b"", headers, status=204)}) as server:
        url = server.url + "/none"

        def script(client: Any) -> Any:
            return client.get(url)

        response = fault.with_client(script)
    assert response.status_code == 204
    assert response.content == b""


def test_many_gzip_members_and_trailing_garbage_decode_to_the_body(fault: Fault) -> None:
    members = b"".join(gzip.compress(b"%d," % i) for i in range(2000))
    routes = {
        "/members": _encoded(members, "gzip"),
        "/garbage": _encoded(gzip.compress(PAYLOAD) + b"\x00\x00 junk", "gzip"),
    }
    with routed_server(routes) as server:
        base = server.url

        def sync_script(client: Any) -> tuple[bytes, bytes]:
            return client.get(base + "/members").content, client.get(base + "/garbage").content

        async def async_script(client: Any) -> tuple[bytes, bytes]:
            first = await client.get(base + "/members")
            second = await client.get(base + "/garbage")
            return first.content, second.content

        script = async_script if fault.is_async else sync_script
        members_body, garbage_body = fault.with_client(script)
    assert members_body == b"".join(b"%d," % i for i in range(2000))
    assert garbage_body == PAYLOAD
