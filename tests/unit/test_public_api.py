"""httplib's public names against httpx 0.28's: which exist, and that they are the same kind."""

from __future__ import annotations

import inspect

import httpx
import pytest

import httplib

# httpx names not built yet. When a name lands, the test below fails until it is removed from
# here, so this list stays true.
PENDING: set[str] = set()

HTTPX_NAMES = sorted(set(httpx.__all__))


def test_pending_names_are_really_missing_and_the_rest_exist() -> None:
    present = {name for name in HTTPX_NAMES if hasattr(httplib, name)}
    missing = set(HTTPX_NAMES) - present
    assert missing == PENDING, (
        f"now present, drop from PENDING: {sorted(PENDING - missing)}; "
        f"missing without being pending: {sorted(missing - PENDING)}"
    )


@pytest.mark.parametrize("name", [n for n in HTTPX_NAMES if n not in PENDING])
def test_name_is_exported_and_of_the_same_kind(name: str) -> None:
    assert name in httplib.__all__
    ours, theirs = getattr(httplib, name), getattr(httpx, name)
    assert inspect.isclass(ours) == inspect.isclass(theirs)
    assert callable(ours) == callable(theirs)


def test_exception_tree_matches_httpx() -> None:
    exception_names = [
        n for n in HTTPX_NAMES if inspect.isclass(getattr(httpx, n)) and n not in PENDING
    ]
    exception_names = [n for n in exception_names if issubclass(getattr(httpx, n), Exception)]
    assert len(exception_names) >= 28
    for child in exception_names:
        for parent in exception_names:
            theirs = issubclass(getattr(httpx, child), getattr(httpx, parent))
            ours = issubclass(getattr(httplib, child), getattr(httplib, parent))
            assert ours == theirs, f"issubclass({child}, {parent}) differs from httpx"
        for builtin in (RuntimeError, ValueError, Exception):
            theirs = issubclass(getattr(httpx, child), builtin)
            assert issubclass(getattr(httplib, child), builtin) == theirs, child


def test_all_lists_only_real_names() -> None:
    for name in httplib.__all__:
        assert hasattr(httplib, name), name


# httplib's own public names beyond httpx's, with the kind each must be.
RESILIENCE = {
    "RateLimit": httplib.RateLimit,
    "CircuitBreaker": httplib.CircuitBreaker,
    "CircuitOpenError": httplib.TransportError,
    "RateLimitTimeout": httplib.TimeoutException,
}


@pytest.mark.parametrize("name", sorted(RESILIENCE))
def test_resilience_names_are_exported_and_not_httpx_s(name: str) -> None:
    assert name in httplib.__all__
    assert name not in HTTPX_NAMES
    ours = getattr(httplib, name)
    assert inspect.isclass(ours)
    assert issubclass(ours, RESILIENCE[name])
    assert ours.__module__ == "httplib"


@pytest.mark.parametrize("name", ["RateLimit", "CircuitBreaker"])
def test_policy_docstrings_say_how_clients_take_them(name: str) -> None:
    doc = inspect.getdoc(getattr(httplib, name)) or ""
    argument = "rate_limit=" if name == "RateLimit" else "circuit_breaker="
    assert f"Client({argument}" in doc


def test_httplib_own_resilience_names_are_exported() -> None:
    # Names httplib adds beyond httpx's (issue 11): exported, and absent from httpx.
    for name in ("Retry", "RetryBudget"):
        assert name in httplib.__all__
        assert inspect.isclass(getattr(httplib, name))
        assert not hasattr(httpx, name)
    assert httplib.Client(retries=httplib.Retry(2)).retries == httplib.Retry(total=2)


# Token auth (issue 13): httplib's own, beyond httpx's names, with the kind each must be.
TOKEN_AUTH = {
    "BearerAuth": httplib.Auth,
    "OAuth2ClientCredentials": httplib.Auth,
    "OAuth2RefreshToken": httplib.Auth,
    "OAuth2Error": httplib.HTTPStatusError,
}


@pytest.mark.parametrize("name", sorted(TOKEN_AUTH))
def test_token_auth_names_are_exported_and_not_httpx_s(name: str) -> None:
    assert name in httplib.__all__
    assert name not in HTTPX_NAMES
    ours = getattr(httplib, name)
    assert inspect.isclass(ours)
    assert issubclass(ours, TOKEN_AUTH[name])


def test_all_is_httpx_s_names_plus_httplib_s_own() -> None:
    # (FunctionAuth is httpx's too, though not in its __all__; ContentTooLarge is a body limit.)
    own = {*RESILIENCE, *TOKEN_AUTH, "Retry", "RetryBudget", "FunctionAuth", "ContentTooLarge"}
    own.add("alias_httpx")  # the process-wide alias (docs/alias.md)
    assert set(httplib.__all__) == set(HTTPX_NAMES) | own


def test_all_is_in_httpx_form() -> None:
    """httpx's own export test: every public module-level name (and the three dunders) is in
    `__all__`, sorted case-insensitively."""
    included_private_members = ["__description__", "__title__", "__version__"]
    assert httplib.__all__ == sorted(
        (
            member
            for member in vars(httplib)
            if not member.startswith("_") or member in included_private_members
        ),
        key=str.casefold,
    )
    assert httplib.__all__[:3] == included_private_members
    assert isinstance(httplib.__version__, str)
    assert httplib.__title__ == "httplib"


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in httplib.__all__
        if not n.startswith("__") and n not in {"main", "USE_CLIENT_DEFAULT"}
    ],
)
def test_public_names_report_httplib_as_their_module(name: str) -> None:
    assert getattr(httplib, name).__module__ == "httplib"


def test_reprs_and_tracebacks_name_the_public_path() -> None:
    import traceback

    assert repr(httplib.ReadTimeout) == "<class 'httplib.ReadTimeout'>"
    try:
        raise httplib.ReadTimeout("timed out reading")
    except httplib.ReadTimeout as exc:
        rendered = "".join(traceback.format_exception(exc))
    assert rendered.splitlines()[-1] == "httplib.ReadTimeout: timed out reading"
    assert "_exceptions" not in rendered
