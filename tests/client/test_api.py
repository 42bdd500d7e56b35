"""The one-call API (`get`, `post`, `stream`, ...) and environment-driven client settings."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from httplib import _api
from httplib._client import AsyncClient, Client
from httplib._exceptions import ConnectError

pytestmark = pytest.mark.network

NAMES = ["request", "stream", "get", "options", "head", "post", "put", "patch", "delete"]


@pytest.mark.parametrize("name", NAMES)
def test_signatures_match_httpx(name: str) -> None:
    ours = inspect.signature(getattr(_api, name))
    theirs = inspect.signature(getattr(httpx, name))
    assert list(ours.parameters) == list(theirs.parameters)
    for param in ours.parameters.values():
        their_default = theirs.parameters[param.name].default
        if param.name != "timeout":
            assert param.default == their_default, param.name


def test_get_and_post(uvicorn_server: Any) -> None:
    assert _api.get(uvicorn_server.url + "/json").json()["name"] == "httplib"
    echo = _api.post(uvicorn_server.url + "/echo", content=b"body", params={"q": "1"}).json()
    assert (echo["method"], echo["body"], echo["query"]) == ("POST", "body", "q=1")
    for call, method in ((_api.put, "PUT"), (_api.patch, "PATCH"), (_api.delete, "DELETE"), (_api.options, "OPTIONS")):  # fmt: skip  # noqa: E501
        assert call(uvicorn_server.url + "/echo").json()["method"] == method
    assert _api.head(uvicorn_server.url + "/json").content == b""


def test_cookies_auth_and_redirects(uvicorn_server: Any) -> None:
    cookies = _api.get(uvicorn_server.url + "/cookies", cookies={"a": "1"}).json()
    assert cookies == {"a": "1"}
    auth = _api.get(uvicorn_server.url + "/basic-auth/u/p", auth=("u", "p"))
    assert auth.status_code == 200
    url = uvicorn_server.url + "/redirect/302?to=/json"
    assert _api.get(url).status_code == 302
    assert _api.get(url, follow_redirects=True).status_code == 200


def test_stream_is_a_context_manager_that_closes(uvicorn_server: Any) -> None:
    with _api.stream("GET", uvicorn_server.url + "/stream/4/3") as response:
        assert not response.is_closed
        assert b"".join(response.iter_bytes()) == bytes(range(3)) * 4
    assert response.is_closed


def test_errors_carry_the_request() -> None:
    with pytest.raises(ConnectError) as info:
        _api.get("http://127.0.0.1:9/unreachable", timeout=2.0)
    assert info.value.request.url.path == "/unreachable"


def test_trust_env_reads_ssl_cert_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls_ca: trustme.CA, uvicorn_tls_server: Any
) -> None:
    bundle = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with Client() as client:
        assert client.get(uvicorn_tls_server.url + "/json").status_code == 200
    with Client(trust_env=False) as client, pytest.raises(ConnectError):
        client.get(uvicorn_tls_server.url + "/json")


def test_netrc_is_not_used_automatically(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, uvicorn_server: Any
) -> None:
    # httpx 0.28 uses netrc only through an explicit NetRCAuth, never from trust_env alone.
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login u password p\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    assert _api.get(uvicorn_server.url + "/basic-auth/u/p").status_code == 401

    from httplib._auth_netrc import NetRCAuth

    with Client(auth=NetRCAuth(str(netrc))) as client:
        assert client.get(uvicorn_server.url + "/basic-auth/u/p").status_code == 200


def test_async_client_mirrors_client_defaults() -> None:
    sync_client, async_client = Client(), AsyncClient()
    assert sync_client.headers == async_client.headers
    assert sync_client.timeout == async_client.timeout
    assert sync_client.max_redirects == async_client.max_redirects == 20
    assert sync_client.follow_redirects is async_client.follow_redirects is False
    sync_client.close()
