"""`URL` and `QueryParams`: httpx-compatible, immutable, pure (no I/O).

`URL` holds one normalised `ParsedURL` (see `_urlparse`); its string form and query parameters
are computed at most once, since a URL is built for every request and read many times.
"""

from __future__ import annotations

import warnings
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlencode

from ._types import QueryParamTypes
from ._urlparse import ParsedURL, parse_url, replace_components, resolve_reference
from ._utils import primitive_value_to_str

__all__ = ["URL", "QueryParams", "RawURL"]

# The keyword arguments `URL()` accepts, each with the type it must have (None is always allowed).
_KEYWORD_TYPES: dict[str, type] = {
    "scheme": str,
    "username": str,
    "password": str,
    "userinfo": bytes,
    "host": str,
    "port": int,
    "netloc": bytes,
    "path": str,
    "query": bytes,
    "raw_path": bytes,
    "fragment": str,
    "params": object,
}


class RawURL(NamedTuple):
    """What the deprecated `URL.raw` returns: the parts a connection needs, as bytes."""

    raw_scheme: bytes
    raw_host: bytes
    port: int | None
    raw_path: bytes


def _unquote(text: str) -> str:
    return unquote(text) if "%" in text else text


def _keyword_components(kwargs: dict[str, Any]) -> dict[str, str | None]:
    """Type-check `URL()` keywords and turn them into text components for the parser."""
    components: dict[str, str | None] = {}
    for key, value in kwargs.items():
        expected = _KEYWORD_TYPES.get(key)
        if expected is None:
            raise TypeError(f"{key!r} is an invalid keyword argument for URL()")
        if value is not None and not isinstance(value, expected):
            raise TypeError(
                f"Argument {key!r} must be {expected.__name__} but got {type(value).__name__}"
            )
        if isinstance(value, bytes):
            value = value.decode("ascii")
        if key == "params":
            # Empty params mean no query at all, so no bare trailing "?" appears.
            components["query"] = str(QueryParams(value)) if value else None
        elif key == "port" and value is not None:
            components["port"] = str(value)
        else:
            components[key] = value
    return components


class URL:
    """An absolute or relative URL, parsed and normalised as httpx does.

    `URL("https://example.com:443/a b")` is `https://example.com/a%20b`; components can be given
    or replaced by keyword (`scheme`, `host`, `port`, `path`, `params`, ...).
    """

    # Derived values are computed on first read and kept: the object never changes.
    __slots__ = ("_host", "_netloc", "_origin", "_params", "_parsed", "_raw_path", "_text")

    def __init__(self, url: URL | str = "", **kwargs: Any) -> None:
        components = _keyword_components(kwargs) if kwargs else {}
        if isinstance(url, str):
            self._parsed = parse_url(url, **components)
        elif isinstance(url, URL):
            self._parsed = replace_components(url._parsed, **components)
        else:
            raise TypeError(
                f"Invalid type for url.  Expected str or httplib.URL, got {type(url)}: {url!r}"
            )
        self._text: str | None = None
        self._params: QueryParams | None = None
        self._host: str | None = None
        self._netloc: bytes | None = None
        self._raw_path: bytes | None = None
        # (scheme, host, port, is TLS) for the transport's plans (`RequestPlan`), made once.
        self._origin: tuple[str, str, int, bool] | None = None

    @property
    def _uri_reference(self) -> ParsedURL:
        """httpx's name for the parsed components (`.path` escaped, `""` when empty): respx
        reads it to tell `https://host` from `https://host/`."""
        return self._parsed

    @property
    def scheme(self) -> str:
        """The lower-cased scheme, e.g. `"https"`; `""` for a relative URL."""
        return self._parsed.scheme

    @property
    def raw_scheme(self) -> bytes:
        return self._parsed.scheme.encode("ascii")

    @property
    def userinfo(self) -> bytes:
        """The percent-escaped `username:password` part, as bytes."""
        return self._parsed.userinfo.encode("ascii")

    @property
    def username(self) -> str:
        return _unquote(self._parsed.userinfo.partition(":")[0])

    @property
    def password(self) -> str:
        return _unquote(self._parsed.userinfo.partition(":")[2])

    @property
    def host(self) -> str:
        """The host as text: IPv6 without brackets, a punycode name (`xn--`...) decoded."""
        if self._host is None:
            host = self._parsed.host
            if host.startswith("xn--"):
                import idna  # only for punycode names: kept out of `import httplib`

                host = idna.decode(host)
            self._host = host
        return self._host

    @property
    def raw_host(self) -> bytes:
        """The host as sent on the wire: ASCII, IDNA-encoded."""
        return self._parsed.host.encode("ascii")

    @property
    def port(self) -> int | None:
        """The explicit port, or None when absent or the scheme's default."""
        return self._parsed.port

    @property
    def netloc(self) -> bytes:
        """`host[:port]` as bytes (IPv6 bracketed), for the `Host` header."""
        if self._netloc is None:
            self._netloc = self._parsed.netloc.encode("ascii")
        return self._netloc

    @property
    def path(self) -> str:
        """The unescaped path, `/` when empty."""
        return _unquote(self._parsed.path or "/")

    @property
    def query(self) -> bytes:
        """The escaped query string without `?`, as bytes."""
        return (self._parsed.query or "").encode("ascii")

    @property
    def params(self) -> QueryParams:
        if self._params is None:
            self._params = QueryParams(self._parsed.query)
        return self._params

    @property
    def raw_path(self) -> bytes:
        """Path and query as sent in the request line, e.g. `b"/a%20b?c=d"`."""
        if self._raw_path is None:
            path = self._parsed.path or "/"
            if self._parsed.query is not None:
                path += "?" + self._parsed.query
            self._raw_path = path.encode("ascii")
        return self._raw_path

    @property
    def fragment(self) -> str:
        return _unquote(self._parsed.fragment or "")

    @property
    def raw(self) -> RawURL:
        """Deprecated in httpx too; kept because code written for httpx may still read it."""
        warnings.warn("URL.raw is deprecated.", stacklevel=2)
        return RawURL(self.raw_scheme, self.raw_host, self.port, self.raw_path)

    @property
    def is_absolute_url(self) -> bool:
        """True when the URL has both a scheme and a host, so a request can be sent to it."""
        return bool(self._parsed.scheme and self._parsed.host)

    @property
    def is_relative_url(self) -> bool:
        return not self.is_absolute_url

    def copy_with(self, **kwargs: Any) -> URL:
        """A copy with the given components replaced (same keywords as `URL()`)."""
        return URL(self, **kwargs)

    def copy_set_param(self, key: str, value: Any = None) -> URL:
        return self.copy_with(params=self.params.set(key, value))

    def copy_add_param(self, key: str, value: Any = None) -> URL:
        return self.copy_with(params=self.params.add(key, value))

    def copy_remove_param(self, key: str) -> URL:
        return self.copy_with(params=self.params.remove(key))

    def copy_merge_params(self, params: QueryParamTypes) -> URL:
        return self.copy_with(params=self.params.merge(params))

    def join(self, url: URL | str) -> URL:
        """Resolve `url` against this URL as a base (RFC 3986 section 5.2)."""
        reference = url if isinstance(url, URL) else URL(url)
        return URL(resolve_reference(self._parsed, reference._parsed))

    def __hash__(self) -> int:
        return hash(str(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL):
            return str(self) == str(other)
        return isinstance(other, str) and str(self) == str(URL(other))

    def __str__(self) -> str:
        if self._text is None:
            self._text = str(self._parsed)
        return self._text

    def __repr__(self) -> str:
        parsed = self._parsed
        if ":" in parsed.userinfo:
            # Never show a password, even in logs and tracebacks.
            parsed = parsed._replace(userinfo=parsed.userinfo.split(":")[0] + ":[secure]")
        return f"{self.__class__.__name__}({str(parsed)!r})"


_IMMUTABLE = "QueryParams are immutable since 0.18.0. Use `q = q.{hint}` to create an updated copy."


def _pairs_of(value: Any) -> Iterable[tuple[Any, list[Any]]]:
    """Group a list of pairs, or a mapping with scalar or list/tuple values, into key -> values."""
    if isinstance(value, list | tuple):
        grouped: dict[Any, list[Any]] = {}
        for key, item in value:
            grouped.setdefault(key, []).append(item)
        return grouped.items()
    if isinstance(value, Mapping):
        return [
            (key, list(item) if isinstance(item, list | tuple) else [item])
            for key, item in value.items()
        ]
    raise TypeError(
        "QueryParams expects a str, bytes, mapping, list of pairs or QueryParams, "
        f"got {type(value).__name__}: {value!r}"
    )


class QueryParams(Mapping[str, str]):
    """An immutable multi-dict of query parameters; `set`/`add`/`remove`/`merge` return copies."""

    __slots__ = ("_dict",)

    def __init__(self, *args: QueryParamTypes | None, **kwargs: Any) -> None:
        if len(args) > 1:
            raise TypeError(
                f"QueryParams() takes at most 1 positional argument ({len(args)} given)"
            )
        if args and kwargs:
            raise TypeError("QueryParams() cannot mix a positional argument and keywords")
        value: Any = args[0] if args else kwargs
        self._dict: dict[str, list[str]]
        if value is None or isinstance(value, str | bytes):
            text = value.decode("ascii") if isinstance(value, bytes) else value
            self._dict = {}
            for key, item in parse_qsl(text or "", keep_blank_values=True):
                self._dict.setdefault(key, []).append(item)
        elif isinstance(value, QueryParams):
            self._dict = {key: list(items) for key, items in value._dict.items()}
        else:
            # A key given an empty list has no values, so it is left out, as from the query
            # string; httpx keeps it as a key whose `items()`/`values()` raise IndexError.
            self._dict = {
                str(key): [primitive_value_to_str(item) for item in items]
                for key, items in _pairs_of(value)
                if items
            }

    def _copy_with(self, entries: dict[str, list[str]]) -> QueryParams:
        params = QueryParams()
        params._dict = entries
        return params

    def keys(self) -> KeysView[str]:
        return self._dict.keys()

    def values(self) -> ValuesView[str]:
        """The first value of each key."""
        return {key: items[0] for key, items in self._dict.items()}.values()

    def items(self) -> ItemsView[str, str]:
        """`(key, first value)` for each key; `multi_items()` gives every value."""
        return {key: items[0] for key, items in self._dict.items()}.items()

    def multi_items(self) -> list[tuple[str, str]]:
        return [(key, item) for key, items in self._dict.items() for item in items]

    def get(self, key: Any, default: Any = None) -> Any:
        """The first value for `key`, or `default`."""
        if key in self._dict:
            return self._dict[str(key)][0]
        return default

    def get_list(self, key: str) -> list[str]:
        return list(self._dict.get(str(key), []))

    def set(self, key: str, value: Any = None) -> QueryParams:
        """A copy where `key` has the single value `value`."""
        return self._copy_with({**self._dict, str(key): [primitive_value_to_str(value)]})

    def add(self, key: str, value: Any = None) -> QueryParams:
        """A copy with `value` appended to the values of `key`."""
        added = [*self.get_list(key), primitive_value_to_str(value)]
        return self._copy_with({**self._dict, str(key): added})

    def remove(self, key: str) -> QueryParams:
        entries = dict(self._dict)
        entries.pop(str(key), None)
        return self._copy_with(entries)

    def merge(self, params: QueryParamTypes | None = None) -> QueryParams:
        """A copy where the keys of `params` replace those of this one."""
        return self._copy_with({**self._dict, **QueryParams(params)._dict})

    def __getitem__(self, key: Any) -> str:
        return self._dict[key][0]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._dict)

    def __bool__(self) -> bool:
        return bool(self._dict)

    def __hash__(self) -> int:
        return hash(str(self))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QueryParams):
            return False
        return sorted(self.multi_items()) == sorted(other.multi_items())

    def __str__(self) -> str:
        # Form encoding: space as "+", every reserved character escaped (as httpx does).
        return urlencode(self.multi_items())

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"

    def update(self, params: QueryParamTypes | None = None) -> None:
        raise RuntimeError(_IMMUTABLE.format(hint="merge(...)"))

    def __setitem__(self, key: str, value: str) -> None:
        raise RuntimeError(_IMMUTABLE.format(hint="set(key, value)"))
