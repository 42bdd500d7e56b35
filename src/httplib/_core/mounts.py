"""URL patterns that route requests to mounted transports, matched as httpx's `mounts=` are.

A pattern is `scheme://host:port` where `all://` matches any scheme, `*` any host,
`*.example.com` any subdomain (not the domain itself) and `*example.com` the domain and its
subdomains. The most specific pattern wins: one with a port first, then longer hosts, then
longer schemes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from .._urls import URL

__all__ = ["Mounts", "URLPattern"]

T = TypeVar("T")


class URLPattern:
    """One `mounts=` key, compiled once."""

    def __init__(self, pattern: str) -> None:
        if pattern and ":" not in pattern:
            raise ValueError(
                "Proxy keys should use proper URL forms rather than plain scheme strings. "
                f'Instead of "{pattern}", use "{pattern}://"'
            )
        url = URL(pattern)
        self.pattern = pattern
        self.scheme = "" if url.scheme == "all" else url.scheme
        self.host = "" if url.host == "*" else url.host
        self.port = url.port
        self._host_regex = _host_regex(self.host)

    def matches(self, url: URL) -> bool:
        if self.scheme and self.scheme != url.scheme:
            return False
        if self._host_regex is not None and not self._host_regex.match(url.host):
            return False
        return self.port is None or self.port == url.port

    @property
    def priority(self) -> tuple[int, int, int]:
        """Sort key, most specific first: has a port, then host length, then scheme length."""
        return (0 if self.port is not None else 1, -len(self.host), -len(self.scheme))

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


class Mounts(Generic[T]):
    """Patterns in priority order, each with its transport; `None` routes to the default."""

    def __init__(self, mounts: Mapping[str, T | None] | None = None) -> None:
        self._table: dict[URLPattern, T | None] = {}
        self.update(mounts or {})

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
