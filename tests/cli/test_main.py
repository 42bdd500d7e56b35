"""The command-line client (`httplib._main.main`) against the loopback servers, via click's runner.

Each test runs the command as a user would and checks what they see: the printed heads and
body, the exit code, files written. The differential tests hold its options and its output
against httpx's own CLI (installed in the dev environment as the reference).
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import trustme
from click.testing import CliRunner, Result

import httplib
from httplib._main import main
from servers.app import DOCUMENT, pattern_bytes
from servers.asgi_servers import RunningServer
from servers.raw import read_request_head, scripted_server

pytestmark = pytest.mark.network


def run(*args: str, command: click.Command = main, **kwargs: Any) -> Result:
    return CliRunner().invoke(command, list(args), **kwargs)


def split_output(output: str) -> tuple[list[str], str]:
    """The response head lines and everything after the blank line that ends it."""
    head, _, body = output.partition("\n\n")
    return head.splitlines(), body


def echoed(result: Result) -> dict[str, Any]:
    """The /echo document the server sent back, parsed from the printed body."""
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(split_output(result.output)[1])
    return document


def echoed_header(document: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in document["headers"] if key == name]


# ------------------------------------------------------------------------- plain requests


def test_get_prints_status_line_headers_and_indented_json(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/json")
    assert result.exit_code == 0
    head, body = split_output(result.output)
    assert head[0] == "HTTP/1.1 200 OK"
    assert "content-type: application/json" in head
    assert "server: uvicorn" in head
    assert body == json.dumps(DOCUMENT, indent=4) + "\n"


def test_params_and_headers_are_sent(uvicorn_server: RunningServer) -> None:
    result = run(
        f"{uvicorn_server.url}/echo", "-p", "a", "1", "--params", "b", "two words",
        "-h", "X-Token", "abc", "--headers", "X-Token", "def",
    )  # fmt: skip
    document = echoed(result)
    assert document["method"] == "GET"
    assert document["query"] == "a=1&b=two+words"
    assert echoed_header(document, "x-token") == ["abc", "def"]


def test_query_string_in_the_url_is_kept_without_params(uvicorn_server: RunningServer) -> None:
    document = echoed(run(f"{uvicorn_server.url}/echo?x=1&y=2"))
    assert document["query"] == "x=1&y=2"


def test_method_option_is_case_insensitive(uvicorn_server: RunningServer) -> None:
    assert echoed(run(f"{uvicorn_server.url}/echo", "-m", "delete"))["method"] == "DELETE"


def test_head_prints_no_body(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/json", "--method", "HEAD")
    assert result.exit_code == 0
    head, body = split_output(result.output)
    assert head[0] == "HTTP/1.1 200 OK"
    assert body == ""


def test_cookies_are_sent(uvicorn_server: RunningServer) -> None:
    document = echoed(
        run(f"{uvicorn_server.url}/echo", "--cookies", "a", "1", "--cookies", "b", "2")
    )
    (cookie,) = echoed_header(document, "cookie")
    assert sorted(cookie.split("; ")) == ["a=1", "b=2"]


# --------------------------------------------------------------------------- request bodies


def test_json_body_defaults_to_post(uvicorn_server: RunningServer) -> None:
    document = echoed(run(f"{uvicorn_server.url}/echo", "-j", '{"a": [1, 2]}'))
    assert document["method"] == "POST"
    assert json.loads(document["body"]) == {"a": [1, 2]}
    assert echoed_header(document, "content-type") == ["application/json"]


def test_invalid_json_is_a_usage_error(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/echo", "--json", "{bad")
    assert result.exit_code == 2
    assert "Not valid JSON" in result.output
    assert "'{bad'" in result.output


def test_form_data_keeps_repeated_fields(uvicorn_server: RunningServer) -> None:
    document = echoed(
        run(f"{uvicorn_server.url}/echo", "-d", "k", "v", "-d", "k", "w", "-d", "x", "y")
    )
    assert document["method"] == "POST"
    assert document["body"] == "k=v&k=w&x=y"
    assert echoed_header(document, "content-type") == ["application/x-www-form-urlencoded"]


def test_content_with_explicit_method(uvicorn_server: RunningServer) -> None:
    document = echoed(run(f"{uvicorn_server.url}/echo", "-c", "raw body", "-m", "PUT"))
    assert document["method"] == "PUT"
    assert document["body"] == "raw body"


def test_files_are_uploaded_as_multipart(uvicorn_server: RunningServer, tmp_path: Path) -> None:
    upload = tmp_path / "notes.txt"
    upload.write_bytes(b"line one\nline two\n")
    document = echoed(
        run(f"{uvicorn_server.url}/echo", "-f", "upload", str(upload), "-d", "k", "v")
    )
    assert document["method"] == "POST"
    (content_type,) = echoed_header(document, "content-type")
    assert content_type.startswith("multipart/form-data; boundary=")
    body = document["body"]
    assert 'name="upload"; filename="notes.txt"' in body
    assert "line one\nline two\n" in body
    assert 'name="k"\r\n\r\nv' in body


def test_missing_upload_file_is_a_usage_error(
    uvicorn_server: RunningServer, tmp_path: Path
) -> None:
    result = run(f"{uvicorn_server.url}/echo", "-f", "upload", str(tmp_path / "absent.txt"))
    assert result.exit_code == 2
    assert "absent.txt" in result.output


# ------------------------------------------------------------------ redirects and status


def test_redirect_not_followed_shows_it_and_fails(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/redirect/302?to=/json")
    assert result.exit_code == 1
    head, body = split_output(result.output)
    assert head[0] == "HTTP/1.1 302 Found"
    assert "location: /json" in head
    assert body == ""


def test_follow_redirects_shows_every_hop_then_the_body(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/redirect/302?to=/json", "--follow-redirects")
    assert result.exit_code == 0
    first, rest = result.output.split("\n\n", 1)
    assert first.splitlines()[0] == "HTTP/1.1 302 Found"
    head, body = split_output(rest)
    assert head[0] == "HTTP/1.1 200 OK"
    assert json.loads(body) == DOCUMENT


@pytest.mark.parametrize(("code", "exit_code"), [(204, 0), (404, 1), (500, 1)])
def test_exit_code_follows_the_status(
    uvicorn_server: RunningServer, code: int, exit_code: int
) -> None:
    result = run(f"{uvicorn_server.url}/status/{code}")
    assert result.exit_code == exit_code
    assert result.output.splitlines()[0].startswith(f"HTTP/1.1 {code} ")


# --------------------------------------------------------------------------------- auth


def test_basic_auth(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/basic-auth/user/secret", "--auth", "user", "secret")
    assert result.exit_code == 0
    assert json.loads(split_output(result.output)[1]) == {"user": "user"}


def test_wrong_password_fails_with_401(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/basic-auth/user/secret", "--auth", "user", "wrong")
    assert result.exit_code == 1
    assert result.output.startswith("HTTP/1.1 401 ")


def test_auth_password_prompt(uvicorn_server: RunningServer) -> None:
    result = run(
        f"{uvicorn_server.url}/basic-auth/user/secret", "--auth", "user", "-", input="secret\n"
    )
    assert result.exit_code == 0
    assert "Password:" in result.output
    assert "secret" not in result.output  # the prompt hides what is typed
    assert '"user": "user"' in result.output


# ----------------------------------------------------------------------------- bodies shown


def test_binary_body_is_summarised(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/bytes/10")
    assert result.exit_code == 0
    assert split_output(result.output)[1] == "<10 bytes of binary data>\n"


def test_text_body_is_printed_as_is(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/delay/0")
    assert split_output(result.output)[1] == "ok\n"


def test_body_is_highlighted_on_a_terminal(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/json", env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert result.exit_code == 0
    assert "\x1b[" in result.output
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    assert '"numbers": [' in plain
    assert "HTTP/1.1 200 OK" in plain


# ------------------------------------------------------------------------------- download


def test_download_writes_the_body_to_a_file(
    uvicorn_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a short relative name keeps the progress line unabridged
    target = tmp_path / "payload.bin"
    result = run(f"{uvicorn_server.url}/bytes/200000", "--download", "payload.bin")
    assert result.exit_code == 0
    assert target.read_bytes() == pattern_bytes(200000)
    assert result.output.startswith("HTTP/1.1 200 OK")
    assert "Downloading" in result.output
    assert "payload.bin" in result.output
    assert "100%" in result.output
    assert "<200000 bytes" not in result.output


# -------------------------------------------------------------------------------- verbose


def test_verbose_shows_connection_and_request(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/echo?q=1", "-v", "-h", "X-Extra", "yes")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    port = uvicorn_server.port
    assert lines[:3] == [
        "* Connecting to '127.0.0.1'",
        f"* Connected to '127.0.0.1' on port {port}",
        "GET /echo?q=1 HTTP/1.1",
    ]
    request_head = lines[2 : lines.index("")]
    assert f"Host: 127.0.0.1:{port}" in request_head
    assert "X-Extra: yes" in request_head
    assert lines[lines.index("") + 1] == "HTTP/1.1 200 OK"


def test_verbose_reuses_the_connection_across_a_redirect(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/redirect/302?to=/json", "-v", "--follow-redirects")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines.count("* Connecting to '127.0.0.1'") == 1
    assert "GET /redirect/302?to=/json HTTP/1.1" in lines
    assert "GET /json HTTP/1.1" in lines
    assert lines.index("HTTP/1.1 302 Found") < lines.index("GET /json HTTP/1.1")


def test_verbose_shows_tls_details(
    hypercorn_tls_server: RunningServer, tls_ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    result = run(f"{hypercorn_tls_server.url}/json", "-v", env={"SSL_CERT_FILE": str(ca_file)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == f"* Connected to '127.0.0.1' on port {hypercorn_tls_server.port}"
    assert lines[2].startswith("* SSL established using 'TLSv1.")
    assert lines[3] == "* Selected ALPN protocol: 'http/1.1'"
    assert "* Server certificate:" in lines
    assert "*     DNS: 'localhost'" in lines
    assert "*     IP Address: '127.0.0.1'" in lines


def test_verbose_against_a_server_that_closes_after_responding() -> None:
    """Like `python -m http.server`: HTTP/1.0, one response, then the server hangs up. Verbose
    mode describes the connection from what was learnt when it was made."""

    def once(conn: socket.socket) -> None:
        read_request_head(conn)
        conn.sendall(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
        )

    with scripted_server(once) as server:
        connected = f"* Connected to '127.0.0.1' on port {server.port}"
        result = run(server.url + "/", "-v")
        again = run(server.url + "/", "-v", "-m", "HEAD")
    assert result.exit_code == 0, result.output
    assert connected in result.output.splitlines()
    assert result.output.endswith("hello\n")
    assert again.exit_code == 0, again.output
    assert connected in again.output.splitlines()


def test_untrusted_certificate_fails_unless_no_verify(hypercorn_tls_server: RunningServer) -> None:
    url = f"{hypercorn_tls_server.url}/json"
    refused = run(url, env={"SSL_CERT_FILE": None})
    assert refused.exit_code == 1
    assert refused.output.startswith("ConnectError: ")
    assert "CERTIFICATE_VERIFY_FAILED" in refused.output
    accepted = run(url, "--no-verify", "-v", env={"SSL_CERT_FILE": None})
    assert accepted.exit_code == 0, accepted.output
    assert "* Selected ALPN protocol: 'http/1.1'" in accepted.output
    # The ssl module only decodes a certificate it has validated.
    assert "* Server certificate:" not in accepted.output


# --------------------------------------------------------------------------------- errors


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_is_reported(uvicorn_server: RunningServer) -> None:
    result = run(f"http://127.0.0.1:{closed_port()}/", "-v")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "* Connecting to '127.0.0.1'",
        f"ConnectError: {result.output.splitlines()[1].partition(': ')[2]}",
    ]
    assert "refused" in result.output.lower()
    assert "Traceback" not in result.output


def test_timeout_is_reported(uvicorn_server: RunningServer) -> None:
    result = run(f"{uvicorn_server.url}/delay/2", "--timeout", "0.2")
    assert result.exit_code == 1
    assert result.output.startswith("ReadTimeout: ")


def test_url_without_scheme_is_reported() -> None:
    result = run("example")
    assert result.exit_code == 1
    assert result.output.startswith("UnsupportedProtocol: ")
    assert "'http://' or 'https://'" in result.output


def test_proxy_option_routes_every_request_through_that_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients: list[httplib.Client] = []

    class Recording(httplib.Client):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            clients.append(self)

    monkeypatch.setattr("httplib._main.Client", Recording)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # Nothing listens at either address: the request fails whether it goes through the proxy
    # or not; what is checked is where the client routes it.
    proxy = f"http://user:secret@127.0.0.1:{closed_port()}"
    url = f"http://127.0.0.1:{closed_port()}/"
    result = run(url, "--proxy", proxy)
    assert result.exit_code == 1
    assert re.match(r"^\w+: ", result.output)
    (client,) = clients
    for target in (url, "https://example.com/"):
        routed = client._transport_for_url(httplib.URL(target))
        assert isinstance(routed, httplib.HTTPTransport)
        assert routed._proxy is not None
        assert routed._proxy.url == httplib.URL(proxy.replace("user:secret@", ""))
        assert routed._proxy.auth == ("user", "secret")
    assert "secret" not in result.output


def test_without_proxy_option_the_client_routes_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    clients: list[httplib.Client] = []

    class Recording(httplib.Client):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            clients.append(self)

    monkeypatch.setattr("httplib._main.Client", Recording)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    url = f"http://127.0.0.1:{closed_port()}/"
    assert run(url).exit_code == 1
    (client,) = clients
    assert client._transport_for_url(httplib.URL(url)) is client._transport
    assert client._transport._proxy is None  # type: ignore[attr-defined]


def test_missing_url_is_a_usage_error() -> None:
    result = run()
    assert result.exit_code == 2
    assert "Missing argument 'URL'" in result.output


def test_help_lists_every_option() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    for param in main.params:
        for flag in param.opts if isinstance(param, click.Option) else ():
            assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", result.output), flag
    assert "Disable SSL verification." in result.output


# ----------------------------------------------------------------------- against httpx's CLI


def option_signature(command: click.Command) -> dict[str, tuple[Any, ...]]:
    """Each parameter's flags and shape: what a user can type, keyed by its longest flag."""
    signature = {}
    for param in command.params:
        flags = tuple(sorted(param.opts + param.secondary_opts))
        shape = (
            type(param).__name__,
            flags,
            param.nargs,
            param.multiple,
            getattr(param, "is_flag", False),
        )
        signature[max(flags, key=len)] = shape
    return signature


def test_options_match_httpx_cli() -> None:
    assert option_signature(main) == option_signature(httpx.main)


def without_dates(output: str) -> str:
    return re.sub(r"(?m)^date: .*\n", "", output)


@pytest.mark.parametrize(
    "path", ["/json", "/bytes/10", "/delay/0", "/status/404", "/redirect/302?to=/json"]
)
def test_output_matches_httpx_cli(uvicorn_server: RunningServer, path: str) -> None:
    # Both given -p, so the query string handling is the same (see test_query_string_... above).
    args = (f"{uvicorn_server.url}{path}", "-p", "to", "/json", "--follow-redirects")
    ours, theirs = run(*args), run(*args, command=httpx.main)
    assert ours.exit_code == theirs.exit_code
    assert without_dates(ours.output) == without_dates(theirs.output)


def test_error_output_matches_httpx_cli() -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    ours, theirs = run(url), run(url, command=httpx.main)
    assert (ours.exit_code, ours.output) == (theirs.exit_code, theirs.output)
