"""Large lists on the options endpoint: `offset`/`limit` slices of Connect's own list, further pages of a paginated
item read only when an offset reaches past the pages read, and `q` filtering a select-type item's labels on Connect.
Against a real local HTTPS server that counts what it is asked."""

import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from items.models import Item
from tests.conftest import SECRET_API_KEY, assert_no_secret, make_datasource
from tests.items.conftest import item_keys, make_item, redis_dump
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

PER_PAGE = 10


@pytest.fixture
def api(start_server):
    server = start_server({})
    server.datasource = lambda **auth: make_datasource(name="Big API", base_url=server.url("/api"), **auth)
    server.paths = lambda: [r["path"] for r in server.requests]
    return server


@pytest.fixture
def member_client(client, db):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


def page_of(handler_or_path) -> int:
    path = handler_or_path if isinstance(handler_or_path, str) else handler_or_path.path
    return int(parse_qs(urlsplit(path).query).get("page", ["1"])[0])


page_of_path = page_of


def products(count: int) -> list[dict]:
    return [{"id": f"P{n:05d}", "name": f"Product {n}"} for n in range(1, count + 1)]


def linked_products(server, *, total: int, echo_secret: str = ""):
    """/api/products?page=N: PER_PAGE products a page, a Link to the next page while there are more."""

    def route(handler):
        page = page_of(handler)
        entries = products(total)[(page - 1) * PER_PAGE : page * PER_PAGE]
        headers = []
        if page * PER_PAGE < total:
            extra = f"&appid={echo_secret}" if echo_secret else ""
            headers.append(("Link", f'<{server.url("/api/products")}?page={page + 1}{extra}>; rel="next"'))
        srv.send(handler, 200, json.dumps({"results": entries}).encode(), headers=headers)

    return route


def paged_item(datasource, **fields) -> Item:
    defaults = dict(
        query="/products",
        list_path="results",
        key_field="id",
        label_template="name",
        pagination="link",
        max_pages=20,
        max_options=1000,
    )
    defaults.update(fields)
    return make_item(datasource, name="Products", **defaults)


def options(client, item, query=""):
    return client.get(f"/api/items/{item.pk}/options{query}")


def keys(answer) -> list:
    return [option["key"] for option in answer["options"]]


# --- slices of a one-page list -----------------------------------------------------------------------------------


def test_a_slice_says_how_many_are_known_and_whether_more_follow(api, member_client):
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": products(25)}).encode())
    item = paged_item(api.datasource(), pagination="none")
    first = options(member_client, item, "?offset=0&limit=10").json()
    assert keys(first) == [f"P{n:05d}" for n in range(1, 11)]
    assert (first["has_more"], first["total_known"], first["complete"]) == (True, 25, True)
    last = options(member_client, item, "?offset=20&limit=10").json()
    assert keys(last) == [f"P{n:05d}" for n in range(21, 26)] and last["has_more"] is False
    beyond = options(member_client, item, "?offset=40&limit=10").json()
    assert beyond["options"] == [] and beyond["has_more"] is False
    assert len(api.requests) == 1 and last["cached"] is True


def test_without_offset_and_limit_the_whole_list_is_answered_as_before(api, member_client):
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": products(250)}).encode())
    answer = options(member_client, paged_item(api.datasource(), pagination="none")).json()
    assert len(answer["options"]) == 250 and answer["has_more"] is False and answer["total_known"] == 250


def test_offset_alone_asks_for_a_slice_of_200(api, member_client):
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": products(450)}).encode())
    answer = options(member_client, paged_item(api.datasource(), pagination="none"), "?offset=100").json()
    assert keys(answer)[0] == "P00101" and len(answer["options"]) == 200 and answer["has_more"] is True


def test_a_list_cut_at_the_maximum_options_says_it_is_not_complete(api, member_client):
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": products(30)}).encode())
    answer = options(member_client, paged_item(api.datasource(), pagination="none", max_options=20)).json()
    assert (answer["total_known"], answer["has_more"], answer["complete"]) == (20, False, False)


@pytest.mark.parametrize(
    "query, message",
    [
        ("?limit=201", "“limit” must be a whole number from 1 to 200."),
        ("?limit=0", "“limit” must be a whole number from 1 to 200."),
        ("?limit=ten", "“limit” must be a whole number from 1 to 200."),
        ("?limit=1.5", "“limit” must be a whole number from 1 to 200."),
        ("?offset=-1", "“offset” must be a whole number from 0 to 10000."),
        ("?offset=10001", "“offset” must be a whole number from 0 to 10000."),
        ("?offset=%C2%B2", "“offset” must be a whole number from 0 to 10000."),
        ("?offset=0&limit=999999999999999999999", "“limit” must be a whole number from 1 to 200."),
    ],
)
def test_a_bad_offset_or_limit_is_a_clear_400_and_calls_nothing(api, member_client, redis, query, message):
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": products(5)}).encode())
    response = options(member_client, paged_item(api.datasource(), pagination="none"), query)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_parameter", "message": message}}
    assert api.requests == [] and item_keys(redis) == []


def test_a_refused_parameter_is_not_echoed(api, member_client, caplog):
    caplog.set_level("DEBUG")
    response = options(member_client, paged_item(api.datasource(), pagination="none"), f"?offset={SECRET_API_KEY}")
    assert response.status_code == 400
    assert_no_secret(response.content)
    assert_no_secret(caplog.text)


def test_an_empty_offset_or_limit_is_no_value(api, member_client):
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": products(5)}).encode())
    response = options(member_client, paged_item(api.datasource(), pagination="none"), "?offset=&limit=")
    assert response.status_code == 200 and len(response.json()["options"]) == 5


def test_a_dependency_named_limit_saved_before_the_name_was_reserved_keeps_its_parameter(api, member_client):
    api.routes["/api/products"] = lambda handler: srv.send(
        handler, 200, json.dumps({"results": products(int(parse_qs(urlsplit(handler.path).query)["n"][0]))}).encode()
    )
    item = paged_item(api.datasource(), pagination="none", query="/products?n=$count", dependencies=["count"])
    Item.objects.filter(pk=item.pk).update(query="/products?n=$limit", dependencies=[{"name": "limit"}])
    answer = options(member_client, item, "?limit=500").json()
    assert answer["total_known"] == 500 and len(answer["options"]) == 500


def test_offset_and_limit_are_reserved_dependency_names(datasource_factory):
    from django.core.exceptions import ValidationError

    candidate = Item(name="R", datasource=datasource_factory(), query="/x?o=$offset", dependencies=[{"name": "offset"}])
    with pytest.raises(ValidationError) as caught:
        candidate.full_clean()
    assert "“offset” is reserved" in caught.value.message_dict["dependencies"][0]


# --- a paginated item reads further pages only when asked --------------------------------------------------------


def test_a_first_slice_reads_only_the_pages_it_needs(api, member_client):
    api.routes["/api/products"] = linked_products(api, total=95)
    item = paged_item(api.datasource())
    answer = options(member_client, item, "?offset=0&limit=15").json()
    assert keys(answer) == [f"P{n:05d}" for n in range(1, 16)]
    assert (answer["has_more"], answer["total_known"], answer["complete"]) == (True, 20, False)
    assert [page_of_path(p) for p in api.paths()] == [1, 2]


def test_a_later_slice_reads_on_from_the_cached_pages(api, member_client, redis):
    api.routes["/api/products"] = linked_products(api, total=95)
    item = paged_item(api.datasource())
    options(member_client, item, "?offset=0&limit=10")
    answer = options(member_client, item, "?offset=30&limit=10").json()
    assert keys(answer) == [f"P{n:05d}" for n in range(31, 41)] and answer["cached"] is False
    assert [page_of_path(p) for p in api.paths()] == [1, 2, 3, 4]  # pages 2-4 after page 1, never page 1 again
    again = options(member_client, item, "?offset=0&limit=40").json()
    assert again["cached"] is True and len(again["options"]) == 40 and len(api.requests) == 4
    assert len(item_keys(redis)) == 1  # one entry, extended


def test_the_whole_list_after_a_slice_reads_only_the_remaining_pages(api, member_client):
    api.routes["/api/products"] = linked_products(api, total=95)
    item = paged_item(api.datasource())
    options(member_client, item, "?offset=0&limit=10")
    answer = options(member_client, item).json()
    assert keys(answer) == [f"P{n:05d}" for n in range(1, 96)]
    assert (answer["has_more"], answer["complete"]) == (False, True)
    assert [page_of_path(p) for p in api.paths()] == list(range(1, 11))


def test_the_last_slice_of_a_paginated_list_says_it_is_complete(api, member_client):
    api.routes["/api/products"] = linked_products(api, total=25)
    item = paged_item(api.datasource())
    answer = options(member_client, item, "?offset=20&limit=10").json()
    assert keys(answer) == [f"P{n:05d}" for n in range(21, 26)]
    assert (answer["has_more"], answer["total_known"], answer["complete"]) == (False, 25, True)


def test_the_page_cap_ends_the_list_without_calling_it_complete(api, member_client):
    api.routes["/api/products"] = linked_products(api, total=95)
    item = paged_item(api.datasource(), max_pages=3)
    answer = options(member_client, item, "?offset=20&limit=10").json()
    assert (answer["has_more"], answer["total_known"], answer["complete"]) == (False, 30, False)
    assert options(member_client, item, "?offset=30&limit=10").json()["options"] == [] and len(api.requests) == 3


def test_page_numbers_are_continued_from_the_cached_pages(api, member_client):
    def route(handler):
        offset = int(parse_qs(urlsplit(handler.path).query)["offset"][0])
        srv.send(handler, 200, json.dumps({"results": products(45)[offset : offset + PER_PAGE]}).encode())

    api.routes["/api/products"] = route
    item = paged_item(api.datasource(), pagination="page", page_parameter="offset", page_start=0, page_step=10)
    options(member_client, item, "?offset=0&limit=10")
    answer = options(member_client, item, "?offset=10&limit=40").json()
    assert keys(answer) == [f"P{n:05d}" for n in range(11, 46)] and answer["complete"] is True
    offsets = [parse_qs(urlsplit(p).query)["offset"][0] for p in api.paths()]
    assert offsets == ["0", "10", "20", "30", "40", "50"]  # page 1 once; the empty page ends the list


def test_a_next_url_in_the_answer_is_continued_from_the_cached_pages(api, member_client):
    def route(handler):
        page = page_of(handler)
        following = f"/api/products?page={page + 1}" if page < 4 else None
        entries = products(40)[(page - 1) * PER_PAGE : page * PER_PAGE]
        srv.send(handler, 200, json.dumps({"results": entries, "next": following}).encode())

    api.routes["/api/products"] = route
    item = paged_item(api.datasource(), pagination="next_url", next_url_path="next")
    options(member_client, item, "?limit=10")
    assert keys(options(member_client, item, "?offset=25&limit=5").json()) == [f"P{n:05d}" for n in range(26, 31)]
    assert [page_of_path(p) for p in api.paths()] == [1, 2, 3]


def test_a_failing_further_page_stores_nothing_and_keeps_the_pages_read(api, member_client):
    healthy = linked_products(api, total=95)

    def route(handler):
        if page_of(handler) == 3:
            return srv.send(handler, 500, b'{"error": "boom"}')
        healthy(handler)

    api.routes["/api/products"] = route
    item = paged_item(api.datasource())
    options(member_client, item, "?offset=0&limit=10")
    failed = options(member_client, item, "?offset=20&limit=10")
    assert failed.status_code == 502 and "(page 3)" in failed.json()["error"]["message"]
    kept = options(member_client, item, "?offset=0&limit=10").json()
    assert kept["cached"] is True and kept["total_known"] == 10
    assert [page_of_path(p) for p in api.paths()] == [1, 2, 3]


def test_pages_added_to_an_entry_keep_its_remaining_lifetime(api, member_client, redis, settings):
    settings.CONNECT_CACHE_TTL_SECONDS = 300
    api.routes["/api/products"] = linked_products(api, total=95)
    item = paged_item(api.datasource())
    options(member_client, item, "?limit=10")
    [key] = item_keys(redis)
    redis.pexpire(key, 40_000)  # the first page is 260 seconds old
    options(member_client, item, "?offset=50&limit=10")
    assert 30_000 < redis.pttl(key) <= 40_000
    assert options(member_client, item, "?offset=50&limit=10").json()["cached"] is True


@pytest.mark.django_db(transaction=True)
def test_concurrent_slices_past_the_cached_pages_read_each_page_once(api):
    from django.db import connection

    from items.services.listing import Slice, list_options

    api.routes["/api/products"] = srv.working(linked_products(api, total=95), seconds=0.2)
    item = paged_item(api.datasource())
    list_options(item=item, asked=Slice(offset=0, limit=10))
    start, answers, failures = threading.Barrier(4), [], []

    def ask():
        try:
            start.wait()
            answers.append(list_options(item=item, asked=Slice(offset=30, limit=10)))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert [[o["key"] for o in a.options] for a in answers] == [[f"P{n:05d}" for n in range(31, 41)]] * 4
    assert sorted(page_of_path(p) for p in api.paths()) == [1, 2, 3, 4]


def test_a_next_link_echoing_the_api_key_is_kept_without_it(api, member_client, redis):
    datasource = api.datasource(
        mode="api_key", api_key_location="query", api_key_name="appid", api_key_value=SECRET_API_KEY
    )
    api.routes["/api/products"] = linked_products(api, total=95, echo_secret=SECRET_API_KEY)
    item = paged_item(datasource)
    options(member_client, item, "?limit=10")
    assert_no_secret(redis_dump(redis))
    answer = options(member_client, item, "?offset=10&limit=10").json()
    assert keys(answer)[0] == "P00011"
    assert [page_of_path(p) for p in api.paths()] == [1, 2]
    assert all(f"appid={SECRET_API_KEY}" in path for path in api.paths())  # the client still sends the key
    assert_no_secret(redis_dump(redis))


def test_a_next_link_holding_another_secret_is_not_kept_and_later_slices_read_from_page_1(api, member_client, redis):
    datasource = api.datasource(mode="basic", username="reader", password=SECRET_API_KEY)

    def route(handler):
        page = page_of(handler)
        entries = products(95)[(page - 1) * PER_PAGE : page * PER_PAGE]
        link = f'<{api.url("/api/products")}?page={page + 1}&sig={SECRET_API_KEY}>; rel="next"'
        srv.send(handler, 200, json.dumps({"results": entries}).encode(), headers=[("Link", link)])

    api.routes["/api/products"] = route
    item = paged_item(datasource)
    options(member_client, item, "?limit=10")
    assert_no_secret(redis_dump(redis))
    answer = options(member_client, item, "?offset=10&limit=10").json()
    assert keys(answer)[0] == "P00011"
    assert [page_of_path(p) for p in api.paths()] == [1, 1, 2]
    assert_no_secret(redis_dump(redis))


def test_a_kept_next_link_is_checked_again_before_it_is_called(api, member_client):
    from dataclasses import replace

    from items.services import cache as item_cache

    api.routes["/api/products"] = linked_products(api, total=95)
    item = paged_item(api.datasource())
    options(member_client, item, "?limit=10")
    key = item_cache.cache_key_for(item, "/products")
    entry = item_cache.read_entry(key)
    assert entry.following["number"] == 2
    item_cache.store_entry(key, replace(entry, following={"number": 2, "url": "https://evil.example.com/x"}), 60)
    refused = options(member_client, item, "?offset=10&limit=10")
    assert refused.json()["error"]["code"] == "next_page_refused" and "(page 2)" in refused.json()["error"]["message"]
    assert len(api.requests) == 1


# --- q on a select-type item ------------------------------------------------------------------------------------


CITIES = ["Île-de-France", "Zürich", "Ørsted", "Straße", "MÜNCHEN", "Amsterdam"]


def test_q_filters_a_select_items_labels_ignoring_case_and_accents(api, member_client):
    body = [{"id": n, "name": name} for n, name in enumerate(CITIES)]
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": body}).encode())
    item = paged_item(api.datasource(), pagination="none", query="/products")
    found = {
        q: [o["label"] for o in options(member_client, item, f"?q={q}").json()["options"]]
        for q in ("ile", "ZURICH", "munchen", "STRASSE", "dam", "xyz")
    }
    assert found == {
        "ile": ["Île-de-France"],
        "ZURICH": ["Zürich"],
        "munchen": ["MÜNCHEN"],
        "STRASSE": ["Straße"],
        "dam": ["Amsterdam"],
        "xyz": [],
    }
    assert len(api.requests) == 1


def test_a_5000_option_select_item_is_sliced_and_filtered_with_one_upstream_call(api, member_client):
    api.routes["/api/products"] = srv.answer(body=json.dumps({"results": products(5000)}).encode())
    item = paged_item(api.datasource(), pagination="none", max_options=5000)
    first = options(member_client, item, "?offset=0&limit=200").json()
    assert len(first["options"]) == 200 and first["has_more"] is True and first["total_known"] == 5000
    following = options(member_client, item, "?offset=200&limit=200").json()
    assert keys(following)[0] == "P00201"
    for typed in ("p", "pr", "product 4", "product 49", "product 499", "product 4999"):
        answer = options(member_client, item, f"?q={typed}&limit=200").json()
        expected = [p["id"] for p in products(5000) if typed in p["name"].lower()]
        assert keys(answer) == expected[:200] and answer["total_known"] == len(expected)
        assert answer["has_more"] is (len(expected) > 200)
    assert len(api.requests) == 1


def test_the_field_description_says_a_list_is_searchable_on_connect(api, member_client):
    datasource = api.datasource()
    listed = paged_item(datasource, pagination="none")
    searched = make_item(datasource, name="Search", query="/s?q=$userInput", list_path="", key_field="id")
    assert member_client.get(f"/api/items/{listed.pk}/field").json()["searchable"] is True
    assert member_client.get(f"/api/items/{searched.pk}/field").json()["searchable"] is False
