"""Type aliases for the public API, and the two stream base classes bodies travel in."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, Union

if TYPE_CHECKING:  # pragma: no cover
    from http.cookiejar import CookieJar

    from ._config import Proxy, Timeout
    from ._cookies import Cookies
    from ._core.auth import Auth
    from ._headers import Headers
    from ._models import Request
    from ._urls import URL, QueryParams

__all__ = [
    "AsyncByteStream",
    "SyncByteStream",
]

PrimitiveData = str | int | float | bool | None

URLTypes = Union["URL", str]

QueryParamTypes = Union[
    "QueryParams",
    Mapping[str, PrimitiveData | list[PrimitiveData] | tuple[PrimitiveData, ...]],
    list[tuple[str, PrimitiveData]],
    tuple[tuple[str, PrimitiveData], ...],
    str,
    bytes,
]

HeaderTypes = Union[
    "Headers",
    Mapping[str, str],
    Mapping[bytes, bytes],
    list[tuple[str, str]],
    list[tuple[bytes, bytes]],
    tuple[tuple[str, str], ...],
    tuple[tuple[bytes, bytes], ...],
]

CookieTypes = Union["Cookies", "CookieJar", dict[str, str], list[tuple[str, str]]]

TimeoutTypes = Union[
    float | None,
    tuple[float | None, float | None, float | None, float | None],
    "Timeout",
]
ProxyTypes = Union["URL", str, "Proxy"]
CertTypes = str | tuple[str, str] | tuple[str, str, str]

AuthTypes = Union[
    tuple[str | bytes, str | bytes],
    Callable[["Request"], "Request"],
    "Auth",
]

RequestContent = str | bytes | Iterable[bytes] | AsyncIterable[bytes]
ResponseContent = str | bytes | Iterable[bytes] | AsyncIterable[bytes]
ResponseExtensions = Mapping[str, Any]

RequestData = Mapping[str, Any]

FileContent = IO[bytes] | bytes | str
FileTypes = (
    FileContent  # file (or bytes)
    | tuple[str | None, FileContent]  # (filename, file)
    | tuple[str | None, FileContent, str | None]  # (filename, file, content_type)
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]  # (..., headers)
)
RequestFiles = Mapping[str, FileTypes] | list[tuple[str, FileTypes]]

RequestExtensions = Mapping[str, Any]

EventHook = Callable[..., Any]


class SyncByteStream:
    """A body that is iterated in a blocking context: yields `bytes` chunks, then is closed."""

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError("The '__iter__' method must be implemented.")  # pragma: no cover
        yield b""  # pragma: no cover

    def close(self) -> None:
        """Release whatever the stream holds (a connection, a file); safe to call twice."""


class AsyncByteStream:
    """A body that is iterated in an async context: yields `bytes` chunks, then is closed."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError("The '__aiter__' method must be implemented.")  # pragma: no cover
        yield b""  # pragma: no cover

    async def aclose(self) -> None:
        """Release whatever the stream holds (a connection, a file); safe to call twice."""
