"""`Headers`: a case-insensitive, order-keeping multi-dict of HTTP header fields.

Fields are stored as raw bytes exactly as given, so what goes on the wire is what the user
wrote; the str views decode them with `Headers.encoding`. Every name and value is checked when
it enters, so a header can never smuggle a line break (CR/LF) or NUL onto the wire
(RFC 9110 section 5.5 forbids them in field values; section 5.1 makes names tokens).
"""

from __future__ import annotations

import re
from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from typing import Any

from ._exceptions import LocalProtocolError
from ._types import HeaderTypes
from ._utils import TCHAR

__all__ = ["Headers"]


# Values whose repr is masked so that credentials do not leak into logs and tracebacks.
_SENSITIVE_NAMES = frozenset({b"authorization", b"proxy-authorization"})

# Tried in order when no encoding was given (the choice httpx documents).
_CANDIDATE_ENCODINGS = ("ascii", "utf-8")
_FALLBACK_ENCODING = "iso-8859-1"

# One stored field: (name as given, lower-cased name, value).
_Field = tuple[bytes, bytes, bytes]

# Validated names by their spelling (str or bytes): a handful of names cover almost every
# request, so the common case is one dict lookup.
_name_cache: dict[str | bytes, tuple[bytes, bytes]] = {}
_NAME_CACHE_LIMIT = 512

# Lower-cased lookup keys of ASCII str names (the same bytes under every ASCII-compatible codec).
_key_cache: dict[str, bytes] = {}


def _encode_name(name: str | bytes) -> tuple[bytes, bytes]:
    """The raw and lower-cased bytes of a header name, validated once per spelling."""
    cached = _name_cache.get(name)
    if cached is not None:
        return cached
    if isinstance(name, str):
        # Tokens are ASCII by definition, so a non-ASCII name can never be sent.
        raw = name.encode("ascii", errors="replace")
    elif isinstance(name, bytes):
        raw = name
    else:
        raise TypeError(f"Header name must be str or bytes, not {type(name)}")
    if not raw or raw.translate(None, TCHAR):
        # ("?" replaced any non-ASCII character, and "?" is not a token character.)
        shown = raw if name.isascii() else name
        raise LocalProtocolError(f"Illegal header name {shown!r}")
    entry = (raw, raw.lower())
    if len(_name_cache) < _NAME_CACHE_LIMIT:
        _name_cache[name] = entry
    return entry


_ASCII_SUPERSETS = frozenset({"ascii", "utf-8", "latin-1", "iso-8859-1", "utf8"})
_LINE_BREAK_OR_NUL = re.compile(rb"[\r\n\x00]").search


def _encode_value(name: bytes, value: str | bytes, encoding: str) -> bytes:
    if isinstance(value, str):
        raw = value.encode(encoding)
    elif isinstance(value, bytes):
        raw = value
    else:
        raise TypeError(f"Header value must be str or bytes, not {type(value)}")
    # RFC 9110 section 5.5: CR, LF and NUL are never valid in a field value; a line break
    # here would let the value start a new header or end the header block.
    if _LINE_BREAK_OR_NUL(raw) is not None:
        raise LocalProtocolError(f"Illegal header value {raw!r} for header {name.decode()!r}")
    return raw


def _field(name: str | bytes, value: str | bytes, encoding: str) -> _Field:
    raw_name, lower = _encode_name(name)
    return raw_name, lower, _encode_value(raw_name, value, encoding)


def _fields(pairs: Iterable[tuple[Any, Any]], encoding: str) -> list[_Field]:
    """`_field` for every pair, inlined for the usual all-str, all-cached case (every request)."""
    fields = []
    cache = _name_cache
    for name, value in pairs:
        entry = cache.get(name)
        if entry is None or type(value) is not str:
            fields.append(_field(name, value, encoding))
            continue
        # Checked on the str when the encoding maps ASCII to itself: `str in str` is several
        # times cheaper than `bytes in bytes`, which on CPython 3.11 first tries the needle as
        # an int and formats a TypeError.
        if encoding not in _ASCII_SUPERSETS or "\r" in value or "\n" in value or "\0" in value:
            fields.append(_field(name, value, encoding))  # (raises, naming the header)
            continue
        raw = value.encode(encoding)
        fields.append((entry[0], entry[1], raw))
    return fields


def _pairs(headers: Any) -> Iterable[tuple[Any, Any]]:
    if type(headers) is dict or isinstance(headers, Mapping):
        return headers.items()
    if isinstance(headers, str | bytes) or not isinstance(headers, Iterable):
        raise TypeError(
            "Headers must be a mapping or a list of (name, value) pairs, "
            f"not {type(headers).__name__}: {headers!r}"
        )
    return headers


def _split_commas(values: list[str]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",")]


class Headers(MutableMapping[str, str]):
    """HTTP headers: case-insensitive lookup, repeated names kept, insertion order kept."""

    __slots__ = ("_detected", "_encoding", "_list")

    def __init__(self, headers: HeaderTypes | None = None, encoding: str | None = None) -> None:
        self._encoding = encoding
        self._detected: str | None = None
        if headers is None:
            self._list: list[_Field] = []
        elif isinstance(headers, Headers):
            self._list = list(headers._list)
        else:
            str_encoding = encoding or "ascii"
            self._list = _fields(_pairs(headers), str_encoding)

    @classmethod
    def _adopt(cls, fields: list[tuple[bytes, bytes, bytes]]) -> Headers:
        """Headers that take `fields` as their own list: (name, lower-cased name, value) that
        our parsers validated (tokens, values free of CR, LF and NUL) and made for them
        (`ResponseReceived.fields`), so they are neither checked nor copied again."""
        self = cls.__new__(cls)
        self._encoding = None
        self._detected = None
        self._list = fields
        return self

    @property
    def encoding(self) -> str:
        """The codec for the str views: the one set, else ascii, utf-8 or iso-8859-1 as fits."""
        if self._encoding is not None:
            return self._encoding
        if self._detected is None:
            self._detected = self._detect_encoding()
        return self._detected

    @encoding.setter
    def encoding(self, value: str) -> None:
        self._encoding = value

    def _detect_encoding(self) -> str:
        for candidate in _CANDIDATE_ENCODINGS:
            try:
                for raw, _, value in self._list:
                    raw.decode(candidate)
                    value.decode(candidate)
            except UnicodeDecodeError:
                continue
            return candidate
        return _FALLBACK_ENCODING

    def _changed(self) -> None:
        self._detected = None

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The fields as (name, value) bytes, names spelled as given."""
        return [(raw, value) for raw, _, value in self._list]

    def keys(self) -> KeysView[str]:
        return {self._decode(lower): None for _, lower, _ in self._list}.keys()

    def values(self) -> ValuesView[str]:
        return dict(self.items()).values()

    def items(self) -> ItemsView[str, str]:
        """Unique lower-cased names; the values of a repeated name are joined with ", "."""
        merged: dict[str, str] = {}
        for _, lower, value in self._list:
            key, text = self._decode(lower), self._decode(value)
            merged[key] = f"{merged[key]}, {text}" if key in merged else text
        return merged.items()

    def multi_items(self) -> list[tuple[str, str]]:
        """Every field as a (lower-cased name, value) pair, repeats included."""
        return [(self._decode(lower), self._decode(value)) for _, lower, value in self._list]

    def get(self, key: str, default: Any = None) -> Any:
        if not isinstance(key, str | bytes):
            try:
                return self[key]  # fails as a lookup of that key fails
            except KeyError:
                return default
        joined = self._joined(self._lookup_key(key))
        return default if joined is None else joined

    def setdefault(self, key: str, default: Any = None) -> Any:
        """`headers[key]`, set to `default` first when absent. (The mapping mixin's raises and
        catches a KeyError for an absent key, 1 us: each request body's headers come here.)"""
        if not isinstance(key, str | bytes):
            return super().setdefault(key, default)
        joined = self._joined(self._lookup_key(key))
        if joined is not None:
            return joined
        self[key] = default
        return default

    def _add_absent(self, fields: dict[str, str]) -> None:
        """Add each of a body's `fields` (ASCII names and values) this has no field of that
        name for, as `setdefault` would, in one pass; a Content-Length here wins over chunked
        framing (RFC 9112 section 6.1). Requests and responses built with a body come here
        (a 1 KiB request body's fields: 2.2 -> 0.9 us against a `setdefault` each)."""
        if not fields:
            return
        stored = self._list
        names = [field[1] for field in stored]
        encoding = self._encoding or "utf-8"
        for name, value in fields.items():
            field = _field(name, value, encoding)
            lower = field[1]
            if lower in names or (lower == b"transfer-encoding" and b"content-length" in names):
                continue
            stored.append(field)
            names.append(lower)
        self._changed()

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        """All values of `key` in order; with `split_commas`, comma-separated items apart."""
        lower = self._lookup_key(key)
        values = [self._decode(value) for _, name, value in self._list if name == lower]
        return _split_commas(values) if split_commas else values

    def update(self, headers: HeaderTypes | None = None) -> None:  # type: ignore[override]
        """Replace every name present in `headers` with its fields there, appended at the end."""
        other = Headers(headers)
        names = {lower for _, lower, _ in other._list}
        self._list = [f for f in self._list if f[1] not in names] + other._list
        self._changed()

    def copy(self) -> Headers:
        return Headers(self, encoding=self._encoding)

    def _decode(self, raw: bytes) -> str:
        return raw.decode(self.encoding)

    def _lookup_key(self, key: str | bytes) -> bytes:
        if self._encoding is None and type(key) is str:
            # Detected codecs are all ASCII-compatible: an ASCII key is the same bytes in each.
            cached = _key_cache.get(key)
            if cached is not None:
                return cached
            if key.isascii() and len(_key_cache) < _NAME_CACHE_LIMIT:
                cached = _key_cache[key] = key.lower().encode("ascii")
                return cached
        if isinstance(key, bytes):
            return key.lower()
        return key.lower().encode(self.encoding)

    def _joined(self, lower: bytes) -> str | None:
        """The values of every field named `lower`, joined with ", "; None when there is none."""
        values = [value for _, name, value in self._list if name == lower]
        if not values:
            return None
        if len(values) == 1:
            return self._decode(values[0])
        return ", ".join([self._decode(value) for value in values])

    def __getitem__(self, key: str) -> str:
        joined = self._joined(self._lookup_key(key))
        if joined is None:
            raise KeyError(key)
        return joined

    def __setitem__(self, key: str, value: str) -> None:
        """Set one field, replacing every field of that name in place of the first."""
        new = _field(key, value, self._encoding or "utf-8")
        lower = new[1]
        positions = [i for i, (_, name, _) in enumerate(self._list) if name == lower]
        if positions:
            first = positions[0]
            self._list = [f for i, f in enumerate(self._list) if i == first or f[1] != lower]
            self._list[first] = new
        else:
            self._list.append(new)
        self._changed()

    def __delitem__(self, key: str) -> None:
        lower = self._lookup_key(key)
        kept = [field for field in self._list if field[1] != lower]
        if len(kept) == len(self._list):
            raise KeyError(key)
        self._list = kept
        self._changed()

    def __contains__(self, key: Any) -> bool:
        if not isinstance(key, str | bytes):
            return False
        lower = self._lookup_key(key)
        return lower in [field[1] for field in self._list]

    def _has_any(self, lowers: frozenset[bytes]) -> bool:
        """Whether a field has one of these lower-cased names: one pass, no key decoding."""
        # A plain loop: a generator for any(), or a list comprehension, costs more per response.
        for field in self._list:  # noqa: SIM110
            if field[1] in lowers:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __eq__(self, other: Any) -> bool:
        """Equal to headers with the same fields in any order, names compared case-insensitively."""
        try:
            other_headers = Headers(other)
        except (TypeError, ValueError):
            return NotImplemented
        mine = sorted((lower, value) for _, lower, value in self._list)
        theirs = sorted((lower, value) for _, lower, value in other_headers._list)
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        name = type(self).__name__
        # Like httpx, the codec is shown only when it is not the plain-ASCII default.
        suffix = "" if self.encoding == "ascii" else f", encoding={self.encoding!r}"
        pairs = [
            (self._decode(lower), "[secure]" if lower in _SENSITIVE_NAMES else self._decode(value))
            for _, lower, value in self._list
        ]
        as_dict = dict(pairs)
        shown: object = as_dict if len(as_dict) == len(pairs) else pairs
        return f"{name}({shown!r}{suffix})"
