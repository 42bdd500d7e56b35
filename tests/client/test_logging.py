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


def test_connection_events_read_like_httpcore_s(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="httplib.connection"):
        _logging.connect_started("example.org", 443, 5.0)
        _logging.connect_complete(object())
        _logging.connect_started(None, None, 5.0, uds="/run/app.sock")
        _logging.connect_failed(ConnectError("refused"))
        _logging.start_tls_started("example.org", 5.0)
        _logging.start_tls_complete("h2")
        _logging.start_tls_failed(ConnectError("bad certificate"))
        _logging.retry_started(1, 0.5)
        _logging.close_started("idle expiry")
        _logging.close_complete()
    assert _messages(caplog, "httplib.connection") == [
        "connect_tcp.started host='example.org' port=443 local_address=None timeout=5.0",
        "connect_tcp.complete stream=object",
        "connect_unix_socket.started path='/run/app.sock' timeout=5.0",
        "connect_tcp.failed exception=ConnectError('refused')",
        "start_tls.started server_hostname='example.org' timeout=5.0",
        "start_tls.complete alpn_protocol='h2'",
        "start_tls.failed exception=ConnectError('bad certificate')",
        "retry.started attempt=1 delay=0.5",
        "close.started reason=idle expiry",
        "close.complete",
    ]
    # Under the `httplib` logger, so configuring that one logger shows them too.
    assert logging.getLogger("httplib.connection").parent is logging.getLogger("httplib")


def test_connection_events_cost_no_formatting_when_disabled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Loud:
        def __repr__(self) -> str:
            raise AssertionError("formatted while DEBUG is off")

    with caplog.at_level(logging.INFO, logger="httplib.connection"):
        _logging.connect_started(Loud(), 1, None)  # type: ignore[arg-type]
        _logging.start_tls_started(Loud(), None)  # type: ignore[arg-type]
    assert caplog.records == []
