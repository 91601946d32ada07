"""Resolution through the shared cache, against the suite's real Redis: one upstream call per key and 5 minutes,
nothing stored on failure, old entries unused after an edit, one call for 50 concurrent misses."""

import json
import threading
import time

import pytest
import requests
from django.db import connection

from datasources.models import Header
from datasources.services import errors
from items.models import Item
from items.services import ItemError, MissingVariable, cache_key_for, resolve_item
from items.services import cache as item_cache

from .conftest import BASE_URL, ISSUES, item_keys

SEARCH_URL = f"{BASE_URL}/search"


@pytest.fixture
def item(item_factory, datasource_factory):
    return item_factory(datasource_factory(base_url=BASE_URL))


def test_hit_after_miss_makes_one_upstream_call(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    first = resolve_item(item=item, user_input="printer")
    second = resolve_item(item=item, user_input="printer")
    assert len(upstream.calls) == 1
    assert (first.cached, first.cache_status) == (False, "miss")
    assert (second.cached, second.cache_status) == (True, "hit")
    assert (
        second.options
        == first.options
        == [
            {"key": "OPS-1", "label": "OPS-1 - Printer on fire"},
            {"key": "OPS-2", "label": "OPS-2 - Coffee machine empty"},
        ]
    )


def test_entry_lives_300_seconds_in_redis(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    [key] = item_keys(redis)
    assert 299_000 < redis.pttl(key) <= 300_000


def test_entry_expires_after_the_ttl(item, upstream, fake_dns, redis):
    item.cache_seconds = 1  # the item's own lifetime (SPEC 12)
    item.save()
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    time.sleep(1.1)
    again = resolve_item(item=item, user_input="printer")
    assert again.cached is False and len(upstream.calls) == 2


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_the_raw_body_is_kept_byte_for_byte_and_shown_in_the_preview(item, upstream, fake_dns, redis, encoding):
    answer = {"issues": [{"key": "OPS-7", "fields": {"summary": "Café au lait \u2615 \U0001f600"}}]}
    body = json.dumps(answer, ensure_ascii=False).encode(encoding)
    upstream.get(SEARCH_URL, body=body, content_type="application/json")
    first = resolve_item(item=item, user_input="printer")
    assert first.raw_body == body
    assert first.options == [{"key": "OPS-7", "label": "OPS-7 - Café au lait \u2615 \U0001f600"}]
    [key] = item_keys(redis)
    assert item_cache.read_body(key.decode().split(":", 2)[2]) == body


def test_only_the_raw_body_is_stored_never_headers(item, upstream, fake_dns, redis):
    body = json.dumps(ISSUES).encode()
    upstream.get(
        SEARCH_URL,
        body=body,
        content_type="application/json",
        headers={"Set-Cookie": "session=cookie-value-9d3e; Secure", "X-Trace": "trace-value-41bb"},
    )
    resolve_item(item=item, user_input="printer")
    [key] = item_keys(redis)
    assert item_cache.read_body(key.decode().split(":", 2)[2]) == body
    stored = redis.get(key)
    assert b"cookie-value-9d3e" not in stored and b"trace-value-41bb" not in stored


def test_key_holds_ids_versions_and_a_hash_never_the_query(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="very-private-search")
    [key] = item_keys(redis)
    assert b"very-private-search" not in key and b"search" not in key
    assert key.decode().endswith(cache_key_for(item, "/search?q=very-private-search"))
    assert f":{item.pk}:{item.config_version}:{item.datasource.pk}:{item.datasource.config_version}:" in key.decode()


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "json": {"error": "boom"}},
        {"status": 404, "json": {"error": "nope"}},
        {"status": 200, "body": "<html>not json</html>", "content_type": "text/html"},
        {"status": 200, "json": {"unexpected": "shape"}},
    ],
)
def test_failed_call_caches_nothing(item, upstream, fake_dns, redis, answer):
    upstream.get(SEARCH_URL, **answer)
    for _ in range(2):
        with pytest.raises((errors.DatasourceError, ItemError)):
            resolve_item(item=item, user_input="printer")
    assert item_keys(redis) == []
    assert len(upstream.calls) == 2


def test_timeout_caches_nothing(item, redis, monkeypatch):
    calls = []

    def time_out(**kwargs):
        calls.append(kwargs)
        raise errors.UpstreamTimeout("The API did not answer within 60 seconds.")

    monkeypatch.setattr("datasources.services.client.call_datasource", time_out)
    for _ in range(2):
        with pytest.raises(errors.UpstreamTimeout):
            resolve_item(item=item, user_input="printer")
    assert len(calls) == 2 and item_keys(redis) == []


def test_read_timeout_from_the_transport_caches_nothing(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    for _ in range(2):
        with pytest.raises(errors.DatasourceError) as caught:
            resolve_item(item=item, user_input="printer")
        assert caught.value.http_status == 504
    assert len(upstream.calls) == 2 and item_keys(redis) == []


def test_failure_keeps_what_it_learned_for_the_preview(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, status=503, json={})
    with pytest.raises(errors.DatasourceError) as caught:
        resolve_item(item=item, user_input="printer")
    assert caught.value.resolution.upstream_status == 503
    assert caught.value.resolution.evaluated_query == "/search?q=printer"


def test_two_dependency_values_are_two_entries(item_factory, datasource_factory, upstream, fake_dns, redis):
    cities = item_factory(
        datasource_factory(base_url=BASE_URL),
        name="Cities",
        query="/cities?country=$country",
        dependencies=["country"],
        list_path="",
        key_field="id",
        label_template="",
    )
    upstream.get(f"{BASE_URL}/cities", json=[{"id": "x"}])
    for country in ("NL", "BE", "NL", "BE"):
        resolve_item(item=cities, values={"country": country})
    assert len(upstream.calls) == 2
    assert len(item_keys(redis)) == 2


def test_editing_the_datasource_makes_old_entries_unused(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    Header.objects.create(datasource=item.datasource, name="X-Tenant", value="acme")
    item = Item.objects.select_related("datasource").get(pk=item.pk)
    after = resolve_item(item=item, user_input="printer")
    assert after.cached is False and len(upstream.calls) == 2
    assert len(item_keys(redis)) == 2  # the old entry is left to expire, never read


def test_saving_the_datasource_itself_makes_old_entries_unused(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    item.datasource.save()
    assert resolve_item(item=item, user_input="printer").cached is False
    assert len(upstream.calls) == 2


def test_editing_the_item_makes_old_entries_unused(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    item.label_template = "{fields.summary}"
    item.save()
    after = resolve_item(item=item, user_input="printer")
    assert after.cached is False and after.options[0]["label"] == "Printer on fire"
    assert len(upstream.calls) == 2


def test_bypassing_the_cache_neither_reads_nor_writes(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    resolve_item(item=item, user_input="printer")
    bypassed = resolve_item(item=item, user_input="printer", use_cache=False)
    assert (bypassed.cached, bypassed.cache_status) == (False, "bypassed")
    assert len(upstream.calls) == 2 and len(item_keys(redis)) == 1


def test_missing_variable_calls_nothing(item, upstream, fake_dns, redis):
    with pytest.raises(MissingVariable):
        resolve_item(item=item, user_input="")
    assert len(upstream.calls) == 0


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_misses_make_one_upstream_call(datasource_factory, upstream, fake_dns, redis):
    from .conftest import make_item

    item = make_item(datasource_factory(base_url=BASE_URL))
    calls = []

    def slow_answer(request):
        calls.append(request.url)
        time.sleep(0.2)
        return 200, {"Content-Type": "application/json"}, json.dumps(ISSUES)

    upstream.add_callback("GET", SEARCH_URL, callback=slow_answer)
    start = threading.Barrier(50)
    results, failures = [], []

    def resolve():
        try:
            start.wait()
            results.append(resolve_item(item=item, user_input="printer"))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=resolve) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert len(calls) == 1, [r.cache_status for r in results if not r.cached]
    assert len(results) == 50 and sum(1 for r in results if not r.cached) == 1
    assert all(r.options == results[0].options for r in results)


def test_waiter_that_waits_too_long_makes_its_own_call(item, upstream, fake_dns, redis, settings):
    settings.CONNECT_CACHE_LOCK_WAIT_SECONDS = 0.2
    upstream.get(SEARCH_URL, json=ISSUES)
    key = cache_key_for(item, "/search?q=printer")
    assert item_cache.acquire_fill_lock(key, 30)  # another process holds the lock and never finishes
    resolution = resolve_item(item=item, user_input="printer")
    assert resolution.cache_status == "wait_timeout" and resolution.options
    assert len(upstream.calls) == 1


def test_a_failed_fill_releases_the_lock_for_the_next_caller(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, status=500, json={})
    with pytest.raises(errors.DatasourceError):
        resolve_item(item=item, user_input="printer")
    assert redis.keys("*:lock") == []


DOWN_CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6390/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
        },
    }
}


def test_redis_down_still_returns_options_uncached_and_warns(item, upstream, fake_dns, settings, caplog):
    settings.CACHES = DOWN_CACHES
    upstream.get(SEARCH_URL, json=ISSUES)
    caplog.set_level("WARNING", logger="connect.cache")
    first = resolve_item(item=item, user_input="printer")
    second = resolve_item(item=item, user_input="printer")
    assert first.options and first.options == second.options
    assert (first.cached, first.cache_status) == (False, "unavailable")
    assert second.cached is False and len(upstream.calls) == 2
    warnings = [r for r in caplog.records if r.name == "connect.cache" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "Redis cache unavailable" in warnings[0].getMessage()


def test_redis_down_warning_is_logged_once_per_interval(item, upstream, fake_dns, settings, caplog):
    settings.CACHES = DOWN_CACHES
    upstream.get(SEARCH_URL, json=ISSUES)
    caplog.set_level("WARNING", logger="connect.cache")
    for _ in range(3):
        item_cache.health.down_until = 0.0  # the retry window has passed: Redis is tried (and fails) again
        resolve_item(item=item, user_input="printer")
    warnings = [r for r in caplog.records if r.name == "connect.cache" and r.levelname == "WARNING"]
    assert len(warnings) == 1


def test_cache_is_used_again_once_redis_answers(item, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    item_cache.health.record_failure(ConnectionError("earlier outage"))
    assert resolve_item(item=item, user_input="printer").cache_status == "unavailable"
    item_cache.health.down_until = 0.0
    resolve_item(item=item, user_input="printer")
    assert resolve_item(item=item, user_input="printer").cached is True


def test_a_fill_lock_released_after_it_expired_leaves_the_next_holders_lock(redis):
    key = "item-options:lock-test"
    first = item_cache.acquire_fill_lock(key, 0.2)
    assert first is not None and item_cache.acquire_fill_lock(key, 30) is None
    time.sleep(0.3)  # the first caller's call outlived its lock
    second = item_cache.acquire_fill_lock(key, 30)
    assert second is not None
    item_cache.release_fill_lock(first)
    assert item_cache.acquire_fill_lock(key, 30) is None  # still the second caller's
    item_cache.release_fill_lock(second)
    assert item_cache.acquire_fill_lock(key, 30) is not None
