"""URL patterns that route requests to mounted transports, matched as httpx's `mounts=` are.

A pattern is `scheme://host:port` where `all://` matches any scheme, `*` any host,
`*.example.com` any subdomain (not the domain itself) and `*example.com` the domain and its
subdomains (not `notexample.com`). The most specific pattern wins: one with a port first, then
longer hosts, then longer schemes.

httplib's addition: the host may be a CIDR range (`all://10.0.0.0/8`, `all://[fd00::/8]` or
`all://[fd00::]/8`), matching every IP-literal host inside it, so that `NO_PROXY=10.0.0.0/8`
means the range as in curl (`_proxy_env`). httpx reads such a key as the one host `10.0.0.0`
(the rest is a path it ignores), and cannot parse the IPv6 forms. A range ranks below every
single host and above host-less patterns; ranges among themselves keep the order given.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from .._exceptions import InvalidURL
from .._urls import URL

__all__ = ["Mounts", "URLPattern"]

T = TypeVar("T")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# `scheme://` then an address and a prefix length: `10.0.0.0/8`, `[fd00::/8]` or `[fd00::]/8`
# (nothing may follow: a range takes no port).
_CIDR = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://"
    r"(?:(?P<v4>[0-9.]+/[0-9]+)"
    r"|\[(?P<v6>[0-9A-Fa-f:.]+/[0-9]+)\]"
    r"|\[(?P<v6a>[0-9A-Fa-f:.]+)\]/(?P<v6p>[0-9]+))"
)


class URLPattern:
    """One `mounts=` key, compiled once."""

    def __init__(self, pattern: str) -> None:
        if pattern and ":" not in pattern:
            raise ValueError(
                "Proxy keys should use proper URL forms rather than plain scheme strings. "
                f'Instead of "{pattern}", use "{pattern}://"'
            )
        self.pattern = pattern
        # The range of a CIDR pattern (None for any other), its host being the range as text.
        self.network: IPNetwork | None = None
        cidr = _CIDR.fullmatch(pattern)
        if cidr is not None:
            scheme = cidr["scheme"].lower()
            text = cidr["v4"] or cidr["v6"] or f"{cidr['v6a']}/{cidr['v6p']}"
            try:
                # Host bits set (`10.1.2.3/8`) are allowed, as curl ignores them.
                self.network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise InvalidURL(f"Invalid IP range in URL pattern {pattern!r}.") from None
            self.scheme = "" if scheme == "all" else scheme
            self.host = text
            self.port: int | None = None
            self._host_regex: re.Pattern[str] | None = None
        else:
            url = URL(pattern)
            self.scheme = "" if url.scheme == "all" else url.scheme
            self.host = "" if url.host == "*" else url.host
            self.port = url.port
            self._host_regex = _host_regex(self.host)

    def matches(self, url: URL) -> bool:
        if self.scheme and self.scheme != url.scheme:
            return False
        if self.network is not None:
            return _in_network(url.host, self.network)
        if self._host_regex is not None and not self._host_regex.match(url.host):
            return False
        return self.port is None or self.port == url.port

    @property
    def priority(self) -> tuple[int, int, int]:
        """Sort key, most specific first: has a port, then host length, then scheme length (a
        range counts as a one-character host: below any IP literal it contains)."""
        host_length = 1 if self.network is not None else len(self.host)
        return (0 if self.port is not None else 1, -host_length, -len(self.scheme))

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URLPattern) and self.pattern == other.pattern

    def __lt__(self, other: URLPattern) -> bool:
        return self.priority < other.priority

    def __repr__(self) -> str:
        return f"URLPattern({self.pattern!r})"


def _host_regex(host: str) -> re.Pattern[str] | None:
    if not host:
        return None
    if host.startswith("*."):
        return re.compile(rf"^.+\.{re.escape(host[2:])}$")
    if host.startswith("*"):
        return re.compile(rf"^(.+\.)?{re.escape(host[1:])}$")
    return re.compile(rf"^{re.escape(host)}$")


def _in_network(host: str, network: IPNetwork) -> bool:
    """Whether `host` is an IP literal inside `network` (a name is never resolved for this)."""
    # (a cheap test first: most hosts are names, and a failed parse costs an exception)
    if not host or not (host[0].isdigit() or ":" in host):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address in network


class Mounts(Generic[T]):
    """Patterns in priority order, each with its transport; `None` routes to the default."""

    def __init__(self, mounts: Mapping[str, T | None] | None = None) -> None:
        self._table: dict[URLPattern, T | None] = {}
        if mounts:  # (most clients mount nothing: every Client() builds one of these)
            self.update(mounts)

    def update(self, mounts: Mapping[str, T | None]) -> None:
        table = self._table | {URLPattern(key): value for key, value in mounts.items()}
        # A stable sort: patterns of equal priority keep the order they were given in.
        self._table = dict(sorted(table.items(), key=lambda item: item[0].priority))

    def route(self, url: URL, default: T) -> T:
        """The transport of the first pattern matching `url`, else `default`."""
        for pattern, transport in self._table.items():
            if pattern.matches(url):
                return default if transport is None else transport
        return default

    def transports(self) -> Iterable[T]:
        """Every mounted transport (for opening and closing them with the client)."""
        return [transport for transport in self._table.values() if transport is not None]

    def __bool__(self) -> bool:
        return bool(self._table)
