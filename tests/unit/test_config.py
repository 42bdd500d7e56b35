"""Timeout, Limits, Proxy and SSL contexts, compared with httpx where behaviour is shared."""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path

import httpx
import pytest
import trustme

import httplib
from httplib._config import shared_ssl_context


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((5.0,), {}),
        ((5,), {}),
        ((None,), {}),
        ((5.0,), {"connect": 1.0}),
        ((None,), {"read": 3.0}),
        (((1.0, 2.0, 3.0, 4.0),), {}),
        ((), {"connect": 1.0, "read": 2.0, "write": None, "pool": 4.0}),
    ],
)
def test_timeout_matches_httpx(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    ours = httplib.Timeout(*args, **kwargs)  # type: ignore[arg-type]
    theirs = httpx.Timeout(*args, **kwargs)  # type: ignore[arg-type]
    assert ours.as_dict() == theirs.as_dict()
    assert repr(ours) == repr(theirs)
    assert httplib.Timeout(ours) == ours


def test_timeout_needs_a_default_or_all_four() -> None:
    with pytest.raises(ValueError, match="must either include a default"):
        httplib.Timeout(connect=1.0)


@pytest.mark.parametrize("bad", ["5", [1, 2], True])
def test_timeout_rejects_non_numbers_naming_the_value(bad: object) -> None:
    with pytest.raises(TypeError, match=repr(bad).replace("[", r"\[")):
        httplib.Timeout(bad)  # type: ignore[arg-type]


def test_timeout_rejects_negative_and_wrong_tuple() -> None:
    with pytest.raises(ValueError, match="negative"):
        httplib.Timeout(-1)
    with pytest.raises(ValueError, match="connect, read, write, pool"):
        httplib.Timeout((1.0, 2.0))  # type: ignore[arg-type]


def test_limits_match_httpx() -> None:
    ours = httplib.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=2.0)
    theirs = httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=2.0)
    assert repr(ours) == repr(theirs)
    assert repr(httplib.Limits()) == repr(httpx.Limits())
    assert ours == httplib.Limits(
        max_connections=10, max_keepalive_connections=5, keepalive_expiry=2.0
    )
    with pytest.raises(ValueError, match="max_connections"):
        httplib.Limits(max_connections=-1)
    with pytest.raises(TypeError, match="max_keepalive_connections"):
        httplib.Limits(max_keepalive_connections="5")  # type: ignore[arg-type]


def test_defaults_are_httpx_defaults() -> None:
    from httplib._config import DEFAULT_LIMITS, DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT_CONFIG

    assert httplib.Timeout(5.0) == DEFAULT_TIMEOUT_CONFIG
    assert httplib.Limits(max_connections=100, max_keepalive_connections=20) == DEFAULT_LIMITS
    assert DEFAULT_MAX_REDIRECTS == 20


def test_proxy_moves_credentials_out_of_the_url() -> None:
    proxy = httplib.Proxy("http://user:secret@proxy.local:8080")
    assert str(proxy.url) == "http://proxy.local:8080"
    assert proxy.auth == ("user", "secret")
    assert proxy.raw_auth == (b"user", b"secret")
    assert "secret" not in repr(proxy)
    assert repr(proxy) == repr(httpx.Proxy("http://user:secret@proxy.local:8080"))


def test_proxy_refuses_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="Unknown scheme for proxy URL"):
        httplib.Proxy("ftp://proxy.local")


def test_create_ssl_context_defaults() -> None:
    context = httplib.create_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    unverified = httplib.create_ssl_context(verify=False)
    assert unverified.verify_mode == ssl.CERT_NONE
    assert not unverified.check_hostname
    mine = ssl.create_default_context()
    assert httplib.create_ssl_context(verify=mine) is mine


def test_verify_path_is_deprecated_but_works(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with pytest.warns(DeprecationWarning, match="verify=<str>"):
        context = httplib.create_ssl_context(verify=str(bundle))
    assert context.verify_mode == ssl.CERT_REQUIRED
    with (
        pytest.warns(DeprecationWarning, match="verify=<str>"),
        pytest.raises(OSError, match="invalid path"),
    ):
        httplib.create_ssl_context(verify=str(tmp_path / "missing.pem"))


def test_cert_argument_is_deprecated_and_loads_the_chain(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("client.test")
    pem = tmp_path / "client.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(pem))
    with pytest.warns(DeprecationWarning, match="cert=..."):
        httplib.create_ssl_context(cert=str(pem))


def test_shared_context_is_built_once_per_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    first = shared_ssl_context()
    assert shared_ssl_context() is first
    assert shared_ssl_context(http2=True) is not first
    assert shared_ssl_context(verify=False) is not first


def test_trust_env_honours_ssl_cert_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "env-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        context = httplib.create_ssl_context()
    # Only the one CA from the environment is loaded, not certifi's bundle.
    assert len(context.get_ca_certs()) == 1
    assert len(httplib.create_ssl_context(trust_env=False).get_ca_certs()) > 1


def test_timeout_total_is_httplibs_addition() -> None:
    from httplib import Timeout as T

    timeout = T(5.0, total=30.0)
    assert timeout.total == 30.0
    assert timeout.as_dict() == {
        "connect": 5.0,
        "read": 5.0,
        "write": 5.0,
        "pool": 5.0,
        "total": 30.0,
    }
    assert repr(timeout) == "Timeout(timeout=5.0, total=30.0)"
    assert T(timeout) == timeout
    assert T(timeout).total == 30.0
    assert timeout != T(5.0)
    assert "total" not in T(5.0).as_dict()  # httpx's dict when no deadline is set
    assert repr(T(connect=1, read=2, write=3, pool=4, total=9)) == (
        "Timeout(connect=1, read=2, write=3, pool=4, total=9)"
    )
    with pytest.raises(ValueError, match="total"):
        T(5.0, total=-1)
