"""TLS against hostile or misconfigured servers (reliability catalogue 3.J and 2.C), for `Client`
and `AsyncClient` on every runtime. Certificates are minted per test session with trustme.

Every bad certificate is a `ConnectError` that names the verification failure; a handshake the
server breaks off or answers in plain text is a `ConnectError`; a TLS connection cut mid-body
is a `RemoteProtocolError`; SNI and ALPN are in the ClientHello; and what one transport accepts
with `verify=False` never reaches another that verifies, nor does a connection made for one SNI
name carry a request for another.

Not here: a certificate with a CN and no subjectAltName (trustme always writes a SAN; the
ssl module has ignored the CN since Python 3.7), and proxies (not built yet).
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

from faults.conftest import Fault, assert_pool_clean
from httplib._exceptions import ConnectError, RemoteProtocolError
from httplib._transports.default import AsyncHTTPTransport, HTTPTransport
from servers.raw import keep_alive, read_request_head, scripted_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _answer_ok(conn: socket.socket) -> None:
    read_request_head(conn)
    conn.sendall(OK)


serve_ok = keep_alive(lambda conn, head, n: conn.sendall(OK) is None)  # every request, kept alive


def _server_context(cert: trustme.LeafCert, *, chain: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if chain:
        cert.configure_cert(context)
    else:  # the leaf alone, without the intermediate that signed it
        with cert.private_key_pem.tempfile() as key, cert.cert_chain_pems[0].tempfile() as leaf:
            context.load_cert_chain(leaf, key)
    return context


def _bad_certificates(ca: trustme.CA) -> dict[str, tuple[ssl.SSLContext, str]]:
    """Server contexts whose certificate a client trusting `ca` must refuse, with a phrase of
    the reason the ssl module gives."""
    now = datetime.datetime.now(datetime.UTC)
    stranger = trustme.CA()
    child = ca.create_child_ca()
    return {
        "expired": (
            _server_context(ca.issue_cert("127.0.0.1", not_after=now - datetime.timedelta(days=1))),
            "expired",
        ),
        "not yet valid": (
            _server_context(
                ca.issue_cert("127.0.0.1", not_before=now + datetime.timedelta(days=1))
            ),
            "not yet valid",
        ),
        "untrusted issuer": (_server_context(stranger.issue_cert("127.0.0.1")), "verify failed"),
        "wrong host": (_server_context(ca.issue_cert("example.org")), "mismatch"),
        "DNS name for an IP address": (_server_context(ca.issue_cert("localhost")), "mismatch"),
        "missing intermediate": (
            _server_context(child.issue_cert("127.0.0.1"), chain=False),
            "verify failed",
        ),
    }


@pytest.fixture(scope="module")
def bad_certificates(tls_ca: trustme.CA) -> dict[str, tuple[ssl.SSLContext, str]]:
    return _bad_certificates(tls_ca)


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "not yet valid",
        "untrusted issuer",
        "wrong host",
        "DNS name for an IP address",
        "missing intermediate",
    ],
)
def test_a_bad_certificate_is_a_connect_error_with_its_reason(
    fault: Fault,
    kind: str,
    bad_certificates: dict[str, tuple[ssl.SSLContext, str]],
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    context, reason = bad_certificates[kind]
    with (
        scripted_server(_answer_ok, ssl_context=context) as bad,
        scripted_server(_answer_ok, ssl_context=server_ssl_context) as good,
    ):
        exc = fault.expect(
            ConnectError, bad.url + "/", then=good.url + "/", client={"verify": client_ssl_context}
        )
        assert reason in str(exc).lower(), str(exc)


def _hang_up(conn: socket.socket) -> None:
    pass  # closed as soon as accepted: EOF before or during the handshake


def _plain_http(conn: socket.socket) -> None:
    conn.sendall(OK)  # an HTTP/1.1 reply where a ServerHello belongs, then a close


def _plain_then_hold(conn: socket.socket) -> None:
    # CVE-2023-40217: bytes sent before any handshake must never be read as a response.
    conn.sendall(OK)
    read_request_head(conn)


@pytest.mark.parametrize(
    "handler", [_hang_up, _plain_http, _plain_then_hold], ids=["EOF", "plain HTTP", "plain held"]
)
def test_a_broken_handshake_is_a_connect_error(
    fault: Fault,
    handler: Callable[[socket.socket], None],
    server_ssl_context: ssl.SSLContext,
    client_ssl_context: ssl.SSLContext,
) -> None:
    with (
        scripted_server(handler) as plain,
        scripted_server(_answer_ok, ssl_context=server_ssl_context) as good,
    ):
        fault.expect(
            ConnectError,
            plain.url.replace("http://", "https://") + "/",
            then=good.url + "/",
            client={"verify": client_ssl_context},
        )


def test_a_tls_connection_cut_mid_body_is_a_protocol_error(
    fault: Fault, server_ssl_context: ssl.SSLContext, client_ssl_context: ssl.SSLContext
) -> None:
    """No close_notify, Content-Length outstanding: never a silently short body."""

    def cut(conn: socket.socket) -> None:
        head, _ = read_request_head(conn)
        if b"/ok " in head:
            conn.sendall(OK)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        socket.socket.shutdown(conn, socket.SHUT_RDWR)  # TCP close under the TLS layer

    with scripted_server(cut, ssl_context=server_ssl_context) as server:
        fault.expect(
            RemoteProtocolError,
            server.url + "/cut",
            then=server.url + "/ok",
            client={"verify": client_ssl_context},
        )


@contextlib.contextmanager
def recording_server(cert: trustme.LeafCert, alpn: list[str]) -> Iterator[Any]:
    """A TLS server that records each ClientHello's SNI name and the ALPN protocol chosen."""
    seen: list[tuple[str | None, str | None]] = []
    names: dict[int, str | None] = {}
    context = _server_context(cert)
    context.set_alpn_protocols(alpn)
    lock = threading.Lock()

    def on_sni(conn: ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
        with lock:
            names[id(conn)] = name

    context.sni_callback = on_sni  # type: ignore[assignment]

    def handler(conn: socket.socket) -> None:
        assert isinstance(conn, ssl.SSLSocket)
        with lock:
            seen.append((names.get(id(conn)), conn.selected_alpn_protocol()))
        serve_ok(conn)

    with scripted_server(handler, ssl_context=context) as server:
        server.seen = seen
        yield server


def _get(fault: Fault, urls: list[tuple[str, dict[str, Any]]], **client: Any) -> None:
    """GET each (url, request arguments) in turn on one client; each must be a 200."""

    def sync_script(c: Any) -> None:
        for url, kwargs in urls:
            assert c.get(url, **kwargs).status_code == 200
        assert_pool_clean(c)

    async def async_script(c: Any) -> None:
        for url, kwargs in urls:
            assert (await c.get(url, **kwargs)).status_code == 200
        assert_pool_clean(c)

    fault.with_client(async_script if fault.is_async else sync_script, **client)


def test_sni_and_alpn_are_in_the_client_hello(
    fault: Fault, tls_ca: trustme.CA, client_ssl_context: ssl.SSLContext
) -> None:
    cert = tls_ca.issue_cert("localhost", "127.0.0.1")
    with recording_server(cert, ["h2", "http/1.1"]) as server:
        by_name = f"https://localhost:{server.port}/"
        by_ip = f"https://127.0.0.1:{server.port}/"
        _get(fault, [(by_name, {}), (by_ip, {})], verify=client_ssl_context)
        # HTTP/1.1 only was offered (no http2=True), so the server could not pick h2; an IP
        # address is never sent as SNI (RFC 6066 section 3).
        assert server.seen == [("localhost", "http/1.1"), (None, "http/1.1")]


def test_a_connection_made_for_one_sni_name_is_not_used_for_another(
    fault: Fault, tls_ca: trustme.CA, client_ssl_context: ssl.SSLContext
) -> None:
    """The `sni_hostname` extension is part of the pool key (CVE-2022-27782's class: reuse
    across differing TLS parameters)."""
    cert = tls_ca.issue_cert("127.0.0.1", "a.test", "b.test")
    with recording_server(cert, ["http/1.1"]) as server:
        url = f"https://127.0.0.1:{server.port}/"
        a = {"extensions": {"sni_hostname": "a.test"}}
        b = {"extensions": {"sni_hostname": "b.test"}}
        _get(fault, [(url, a), (url, b), (url, a)], verify=client_ssl_context)
        assert [name for name, _ in server.seen] == ["a.test", "b.test"]


def test_verify_false_on_one_transport_never_reaches_a_verifying_one(
    fault: Fault, server_ssl_context: ssl.SSLContext
) -> None:
    """CVE-2024-35195's class: the unverified mount reaches the untrusted server; the client's
    own verifying transport still refuses the same server under another origin."""
    with scripted_server(serve_ok, ssl_context=server_ssl_context) as server:
        unverified = f"https://localhost:{server.port}"
        verified = f"https://127.0.0.1:{server.port}/"
        transport = AsyncHTTPTransport if fault.is_async else HTTPTransport
        mounts = {unverified: transport(verify=False)}

        def sync_script(c: Any) -> None:
            for _ in range(2):
                assert c.get(unverified + "/").status_code == 200
                with pytest.raises(ConnectError, match="verify failed"):
                    c.get(verified)
            assert_pool_clean(c)

        async def async_script(c: Any) -> None:
            for _ in range(2):
                assert (await c.get(unverified + "/")).status_code == 200
                with pytest.raises(ConnectError, match="verify failed"):
                    await c.get(verified)
            assert_pool_clean(c)

        fault.with_client(async_script if fault.is_async else sync_script, mounts=mounts)
        assert server.connections_accepted == 3  # one kept-alive unverified, two refused
