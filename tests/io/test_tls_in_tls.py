"""TLS inside TLS on every runtime: `start_tls` on a stream that is TLS already.

An https:// proxy is spoken to over TLS; a CONNECT tunnel through it to an https origin then
carries a second TLS session inside the first. The cases drive the backends' streams by hand
(no engine): TLS to pproxy's TLS listener, `CONNECT host:port`, its 200, then `start_tls` to
the origin on the same stream. Blocking sockets run the inner session over memory BIOs; trio
and uvloop stack their own TLS streams; asyncio does too where the stdlib can (else memory
BIOs). The "-bio" runtimes force the memory-BIO stream on asyncio and uvloop, so it is tested
whichever the Python running the suite picks.
"""

from __future__ import annotations

import gc
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme

import httplib
from httplib._core.plan import Endpoint
from httplib._io.sync_backend import SyncBackend
from servers.asgi_servers import RunningServer
from servers.proxies import RunningProxy
from servers.raw import read_until, scripted_server
from support.runtimes import ALL_RUNTIMES, NO_UVLOOP, params, uvloop

Run = Callable[[Callable[[Any], Awaitable[None]]], None]
TIMEOUT = 10.0


# The conformance `run` (tests/io/conftest.py), plus asyncio and uvloop with TLS over TLS
# always on memory BIOs.
every_runtime = pytest.mark.parametrize(
    "run",
    [
        *params(*ALL_RUNTIMES),
        "asyncio-bio",
        pytest.param("uvloop-bio", marks=pytest.mark.skipif(uvloop is None, reason=NO_UVLOOP)),
    ],
    indirect=True,
)


async def tunnel(backend: Any, proxy: RunningProxy, port: int) -> Any:
    """A TLS stream to `proxy` with a CONNECT tunnel to 127.0.0.1:`port` open in it."""
    plain = await backend.connect(Endpoint(proxy.host, proxy.port), TIMEOUT)
    stream = await plain.start_tls(proxy.ssl_context(), "localhost", TIMEOUT)
    await stream.write(
        f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await stream.read(65536, TIMEOUT)
        assert chunk, f"the proxy closed after {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200 "), head
    # The proxy sends nothing more until the client speaks: the tunnel's bytes are ours.
    assert head.endswith(b"\r\n\r\n")
    return stream


def origin_context(ca: trustme.CA, alpn: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(alpn)
    return context


async def read_response(stream: Any) -> bytes:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.read(65536, TIMEOUT)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = await stream.read(65536, TIMEOUT)
        assert chunk, body
        body += chunk
    return head + b"\r\n\r\n" + body


@every_runtime
def test_get_over_tls_inside_a_tls_tunnel(
    run: Run, https_proxy: RunningProxy, hypercorn_tls_server: RunningServer, tls_ca: trustme.CA
) -> None:
    async def case(backend: Any) -> None:
        outer = await tunnel(backend, https_proxy, hypercorn_tls_server.port)
        stream = await outer.start_tls(origin_context(tls_ca, ["http/1.1"]), "localhost", TIMEOUT)
        ssl_object = stream.get_extra_info("ssl_object")
        # The inner session's, not the proxy's: ALPN and the certificate come from the origin.
        assert ssl_object is not outer.get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() == "http/1.1"
        assert ("DNS", "localhost") in ssl_object.getpeercert()["subjectAltName"]
        assert stream.get_extra_info("server_addr")[1] == https_proxy.port
        await stream.write(b"GET /bytes/100000 HTTP/1.1\r\nHost: localhost\r\n\r\n", TIMEOUT)
        response = await read_response(stream)
        assert response.startswith(b"HTTP/1.1 200 ")
        assert len(response.partition(b"\r\n\r\n")[2]) == 100000
        assert not stream.is_readable()
        await stream.aclose()

    run(case)
    gc.collect()  # an unclosed socket would warn here (ResourceWarning is an error)


@every_runtime
def test_alpn_negotiates_h2_inside_the_tunnel(
    run: Run,
    https_proxy: RunningProxy,
    hypercorn_tls_server: RunningServer,
    tls_ca: trustme.CA,
) -> None:
    async def case(backend: Any) -> None:
        outer = await tunnel(backend, https_proxy, hypercorn_tls_server.port)
        stream = await outer.start_tls(
            origin_context(tls_ca, ["h2", "http/1.1"]), "localhost", TIMEOUT
        )
        assert stream.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        # The HTTP/2 preface and an empty SETTINGS frame (RFC 9113 section 3.4); the server
        # answers with its own SETTINGS frame first (type 0x4).
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        await stream.write(preface, TIMEOUT)
        frame = b""
        while len(frame) < 9:
            chunk = await stream.read(65536, TIMEOUT)
            assert chunk, frame
            frame += chunk
        assert frame[3] == 0x4
        await stream.aclose()

    run(case)
    gc.collect()


@every_runtime
def test_untrusted_origin_certificate_inside_the_tunnel_is_a_connect_error(
    run: Run, https_proxy: RunningProxy, tls_ca: trustme.CA
) -> None:
    stranger = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost", "127.0.0.1").configure_cert(stranger)

    def echo(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            conn.sendall(data)

    with scripted_server(echo, ssl_context=stranger) as origin:

        async def case(backend: Any) -> None:
            outer = await tunnel(backend, https_proxy, origin.port)
            with pytest.raises(httplib.ConnectError, match=r"(?i)certificate"):
                await outer.start_tls(origin_context(tls_ca, ["http/1.1"]), "localhost", TIMEOUT)
            # The failed start_tls closed the whole stream, the proxy's TLS included.
            with pytest.raises(httplib.WriteError):
                await outer.write(b"after the failure", TIMEOUT)
            await outer.aclose()

        run(case)
    gc.collect()


@every_runtime
def test_inner_handshake_timeout_is_a_connect_timeout(
    run: Run, https_proxy: RunningProxy, tls_ca: trustme.CA
) -> None:
    def silent(conn: socket.socket) -> None:
        read_until(conn, b"never")

    with scripted_server(silent) as origin:

        async def case(backend: Any) -> None:
            outer = await tunnel(backend, https_proxy, origin.port)
            started = time.monotonic()
            with pytest.raises(httplib.ConnectTimeout):
                await outer.start_tls(origin_context(tls_ca, ["http/1.1"]), "localhost", 0.2)
            assert time.monotonic() - started < 5

        run(case)
    gc.collect()


@every_runtime
def test_origin_close_inside_the_tunnel_reads_as_eof(
    run: Run, https_proxy: RunningProxy, server_ssl_context: ssl.SSLContext, tls_ca: trustme.CA
) -> None:
    def greet_then_close(conn: socket.socket) -> None:
        conn.sendall(b"bye")
        assert isinstance(conn, ssl.SSLSocket)
        conn.unwrap()  # close_notify, then the TCP close

    with scripted_server(greet_then_close, ssl_context=server_ssl_context) as origin:

        async def case(backend: Any) -> None:
            outer = await tunnel(backend, https_proxy, origin.port)
            stream = await outer.start_tls(
                origin_context(tls_ca, ["http/1.1"]), "localhost", TIMEOUT
            )
            received = b""
            for _ in range(10):
                chunk = await stream.read(65536, TIMEOUT)
                if not chunk:
                    break
                received += chunk
            assert received == b"bye"
            assert await stream.read(65536, TIMEOUT) == b""
            await stream.aclose()

        run(case)
    gc.collect()


@every_runtime
def test_inner_read_timeout_is_a_read_timeout(
    run: Run, https_proxy: RunningProxy, uvicorn_tls_server: RunningServer, tls_ca: trustme.CA
) -> None:
    async def case(backend: Any) -> None:
        outer = await tunnel(backend, https_proxy, uvicorn_tls_server.port)
        stream = await outer.start_tls(origin_context(tls_ca, ["http/1.1"]), "localhost", TIMEOUT)
        started = time.monotonic()
        with pytest.raises(httplib.ReadTimeout):
            await stream.read(65536, 0.1)  # no request sent: the origin says nothing
        assert time.monotonic() - started < 5
        await stream.aclose()

    run(case)
    gc.collect()


@pytest.mark.parametrize("path", ["tls-in-tls", "direct-h2"])
def test_sync_tls_read_and_written_from_two_threads(
    path: str, https_proxy: RunningProxy, tls_ca: trustme.CA
) -> None:
    """HTTP/2 on a blocking connection reads in one thread while another writes: records
    must reach the peer whole and in order, and no read may see a false EOF (OpenSSL forbids
    two threads in one SSL object). An echo origin that offers h2 sends each byte back."""

    def echo(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            conn.sendall(data)

    origin_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost", "127.0.0.1").configure_cert(origin_tls)
    origin_tls.set_alpn_protocols(["h2"])
    chunks = [bytes([i % 251]) * 997 for i in range(300)]
    expected = b"".join(chunks)
    with scripted_server(echo, ssl_context=origin_tls) as origin:
        if path == "tls-in-tls":
            plain = SyncBackend().connect(Endpoint(https_proxy.host, https_proxy.port), TIMEOUT)
            outer = plain.start_tls(https_proxy.ssl_context(), "localhost", TIMEOUT)
            authority = f"127.0.0.1:{origin.port}".encode()
            outer.write(b"CONNECT " + authority + b" HTTP/1.1\r\nHost: " + authority + b"\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += outer.read(65536, TIMEOUT)
            assert head.startswith(b"HTTP/1.1 200 ")
        else:
            outer = SyncBackend().connect(Endpoint("127.0.0.1", origin.port), TIMEOUT)
        stream = outer.start_tls(origin_context(tls_ca, ["h2"]), "localhost", TIMEOUT)
        assert stream.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        errors: list[BaseException] = []

        def write_all() -> None:
            try:
                for chunk in chunks:
                    stream.write(chunk, TIMEOUT)
            except BaseException as exc:  # reported below
                errors.append(exc)

        writer = threading.Thread(target=write_all)
        writer.start()
        received = b""
        try:
            while len(received) < len(expected):
                chunk = stream.read(65536, TIMEOUT)
                assert chunk, f"EOF after {len(received)} bytes"
                received += chunk
        finally:
            writer.join(TIMEOUT)
            stream.close()
        assert not errors
        assert received == expected
    gc.collect()
