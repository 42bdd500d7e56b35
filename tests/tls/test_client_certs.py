"""Client certificates every way httpx users write them, against a TLS server that requires one.

The server answers each request with the common name of the certificate the client presented, so
a test sees which certificate arrived, not only that the handshake passed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

import httplib
from servers.raw import ScriptedServer, read_request_head, scripted_server

pytestmark = pytest.mark.network

CLIENT_NAME = "httplib-test-client"
CERT_DEPRECATED = r"`cert=\.\.\.` is deprecated"


def _answer_with_peer_name(conn: socket.socket) -> None:
    assert isinstance(conn, ssl.SSLSocket)
    peer = conn.getpeercert() or {}
    names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
    head, _ = read_request_head(conn)
    if not head:
        return
    body = (names[0] if names else "none").encode()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )


@pytest.fixture(scope="module")
def mtls_server(tls_ca: trustme.CA) -> Iterator[ScriptedServer]:
    """A TLS server that refuses any client without a certificate signed by `tls_ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    context.verify_mode = ssl.CERT_REQUIRED
    tls_ca.configure_trust(context)
    with scripted_server(_answer_with_peer_name, ssl_context=context) as server:
        yield server


@pytest.fixture(scope="module")
def pems(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files users keep: the CA, the client cert and key apart, an encrypted key, and one
    PEM holding both cert and key."""
    directory = tmp_path_factory.mktemp("client-certs")
    leaf = tls_ca.issue_cert("client.example", common_name=CLIENT_NAME)
    paths = {
        name: str(directory / f"{name}.pem")
        for name in ("ca", "cert", "key", "encrypted_key", "combined")
    }
    tls_ca.cert_pem.write_to_path(paths["ca"])
    for blob in leaf.cert_chain_pems:
        blob.write_to_path(paths["cert"], append=True)
    leaf.private_key_pem.write_to_path(paths["key"])
    leaf.private_key_and_cert_chain_pem.write_to_path(paths["combined"])
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    Path(paths["encrypted_key"]).write_bytes(encrypted)
    return paths


def _trusting_context(pems: dict[str, str]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=pems["ca"])


def _forms(pems: dict[str, str]) -> dict[str, Any]:
    return {
        "pair": (pems["cert"], pems["key"]),
        "triple": (pems["cert"], pems["encrypted_key"], "s3cret"),
        "single_pem": pems["combined"],
    }


FORMS = ["pair", "triple", "single_pem"]


def _get(mode: str, url: str, **kwargs: Any) -> httplib.Response:
    if mode == "sync":
        with httplib.Client(**kwargs) as client:
            return client.get(url)

    async def main() -> httplib.Response:
        async with httplib.AsyncClient(**kwargs) as client:
            return await client.get(url)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_ssl_context_with_load_cert_chain(
    mode: str, mtls_server: ScriptedServer, pems: dict[str, str]
) -> None:
    context = _trusting_context(pems)
    context.load_cert_chain(pems["combined"])
    response = _get(mode, mtls_server.url, verify=context)
    assert response.status_code == 200
    assert response.text == CLIENT_NAME


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_cert_argument_forms_with_a_context(
    mode: str, form: str, mtls_server: ScriptedServer, pems: dict[str, str]
) -> None:
    with pytest.warns(DeprecationWarning, match=CERT_DEPRECATED) as record:
        response = _get(
            mode, mtls_server.url, verify=_trusting_context(pems), cert=_forms(pems)[form]
        )
    assert response.text == CLIENT_NAME
    # Attributed to the caller's line, as httpx's warning is, not to httplib's internals.
    assert {Path(w.filename).name for w in record} == {Path(__file__).name}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_cert_argument_forms_with_a_ca_path(
    mode: str, form: str, mtls_server: ScriptedServer, pems: dict[str, str]
) -> None:
    """The issue's spelling: `Client(cert="client.pem", verify="ca.pem")`."""
    with pytest.warns(DeprecationWarning, match=CERT_DEPRECATED):
        response = _get(mode, mtls_server.url, verify=pems["ca"], cert=_forms(pems)[form])
    assert response.status_code == 200
    assert response.text == CLIENT_NAME


def test_the_server_refuses_a_client_without_a_certificate(
    mtls_server: ScriptedServer, pems: dict[str, str]
) -> None:
    """Proves the tests above depend on the certificate: without one the request fails."""
    with (
        pytest.raises(httplib.TransportError),
        httplib.Client(verify=_trusting_context(pems)) as client,
    ):
        client.get(mtls_server.url)


def test_a_malformed_cert_tuple_says_what_was_wrong(pems: dict[str, str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match="cert must be a path or a"):
            httplib.Client(verify=_trusting_context(pems), cert=(pems["combined"],))  # type: ignore[arg-type]
