"""httplib: a fast, robust HTTP client with httpx's public API, sync and async."""

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


def main(*args: object, **kwargs: object) -> None:
    """The command-line client, `httplib URL [OPTIONS]` (needs the `cli` extra).

    Imported on call: click, rich and pygments cost ~45 ms to import, which every user of the
    library would otherwise pay.
    """
    try:
        from ._main import main as command
    except ImportError as exc:
        raise ImportError(
            f"The httplib command-line client needs the 'cli' extra ({exc.name} is missing): "
            'pip install "httplib[cli]"'
        ) from exc
    command(*args, **kwargs)


__title__ = "httplib"
__description__ = "A fast, robust HTTP client for Python with httpx's API, sync and async."
__version__ = "0.1.0"

__all__ = [
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
    "Request",
    "request",
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
    "__description__",
    "__title__",
    "__version__",
]
