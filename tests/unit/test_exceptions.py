"""The exception tree's behaviour: request attachment and mapping of foreign errors."""

from __future__ import annotations

import ssl

import pytest

import httplib
from httplib._exceptions import map_exceptions, request_context


def test_request_property_raises_until_set() -> None:
    exc = httplib.ReadTimeout("timed out")
    with pytest.raises(RuntimeError, match="has not been set"):
        _ = exc.request


def test_map_exceptions_prefers_the_most_specific_source() -> None:
    mapping: dict[type[BaseException], type[Exception]] = {
        OSError: httplib.ConnectError,
        ssl.SSLError: httplib.ProtocolError,
        TimeoutError: httplib.ConnectTimeout,
    }
    with pytest.raises(httplib.ConnectTimeout) as info, map_exceptions(mapping):
        raise TimeoutError("slow")
    assert isinstance(info.value.__cause__, TimeoutError)
    with pytest.raises(httplib.ConnectError, match="refused"), map_exceptions(mapping):
        raise ConnectionRefusedError("refused")


def test_map_exceptions_leaves_unmapped_and_already_mapped_errors() -> None:
    with pytest.raises(KeyError), map_exceptions({OSError: httplib.ReadError}):
        raise KeyError("x")
    original = httplib.ReadError("boom")
    with pytest.raises(httplib.ReadError) as info, map_exceptions({Exception: httplib.ReadError}):
        raise original
    assert info.value is original


def test_messageless_foreign_errors_get_their_type_name() -> None:
    with (
        pytest.raises(httplib.WriteError, match="BrokenPipeError"),
        map_exceptions({OSError: httplib.WriteError}),
    ):
        raise BrokenPipeError()


def test_request_context_attaches_the_request_once() -> None:
    marker = object()
    with (
        pytest.raises(httplib.ConnectError) as info,
        request_context(marker),  # type: ignore[arg-type]
    ):
        raise httplib.ConnectError("no route")
    assert info.value.request is marker


def test_stream_errors_are_runtime_errors_with_helpful_messages() -> None:
    assert isinstance(httplib.StreamConsumed(), RuntimeError)
    assert "read()" in str(httplib.ResponseNotRead())
    assert "read()" in str(httplib.RequestNotRead())
    assert "closed" in str(httplib.StreamClosed())


def test_stream_error_messages_are_httpx_s_word_for_word() -> None:
    import httpx

    for name in ("StreamConsumed", "StreamClosed", "ResponseNotRead", "RequestNotRead"):
        assert str(getattr(httplib, name)()) == str(getattr(httpx, name)())


def test_the_resilience_errors_sit_where_httpx_handlers_catch_them() -> None:
    assert issubclass(httplib.CircuitOpenError, httplib.TransportError)
    assert not issubclass(httplib.CircuitOpenError, httplib.TimeoutException)
    assert issubclass(httplib.RateLimitTimeout, httplib.TimeoutException)
    assert not issubclass(httplib.RateLimitTimeout, httplib.PoolTimeout)


@pytest.mark.parametrize("cls", [httplib.CircuitOpenError, httplib.RateLimitTimeout])
def test_the_resilience_errors_build_from_a_message_alone_and_take_a_request(
    cls: type[httplib.TransportError],
) -> None:
    # `type(exc)(message)` is how the engine renames a timeout; a bare message must work.
    exc = cls("why")
    assert str(exc) == "why"
    marker = object()
    with pytest.raises(cls) as info, request_context(marker):  # type: ignore[arg-type]
        raise exc
    assert info.value.request is marker


def test_the_resilience_errors_carry_their_origin_and_timing() -> None:
    origin = ("https", "a.test", 443)
    opened = httplib.CircuitOpenError("open", origin=origin, retry_in=12.5)
    assert (opened.origin, opened.retry_in) == (origin, 12.5)
    assert httplib.CircuitOpenError("open").retry_in is None
    limited = httplib.RateLimitTimeout("wait", origin=origin, wait=3.0)
    assert (limited.origin, limited.wait) == (origin, 3.0)
    assert httplib.RateLimitTimeout("wait").origin is None
