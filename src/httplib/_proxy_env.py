"""Proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`) as mounts.

A client with `trust_env=True` (and neither `proxy=` nor `transport=`) mounts a proxy transport
on each pattern this returns, and routes the `None` patterns (`NO_PROXY` exclusions) direct.
The variables are read as `urllib.request.getproxies()` reads them: any case, lowercase names
winning over others, an empty lowercase value unsetting the variable, and `HTTP_PROXY` ignored
when `REQUEST_METHOD` says we run as a CGI script (its value may come from a client's `Proxy:`
header: CVE-2016-1000110, "httpoxy"). On macOS and Windows, when no variable is set, the system
proxy settings are used, as urllib (and so httpx) does.

`NO_PROXY` entries become patterns as httpx 0.28 makes them:

    *                    no proxy for anything (the other variables are ignored)
    localhost, 10.1.2.3  that host: `all://localhost`, `all://10.1.2.3`
    ::1                  that IPv6 host: `all://[::1]`
    example.com          the domain and its subdomains (not `notexample.com`): `all://*example.com`
    .example.com         its subdomains only, not the domain itself: `all://*.example.com`
    example.com:8080     the domain and its subdomains on that port only
    http://example.com   as written: a mount pattern of its own

Where httpx fails, we follow curl (and Go) instead:

- a CIDR range (`10.0.0.0/8`, `fd00::/8`) matches every IP-literal host inside it, as curl does
  since 7.86; httpx's pattern matches only the network address itself (`10.0.0.0`), and for an
  IPv6 range fails to build the client at all. Host names are never resolved to match a range
  (curl does not either).
- a bracketed IPv6 entry (`[::1]`, `[::1]:8080`) means that address (and port); httpx fails to
  build the client with `InvalidURL`.
- an entry that still does not make a pattern (a stray space inside it, say) is skipped rather
  than making every client of the process fail to build: the request then takes the proxy.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping

from ._core.mounts import URLPattern
from ._exceptions import InvalidURL

__all__ = ["environment_proxies"]

# The schemes whose `<scheme>_proxy` variables httpx reads (`no` is NO_PROXY). Others, such as
# FTP_PROXY or a CI system's own `*_PROXY` settings, are ignored.
_SCHEMES = ("http", "https", "all")
_USED = frozenset((*_SCHEMES, "no"))


def environment_proxies(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Mount patterns to proxy URLs (None: go direct) from the environment (`os.environ` when
    `environ` is None), as httpx's `get_environment_proxies`; see the module docstring."""
    info = _proxy_variables(environ)
    if not info:
        return {}
    mounts: dict[str, str | None] = {}
    for scheme in _SCHEMES:
        value = info.get(scheme)
        if value:
            # `HTTP_PROXY=proxy:3128` means an http:// proxy, as in curl and httpx.
            mounts[f"{scheme}://"] = value if "://" in value else f"http://{value}"
    for entry in info.get("no", "").split(","):
        entry = entry.strip()
        if entry == "*":
            return {}
        if entry:
            pattern = _no_proxy_pattern(entry)
            if pattern is not None:
                mounts[pattern] = None
    return mounts


# The environment's variable names at the last look, and whether any ended in "_proxy".
_last_names: tuple[tuple[object, ...], bool] = ((), False)


def _proxy_variables(environ: Mapping[str, str] | None) -> dict[str, str]:
    """The `<scheme>_proxy` variables, keyed by scheme, as `urllib.request.getproxies` finds
    them (only the schemes httpx uses)."""
    if environ is None:
        if sys.platform in ("darwin", "win32"):  # pragma: no cover - system settings
            # urllib falls back on the system's proxy configuration there.
            from urllib.request import getproxies

            return {key: value for key, value in getproxies().items() if key in _USED}
        environ = os.environ
        # Most environments have no proxy variable at all: one look at os.environ's raw names
        # (bytes on POSIX, no decoding) settles that in ~1.5 us instead of the ~8 us scan
        # below, which every Client() would pay.
        raw = getattr(environ, "_data", None)
        if type(raw) is dict:
            global _last_names
            names = tuple(raw)
            seen, any_proxy = _last_names
            if names != seen:  # (the same names as last time compare by identity: ~0.3 us)
                try:
                    any_proxy = b"\n".join(names).lower().find(b"_proxy") >= 0
                except TypeError:  # (names kept as str: scan them below)
                    any_proxy = True
                _last_names = names, any_proxy
            if not any_proxy:
                return {}
    # One scan of the names for the few candidates (an environment holds dozens of other
    # variables; every Client() pays for this scan, and os.environ's `items()` would decode
    # every value too), then urllib's two passes over them: any case first, then names ending
    # in lowercase `_proxy` win, an empty one unsetting the variable.
    found = [
        (name, environ[name])
        for name in environ
        if name[-6:].lower() == "_proxy" and name[:-6].lower() in _USED
    ]
    proxies: dict[str, str] = {}
    for name, value in found:
        if value:
            proxies[name[:-6].lower()] = value
    if "REQUEST_METHOD" in environ:
        # A CGI script: HTTP_PROXY may be the client's `Proxy:` header (CVE-2016-1000110).
        proxies.pop("http", None)
    for name, value in found:
        if name[-6:] == "_proxy":
            if value:
                proxies[name[:-6].lower()] = value
            else:
                proxies.pop(name[:-6].lower(), None)
    return proxies


def _no_proxy_pattern(entry: str) -> str | None:
    """The mount pattern for one `NO_PROXY` entry, or None when it makes no valid pattern."""
    if "://" in entry:
        pattern = entry
    elif entry.startswith("[") and "]" in entry:
        pattern = f"all://{entry}"  # `[::1]` or `[::1]:8080`
    elif _is_ip(entry, ipaddress.IPv4Address):
        pattern = f"all://{entry}"  # `10.1.2.3`, or a range `10.0.0.0/8`
    elif _is_ip(entry, ipaddress.IPv6Address):
        pattern = f"all://[{entry}]"  # `::1`, or a range `fd00::/8`
    elif entry.lower() == "localhost":
        pattern = f"all://{entry}"
    else:
        # `example.com` -> `*example.com`: the domain and its subdomains; `.example.com` ->
        # `*.example.com`: its subdomains only.
        pattern = f"all://*{entry}"
    try:
        URLPattern(pattern)
    except (InvalidURL, ValueError):
        return None
    return pattern


def _is_ip(entry: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    """Whether `entry` is an address of `kind`, alone or as a range (`addr/prefix`)."""
    try:
        kind(entry.split("/")[0])
    except ValueError:
        return False
    return True
