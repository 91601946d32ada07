"""Cache control per item (SPEC 12): each item's answers are kept for its own lifetime (0 = never), and "Refresh now"
on the item page drops them."""

import pytest
from django.test import Client

from connect_project.caches import redis_caches
from items.models import Item
from items.services import cache as item_cache
from items.services import resolve_item
from tests.datasources.conftest import errors_next_to, form_data
from tests.support.connect_server import start_redis

from .conftest import BASE_URL, ISSUES, item_keys

SEARCH_URL = f"{BASE_URL}/search"


@pytest.fixture
def datasource(datasource_factory):
    return datasource_factory(base_url=BASE_URL)


def test_an_answer_lives_as_long_as_its_item_says(item_factory, datasource, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    item = item_factory(datasource, cache_seconds=10)
    first = resolve_item(item=item, user_input="printer")
    [key] = item_keys(redis)
    assert 9_000 < redis.pttl(key) <= 10_000
    assert first.cache_note == "Cache miss: the API was called and its answer is cached for 10 seconds."
    assert resolve_item(item=item, user_input="printer").cache_status == "hit"
    assert len(upstream.calls) == 1


def test_items_of_one_datasource_keep_their_answers_for_different_times(
    item_factory, datasource, upstream, fake_dns, redis
):
    upstream.get(SEARCH_URL, json=ISSUES)
    reference = item_factory(datasource, name="Countries", cache_seconds=86_400)
    stock = item_factory(datasource, name="Stock", cache_seconds=10)
    resolve_item(item=reference, user_input="printer")
    resolve_item(item=stock, user_input="printer")
    lifetimes = sorted(redis.pttl(key) for key in item_keys(redis))
    assert 9_000 < lifetimes[0] <= 10_000
    assert 86_399_000 < lifetimes[1] <= 86_400_000


def test_a_lifetime_of_zero_never_keeps_an_answer(item_factory, datasource, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    item = item_factory(datasource, cache_seconds=0)
    first = resolve_item(item=item, user_input="printer")
    second = resolve_item(item=item, user_input="printer")
    assert len(upstream.calls) == 2
    assert (first.cached, second.cached) == (False, False)
    assert second.cache_status == "not_cached"
    assert "every request calls the API" in second.cache_note
    assert item_keys(redis) == []
    assert second.options[0]["key"] == "OPS-1"


def test_a_new_item_keeps_answers_as_long_as_the_operator_default(db, datasource, settings):
    assert Item(name="A", datasource=datasource).cache_seconds == 300
    settings.CONNECT_CACHE_TTL_SECONDS = 120
    assert Item(name="B", datasource=datasource).cache_seconds == 120


# --- the item form -------------------------------------------------------------------------------------------


def item_form_data(staff_client, item) -> dict:
    return form_data(staff_client.get(f"/items/{item.pk}/edit/"))


def test_the_item_form_shows_the_lifetime_with_its_label_and_help(staff_client, item_factory, datasource):
    item = item_factory(datasource)
    page = staff_client.get(f"/items/{item.pk}/edit/").content.decode()
    assert '<label for="id_cache_seconds">Answers are kept for (seconds)' in page
    assert "0 = never kept" in page and "86,400 (24 hours)" in page
    assert item_form_data(staff_client, item)["cache_seconds"] == "300"


@pytest.mark.parametrize("value, saved", [("0", 0), ("10", 10), ("86400", 86400), ("", 300)])
def test_a_lifetime_in_range_is_saved_and_blank_is_the_default(staff_client, item_factory, datasource, value, saved):
    item = item_factory(datasource, cache_seconds=60)
    data = item_form_data(staff_client, item)
    data["cache_seconds"] = value
    response = staff_client.post(f"/items/{item.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Item.objects.get(pk=item.pk).cache_seconds == saved


@pytest.mark.parametrize(
    "value, message",
    [
        ("-1", "Enter a number of seconds from 0 (answers are never kept) to 86,400 (24 hours); 300 is 5 minutes."),
        ("86401", "Enter a number of seconds from 0 (answers are never kept) to 86,400 (24 hours); 300 is 5 minutes."),
        ("ten", "Enter a whole number."),
    ],
)
def test_a_lifetime_out_of_range_is_refused_next_to_its_field_and_nothing_changes(
    staff_client, item_factory, datasource, value, message
):
    item = item_factory(datasource, cache_seconds=60)
    before = Item.objects.get(pk=item.pk)
    data = item_form_data(staff_client, item)
    data["cache_seconds"] = value
    data["name"] = "Renamed"
    response = staff_client.post(f"/items/{item.pk}/edit/", data)
    assert response.status_code == 200
    assert errors_next_to(response, "cache_seconds") == [message]
    after = Item.objects.get(pk=item.pk)
    assert (after.name, after.cache_seconds, after.config_version) == (before.name, 60, before.config_version)


# --- Refresh now ---------------------------------------------------------------------------------------------


@pytest.fixture
def cached_item(item_factory, datasource, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, json=ISSUES)
    item = item_factory(datasource)
    resolve_item(item=item, user_input="printer")
    resolve_item(item=item, user_input="scanner")
    assert len(item_keys(redis)) == 2
    return item


def test_the_item_page_offers_refresh_now_as_a_post_form(staff_client, cached_item):
    page = staff_client.get(f"/items/{cached_item.pk}/preview/").content.decode()
    assert f'action="/items/{cached_item.pk}/cache/refresh/"' in page
    assert ">Refresh now</button>" in page
    assert "An answer is kept for 5 minutes" in page
    assert "<dt>Answers kept for</dt><dd>5 minutes (300 s)</dd>" in page


def test_refresh_now_drops_the_items_answers_and_says_so(staff_client, cached_item, upstream, redis):
    response = staff_client.post(f"/items/{cached_item.pk}/cache/refresh/", follow=True)
    assert response.redirect_chain[-1][0] == f"/items/{cached_item.pk}/preview/#cache"
    page = response.content.decode()
    assert "Cached answers of “Issues” dropped: the next request calls the API. 2 cache keys deleted." in page
    assert item_keys(redis) == []
    item = Item.objects.select_related("datasource").get(pk=cached_item.pk)
    assert resolve_item(item=item, user_input="printer").cache_status == "miss"
    assert len(upstream.calls) == 3


def test_refresh_now_leaves_other_items_answers_alone(staff_client, cached_item, item_factory, datasource, redis):
    other = item_factory(datasource, name="Other")
    resolve_item(item=other, user_input="printer")
    staff_client.post(f"/items/{cached_item.pk}/cache/refresh/")
    [kept] = item_keys(redis)
    assert f":{other.pk}:".encode() in kept
    assert resolve_item(item=other, user_input="printer").cache_status == "hit"


def test_refresh_now_while_redis_is_down_still_makes_the_old_answers_unreachable(
    staff_client, cached_item, upstream, redis, settings, tmp_path
):
    suite_caches = settings.CACHES
    stopped = start_redis(tmp_path / "redis")
    stopped.shutdown()
    settings.CACHES = redis_caches(url=stopped.url)
    response = staff_client.post(f"/items/{cached_item.pk}/cache/refresh/", follow=True)
    assert "The cache did not answer, so no key was deleted: the old answers can no longer be read" in (
        response.content.decode()
    )
    settings.CACHES = suite_caches
    item_cache.health.reset()  # Redis is back
    assert len(item_keys(redis)) == 2  # nothing could be deleted...
    item = Item.objects.select_related("datasource").get(pk=cached_item.pk)
    assert resolve_item(item=item, user_input="printer").cache_status == "miss"  # ...but nothing old is read


def test_refresh_now_needs_a_post(staff_client, cached_item, redis):
    assert staff_client.get(f"/items/{cached_item.pk}/cache/refresh/").status_code == 405
    assert len(item_keys(redis)) == 2


def test_refresh_now_needs_the_csrf_token(staff_user, cached_item, redis):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    assert browser.post(f"/items/{cached_item.pk}/cache/refresh/").status_code == 403
    assert len(item_keys(redis)) == 2


def test_refresh_now_is_for_staff_only(client, django_user_model, cached_item, redis):
    client.force_login(django_user_model.objects.create_user("filler", password="pw-filler-123"))
    response = client.post(f"/items/{cached_item.pk}/cache/refresh/")
    assert response.status_code in (302, 403)
    assert len(item_keys(redis)) == 2


def test_refresh_now_of_an_unknown_item_is_a_404(staff_client, db):
    assert staff_client.post("/items/999999/cache/refresh/").status_code == 404


def test_refresh_now_is_audited_with_who_and_what(staff_client, cached_item, redis):
    from audit.models import AuditEntry

    staff_client.post(f"/items/{cached_item.pk}/cache/refresh/")
    entry = AuditEntry.objects.get(action="cache_refresh")
    assert (entry.actor, entry.via, entry.object_id, entry.object_name) == (
        "admin",
        "page",
        str(cached_item.pk),
        "Issues",
    )
