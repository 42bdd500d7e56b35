"""httplib: a fast, robust HTTP client with httpx's public API, sync and async."""

import sys as _sys
import typing as _typing

from ._api import delete, get, head, options, patch, post, put, request, stream
from ._auth_netrc import NetRCAuth
from ._client import USE_CLIENT_DEFAULT, AsyncClient, Client
from ._config import Limits, Proxy, Timeout, create_ssl_context
from ._content import ByteStream
from ._cookies import Cookies
from ._core.auth import Auth, BasicAuth, DigestAuth, FunctionAuth
from ._core.breaker import CircuitBreaker
from ._core.ratelimit import RateLimit
from ._core.retries import Retry, RetryBudget
from ._core.token_auth import BearerAuth, OAuth2ClientCredentials, OAuth2Error, OAuth2RefreshToken
from ._exceptions import (
    CircuitOpenError,
    CloseError,
    ConnectError,
    ConnectTimeout,
    ContentTooLarge,
    CookieConflict,
    DecodingError,
    HTTPError,
    HTTPStatusError,
    InvalidURL,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    RateLimitTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
    RequestNotRead,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
    StreamError,
    TimeoutException,
    TooManyRedirects,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from ._headers import Headers
from ._models import Request, Response
from ._status_codes import codes
from ._transports.asgi import ASGITransport
from ._transports.base import AsyncBaseTransport, BaseTransport
from ._transports.default import AsyncHTTPTransport, HTTPTransport
from ._transports.mock import MockTransport
from ._transports.wsgi import WSGITransport
from ._types import AsyncByteStream, SyncByteStream
from ._urls import URL, QueryParams


class _Command:
    """`httplib.main`: the CLI's click command (`httplib URL [OPTIONS]`, the `cli` extra), loaded on
    first use. click, rich and pygments cost ~45 ms to import, which every user of the library
    would otherwise pay; click's `CliRunner` drives this object as it drives the command (it only
    calls `.main()` and reads `.name`). Without the extra it prints one line and exits 1.
    """

    name = "httplib"

    def _load(self) -> _typing.Any:
        try:
            from ._main import main as command
        except ImportError as exc:
            print(
                f"httplib: the command-line client needs the 'cli' extra ({exc.name} is missing):"
                ' pip install "httplib[cli]"',
                file=_sys.stderr,
            )
            _sys.exit(1)
        return command

    def __call__(self, *args: _typing.Any, **kwargs: _typing.Any) -> _typing.Any:
        return self._load()(*args, **kwargs)

    def main(self, *args: _typing.Any, **kwargs: _typing.Any) -> _typing.Any:
        return self._load().main(*args, **kwargs)

    def __getattr__(self, name: str) -> _typing.Any:
        # Anything else a click caller reads (params, help, make_context...) is the command's own.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._load(), name)

    def __repr__(self) -> str:
        return "<httplib command-line client: httplib.main>"


main = _Command()


def alias_httpx() -> None:
    """Make `import httpx` anywhere in this process give httplib's objects (docs/alias.md).

    Call it once at start-up, before anything imports httpx; later calls do nothing. Raises
    RuntimeError if httpx itself was imported first. The machinery (an import hook and module
    views) loads here, on the call: `import httplib` never imports it, nor httpx.
    """
    from ._alias import alias_httpx as install

    install()


__title__ = "httplib"
__description__ = "A fast, robust HTTP client for Python with httpx's API, sync and async."
__version__ = "0.1.0"

__all__ = [
    "__description__",
    "__title__",
    "__version__",
    "alias_httpx",
    "ASGITransport",
    "AsyncBaseTransport",
    "AsyncByteStream",
    "AsyncClient",
    "AsyncHTTPTransport",
    "Auth",
    "BaseTransport",
    "BasicAuth",
    "BearerAuth",
    "ByteStream",
    "CircuitBreaker",
    "CircuitOpenError",
    "Client",
    "CloseError",
    "codes",
    "ConnectError",
    "ConnectTimeout",
    "ContentTooLarge",
    "CookieConflict",
    "Cookies",
    "create_ssl_context",
    "DecodingError",
    "delete",
    "DigestAuth",
    "FunctionAuth",
    "get",
    "head",
    "Headers",
    "HTTPError",
    "HTTPStatusError",
    "HTTPTransport",
    "InvalidURL",
    "Limits",
    "LocalProtocolError",
    "main",
    "MockTransport",
    "NetRCAuth",
    "NetworkError",
    "OAuth2ClientCredentials",
    "OAuth2Error",
    "OAuth2RefreshToken",
    "options",
    "patch",
    "PoolTimeout",
    "post",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "put",
    "QueryParams",
    "RateLimit",
    "RateLimitTimeout",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "request",
    "Request",
    "RequestError",
    "RequestNotRead",
    "Response",
    "ResponseNotRead",
    "Retry",
    "RetryBudget",
    "stream",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "SyncByteStream",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "URL",
    "USE_CLIENT_DEFAULT",
    "WriteError",
    "WriteTimeout",
    "WSGITransport",
]


# Public names report `httplib` as their module, as httpx's report `httpx`: reprs and tracebacks
# show `httplib.ReadTimeout`, the name users import, not the private module it lives in.
__locals = locals()
for __name in __all__:
    if not __name.startswith("__"):
        __locals[__name].__module__ = "httplib"
