"""Fixtures shared by every test folder: TLS material and the scripted raw-socket server."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator

import pytest
import trustme
from hypothesis import settings

from servers.app import app
from servers.asgi_servers import RunningServer, run_hypercorn, run_uvicorn

# The proxy fixtures (pproxy, tinyproxy, scripted proxies) for every folder.
pytest_plugins = ["servers.proxies"]

# CI runs the same examples every time, so a red build is reproducible; locally, exploration
# stays random. No deadlines: a loaded 2-core machine must not turn slowness into failures.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The suite talks to loopback servers only: a machine's own proxy settings (HTTP_PROXY and
# friends, honoured under trust_env) must not send its requests elsewhere. Tests of the
# environment set these variables themselves (monkeypatch).
for _name in list(os.environ):
    if _name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "request_method"}:
        del os.environ[_name]


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_ssl_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost", "127.0.0.1", "::1").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def client_ssl_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


@pytest.fixture(scope="session")
def uvicorn_server() -> Iterator[RunningServer]:
    """The ASGI test app under uvicorn, HTTP/1.1 clear text."""
    with run_uvicorn(app) as server:
        yield server


@pytest.fixture(scope="session")
def uvicorn_tls_server(tls_ca: trustme.CA) -> Iterator[RunningServer]:
    """The ASGI test app under uvicorn with a trustme certificate for localhost/127.0.0.1."""
    with run_uvicorn(app, tls_ca.issue_cert("localhost", "127.0.0.1")) as server:
        yield server


@pytest.fixture(scope="session")
def hypercorn_server() -> Iterator[RunningServer]:
    """The ASGI test app under hypercorn: HTTP/1.1 and h2c (prior knowledge) in clear text."""
    with run_hypercorn(app) as server:
        yield server


@pytest.fixture(scope="session")
def hypercorn_tls_server(tls_ca: trustme.CA) -> Iterator[RunningServer]:
    """The ASGI test app under hypercorn with TLS, offering h2 and http/1.1 by ALPN."""
    with run_hypercorn(app, tls_ca.issue_cert("localhost", "127.0.0.1")) as server:
        yield server
