"""The client's per-request caches must never show a stale value to the user."""

from __future__ import annotations

from httplib._client import Client
from httplib._client_base import _URL_CACHE_LIMIT


def test_relative_urls_follow_a_changed_base_url() -> None:
    client = Client(base_url="http://h/api")
    assert str(client.build_request("GET", "items").url) == "http://h/api/items"
    client.base_url = "http://other/v2"
    assert str(client.build_request("GET", "items").url) == "http://other/v2/items"


def test_the_same_url_string_gives_equal_urls_each_time() -> None:
    client = Client()
    first = client.build_request("GET", "http://h/a?x=1").url
    second = client.build_request("GET", "http://h/a?x=1").url
    assert first == second
    assert str(second) == "http://h/a?x=1"


def test_many_distinct_urls_are_all_merged_correctly() -> None:
    client = Client(base_url="http://h/")
    for i in range(_URL_CACHE_LIMIT * 2 + 3):
        assert str(client.build_request("GET", f"/p{i}").url) == f"http://h/p{i}"
    assert len(client._url_cache) <= _URL_CACHE_LIMIT
