"""URL parsing, validation and normalisation (RFC 3986), matching httpx's observable rules.

Theory of operation: a URL string is split into the five RFC 3986 components by one regex
(appendix B), the authority into userinfo, host and port by a second; keyword overrides replace
components; then each component is validated and normalised on its own (scheme and host
lower-cased, IDNA hosts to punycode, default ports dropped, dot segments removed, characters
outside the component's allowed set percent-escaped). `parse_url` tries a single-regex fast path
first: an ordinary http(s) URL that needs no rewriting at all is accepted as is.

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

from ._exceptions import InvalidURL

__all__ = [
    "MAX_URL_LENGTH",
    "ParsedURL",
    "encode_host",
    "normalize_port",
    "parse_url",
    "quote",
    "quote_credential",
    "remove_dot_segments",
    "replace_components",
    "resolve_reference",
]

# httpx refuses URLs (and each keyword component) longer than this.
MAX_URL_LENGTH = 65536

# RFC 3986 section 2.3 unreserved characters are never escaped.
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_SUB_DELIMS = "!$&'()*+,;="
_PRINTABLE = "".join(chr(code) for code in range(0x20, 0x7F))


def _allowed(excluded: str) -> str:
    """Printable ASCII minus `excluded`: what a component keeps unescaped (`%` always stays)."""
    return "".join(char for char in _PRINTABLE if char not in excluded)


# Per-component sets of characters kept as they are; everything else is UTF-8 percent-escaped.
# They follow the WHATWG URL standard's percent-encode sets, as httpx does.
_PATH_SAFE = _allowed(' "#<>?`{}')
_QUERY_SAFE = _allowed(' "#<>')
_FRAGMENT_SAFE = _allowed(' "<>`')
_USERINFO_SAFE = _allowed(' "#<>?`{}/;=@[\\]^|')
_CREDENTIAL_SAFE = _allowed(' "#<>?`{}/:;=@[\\]^|')
_HOST_SAFE = _UNRESERVED + _SUB_DELIMS + '"`{}%|\\'


def _escaper(safe: str) -> re.Pattern[str]:
    """A pattern matching each character that `safe` (plus the unreserved set) does not keep."""
    keep = set(_UNRESERVED + safe)
    return re.compile("[^" + "".join(re.escape(char) for char in sorted(keep)) + "]")


_ESCAPERS: dict[str, re.Pattern[str]] = {}


def _percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


def quote(text: str, safe: str) -> str:
    """Percent-escape (UTF-8) every character of `text` outside the unreserved set and `safe`."""
    pattern = _ESCAPERS.get(safe)
    if pattern is None:
        pattern = _ESCAPERS[safe] = _escaper(safe)
    if pattern.search(text) is None:
        return text
    return pattern.sub(_percent_encode, text)


def quote_credential(text: str) -> str:
    """Escape a username or password given on its own (`:` and `@` included)."""
    return quote(text, _CREDENTIAL_SAFE)


class ParsedURL(NamedTuple):
    """Normalised URL components: all ASCII, already percent-escaped; host without brackets."""

    scheme: str
    userinfo: str
    host: str
    port: int | None
    path: str
    query: str | None
    fragment: str | None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.userinfo}@{self.netloc}" if self.userinfo else self.netloc

    def __str__(self) -> str:
        parts = [f"{self.scheme}:" if self.scheme else ""]
        authority = self.authority
        if authority or self.path.startswith("//"):
            # An empty authority is written out when the path starts with "//": without it the
            # text would re-parse with the path's first segment as the host (RFC 3986 section
            # 3.3; httpx's CVE-2021-41945 turned `http:////admin` into host "admin").
            parts.append("//" + authority)
        elif not self.scheme and _SCHEME_LIKE.match(self.path):
            # A relative path whose first segment reads as "scheme:" would re-parse as one
            # (":a://h" has an empty scheme and the path "a://h"): RFC 3986 section 4.2 writes
            # it after a "./" segment.
            parts.append("./")
        parts.append(self.path)
        if self.query is not None:
            parts.append("?" + self.query)
        if self.fragment is not None:
            parts.append("#" + self.fragment)
        return "".join(parts)


# A path that would read as a scheme if written first (RFC 3986 section 3.1's syntax).
_SCHEME_LIKE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
# RFC 3986 appendix B, with httpx's tighter scheme syntax (section 3.1).
_URL_RE = re.compile(
    r"(?:(?P<scheme>(?:[a-zA-Z][a-zA-Z0-9+.-]*)?):)?"
    r"(?://(?P<authority>[^/?#]*))?"
    r"(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?"
    r"(?:#(?P<fragment>.*))?",
    re.DOTALL,
)
# Userinfo runs to the last "@", so an unescaped "@" inside a password stays in the password.
_AUTHORITY_RE = re.compile(
    r"(?:(?P<userinfo>.*)@)?(?P<host>\[.*\]|[^:@]*):?(?P<port>.*)", re.DOTALL
)
# What each keyword component may contain, so that it cannot spill into a neighbour.
_COMPONENT_RE = {
    "scheme": re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*)?"),
    "authority": re.compile(r"[^/?#]*"),
    "path": re.compile(r"[^?#]*"),
    "query": re.compile(r"[^#]*"),
    "fragment": re.compile(r".*", re.DOTALL),
    "userinfo": re.compile(r"[^@]*"),
    "host": re.compile(r"\[.*\]|[^:]*", re.DOTALL),
    "port": re.compile(r".*", re.DOTALL),
}
_NON_PRINTABLE_RE = re.compile(r"[\x00-\x1f\x7f]")
_LOWER_ESCAPE_RE = re.compile(r"%[0-9a-f]{2}")
_IPV4_SHAPE_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_DEFAULT_PORTS = {"ftp": 21, "http": 80, "https": 443, "ws": 80, "wss": 443}

# Fast path: lower-case http(s), a plain lower-case DNS host or a canonical dotted-quad IPv4
# address (each octet 0-255 without leading zeros, as `ipaddress` accepts), an optional port, and
# path, query and fragment made only of characters that their component keeps; no userinfo.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_FAST_RE = re.compile(
    r"(?P<scheme>https?)://"
    rf"(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z])?|{_OCTET}(?:\.{_OCTET}){{3}})"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[A-Za-z0-9\-._~!$&'()*+,;=:@%/\[\]\\^|]*)?"
    r"(?:\?(?P<query>[A-Za-z0-9\-._~!$&'()*+,;=:@%/?\[\]\\^`{|}]*))?"
    r"(?:#(?P<fragment>[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#\[\]\\^{|}]*))?"
)


def _parse_fast(url: str) -> ParsedURL | None:
    """Accept `url` unchanged when it is already normal; None sends it to the full parser."""
    if len(url) > MAX_URL_LENGTH:
        return None
    match = _FAST_RE.fullmatch(url)
    if match is None:
        return None
    scheme, host, port_text, path, query, fragment = match.groups()
    if path is None:
        path = ""
    elif "/." in path:
        return None  # may hold dot segments to remove (RFC 3986 section 5.2.4)
    port = None if port_text is None else int(port_text)
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    return ParsedURL(scheme, "", host, port, path, query, fragment)


def _find_non_printable(text: str) -> tuple[str, int] | None:
    match = _NON_PRINTABLE_RE.search(text)
    return None if match is None else (match.group(), match.start())


def _check_url_text(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL("URL too long")
    found = _find_non_printable(url)
    if found is not None:
        char, index = found
        raise InvalidURL(
            f"Invalid non-printable ASCII character in URL, {char!r} at position {index}."
        )


def _check_component(key: str, value: str) -> None:
    if len(value) > MAX_URL_LENGTH:
        raise InvalidURL(f"URL component '{key}' too long")
    found = _find_non_printable(value)
    if found is not None:
        char, index = found
        raise InvalidURL(
            f"Invalid non-printable ASCII character in URL {key} component, "
            f"{char!r} at position {index}."
        )
    if not _COMPONENT_RE[key].fullmatch(value):
        raise InvalidURL(f"Invalid URL component '{key}'")


def _fold_keywords(components: dict[str, str | None]) -> dict[str, str | None]:
    """Rewrite convenience keywords (netloc, username, password, raw_path) into components."""
    if "netloc" in components:
        netloc_host, _, netloc_port = (components.pop("netloc") or "").partition(":")
        components["host"], components["port"] = netloc_host, netloc_port
    if "username" in components or "password" in components:
        username = quote_credential(components.pop("username", "") or "")
        password = quote_credential(components.pop("password", "") or "")
        components["userinfo"] = f"{username}:{password}" if password else username
    if "raw_path" in components:
        path, question, query = (components.pop("raw_path") or "").partition("?")
        components["path"] = path
        components["query"] = query if question else None
    host = components.get("host")
    if host and ":" in host and not (host.startswith("[") and host.endswith("]")):
        components["host"] = f"[{host}]"  # a bare IPv6 literal
    for key, value in components.items():
        if value is not None:
            _check_component(key, value)
    return components


def parse_url(url: str = "", **components: str | None) -> ParsedURL:
    """Parse and normalise `url`; keyword components (already text) replace the parsed ones."""
    if not components:
        fast = _parse_fast(url)
        if fast is not None:
            return fast
    return _parse_full(url, components)


def _parse_full(url: str, components: dict[str, str | None]) -> ParsedURL:
    """The general parser: split, apply keyword components, validate and normalise each."""
    _check_url_text(url)
    if components:
        components = _fold_keywords(components)
    parts = _URL_RE.match(url)
    assert parts is not None  # every group is optional, so the pattern matches any text
    authority = components.get("authority", parts["authority"]) or ""
    auth = _AUTHORITY_RE.match(authority)
    assert auth is not None
    scheme = components.get("scheme", parts["scheme"]) or ""
    userinfo = quote(components.get("userinfo", auth["userinfo"]) or "", _USERINFO_SAFE)
    host = encode_host(components.get("host", auth["host"]) or "")
    port = normalize_port(components.get("port", auth["port"]), scheme)
    path = components.get("path", parts["path"]) or ""
    query = components.get("query", parts["query"])
    fragment = components.get("fragment", parts["fragment"])

    has_authority = bool(userinfo or host or port is not None)
    _validate_path(path, has_scheme=bool(scheme), has_authority=has_authority)
    if scheme or has_authority:
        path = remove_dot_segments(path, keep_final_slash=False)
    return ParsedURL(
        scheme.lower(),
        userinfo,
        host,
        port,
        quote(path, _PATH_SAFE),
        None if query is None else quote(query, _QUERY_SAFE),
        None if fragment is None else quote(fragment, _FRAGMENT_SAFE),
    )


def replace_components(parsed: ParsedURL, **components: str | None) -> ParsedURL:
    """A copy of `parsed` with some components replaced, normalised again."""
    if not components:
        return parsed
    merged: dict[str, str | None] = {
        "scheme": parsed.scheme,
        "authority": parsed.authority,
        "path": parsed.path,
        "query": parsed.query,
        "fragment": parsed.fragment,
    }
    merged.update(components)
    return parse_url("", **merged)


def _upper(match: re.Match[str]) -> str:
    return match.group().upper()


def encode_host(host: str) -> str:
    """Validate IP literals, lower-case and escape DNS names, IDNA-encode unicode names."""
    if not host:
        return ""
    if _IPV4_SHAPE_RE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ipaddress.AddressValueError:
            raise InvalidURL(f"Invalid IPv4 address: {host!r}") from None
        return host
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ipaddress.AddressValueError:
            raise InvalidURL(f"Invalid IPv6 address: {host!r}") from None
        return host[1:-1]
    if host.isascii():
        host = quote(host.lower(), _HOST_SAFE)
        # Escapes stay upper-case (RFC 3986 section 6.2.2.1) so that normalising is idempotent;
        # httpx lower-cases them along with the name, so its "%5E" becomes "%5e" when re-parsed.
        return _LOWER_ESCAPE_RE.sub(_upper, host) if "%" in host else host
    import idna  # only for unicode names: kept out of `import httplib`

    try:
        return idna.encode(host.lower()).decode("ascii")
    except idna.IDNAError:
        raise InvalidURL(f"Invalid IDNA hostname: {host!r}") from None


def normalize_port(port: str | None, scheme: str) -> int | None:
    """The port as an int, or None when absent or the scheme's default (RFC 3986 section 6.2.3).

    Schemes are case-insensitive (section 3.1), so `HTTP://h:80` drops its port too. httpx looks
    the default up with the scheme as written and keeps it, which makes its normalisation not
    idempotent (`URL(str(URL("HTTP://h:80/")))` differs from `URL("HTTP://h:80/")`).
    """
    if not port:
        return None
    try:
        number = int(port)
    except ValueError:
        raise InvalidURL(f"Invalid port: {port!r}") from None
    return None if number == _DEFAULT_PORTS.get(scheme.lower()) else number


def _validate_path(path: str, *, has_scheme: bool, has_authority: bool) -> None:
    """Refuse paths that would re-parse differently (RFC 3986 sections 3.3 and 4.2)."""
    if has_authority:
        if path and not path.startswith("/"):
            raise InvalidURL("For absolute URLs, path must be empty or begin with '/'")
    elif not has_scheme:
        if path.startswith("//"):
            raise InvalidURL("Relative URLs cannot have a path starting with '//'")
        if path.startswith(":"):
            raise InvalidURL("Relative URLs cannot have a path starting with ':'")


def remove_dot_segments(path: str, *, keep_final_slash: bool = True) -> str:
    """Resolve `.` and `..` segments (RFC 3986 section 5.2.4); `..` never climbs above root.

    With `keep_final_slash=False` a final `.` or `..` leaves no trailing slash (`/a/b/.` gives
    `/a/b`, not `/a/b/`): httpx normalises parsed URLs that way, while `join` follows the RFC.
    """
    if "." not in path:
        return path
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    output: list[str] = []
    for segment in segments:
        if segment == "..":
            if output and output != [""]:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if keep_final_slash and segments[-1] in (".", ".."):
        output.append("")
    return "/".join(output)


def _merge_paths(base: ParsedURL, reference_path: str) -> str:
    """RFC 3986 section 5.2.3: append a relative path to the base path's directory."""
    if (base.userinfo or base.host or base.port is not None) and not base.path:
        return "/" + reference_path
    return base.path[: base.path.rfind("/") + 1] + reference_path


def resolve_reference(base: ParsedURL, ref: ParsedURL) -> str:
    """The target of reference `ref` against `base` (RFC 3986 section 5.2.2), as a URL string.

    A reference with the base's own scheme and no authority is taken as relative, the
    backward-compatible reading that section 5.2.2 permits (and that `urllib` and httpx use).
    """
    scheme, authority = ref.scheme, ref.authority
    if scheme == base.scheme and not authority:
        scheme = ""
    # A reference with a scheme or an authority had its dot segments removed when parsed.
    if scheme:
        return str(ref)
    if authority:
        return str(ref._replace(scheme=base.scheme))
    if not ref.path:
        query = base.query if ref.query is None else ref.query
        return str(base._replace(query=query, fragment=ref.fragment))
    path = ref.path if ref.path.startswith("/") else _merge_paths(base, ref.path)
    return str(
        base._replace(path=remove_dot_segments(path), query=ref.query, fragment=ref.fragment)
    )
