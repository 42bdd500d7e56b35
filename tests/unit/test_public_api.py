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


def test_httplib_own_resilience_names_are_exported() -> None:
    # Names httplib adds beyond httpx's (issue 11): exported, and absent from httpx.
    for name in ("Retry", "RetryBudget"):
        assert name in httplib.__all__
        assert inspect.isclass(getattr(httplib, name))
        assert not hasattr(httpx, name)
    assert httplib.Client(retries=httplib.Retry(2)).retries == httplib.Retry(total=2)
