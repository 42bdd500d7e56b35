"""`HTTPTransport` and `AsyncHTTPTransport`: HTTP/1.1 and HTTP/2 over a connection pool,
httpx's defaults.

Both are thin: configuration is checked and frozen here, `_core.engine` makes every decision
about a request, and `_io.sync_driver` / `_io.async_driver` perform its effects. `http2=True` offers
ALPN `h2` and `http/1.1` over TLS; `http1=False, http2=True` speaks HTTP/2 only: over TLS, and
in clear text with prior knowledge (h2c, RFC 9113 section 3.3).

`proxy=` (a URL or an `httplib.Proxy`) sends every request through that proxy: http, https,
socks5 or socks5h (`_core/proxy.py` says how each is used).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._config import DEFAULT_LIMITS, Limits, Proxy, shared_ssl_context
from .._core.plan import ConnectionConfig
from .._core.proxy import ProxySpec
from .._io.streams import SocketOption
from .._io.sync_driver import SyncDriver
from .._models import Request, Response
from .._types import CertTypes, ProxyTypes
from .base import AsyncBaseTransport, BaseTransport

if TYPE_CHECKING:  # pragma: no cover
    from .._io.async_driver import AsyncDriver

__all__ = ["AsyncHTTPTransport", "HTTPTransport"]


def _connection_config(
    verify: ssl.SSLContext | str | bool,
    cert: CertTypes | None,
    trust_env: bool,
    http1: bool,
    http2: bool,
    proxy: ProxyTypes | None,
    uds: str | None,
    local_address: str | None,
    retries: int,
    socket_options: Iterable[SocketOption] | None,
) -> ConnectionConfig:
    # Cached per configuration (with its ALPN list), so building a transport costs microseconds
    # after the first. A context the user passed gets this transport's ALPN list before each
    # handshake instead, as httpx does.
    ssl_context = shared_ssl_context(verify, cert, trust_env, http2=http2)
    alpn = None
    if isinstance(verify, ssl.SSLContext):
        # h2 first: servers that honour the client's order (lighttpd) pick the first they speak.
        alpn = ["h2", "http/1.1"] if http1 and http2 else ["h2"] if http2 else ["http/1.1"]
    return ConnectionConfig(
        ssl_context,
        uds=uds,
        local_address=local_address,
        socket_options=socket_options,
        retries=retries,
        http1=http1,
        http2=http2,
        alpn=alpn,
        proxy=None if proxy is None else _proxy_spec(proxy, verify, cert, trust_env),
    )


def as_proxy(proxy: ProxyTypes) -> Proxy:
    """`proxy=` as a `Proxy` (a URL string or `URL` becomes one, as in httpx)."""
    return proxy if isinstance(proxy, Proxy) else Proxy(url=proxy)


def _proxy_spec(
    proxy: ProxyTypes, verify: ssl.SSLContext | str | bool, cert: CertTypes | None, trust_env: bool
) -> ProxySpec:
    proxy = as_proxy(proxy)
    url = proxy.url
    scheme = url.scheme
    if scheme.startswith("socks"):
        try:
            import socksio  # noqa: F401
        except ImportError:  # pragma: no cover - the test environment installs the extra
            raise ImportError(
                "Using a SOCKS proxy, but the 'socksio' package is not installed. "
                "Install httplib with the socks extra: pip install 'httplib[socks]'."
            ) from None
    ssl_context, set_alpn = None, False
    if scheme == "https":
        # TLS to the proxy itself: its own context, or this transport's verify settings with
        # ALPN http/1.1 only (we speak HTTP/1.1 to a proxy whatever the origin speaks); a
        # context the user passed gets that ALPN list before each handshake.
        ssl_context = proxy.ssl_context or shared_ssl_context(verify, cert, trust_env)
        set_alpn = proxy.ssl_context is not None or isinstance(verify, ssl.SSLContext)
    return ProxySpec(
        scheme,
        url.host,
        url.port,
        auth=proxy.raw_auth,
        headers=list(proxy.headers.raw),
        ssl_context=ssl_context,
        set_alpn=set_alpn,
    )


class _PooledTransport:
    """The constructor both transports share: check and freeze the configuration."""

    _driver: Any

    def __init__(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        proxy: ProxyTypes | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> None:
        # The proxy every request goes through (None: direct), as a `Proxy`.
        self._proxy: Proxy | None = None if proxy is None else as_proxy(proxy)
        config = _connection_config(
            verify,
            cert,
            trust_env,
            http1,
            http2,
            proxy,
            uds,
            local_address,
            retries,
            socket_options,
        )
        if isinstance(self, BaseTransport):
            self._driver = SyncDriver(config, limits)
        else:
            # Imported here so that sync-only programs never load asyncio.
            from .._io.async_driver import AsyncDriver

            self._driver = AsyncDriver(config, limits)


class HTTPTransport(_PooledTransport, BaseTransport):
    """Blocking HTTP/1.1 and HTTP/2 transport with connection pooling (httpx's `HTTPTransport`).

    `verify`/`cert`/`trust_env` configure TLS; `limits` the pool; `uds` connects through a Unix
    socket; `local_address` binds the client side; `retries` retries failed connects (0, 0.5,
    1, 2 ... seconds apart); `socket_options` are applied to every socket; `http1`/`http2` pick
    the protocols (see the module docstring); `proxy` routes every request through a proxy.
    """

    _driver: SyncDriver

    def handle_request(self, request: Request) -> Response:
        return self._driver.handle(request)

    def close(self) -> None:
        self._driver.close()


class AsyncHTTPTransport(_PooledTransport, AsyncBaseTransport):
    """Async HTTP/1.1 and HTTP/2 transport with connection pooling (`AsyncHTTPTransport`).

    Runs on asyncio, or on trio when called from trio. Arguments as for `HTTPTransport`.
    """

    _driver: AsyncDriver

    async def handle_async_request(self, request: Request) -> Response:
        return await self._driver.handle(request)

    async def aclose(self) -> None:
        await self._driver.aclose()
