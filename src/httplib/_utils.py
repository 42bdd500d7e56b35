"""Small pure helpers shared by the URL, header and body code."""

from __future__ import annotations

__all__ = ["TCHAR", "primitive_value_to_str", "to_bytes", "to_str"]

# RFC 9110 section 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
# "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. A token is valid when deleting these leaves nothing
# (`name.translate(None, TCHAR)`); header validation and the HTTP/1.1 parser share it.
TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def primitive_value_to_str(value: str | int | float | bool | None) -> str:
    """How a primitive appears in a query string or form body: `true`, `false`, `""` for None."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(
        f"Expected str, int, float, bool, or None. Got {type(value).__name__!r}: {value!r}."
    )


def to_bytes(value: str | bytes, encoding: str = "utf-8") -> bytes:
    return value.encode(encoding) if isinstance(value, str) else value


def to_str(value: str | bytes, encoding: str = "utf-8") -> str:
    return value if isinstance(value, str) else value.decode(encoding)
