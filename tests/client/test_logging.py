"""Logging: httpx's INFO line per request on the `httplib` logger, the connection-event helpers'
httpcore-style DEBUG lines, and nothing secret in either."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from faults.routes import OK, redirect_to, routed_server
from httplib import _logging
from httplib._client import Client
from httplib._exceptions import ConnectError
from httplib._urls import URL

pytestmark = pytest.mark.network


def _messages(caplog: pytest.LogCaptureFixture, name: str = "httplib") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name]


def test_one_info_line_per_request_and_per_hop(
    runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        routed_server({"/r": redirect_to("/ok?x=1")}) as server,
        caplog.at_level(logging.INFO, logger="httplib"),
    ):
        runner.send("GET", server.url + "/r", client={"follow_redirects": True})
    assert _messages(caplog) == [
        f'HTTP Request: GET {server.url}/r "HTTP/1.1 302 Redirect"',
        f'HTTP Request: GET {server.url}/ok?x=1 "HTTP/1.1 200 OK"',
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "httplib")


def test_the_line_is_httpx_s(caplog: pytest.LogCaptureFixture) -> None:
    with routed_server({"/a": OK}) as server, caplog.at_level(logging.INFO):
        with Client() as ours:
            ours.post(server.url + "/a?q=1", content=b"x")
        with httpx.Client() as theirs:
            theirs.post(server.url + "/a?q=1", content=b"x")
    assert _messages(caplog, "httplib") == _messages(caplog, "httpx")
    assert len(_messages(caplog, "httpx")) == 1


def test_no_credentials_or_bodies_are_logged(runner: Any, caplog: pytest.LogCaptureFixture) -> None:
    with routed_server({"/a": OK}) as server, caplog.at_level(logging.DEBUG):
        url = server.url.replace("://", "://alice:hunter2@") + "/a"
        runner.send(
            "POST",
            url,
            headers={"Authorization": "Bearer tok3n", "Cookie": "sid=c00kie"},
            content=b"the body",
        )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"POST {server.url}/a " in text
    for secret in ("alice", "hunter2", "tok3n", "c00kie", "the body", "Basic"):
        assert secret not in text


def test_nothing_is_formatted_when_disabled(runner: Any, caplog: pytest.LogCaptureFixture) -> None:
    with routed_server({"/a": OK}) as server, caplog.at_level(logging.WARNING, logger="httplib"):
        runner.send("GET", server.url + "/a")
    assert _messages(caplog) == []


def test_redacted_url_drops_only_the_userinfo() -> None:
    url = URL("https://u:p@h:8443/p?q=1#f")
    assert _logging.redacted_url(url) == "https://h:8443/p?q=1#f"
    assert _logging.redacted_url(URL("http://h/")) == "http://h/"


# --- the connection-event helpers the engine calls ----------------------------------------------


def test_connection_events_read_like_httpcore_s(
    runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with routed_server({"/a": OK}) as server, caplog.at_level(logging.DEBUG, logger="httplib"):
        runner.send("GET", server.url + "/a")
    port = int(server.url.rsplit(":", 1)[1])
    stream = "SyncStream" if runner.runtime == "sync" else None
    events = _messages(caplog, "httplib.connection")
    assert events[0] == (
        f"connect_tcp.started host='127.0.0.1' port={port} local_address=None timeout=5.0"
    )
    assert events[1].startswith("connect_tcp.complete stream=")
    if stream is not None:
        assert events[1] == f"connect_tcp.complete stream={stream}"
    # Closing the client closes its pooled connection.
    assert events[2:] == ["close.started connection=Http11Connection", "close.complete"]
    # Under the `httplib` logger, so configuring that one logger shows them too.
    assert logging.getLogger("httplib.connection").parent is logging.getLogger("httplib")


def test_a_failed_connect_and_its_retries_are_logged(
    runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        transport = {"transport": _transport(runner, retries=1)}
        with caplog.at_level(logging.DEBUG, logger="httplib"), pytest.raises(ConnectError):
            runner.send("GET", f"http://127.0.0.1:{port}/", client=transport)
    events = [e.split(" ", 1)[0] for e in _messages(caplog, "httplib.connection")]
    assert events == [
        "connect_tcp.started",
        "connect_tcp.failed",
        "retry.started",
        "connect_tcp.started",
        "connect_tcp.failed",
    ]


def test_tls_events(
    runner: Any,
    caplog: pytest.LogCaptureFixture,
    hypercorn_tls_server: Any,
    client_ssl_context: Any,
) -> None:
    url = hypercorn_tls_server.url + "/"
    with caplog.at_level(logging.DEBUG, logger="httplib"):
        runner.send("GET", url, client={"verify": client_ssl_context})
    events = _messages(caplog, "httplib.connection")
    assert "start_tls.started server_hostname='127.0.0.1' timeout=5.0" in events
    assert "start_tls.complete alpn_protocol='http/1.1'" in events


def _transport(runner: Any, **kwargs: Any) -> Any:
    from httplib._transports.default import AsyncHTTPTransport, HTTPTransport

    return (AsyncHTTPTransport if runner.is_async else HTTPTransport)(**kwargs)


def test_connection_events_cost_no_formatting_when_disabled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Loud:
        def __repr__(self) -> str:
            raise AssertionError("formatted while DEBUG is off")

    with caplog.at_level(logging.INFO, logger="httplib.connection"):
        _logging.connect_started(Loud(), None)  # type: ignore[arg-type]
        _logging.start_tls_started(Loud(), None)  # type: ignore[arg-type]
    assert caplog.records == []
