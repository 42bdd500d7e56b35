"""WSGITransport: the PEP 3333 environ an app sees, lazy bodies, exc_info, and httpx parity."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import flask
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._client import Client
from httplib._models import Request
from httplib._transports.wsgi import StartResponse, WSGITransport

Environ = dict[str, Any]
# An environ with its two objects replaced by what they stand for, so environs compare as data.
Seen = dict[str, Any]


def capture(environ: Environ) -> Seen:
    seen = dict(environ)
    seen["wsgi.input"] = environ["wsgi.input"].read()
    seen["wsgi.errors"] = "stderr" if environ["wsgi.errors"] is sys.stderr else "custom"
    return seen


class Recorder:
    """A WSGI app that records the environ it was called with and echoes the request body."""

    def __init__(self) -> None:
        self.seen: Seen = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        self.seen = capture(environ)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [self.seen["wsgi.input"]]


def environ_of(request: Request, **options: Any) -> Seen:
    app = Recorder()
    WSGITransport(app, **options).handle_request(request).read()
    return app.seen


def httpx_environ_of(request: httpx.Request, **options: Any) -> Seen:
    app = Recorder()
    httpx.WSGITransport(app, **options).handle_request(request).read()
    return app.seen


# ---------------------------------------------------------------------------------------------
# The environ


def test_environ_fields_seen_by_the_app() -> None:
    request = Request(
        "POST",
        "https://example.org:8443/a/b?x=1&y=%20",
        headers={"Content-Type": "text/plain", "X-Trace": "t1", "Accept": "*/*"},
        content=b"body",
    )
    seen = environ_of(request, script_name="/mount", remote_addr="10.0.0.7")
    assert seen == {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": b"body",
        "wsgi.errors": "stderr",
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/mount",
        "PATH_INFO": "/a/b",
        "QUERY_STRING": "x=1&y=%20",
        "SERVER_NAME": "example.org",
        "SERVER_PORT": "8443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_HOST": "example.org:8443",
        "HTTP_ACCEPT": "*/*",
        "HTTP_X_TRACE": "t1",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "4",
    }


@pytest.mark.parametrize(
    ("url", "port"),
    [("http://example.org/", "80"), ("https://example.org/", "443"), ("http://h:8080/", "8080")],
)
def test_server_port_defaults_to_the_schemes(url: str, port: str) -> None:
    assert environ_of(Request("GET", url))["SERVER_PORT"] == port


def test_wsgi_errors_is_the_given_stream() -> None:
    errors = io.StringIO()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        environ["wsgi.errors"].write("logged")
        start_response("204 No Content", [])
        return []

    WSGITransport(app, wsgi_errors=errors).handle_request(Request("GET", "http://a/"))
    assert errors.getvalue() == "logged"


def test_path_info_is_percent_decoded_once() -> None:
    # %2F is a slash in PATH_INFO (CGI cannot tell them apart); %2525 decodes to %25, not to %.
    seen = environ_of(Request("GET", "http://a/x%2Fy/a%2525b/%7Euser"))
    assert seen["PATH_INFO"] == "/x/y/a%25b/~user"


def test_non_ascii_path_is_latin1_native_string_per_pep_3333() -> None:
    # PEP 3333 "native strings": one character per decoded byte. httpx 0.28 passes the UTF-8
    # decoded text instead, which frameworks then decode a second time (see the Flask test).
    seen = environ_of(Request("GET", "http://a/caf%C3%A9"))
    assert seen["PATH_INFO"] == "/caf\u00c3\u00a9"
    assert seen["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café"


def test_repeated_request_headers_are_joined_not_dropped() -> None:
    request = Request("GET", "http://a/", headers=[("X-A", "1"), ("X-A", "2"), ("X-B", "3")])
    seen = environ_of(request)
    assert (seen["HTTP_X_A"], seen["HTTP_X_B"]) == ("1,2", "3")


def test_latin1_header_values_pass_both_ways() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("X-Echo", environ["HTTP_X_NAME"])])
        return []

    request = Request("GET", "http://a/", headers={b"X-Name": "Jos\u00e9".encode("latin-1")})
    response = WSGITransport(app).handle_request(request)
    assert response.headers.raw[0] == (b"X-Echo", "Jos\u00e9".encode("latin-1"))


# ---------------------------------------------------------------------------------------------
# Differential: httpx's own WSGITransport on the same apps


DIFF_CASES = [
    ("GET", "http://example.org/", {}, b""),
    ("GET", "http://example.org:80/a%20b/c?q=%C3%A9&r", {"Accept": "text/html"}, b""),
    ("POST", "https://api.example.org/v1/items", {"Content-Type": "application/json"}, b"{}"),
    ("DELETE", "http://127.0.0.1:5000/x%2525y?", {"Authorization": "Bearer t"}, b""),
    ("PATCH", "https://[::1]:8443/p", {"X-Custom-Header": "v", "Cookie": "a=b"}, b"data"),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), DIFF_CASES)
def test_environ_matches_httpx_key_by_key(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> None:
    options = {"script_name": "/app", "remote_addr": "192.0.2.1"}
    ours = environ_of(Request(method, url, headers=headers, content=body), **options)
    theirs = httpx_environ_of(httpx.Request(method, url, headers=headers, content=body), **options)
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        assert ours[key] == value, key


@settings(max_examples=100)
@given(
    path=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#%")),
    query=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#")),
)
def test_ascii_paths_and_queries_match_httpx(path: str, query: str) -> None:
    url = f"http://example.org/{path}?{query}"
    assert environ_of(Request("GET", url)) == httpx_environ_of(httpx.Request("GET", url))


def streaming_app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    # A generator app calls start_response only when first iterated, and may yield empties.
    start_response(
        "206 Partial", [("X-Kind", "stream"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    )
    yield b""
    yield environ["wsgi.input"].read()
    yield b""
    yield b"-end"


def status_only_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("404 Not Found", [])
    return []


@pytest.mark.parametrize("app", [streaming_app, status_only_app, Recorder()])
def test_responses_match_httpx(app: Callable[..., Iterable[bytes]]) -> None:
    ours = WSGITransport(app).handle_request(Request("POST", "http://a/", content=b"in"))
    theirs = httpx.WSGITransport(app).handle_request(
        httpx.Request("POST", "http://a/", content=b"in")
    )
    assert ours.status_code == theirs.status_code
    assert ours.headers.raw == theirs.headers.raw
    assert ours.read() == theirs.read()


# ---------------------------------------------------------------------------------------------
# Bodies


def test_streamed_request_body_reaches_wsgi_input() -> None:
    def parts() -> Iterator[bytes]:
        yield b"a" * 70_000
        yield b"b"

    seen = environ_of(Request("PUT", "http://a/", content=parts()))
    assert seen["wsgi.input"] == b"a" * 70_000 + b"b"
    assert "CONTENT_LENGTH" not in seen
    assert seen["HTTP_TRANSFER_ENCODING"] == "chunked"


class LazyBody:
    """A WSGI iterable that logs how far it has been pulled and whether it was closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulled = 0
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk

    def close(self) -> None:
        self.closed += 1


def lazy_app(body: LazyBody) -> Callable[[Environ, StartResponse], LazyBody]:
    def app(environ: Environ, start_response: StartResponse) -> LazyBody:
        start_response("200 OK", [])
        return body

    return app


def test_response_body_is_pulled_lazily_then_closed() -> None:
    body = LazyBody([b"", b"one", b"two", b"three"])
    response = WSGITransport(lazy_app(body)).handle_request(Request("GET", "http://a/"))
    # Only up to the first non-empty chunk: the status may change until body data exists.
    assert body.pulled == 2
    pieces = response.iter_raw()
    assert next(pieces) == b"one"
    assert body.pulled == 2
    assert list(pieces) == [b"two", b"three"]
    assert body.closed == 1


def test_closing_a_partly_read_response_closes_the_iterable() -> None:
    body = LazyBody([b"one", b"two", b"three"])
    with WSGITransport(lazy_app(body)).handle_request(Request("GET", "http://a/")) as response:
        assert next(response.iter_raw()) == b"one"
    assert (body.pulled, body.closed) == (1, 1)


def test_empty_body_iterable_is_closed() -> None:
    body = LazyBody([])
    response = WSGITransport(lazy_app(body)).handle_request(Request("GET", "http://a/"))
    assert response.read() == b""
    assert body.closed == 1


def test_write_callable_output_comes_before_the_iterable() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [])
        write(b"written ")
        return [b"returned"]

    response = WSGITransport(app).handle_request(Request("GET", "http://a/"))
    assert response.read() == b"written returned"


# ---------------------------------------------------------------------------------------------
# Errors


def failing_app(error: BaseException, status: str = "500 Internal Server Error") -> Any:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        try:
            raise error
        except type(error):
            start_response(status, [("Content-Type", "text/plain")], sys.exc_info())
        return [b"it broke"]

    return app


def test_exc_info_is_raised_by_default_like_httpx() -> None:
    app = failing_app(KeyError("missing"))
    with pytest.raises(KeyError, match="missing"):
        WSGITransport(app).handle_request(Request("GET", "http://a/"))
    with pytest.raises(KeyError, match="missing"):
        httpx.WSGITransport(app).handle_request(httpx.Request("GET", "http://a/"))


def test_exc_info_gives_the_apps_error_response_when_not_raising() -> None:
    app = failing_app(KeyError("missing"), status="503 Service Unavailable")
    ours = WSGITransport(app, raise_app_exceptions=False).handle_request(
        Request("GET", "http://a/")
    )
    theirs = httpx.WSGITransport(app, raise_app_exceptions=False).handle_request(
        httpx.Request("GET", "http://a/")
    )
    assert (ours.status_code, ours.read()) == (503, b"it broke")
    assert (theirs.status_code, theirs.read()) == (503, b"it broke")


def test_exc_info_after_body_data_is_reraised_per_pep_3333() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise OSError("disk gone")
        except OSError:
            start_response("500 Error", [], sys.exc_info())

    response = WSGITransport(app, raise_app_exceptions=False).handle_request(
        Request("GET", "http://a/")
    )
    assert response.status_code == 200
    with pytest.raises(OSError, match="disk gone"):
        response.read()


@pytest.mark.parametrize("raise_app_exceptions", [True, False])
def test_exception_raised_by_the_app_propagates_like_httpx(raise_app_exceptions: bool) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        WSGITransport(app, raise_app_exceptions=raise_app_exceptions).handle_request(
            Request("GET", "http://a/")
        )
    with pytest.raises(RuntimeError, match="crash"):
        httpx.WSGITransport(app, raise_app_exceptions=raise_app_exceptions).handle_request(
            httpx.Request("GET", "http://a/")
        )


class FailingIterable:
    """Fails in `__iter__` itself, or (as a generator would) on the first chunk."""

    def __init__(self, in_iter: bool) -> None:
        self.in_iter = in_iter
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        if self.in_iter:
            raise OSError("cannot iterate")
        return self.chunks()

    def chunks(self) -> Iterator[bytes]:
        raise OSError("cannot iterate")
        yield b""  # pragma: no cover

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("in_iter", [True, False])
def test_iterable_is_closed_when_it_fails_before_the_first_chunk(in_iter: bool) -> None:
    body = FailingIterable(in_iter)

    def app(environ: Environ, start_response: StartResponse) -> FailingIterable:
        start_response("200 OK", [])
        return body

    with pytest.raises(OSError, match="cannot iterate"):
        WSGITransport(app).handle_request(Request("GET", "http://a/"))
    assert body.closed


def test_app_that_never_starts_a_response_fails_like_httpx() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return [b""]

    with pytest.raises(AssertionError, match="without calling start_response"):
        WSGITransport(app).handle_request(Request("GET", "http://a/"))
    with pytest.raises(AssertionError):
        httpx.WSGITransport(app).handle_request(httpx.Request("GET", "http://a/"))


def test_malformed_status_line_is_named() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("OK", [])
        return []

    with pytest.raises(ValueError, match="Invalid WSGI status line: 'OK'"):
        WSGITransport(app).handle_request(Request("GET", "http://a/"))


# ---------------------------------------------------------------------------------------------
# A real framework


def make_flask_app() -> flask.Flask:
    app = flask.Flask("wsgi_transport_test")

    @app.route("/echo/<path:name>", methods=["GET", "POST"])
    def echo(name: str) -> flask.Response:
        return flask.jsonify(
            name=name,
            path=flask.request.path,
            script_root=flask.request.script_root,
            args=flask.request.args.to_dict(flat=False),
            body=flask.request.get_data(as_text=True),
            remote_addr=flask.request.remote_addr,
            user_agent=flask.request.headers.get("User-Agent"),
        )

    @app.route("/stream")
    def stream() -> flask.Response:
        return flask.Response((f"{n}\n" for n in range(3)), mimetype="text/plain")

    @app.route("/boom")
    def boom() -> str:
        raise ZeroDivisionError("flask view failed")

    return app


def test_flask_sees_the_request() -> None:
    transport = WSGITransport(make_flask_app(), script_name="/api", remote_addr="203.0.113.9")
    request = Request(
        "POST",
        "http://testserver/echo/caf%C3%A9/x?tag=a&tag=b",
        headers={"User-Agent": "ua/1"},
        content="h\u00e9llo".encode(),
    )
    response = transport.handle_request(request)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.read()) == {
        "name": "café/x",
        "path": "/echo/café/x",
        "script_root": "/api",
        "args": {"tag": ["a", "b"]},
        "body": "h\u00e9llo",
        "remote_addr": "203.0.113.9",
        "user_agent": "ua/1",
    }


def test_flask_streaming_response_and_errors() -> None:
    app = make_flask_app()
    response = WSGITransport(app).handle_request(Request("GET", "http://testserver/stream"))
    assert list(response.iter_raw()) == [b"0\n", b"1\n", b"2\n"]
    # Flask turns a view's exception into its own 500 page unless it is testing.
    response = WSGITransport(app).handle_request(Request("GET", "http://testserver/boom"))
    assert response.status_code == 500
    app.testing = True
    with pytest.raises(ZeroDivisionError, match="flask view failed"):
        WSGITransport(app).handle_request(Request("GET", "http://testserver/boom"))
    assert WSGITransport(app).handle_request(Request("GET", "http://t/nope")).status_code == 404


def test_flask_through_a_client() -> None:
    transport = WSGITransport(make_flask_app())
    with Client(transport=transport, base_url="http://testserver") as client:
        response = client.get("/echo/caf%C3%A9", params={"q": "1"}, headers={"User-Agent": "me"})
        assert response.json()["name"] == "café"
        assert response.json()["args"] == {"q": ["1"]}
        assert response.json()["user_agent"] == "me"
        with client.stream("GET", "/stream") as streamed:
            assert list(streamed.iter_lines()) == ["0", "1", "2"]


@pytest.mark.parametrize("chunks", [["text"], [b"ok", 42]])
def test_non_bytes_body_chunk_is_named(chunks: list[object]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[object]:
        start_response("200 OK", [])
        return chunks

    bad = chunks[-1]
    with pytest.raises(TypeError, match=f"body yielded {type(bad).__name__} {bad!r}, not bytes"):
        WSGITransport(app).handle_request(Request("GET", "http://a/")).read()  # type: ignore[arg-type]


def test_write_during_iteration_keeps_its_order() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [])
        write(b"1")
        yield b"2"
        write(b"3")
        yield b"4"
        write(b"5")

    response = WSGITransport(app).handle_request(Request("GET", "http://a/"))
    assert list(response.iter_raw()) == [b"1", b"2", b"3", b"4", b"5"]
