"""Stale-if-error (opt-in per datasource): when a call fails, the last good answer of the same query is served, marked
stale with its age; off, the error is the answer as always. Real Redis; the upstream API stubbed with `responses`."""

import time
import types

import pytest
from django.contrib.auth import get_user_model

from datasources.models import Datasource
from datasources.services import errors
from items.services import cache as item_cache
from items.services import cache_key_for, resolution, resolve_item
from tests.conftest import SECRET_API_KEY, assert_no_secret

from .conftest import BASE_URL, ISSUES

SEARCH_URL = f"{BASE_URL}/search"
OPTIONS = [
    {"key": "OPS-1", "label": "OPS-1 - Printer on fire"},
    {"key": "OPS-2", "label": "OPS-2 - Coffee machine empty"},
]


@pytest.fixture
def datasource(datasource_factory):
    datasource = datasource_factory(
        base_url=BASE_URL,
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )
    return stale_if_error(datasource, True)


def stale_if_error(datasource, on: bool, max_age: int = 3600):
    Datasource.objects.filter(pk=datasource.pk).update(stale_if_error=on, stale_max_age_seconds=max_age)
    datasource.refresh_from_db()
    return datasource


@pytest.fixture
def item(item_factory, datasource):
    return item_factory(datasource)


@pytest.fixture
def later(monkeypatch):
    """later(seconds): resolution's wall clock moves on by `seconds` (the stored answer grows that much older)."""

    def move(seconds: float):
        monkeypatch.setattr(
            resolution,
            "time",
            types.SimpleNamespace(time=lambda: time.time() + seconds, monotonic=time.monotonic, sleep=time.sleep),
        )

    return move


def fresh_entry_expires(item, query="/search?q=printer"):
    """The 5-minute entry ends (as its TTL would end it); the last good answer stays."""
    item_cache._run("delete", cache_key_for(item, query))


@pytest.fixture
def member_client(client, db):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


def test_a_failed_call_serves_the_last_good_answer_marked_stale_with_its_age(item, upstream, fake_dns, redis, later):
    upstream.get(SEARCH_URL, json=ISSUES)
    assert resolve_item(item=item, user_input="printer").stale is False
    fresh_entry_expires(item)
    upstream.replace("GET", SEARCH_URL, status=500, body="database is down")
    later(42)
    served = resolve_item(item=item, user_input="printer")
    assert (served.stale, served.age_seconds, served.cached, served.cache_status) == (True, 42, True, "stale")
    assert served.options == OPTIONS
    assert isinstance(served.stale_error, errors.HTTPStatusError) and served.upstream_status == 500
    assert len(upstream.calls) == 2


def test_the_options_endpoint_says_stale_and_the_age(item, upstream, fake_dns, redis, later, member_client):
    upstream.get(SEARCH_URL, json=ISSUES)
    assert "stale" not in member_client.get(f"/api/items/{item.pk}/options?q=printer").json()
    fresh_entry_expires(item)
    upstream.replace("GET", SEARCH_URL, body=errors.UpstreamTimeout("The API did not answer in time."))
    later(7)
    response = member_client.get(f"/api/items/{item.pk}/options?q=printer")
    assert response.status_code == 200
    assert response.json() == {
        "options": OPTIONS,
        "cached": True,
        "stale": True,
        "age_seconds": 7,
        "item": item.pk,
        "has_more": False,
        "total_known": 2,
        "complete": True,
    }


def test_off_the_error_is_the_answer(item, upstream, fake_dns, redis, member_client):
    stale_if_error(item.datasource, False)
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    fresh_entry_expires(item)
    upstream.replace("GET", SEARCH_URL, status=500)
    with pytest.raises(errors.HTTPStatusError):
        resolve_item(item=item, user_input="printer")
    response = member_client.get(f"/api/items/{item.pk}/options?q=printer")
    assert response.status_code == 502 and response.json()["error"]["code"] == "http_status"
    assert not [k for k in redis.keys("*last-good*")]  # nothing kept while it is off


def test_a_fresh_hit_is_unchanged(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    upstream.replace("GET", SEARCH_URL, status=500)
    hit = resolve_item(item=item, user_input="printer")
    assert (hit.cache_status, hit.stale, hit.age_seconds) == ("hit", False, None)
    assert len(upstream.calls) == 1
    key = cache_key_for(item, "/search?q=printer")
    assert 299 <= redis.ttl(redis_key(key)) <= 300  # the 5-minute rule stands
    assert 3599 <= redis.ttl(redis_key(item_cache.last_good_key(key))) <= 3600  # the datasource's max age


def redis_key(key: str) -> str:
    from django.core.cache import cache

    return cache.make_key(key)


def test_an_answer_older_than_the_max_age_is_not_served(item, upstream, fake_dns, redis, later):
    stale_if_error(item.datasource, True, max_age=600)
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    fresh_entry_expires(item)
    upstream.replace("GET", SEARCH_URL, status=503)
    later(601)
    with pytest.raises(errors.HTTPStatusError):
        resolve_item(item=item, user_input="printer")


def test_an_open_circuit_serves_it_without_calling(item, upstream, fake_dns, redis, settings):
    settings.CONNECT_BREAKER_FAILURES = 1
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    fresh_entry_expires(item)
    upstream.replace("GET", SEARCH_URL, status=502)
    assert resolve_item(item=item, user_input="printer").stale_error.code == "http_status"  # opens the breaker
    opened = resolve_item(item=item, user_input="printer")
    assert opened.stale and opened.stale_error.code == "circuit_open"
    assert len(upstream.calls) == 2  # the open breaker called nothing


def test_being_rate_limited_serves_it_without_calling(item_factory, datasource, upstream, fake_dns, redis, settings):
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    Datasource.objects.filter(pk=datasource.pk).update(calls_per_second=0.01)  # one call, then one per 100 s
    item = item_factory(datasource)
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    fresh_entry_expires(item)
    limited = resolve_item(item=item, user_input="printer")
    assert limited.stale and limited.stale_error.code == "rate_limited"
    assert len(upstream.calls) == 1


def test_the_callers_own_errors_and_4xx_are_not_hidden(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    fresh_entry_expires(item)
    upstream.replace("GET", SEARCH_URL, status=404)
    with pytest.raises(errors.HTTPStatusError):
        resolve_item(item=item, user_input="printer")
    upstream.replace("GET", SEARCH_URL, status=429)  # the API throttling: served stale
    assert resolve_item(item=item, user_input="printer").stale


def test_the_last_good_key_holds_ids_versions_and_a_digest_only(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer-typed-9913")
    [key] = [k.decode() for k in redis.keys("*last-good*")]
    assert "printer-typed-9913" not in key and SECRET_API_KEY not in key and "search" not in key
    assert key.startswith(f"connect:1:{item_cache.KEY_PREFIX}:{item.pk}:")


def test_the_preview_shows_a_stale_answer_and_why_without_a_secret(item, upstream, fake_dns, redis, staff_client):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    fresh_entry_expires(item)
    upstream.replace("GET", SEARCH_URL, status=500, body=f"bad request: api_key={SECRET_API_KEY}")
    page = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "printer", "current_user": "admin"})
    text = page.content.decode()
    assert "stale (0 s old)" in text and "Stale answer: the API call failed" in text
    assert "Why stale" in text and "HTTP 500" in text
    assert "OPS-1 - Printer on fire" in text
    assert_no_secret(text)
