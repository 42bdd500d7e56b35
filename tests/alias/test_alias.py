"""`httplib.alias_httpx()` and the `HTTPLIB_ALIAS_HTTPX=1` start-up hook.

The alias changes the whole interpreter for good (that is its point), and this suite compares
against the real httpx, so every aliased check runs in a fresh interpreter: a script given as
text, whose failures come back as the child's traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

import httplib
from httplib import _alias
from servers.asgi_servers import RunningServer

PTH = Path(__file__).resolve().parents[2] / "src" / "httplib_alias.pth"


def run_python(code: str, *, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run `code` in a fresh interpreter of this environment; its stdout (stderr on failure)."""
    environ = {k: v for k, v in os.environ.items() if k != "HTTPLIB_ALIAS_HTTPX"}
    environ.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done.stdout if done.returncode == 0 else done.stderr


def test_import_httplib_imports_neither_httpx_nor_the_alias() -> None:
    out = run_python(
        """
        import sys
        import httplib
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("httpx", "httpcore")
                     or m == "httplib._alias"))
        """
    )
    assert out.strip() == "[]"


def test_every_httpx_name_and_module_gives_httplib_s_object() -> None:
    # Every name httpx 0.28 exports, and the private modules libraries import from (starlette's
    # TestClient annotates with httpx._types and httpx._client; openai and anthropic import
    # httpx._config.DEFAULT_TIMEOUT_CONFIG).
    out = run_python(
        f"""
        import httplib
        httplib.alias_httpx()
        import httpx
        import httpx._client, httpx._types, httpx._transports.default
        from httpx import Client, AsyncBaseTransport, ConnectError
        from httpx._config import DEFAULT_TIMEOUT_CONFIG
        from httpx._models import Headers
        from httpx._transports.mock import MockTransport

        for name in {sorted(httpx.__all__)!r}:
            if name not in ("__description__", "__title__", "__version__"):
                assert getattr(httpx, name) is getattr(httplib, name), name
        assert (Client, AsyncBaseTransport, ConnectError, Headers, MockTransport) == (
            httplib.Client, httplib.AsyncBaseTransport, httplib.ConnectError, httplib.Headers,
            httplib.MockTransport)
        assert httpx._client.USE_CLIENT_DEFAULT is httplib.USE_CLIENT_DEFAULT
        assert httpx._client.UseClientDefault is type(httplib.USE_CLIENT_DEFAULT)
        assert httpx._types.URLTypes is httplib._types.URLTypes
        assert httpx._transports.default.HTTPTransport is httplib.HTTPTransport
        assert DEFAULT_TIMEOUT_CONFIG == httplib.Timeout(5.0)
        print(httpx.__name__, httpx.__version__)
        """
    )
    assert out.split() == ["httpx", httpx.__version__]


def test_every_module_httpx_ships_is_answered() -> None:
    # The real package's module list (walked here, where httpx is httpx) against the alias's.
    import pkgutil

    modules = {m.name for m in pkgutil.walk_packages(httpx.__path__, "httpx.")}
    modules.discard("httpx.__version__")  # shadowed by the string of the same name
    assert modules | {"httpx"} == set(_alias.MODULES)


def test_third_party_code_subclasses_catches_and_checks_httplib_s_classes(
    uvicorn_server: RunningServer,
) -> None:
    # What a test client (starlette's TestClient), a custom transport and an SDK's error
    # handling written against httpx do, on a real loopback server.
    out = run_python(
        f"""
        import asyncio
        import httplib
        httplib.alias_httpx()
        import httpx

        class TestClient(httpx.Client):
            pass

        class Counting(httpx.AsyncBaseTransport):
            def __init__(self):
                self.inner = httpx.AsyncHTTPTransport()
                self.calls = 0
            async def handle_async_request(self, request):
                self.calls += 1
                return await self.inner.handle_async_request(request)
            async def aclose(self):
                await self.inner.aclose()

        with TestClient(base_url="{uvicorn_server.url}") as client:
            response = client.get("/json")
            assert isinstance(response, httpx.Response) and isinstance(client, httplib.Client)
            try:
                client.get("/status/404").raise_for_status()
            except httpx.HTTPStatusError as exc:
                assert isinstance(exc, httplib.HTTPStatusError)
                print("caught", exc.response.status_code)

        async def main():
            transport = Counting()
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.get("{uvicorn_server.url}/json")
            print("async", response.status_code, transport.calls)
        asyncio.run(main())
        """
    )
    assert out.split() == ["caught", "404", "async", "200", "1"]


def test_httpx_s_names_report_httpx_as_their_module_and_httplib_s_own_keep_theirs() -> None:
    # pytest-httpx's tests match `httpx.TimeoutException: ...` in a traceback; a pickle names
    # `httpx.URL`, which must load back.
    own = set(httplib.__all__) - set(httpx.__all__) - {"FunctionAuth"}
    assert own == _alias.HTTPLIB_ONLY
    out = run_python(
        """
        import pickle, traceback
        import httplib
        httplib.alias_httpx()
        import httpx
        try:
            raise httpx.ReadTimeout("slow")
        except httpx.TimeoutException:
            print(traceback.format_exc().splitlines()[-1])
        print(httpx.Client.__module__, httpx.get.__module__, httplib.Retry.__module__)
        url = pickle.loads(pickle.dumps(httpx.URL("https://example.org/a")))
        print(type(url) is httplib.URL, url)
        """
    )
    assert out.splitlines() == [
        "httpx.ReadTimeout: slow",
        "httpx httpx httplib",
        "True https://example.org/a",
    ]


def test_a_second_call_changes_nothing_and_a_fresh_import_is_aliased_again() -> None:
    out = run_python(
        """
        import sys
        import httplib
        httplib.alias_httpx()
        import httpx
        first = httpx
        httplib.alias_httpx()
        import httpx
        assert httpx is first
        # A library that drops httpx from sys.modules to import it afresh gets the alias again.
        for name in [m for m in sys.modules if m == "httpx" or m.startswith("httpx.")]:
            del sys.modules[name]
        import httpx
        assert httpx is not first and httpx.Client is httplib.Client
        try:
            import httpx._no_such_module
        except ModuleNotFoundError as exc:
            print(exc.name)
        """
    )
    assert out.strip() == "httpx._no_such_module"


def test_it_refuses_once_the_real_httpx_is_imported() -> None:
    out = run_python(
        """
        import httpx
        import httplib
        try:
            httplib.alias_httpx()
        except RuntimeError as exc:
            print(exc)
        assert httpx.Client is not httplib.Client
        """
    )
    assert "httpx was already imported" in out
    assert "before anything imports httpx" in out


@pytest.mark.parametrize(("value", "aliased"), [("1", True), ("0", False), (None, False)])
def test_the_pth_hook_turns_the_alias_on_only_when_the_variable_is_1(
    tmp_path: Path, value: str | None, aliased: bool
) -> None:
    # The wheel's .pth file, run the way site-packages runs it (site.addsitedir).
    shutil.copy(PTH, tmp_path / PTH.name)
    out = run_python(
        f"""
        import site, sys
        site.addsitedir({str(tmp_path)!r})
        aliased = "httplib._alias" in sys.modules
        import httpx
        print(aliased, hasattr(httpx, "__httplib_alias__"), type(httpx.__spec__.loader).__name__)
        """,
        env={} if value is None else {"HTTPLIB_ALIAS_HTTPX": value},
    )
    loader = "AliasFinder" if aliased else "SourceFileLoader"
    assert out.split() == [str(aliased), str(aliased), loader]


def test_the_pth_hook_is_a_single_import_line() -> None:
    # site.py executes only lines starting with "import"; anything else would be read as a path.
    lines = PTH.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("import ")


# --- semi-private hooks libraries override; these run without the alias ---


def test_a_transport_for_url_patched_onto_the_class_routes_existing_clients() -> None:
    # respx's `using="httpx"` mocker patches Client._transport_for_url on the class, often after
    # the application made its client.
    def handler(request: httplib.Request) -> httplib.Response:
        return httplib.Response(200, text="mocked")

    client = httplib.Client()
    original = httplib.Client._transport_for_url

    def patched(self: httplib.Client, url: httplib.URL) -> httplib.BaseTransport:
        return httplib.MockTransport(handler)

    try:
        httplib.Client._transport_for_url = patched  # type: ignore[method-assign]
        assert client.get("http://127.0.0.1:9/").text == "mocked"
    finally:
        httplib.Client._transport_for_url = original  # type: ignore[method-assign]
        client.close()


def test_uri_reference_gives_the_parsed_components_as_httpx_does_for_respx() -> None:
    # respx's URL patterns read `url._uri_reference.path` to tell `https://host` (no path)
    # from `https://host/`; httpx.URL.path says "/" for both.
    fields = ("scheme", "userinfo", "host", "port", "path", "query", "fragment")
    for text in (
        "https://api.example.org",
        "https://api.example.org/",
        "http://u:p@h:8080/a%20b?q=1#f",
    ):
        ours, theirs = httplib.URL(text)._uri_reference, httpx.URL(text)._uri_reference
        assert [getattr(ours, f) for f in fields] == [getattr(theirs, f) for f in fields], text


def test_async_request_is_a_coroutine_function_for_respx() -> None:
    # respx picks its sync or async handler by `inspect.iscoroutinefunction(client.request)`.
    import inspect

    assert inspect.iscoroutinefunction(httplib.AsyncClient().request)
    assert not inspect.iscoroutinefunction(httplib.Client().request)


def test_transport_for_url_gives_the_mounted_transport_for_openai() -> None:
    # openai's mutual-TLS auth sends through `client._transport_for_url(request.url)`.
    mounted = httplib.MockTransport(lambda request: httplib.Response(204))
    with httplib.Client(mounts={"https://api.example.org": mounted}) as client:
        assert client._transport_for_url(httplib.URL("https://api.example.org/v1")) is mounted
        assert client._transport_for_url(httplib.URL("https://other.example.org/")) is (
            client._transport
        )


def test_init_transport_hooks_wrap_what_super_builds_as_hishel_does() -> None:
    # hishel's CacheClient overrides both hooks to wrap the transport super() builds in its
    # caching transport; the client must route through what the overrides return.
    class Wrapper(httplib.BaseTransport):
        def __init__(self, inner: httplib.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httplib.Request) -> httplib.Response:
            response = self.inner.handle_request(request)
            response.headers["X-Wrapped"] = "yes"
            return response

    class CacheClient(httplib.Client):
        def _init_transport(self, *args: Any, **kwargs: Any) -> httplib.BaseTransport:
            return Wrapper(super()._init_transport(*args, **kwargs))

        def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httplib.BaseTransport:
            return Wrapper(super()._init_proxy_transport(*args, **kwargs))

    mock = httplib.MockTransport(lambda request: httplib.Response(200, text="ok"))
    with CacheClient(transport=mock) as client:
        assert client.get("http://example.org/").headers["X-Wrapped"] == "yes"
    with CacheClient(proxy="http://127.0.0.1:3128") as client:
        routed = client._transport_for_url(httplib.URL("http://example.org/"))
        assert isinstance(routed, Wrapper)
        assert isinstance(routed.inner, httplib.HTTPTransport)


def test_response_content_is_unset_until_read_as_httpx_cache_checks() -> None:
    # httpx-cache stores a response only when `hasattr(response, "_content")`, i.e. it was read;
    # other tools set `_content` to give a response a body, or delete it to read again.
    response = httplib.Response(200, stream=httplib.ByteStream(b'{"a": 1}'))
    assert not hasattr(response, "_content")
    response.read()
    assert response._content == b'{"a": 1}'
    response._content = b'{"a": 2}'
    assert response.json() == {"a": 2}
    del response._content
    assert not hasattr(response, "_content")
    with pytest.raises(httplib.ResponseNotRead):
        _ = response.content


def test_the_default_user_agent_stays_python_httplib() -> None:
    # Under the alias requests still say who sent them (docs/alias.md); servers that sniff for
    # python-httpx see python-httplib.
    seen: list[str] = []

    def handler(request: httplib.Request) -> httplib.Response:
        seen.append(request.headers["User-Agent"])
        return httplib.Response(200)

    with httplib.Client(transport=httplib.MockTransport(handler)) as client:
        client.get("http://example.org/")
    assert seen == [f"python-httplib/{httplib.__version__}"]
