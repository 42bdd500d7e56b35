"""Proxies, sans-I/O: what a proxied transport fixes, and the handshakes as flows of effects.

Theory of operation
-------------------
A transport with `proxy=` owns one `ProxySpec`; every connection of its pool goes through that
proxy (a client routes other URLs to other transports with `mounts`, so a proxied connection is
never shared with a direct one or with another proxy: catalogue 2.C). What a request does
depends on the proxy's scheme and the origin's:

    proxy http/https, origin http     forward: the connection is to the proxy, the request
                                      target is absolute-form (RFC 9112 section 3.2.2) and
                                      carries Proxy-Authorization and the proxy's headers; one
                                      connection serves every http origin
    proxy http/https, origin https    tunnel: CONNECT host:port (RFC 9110 section 9.3.6), then
                                      TLS to the origin inside it (ALPN included, so HTTP/2
                                      works); the proxy's credentials go on the CONNECT only
    proxy socks5/socks5h              tunnel: the SOCKS5 handshake (RFC 1928, credentials RFC
                                      1929), then TLS to https origins

With an `https://` proxy URL the connection to the proxy is TLS first, so an https origin gets
TLS inside TLS. The engine runs `open_tunnel` between its CONNECT and START_TLS effects; the
handshakes here yield only WRITE and READ effects, so every runtime performs them unchanged.
A refused or malformed handshake raises `ProxyError` naming the proxy and what it answered;
the engine closes the socket.

SOCKS5 names the origin by its host name for both `socks5` and `socks5h`, as httpx does (the
proxy resolves it; nothing is looked up locally).
"""

from __future__ import annotations

import base64
from collections.abc import Hashable
from typing import Any

__all__ = ["PROXY_SCHEMES", "ProxySpec"]

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
_DEFAULT_PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


class ProxySpec:
    """A proxy as the engine uses it: where it is, whether to speak TLS to it, and the
    credentials and headers it gets. Built once per transport from a `Proxy`."""

    __slots__ = (
        "_set_alpn",
        "auth",
        "headers",
        "host",
        "identity",
        "port",
        "scheme",
        "socks",
        "ssl_context",
        "tls",
        "url",
    )

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        *,
        auth: tuple[bytes, bytes] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        ssl_context: Any = None,
        set_alpn: bool = False,
    ) -> None:
        if scheme not in PROXY_SCHEMES:
            raise ValueError(
                "Proxy protocol must be either 'http', 'https', 'socks5', or 'socks5h', "
                f"but got {scheme!r}."
            )
        self.scheme = scheme
        self.host = host
        self.port = port or _DEFAULT_PROXY_PORTS[scheme]
        self.socks = scheme.startswith("socks")
        self.tls = scheme == "https"
        # The raw credentials: SOCKS5 sends them as they are (RFC 1929), HTTP as Basic.
        self.auth = auth
        fields = list(headers or [])
        if auth is not None and not self.socks:
            token = base64.b64encode(auth[0] + b":" + auth[1])
            fields.append((b"Proxy-Authorization", b"Basic " + token))
        self.headers = fields
        # The context for TLS to an https:// proxy (never offering h2: we speak HTTP/1.1 to it).
        self.ssl_context = ssl_context
        self._set_alpn = set_alpn
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{netloc}:{self.port}"
        # Part of every pool key: connections through different proxies or credentials never mix.
        self.identity: Hashable = (self.url, auth, tuple(fields), id(ssl_context))

    def tls_context(self) -> Any:
        """The context for the TLS handshake with the proxy itself. A context the user passed
        may offer h2 for origins; to the proxy we offer HTTP/1.1 only."""
        if self._set_alpn:
            self.ssl_context.set_alpn_protocols(["http/1.1"])
        return self.ssl_context

    def __repr__(self) -> str:
        return f"<ProxySpec {self.url}>"
