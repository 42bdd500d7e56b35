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

from collections.abc import Hashable
from typing import Any

from .._exceptions import (
    ConnectTimeout,
    NetworkError,
    ProtocolError,
    ProxyError,
    RemoteProtocolError,
    TimeoutException,
)
from .auth import basic_auth_header
from .effects import READ, WRITE, Flow
from .events import ResponseReceived
from .http11 import Http11State
from .plan import READ_SIZE

__all__ = ["PROXY_SCHEMES", "ProxySpec", "authority", "open_tunnel"]

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
        if self.socks and auth is not None and max(len(auth[0]), len(auth[1])) > 255:
            # RFC 1929 section 2: one length byte each.
            raise ValueError("SOCKS5 usernames and passwords are at most 255 bytes each.")
        # The raw credentials: SOCKS5 sends them as they are (RFC 1929), HTTP as Basic.
        self.auth = auth
        fields = list(headers or [])
        if auth is not None and not self.socks:
            value = basic_auth_header(*auth).encode("ascii")
            fields.append((b"Proxy-Authorization", value))
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


def authority(host: bytes, port: int) -> bytes:
    """`host:port` as a CONNECT request target (RFC 9110 section 9.3.6), IPv6 bracketed."""
    if b":" in host:
        host = b"[" + host + b"]"
    return b"%s:%d" % (host, port)


def open_tunnel(stream: Any, proxy: ProxySpec, host: bytes, port: int, plan: Any) -> Flow:
    """Ask the proxy on `stream` for a tunnel to `host:port`: CONNECT for an HTTP(S) proxy,
    the SOCKS5 handshake for a SOCKS one. `plan.connect_timeout` bounds each step (read at each
    step: under a total deadline it shrinks). Timeouts raise ConnectTimeout, since nothing of
    the request was sent yet; anything the proxy does wrong raises ProxyError."""
    try:
        if proxy.socks:
            yield from _socks5_handshake(stream, proxy, host, port, plan)
        else:
            yield from _connect_handshake(stream, proxy, host, port, plan)
    except TimeoutException as exc:
        raise ConnectTimeout(
            f"Timed out while the proxy {proxy.url} opened a tunnel to "
            f"{authority(host, port).decode('ascii')}."
        ) from exc
    except (NetworkError, ProtocolError) as exc:
        raise ProxyError(
            f"The proxy {proxy.url} failed while opening a tunnel to "
            f"{authority(host, port).decode('ascii')}: {exc}"
        ) from exc


def _connect_handshake(stream: Any, proxy: ProxySpec, host: bytes, port: int, plan: Any) -> Flow:
    target = authority(host, port)
    state = Http11State()
    head = state.send_request(b"CONNECT", target, [(b"Host", target), *proxy.headers])
    yield (WRITE, stream, head, plan.connect_timeout)
    response: ResponseReceived | None = None
    while response is None:
        data = yield (READ, stream, READ_SIZE, plan.connect_timeout)
        for event in state.receive_data(data):
            if type(event) is ResponseReceived:
                response = event
                break
        else:
            if not data:  # (the parser raises for an EOF mid-head; an EOF before any byte too)
                raise RemoteProtocolError("The proxy closed the connection without answering.")
    if not 200 <= response.status_code < 300:
        # RFC 9110 section 9.3.6: any other status means no tunnel; the connection is closed.
        reason = response.reason.decode("ascii", "replace")
        raise ProxyError(
            f"The proxy {proxy.url} refused a tunnel to {target.decode('ascii')}: "
            f"{response.status_code} {reason}".rstrip()
        )
    if state.trailing_data:
        # Nothing may come before our TLS ClientHello: bytes here would be read as the
        # origin's (the class of CVE-2023-40217 and of response splitting through a tunnel).
        raise ProxyError(
            f"The proxy {proxy.url} sent {len(state.trailing_data)} unexpected bytes after "
            "its CONNECT response."
        )


# SOCKS5 reply lengths (RFC 1928 section 6): version, code, reserved, address type, then the
# bound address (4 bytes, 16 bytes, or a length byte and a name) and a 2-byte port.
_SOCKS5_ADDRESS_LENGTHS = {1: 4, 4: 16}


def _read_exactly(stream: Any, buffer: bytearray, size: int, plan: Any, waiting_for: str) -> Flow:
    """Read until `buffer` holds `size` bytes (a SOCKS reply may arrive in pieces)."""
    while len(buffer) < size:
        data = yield (READ, stream, size - len(buffer), plan.connect_timeout)
        if not data:
            raise RemoteProtocolError(f"The proxy closed the connection instead of {waiting_for}.")
        buffer += data


def _socks5_handshake(stream: Any, proxy: ProxySpec, host: bytes, port: int, plan: Any) -> Flow:
    from socksio import SOCKSError, socks5

    if len(host) > 255:
        # RFC 1928 section 5: one length byte (curl's CVE-2023-38545 overflowed here).
        raise ProxyError(
            f"SOCKS5 cannot name a host longer than 255 bytes (this one has {len(host)}); "
            f"not sent to {proxy.url}."
        )
    method = socks5.SOCKS5AuthMethod
    offered = method.NO_AUTH_REQUIRED if proxy.auth is None else method.USERNAME_PASSWORD
    conn = socks5.SOCKS5Connection()
    try:
        conn.send(socks5.SOCKS5AuthMethodsRequest([offered]))
        yield (WRITE, stream, conn.data_to_send(), plan.connect_timeout)
        reply = bytearray()
        yield from _read_exactly(stream, reply, 2, plan, "choosing an authentication method")
        chosen = conn.receive_data(bytes(reply)).method  # type: ignore[union-attr]
        if chosen != offered:
            raise ProxyError(
                f"The SOCKS5 proxy {proxy.url} accepts none of the offered authentication "
                f"methods (offered {offered.name}, it chose {_socks_name(chosen)})."
            )
        if proxy.auth is not None:
            username, password = proxy.auth
            conn.send(socks5.SOCKS5UsernamePasswordRequest(username, password))
            yield (WRITE, stream, conn.data_to_send(), plan.connect_timeout)
            reply = bytearray()
            # (some proxies, pproxy among them, close here instead of answering a rejection)
            yield from _read_exactly(stream, reply, 2, plan, "answering the username and password")
            if not conn.receive_data(bytes(reply)).success:  # type: ignore[union-attr]
                raise ProxyError(
                    f"The SOCKS5 proxy {proxy.url} rejected the username and password."
                )
        request = socks5.SOCKS5CommandRequest.from_address(
            socks5.SOCKS5Command.CONNECT, (host, port)
        )
        conn.send(request)
        yield (WRITE, stream, conn.data_to_send(), plan.connect_timeout)
        reply = bytearray()
        yield from _read_exactly(stream, reply, 5, plan, "answering CONNECT")
        if reply[3] == 3:  # a domain name: its length byte follows the type
            size = 5 + reply[4] + 2
        else:
            size = 4 + _SOCKS5_ADDRESS_LENGTHS.get(reply[3], 0) + 2
        if size <= 6:
            raise ProxyError(f"The SOCKS5 proxy {proxy.url} sent a malformed reply.")
        yield from _read_exactly(stream, reply, size, plan, "answering CONNECT")
        answer = conn.receive_data(bytes(reply))
    except (SOCKSError, OverflowError) as exc:
        # A malformed reply (or a value socksio cannot pack).
        raise ProxyError(f"SOCKS5 handshake with {proxy.url} failed: {exc}") from exc
    code = answer.reply_code  # type: ignore[union-attr]
    if code != socks5.SOCKS5ReplyCode.SUCCEEDED:
        raise ProxyError(
            f"The SOCKS5 proxy {proxy.url} refused a tunnel to "
            f"{authority(host, port).decode('ascii')}: {code.name}."
        )


def _socks_name(method: Any) -> str:
    return getattr(method, "name", repr(method))
