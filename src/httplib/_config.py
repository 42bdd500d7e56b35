"""Configuration objects: `Timeout`, `Limits`, `Proxy`, and SSL contexts built once per process."""

from __future__ import annotations

import functools
import os
import ssl
import sys
import typing
import warnings

from ._types import CertTypes, HeaderTypes, TimeoutTypes

if typing.TYPE_CHECKING:  # pragma: no cover
    from ._urls import URL

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT_CONFIG",
    "Limits",
    "Proxy",
    "Timeout",
    "create_ssl_context",
]


class UnsetType:
    """Marks an argument the caller did not pass, where `None` is a meaningful value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = UnsetType()


class Timeout:
    """Timeouts for the four phases of a request: connect, read, write and pool (seconds), and
    an optional whole-request deadline, `total`.

    `Timeout(5.0)` sets all four; `Timeout(None)` disables them; `Timeout(5.0, connect=10.0)`
    overrides one; `Timeout((1, 2, 3, 4))` or `Timeout(connect=..., read=..., write=...,
    pool=...)` sets each. Setting only some phases without a default is an error, as in httpx.

    `total` (httplib's addition; None, the default, keeps httpx's behaviour) bounds the whole
    request: waiting for a pool slot, connecting, TLS, writing, the response head and body (for
    `stream()`, every read until the body ends or is closed), across redirects and auth round
    trips. A per-read timeout cannot stop a server that trickles a byte at a time; this can.
    When it passes, the phase in progress raises its own exception (`PoolTimeout`,
    `ConnectTimeout`, `WriteTimeout`, `ReadTimeout`) with a message naming the deadline.
    """

    def __init__(
        self,
        timeout: TimeoutTypes | UnsetType = UNSET,
        *,
        connect: float | UnsetType | None = UNSET,
        read: float | UnsetType | None = UNSET,
        write: float | UnsetType | None = UNSET,
        pool: float | UnsetType | None = UNSET,
        total: float | None = None,
    ) -> None:
        self.total: float | None = _check_seconds("total", total)
        if isinstance(timeout, Timeout):
            if not all(isinstance(v, UnsetType) for v in (connect, read, write, pool)):
                raise ValueError(
                    "Timeout(Timeout(...)) cannot be combined with connect/read/write/pool "
                    "arguments."
                )
            self.connect: float | None = timeout.connect
            self.read: float | None = timeout.read
            self.write: float | None = timeout.write
            self.pool: float | None = timeout.pool
            if total is None:
                self.total = timeout.total
        elif isinstance(timeout, tuple):
            if len(timeout) != 4:
                raise ValueError(
                    f"A timeout tuple must be (connect, read, write, pool), got {timeout!r}."
                )
            self.connect, self.read, self.write, self.pool = (
                _check_seconds(name, value)
                for name, value in zip(("connect", "read", "write", "pool"), timeout, strict=True)
            )
        elif isinstance(timeout, UnsetType):
            values = (connect, read, write, pool)
            if any(isinstance(v, UnsetType) for v in values):
                raise ValueError(
                    "httplib.Timeout must either include a default, or set all four parameters "
                    "explicitly."
                )
            self.connect = _check_seconds("connect", connect)
            self.read = _check_seconds("read", read)
            self.write = _check_seconds("write", write)
            self.pool = _check_seconds("pool", pool)
        else:
            default = _check_seconds("timeout", timeout)
            self.connect = (
                default if isinstance(connect, UnsetType) else _check_seconds("connect", connect)
            )
            self.read = default if isinstance(read, UnsetType) else _check_seconds("read", read)
            self.write = default if isinstance(write, UnsetType) else _check_seconds("write", write)
            self.pool = default if isinstance(pool, UnsetType) else _check_seconds("pool", pool)

    def as_dict(self) -> dict[str, float | None]:
        """The form transports read from `request.extensions["timeout"]` (with "total" only
        when a deadline is set, so the dict is httpx's otherwise)."""
        timeouts = {"connect": self.connect, "read": self.read, "write": self.write}
        timeouts["pool"] = self.pool
        if self.total is not None:
            timeouts["total"] = self.total
        return timeouts

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, self.__class__)
            and self.connect == other.connect
            and self.read == other.read
            and self.write == other.write
            and self.pool == other.pool
            and self.total == other.total
        )

    def __hash__(self) -> int:
        return hash((self.connect, self.read, self.write, self.pool, self.total))

    def __repr__(self) -> str:
        class_name = self.__class__.__name__
        total = "" if self.total is None else f", total={self.total}"
        if len({self.connect, self.read, self.write, self.pool}) == 1:
            return f"{class_name}(timeout={self.connect}{total})"
        return (
            f"{class_name}(connect={self.connect}, read={self.read}, "
            f"write={self.write}, pool={self.pool}{total})"
        )


def _check_seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"Timeout value {name!r} must be a number of seconds or None, got {value!r}."
        )
    if value < 0:
        raise ValueError(f"Timeout value {name!r} must not be negative, got {value!r}.")
    return value


class Limits:
    """Connection pool limits.

    `max_connections`: connections open at once (None: no limit).
    `max_keepalive_connections`: idle connections kept for reuse (None: no limit).
    `keepalive_expiry`: seconds an idle connection is kept (None: forever).
    """

    def __init__(
        self,
        *,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = 5.0,
    ) -> None:
        for name, value in (
            ("max_connections", max_connections),
            ("max_keepalive_connections", max_keepalive_connections),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"Limits({name}=...) must be an int or None, got {value!r}.")
            if value is not None and value < 0:
                raise ValueError(f"Limits({name}=...) must not be negative, got {value!r}.")
        if keepalive_expiry is not None and keepalive_expiry < 0:
            raise ValueError(
                f"Limits(keepalive_expiry=...) must not be negative, got {keepalive_expiry!r}."
            )
        self.max_connections = max_connections
        self.max_keepalive_connections = max_keepalive_connections
        self.keepalive_expiry = keepalive_expiry

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, self.__class__)
            and self.max_connections == other.max_connections
            and self.max_keepalive_connections == other.max_keepalive_connections
            and self.keepalive_expiry == other.keepalive_expiry
        )

    def __hash__(self) -> int:
        return hash((self.max_connections, self.max_keepalive_connections, self.keepalive_expiry))

    def __repr__(self) -> str:
        class_name = self.__class__.__name__
        return (
            f"{class_name}(max_connections={self.max_connections}, "
            f"max_keepalive_connections={self.max_keepalive_connections}, "
            f"keepalive_expiry={self.keepalive_expiry})"
        )


class Proxy:
    """A proxy: its URL (http, https, socks5 or socks5h), credentials, headers and TLS context.

    Credentials in the URL (`http://user:pass@proxy:8080`) move to `auth` and leave the URL.
    """

    def __init__(
        self,
        url: URL | str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        auth: tuple[str, str] | None = None,
        headers: HeaderTypes | None = None,
    ) -> None:
        from ._headers import Headers
        from ._urls import URL

        url = URL(url)
        self.headers: Headers = Headers(headers)

        if url.scheme not in ("http", "https", "socks5", "socks5h"):
            raise ValueError(f"Unknown scheme for proxy URL {url!r}")

        if url.username or url.password:
            # Remember credentials from the URL, then strip them so they never appear in logs.
            auth = (url.username, url.password)
            url = url.copy_with(username=None, password=None)

        self.url: URL = url
        self.auth = auth
        self.ssl_context = ssl_context

    @property
    def raw_auth(self) -> tuple[bytes, bytes] | None:
        """The credentials as bytes, as a proxy transport sends them."""
        if self.auth is None:
            return None
        return (self.auth[0].encode("utf-8"), self.auth[1].encode("utf-8"))

    def __repr__(self) -> str:
        # Never print the password.
        auth = (self.auth[0], "********") if self.auth else None
        url_str = f"{str(self.url)!r}"
        auth_str = f", auth={auth!r}" if auth else ""
        headers_str = f", headers={dict(self.headers)!r}" if self.headers else ""
        return f"Proxy({url_str}{auth_str}{headers_str})"


# Defaults are httpx's, so code moved over keeps its behaviour.
DEFAULT_TIMEOUT_CONFIG = Timeout(timeout=5.0)
DEFAULT_LIMITS = Limits(max_connections=100, max_keepalive_connections=20)
DEFAULT_MAX_REDIRECTS = 20


def create_ssl_context(
    verify: ssl.SSLContext | str | bool = True,
    cert: CertTypes | None = None,
    trust_env: bool = True,
) -> ssl.SSLContext:
    """An SSL context for a client: certifi's CAs (or `SSL_CERT_FILE`/`SSL_CERT_DIR` under
    `trust_env`), TLS 1.2 minimum, hostname checks; `verify=False` turns checks off.

    Returns a new context each call, so the caller may change it. Transports use
    `shared_ssl_context`, which builds each distinct configuration once per process.
    """
    if isinstance(verify, ssl.SSLContext):
        context = verify
    else:
        if isinstance(verify, str):
            warnings.warn(
                "`verify=<str>` is deprecated. Use `verify=ssl.create_default_context(cafile=...)` "
                "or `verify=ssl.create_default_context(capath=...)` instead.",
                DeprecationWarning,
                stacklevel=2,
            )
        context = _build_context(verify, *_env_ca_locations(trust_env))
    if cert is not None:
        _warn_cert_deprecated()
        _load_cert(context, cert)
    return context


def shared_ssl_context(
    verify: ssl.SSLContext | str | bool = True,
    cert: CertTypes | None = None,
    trust_env: bool = True,
    *,
    http2: bool = False,
) -> ssl.SSLContext:
    """The process-wide context for a configuration: building one costs ~10-60 ms (loading CAs),
    so two clients with the same settings share one. A context the user passed is used as is.
    """
    if cert is not None:
        _warn_cert_deprecated()
    if isinstance(verify, ssl.SSLContext):
        if cert is not None:
            _load_cert(verify, cert)
        return verify
    verify_key: bool | str = verify
    cafile, capath = _env_ca_locations(trust_env)
    return _cached_context(verify_key, cafile, capath, cert, http2)


def _warn_cert_deprecated() -> None:
    """httpx 0.28's DeprecationWarning for `cert=`, attributed to the first caller outside
    httplib (Client() reaches here through the transport, several frames down)."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    stacklevel = 2
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        package_dir
    ):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(
        "`cert=...` is deprecated. Use `verify=<ssl_context>` instead, "
        "with `.load_cert_chain()` to configure the certificate chain.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def _env_ca_locations(trust_env: bool) -> tuple[str | None, str | None]:
    if not trust_env:
        return None, None
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile and not os.path.isfile(cafile):
        cafile = None
    if capath and not os.path.isdir(capath):
        capath = None
    return cafile, capath


@functools.lru_cache(maxsize=32)
def _cached_context(
    verify: bool | str,
    cafile: str | None,
    capath: str | None,
    cert: CertTypes | None,
    http2: bool,
) -> ssl.SSLContext:
    context = _build_context(verify, cafile, capath)
    if cert is not None:
        _load_cert(context, cert)
    context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    return context


def _build_context(verify: bool | str, cafile: str | None, capath: str | None) -> ssl.SSLContext:
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        if os.path.isdir(verify):
            context = ssl.create_default_context(capath=verify)
        elif os.path.isfile(verify):
            context = ssl.create_default_context(cafile=verify)
        else:
            raise OSError(
                f"Could not find a suitable TLS CA certificate bundle, invalid path: {verify}"
            )
    elif cafile is not None or capath is not None:
        context = ssl.create_default_context(cafile=cafile, capath=capath)
    else:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    # RFC 9325: TLS 1.2 is the floor for HTTP clients.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Lets users log session keys for Wireshark, as curl and httpx honour it.
    keylogfile = os.environ.get("SSLKEYLOGFILE")
    if keylogfile:
        context.keylog_filename = keylogfile
    return context


def _load_cert(context: ssl.SSLContext, cert: CertTypes) -> None:
    if isinstance(cert, str):
        context.load_cert_chain(certfile=cert)
    elif len(cert) == 2:
        context.load_cert_chain(certfile=cert[0], keyfile=cert[1])
    elif len(cert) == 3:
        context.load_cert_chain(certfile=cert[0], keyfile=cert[1], password=cert[2])
    else:
        raise ValueError(
            f"cert must be a path or a (certfile, keyfile[, password]) tuple, got {cert!r}."
        )
