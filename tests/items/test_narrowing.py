"""Narrowing: with "the API filters by" set, the answer for a text that extends one whose answer was complete is
computed on Connect, without an upstream call. Against a real local HTTPS city-search API that filters by the same
rule (case and accents ignored) and answers at most API_PAGE matches, as search APIs do."""

import json
import logging
import unicodedata
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from items.models import Item
from items.services import resolve_item
from tests.conftest import SECRET_API_KEY, assert_no_secret, make_datasource
from tests.items.conftest import item_keys, make_item, redis_dump
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

API_PAGE = 20
# Plenty of cities with an "a" (more than API_PAGE), few with "am": the answer for "am" is complete.
CITIES = [
    "Amsterdam",
    "Amstelveen",
    "Rotterdam",
    "Zaandam",
    "Edam",
    "Schiedam",
    "Volendam",
    "Hamburg",
    "Amiens",
    "Ámstetten",
    "AMSTERDAM-ZUIDOOST",
    "Madrid",
    "Paris",
    "Praha",
    "Barcelona",
    "Valencia",
    "Sevilla",
    "Málaga",
    "Granada",
    "Bratislava",
    "Warszawa",
    "Kraków",
    "Gdańsk",
    "Athína",
    "Ankara",
    "Antalya",
    "Lisboa",
    "Braga",
    "Salzburg",
    "Graz",
    "Basel",
    "Bern",
    "Genève",
    "Oslo",
]


def fold(text: str) -> str:
    """The test API's own folding (written here, not imported: the API is not Connect)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def api_answer(text: str, rule: str, country: str = "NL", page: int = API_PAGE) -> list[dict]:
    """What the API answers for a text: the matching cities, at most `page` of them."""
    wanted = fold(text)
    if rule == "label_starts_with":
        found = [c for c in CITIES if fold(c).startswith(wanted)]
    else:
        found = [c for c in CITIES if wanted in fold(c)]
    return [{"id": f"{country}-{name}", "name": name} for name in found][:page]


def city_search(rule: str, page: int = API_PAGE):
    def route(handler):
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query, keep_blank_values=True).items()}
        body = {"results": api_answer(query.get("q", ""), rule, query.get("country", "NL"), page)}
        srv.send(handler, 200, json.dumps(body).encode())

    return route


@pytest.fixture
def api(start_server):
    server = start_server({})
    server.datasource = lambda **auth: make_datasource(name="Cities", base_url=server.url("/api"), **auth)
    server.texts = lambda: [
        parse_qs(urlsplit(r["path"]).query, keep_blank_values=True)["q"][0] for r in server.requests
    ]
    return server


@pytest.fixture
def member_client(client, db):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


def city_item(datasource, *, api_filter="label_contains", **fields) -> Item:
    defaults = dict(
        name="City",
        query="/cities?q=$userInput",
        list_path="results",
        key_field="id",
        label_template="name",
        max_options=API_PAGE,
    )
    defaults.update(fields)
    return make_item(datasource, api_filter=api_filter, **defaults)


def typed_one_letter_at_a_time(client, item, word: str, extra: str = "") -> list[dict]:
    return [client.get(f"/api/items/{item.pk}/options?q={word[:n]}{extra}").json() for n in range(1, len(word) + 1)]


def as_options(entries: list[dict]) -> list[dict]:
    return [{"key": e["id"], "label": e["name"]} for e in entries]


@pytest.mark.parametrize("rule", ["label_contains", "label_starts_with"])
def test_typing_amsterdam_makes_at_most_two_calls_and_every_answer_is_the_apis(api, member_client, rule):
    api.routes["/api/cities"] = city_search(rule)
    item = city_item(api.datasource(), api_filter=rule)
    answers = typed_one_letter_at_a_time(member_client, item, "amsterdam")
    assert len(api.requests) <= 2, api.texts()
    for n, answer in enumerate(answers, start=1):
        assert answer["options"] == as_options(api_answer("amsterdam"[:n], rule)), "amsterdam"[:n]
    assert [a.get("narrowed", False) for a in answers][2:] == [True] * 7


def test_without_narrowing_every_letter_calls_the_api(api, member_client):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource(), api_filter="nothing")
    answers = typed_one_letter_at_a_time(member_client, item, "amsterdam")
    assert api.texts() == ["amsterdam"[:n] for n in range(1, 10)]
    assert not any("narrowed" in answer for answer in answers)


def test_a_narrowed_answer_is_cached_and_served_again_marked_narrowed(api, member_client, redis):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource())
    typed_one_letter_at_a_time(member_client, item, "ams")
    again = member_client.get(f"/api/items/{item.pk}/options?q=ams").json()
    assert again["cached"] is True and again["narrowed"] is True and again["complete"] is True
    assert api.texts() == ["a", "am"] and len(item_keys(redis)) == 3


def test_a_narrowed_answer_never_outlives_the_answer_it_comes_from(api, member_client, redis):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource())
    member_client.get(f"/api/items/{item.pk}/options?q=am")
    [source] = item_keys(redis)
    redis.pexpire(source, 20_000)
    member_client.get(f"/api/items/{item.pk}/options?q=ams")
    [narrowed] = [key for key in item_keys(redis) if key != source]
    assert 0 < redis.pttl(narrowed) <= 20_000


def test_an_answer_at_the_maximum_options_is_not_narrowed_from(api, member_client):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource())
    typed_one_letter_at_a_time(member_client, item, "ar")  # "a": API_PAGE matches, as many as the maximum
    assert api.texts() == ["a", "ar"]


def test_a_paginated_answer_is_narrowed_from_only_when_it_had_no_next_page(api, member_client):
    def route(handler):
        query = parse_qs(urlsplit(handler.path).query, keep_blank_values=True)
        page, text = int(query.get("page", ["1"])[0]), query["q"][0]
        found = api_answer(text, "label_contains")
        entries = found[(page - 1) * 5 : page * 5]
        headers = []
        if page * 5 < len(found):
            headers.append(("Link", f'<{api.url("/api/cities")}?q={text}&page={page + 1}>; rel="next"'))
        srv.send(handler, 200, json.dumps({"results": entries}).encode(), headers=headers)

    api.routes["/api/cities"] = route
    item = city_item(api.datasource(), pagination="link", max_pages=10)
    member_client.get(f"/api/items/{item.pk}/options?q=am&limit=5")  # page 1 of 3 read: not complete
    assert "narrowed" not in member_client.get(f"/api/items/{item.pk}/options?q=ams").json()
    calls = len(api.requests)
    member_client.get(f"/api/items/{item.pk}/options?q=am")  # the rest of "am": now complete
    answer = member_client.get(f"/api/items/{item.pk}/options?q=amste").json()
    assert answer["narrowed"] is True and answer["options"] == as_options(api_answer("amste", "label_contains"))
    assert len(api.requests) == calls + 2


def test_other_dependency_values_are_never_narrowed_from(api, member_client):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource(), query="/cities?q=$userInput&country=$country", dependencies=["country"])
    member_client.get(f"/api/items/{item.pk}/options?q=am&country=NL")
    answer = member_client.get(f"/api/items/{item.pk}/options?q=ams&country=BE").json()
    assert "narrowed" not in answer and answer["options"][0]["key"] == "BE-Amsterdam"
    assert member_client.get(f"/api/items/{item.pk}/options?q=ams&country=NL").json()["narrowed"] is True
    assert api.texts() == ["am", "ams"]


def test_an_edited_item_narrows_from_nothing_cached_before(api, member_client):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource())
    member_client.get(f"/api/items/{item.pk}/options?q=am")
    item.label_template = "{name}"
    item.save()
    assert "narrowed" not in member_client.get(f"/api/items/{item.pk}/options?q=ams").json()
    assert api.texts() == ["am", "ams"]


def test_the_empty_texts_complete_answer_narrows_every_text_when_it_is_allowed(api, member_client):
    api.routes["/api/cities"] = city_search("label_contains", page=100)  # every city fits in one answer
    item = city_item(api.datasource(), user_input_optional=True, max_options=100)
    member_client.get(f"/api/items/{item.pk}/options?q=")
    answers = typed_one_letter_at_a_time(member_client, item, "gra")
    assert [a["options"] for a in answers] == [as_options(api_answer(t, "label_contains")) for t in ("g", "gr", "gra")]
    assert api.texts() == [""]


def test_a_datasource_secret_echoed_by_the_api_stays_masked_in_narrowed_answers(api, member_client, redis, caplog):
    def route(handler):
        text = parse_qs(urlsplit(handler.path).query)["q"][0]
        found = [dict(entry, name=f"{entry['name']} {SECRET_API_KEY}") for entry in api_answer(text, "label_contains")]
        srv.send(handler, 200, json.dumps({"results": found}).encode())

    api.routes["/api/cities"] = route
    datasource = api.datasource(
        mode="api_key", api_key_location="query", api_key_name="appid", api_key_value=SECRET_API_KEY
    )
    item = city_item(datasource)
    member_client.get(f"/api/items/{item.pk}/options?q=am")
    caplog.set_level(logging.DEBUG)
    response = member_client.get(f"/api/items/{item.pk}/options?q=amst")
    assert response.json()["narrowed"] is True and response.json()["options"][0]["label"] == "Amsterdam ***"
    assert_no_secret(response.content)
    assert_no_secret(redis_dump(redis))
    assert_no_secret(caplog.text)
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "amst" in r.getMessage()]


def test_the_item_page_shows_the_calls_saved_in_the_last_hour(api, member_client, staff_client):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource())
    typed_one_letter_at_a_time(member_client, item, "amster")
    page = staff_client.get(f"/items/{item.pk}/preview/").content.decode()
    assert "label contains the typed text" in page and "<strong>4</strong> API calls saved in the last hour" in page
    off = city_item(make_datasource(name="Other"), name="Plain city", api_filter="nothing")
    assert "nothing: every text is asked of the API" in staff_client.get(f"/items/{off.pk}/preview/").content.decode()


def test_the_saved_calls_count_the_last_hour_only(db):
    from items.services import narrowing

    narrowing.count_saved_call(item_id=7, now=1_000_000)
    narrowing.count_saved_call(item_id=7, now=1_000_000 + 3000)
    narrowing.count_saved_call(item_id=8, now=1_000_000 + 3000)
    assert narrowing.calls_saved_last_hour(item_id=7, now=1_000_000 + 3100) == 2
    assert narrowing.calls_saved_last_hour(item_id=7, now=1_000_000 + 3700) == 1


def test_the_preview_says_an_answer_was_narrowed(api, staff_client):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource())
    resolve_item(item=item, user_input="am")
    page = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "amst", "current_user": "admin"})
    text = page.content.decode()
    assert "Narrowed: computed on Connect" in text and "Not an answer of the API" in text
    assert api.texts() == ["am"]


def test_the_preview_bypassing_the_cache_asks_the_api(api, staff_client):
    api.routes["/api/cities"] = city_search("label_contains")
    item = city_item(api.datasource())
    resolve_item(item=item, user_input="am")
    staff_client.post(
        f"/items/{item.pk}/preview/", {"user_input": "amst", "current_user": "admin", "bypass_cache": "on"}
    )
    assert api.texts() == ["am", "amst"]


def test_narrowing_is_refused_for_a_list_item_with_a_message(datasource_factory):
    candidate = Item(name="Countries", datasource=datasource_factory(), query="/countries", api_filter="label_contains")
    with pytest.raises(ValidationError) as caught:
        candidate.full_clean()
    assert caught.value.message_dict["api_filter"] == [
        "Only a search item is narrowed: its query (or JSON body) must use $userInput. Choose “Nothing”, or use "
        "$userInput."
    ]


def test_the_item_form_sets_narrowing_and_shows_its_error_next_to_it(staff_client, datasource_factory):
    datasource = datasource_factory()
    fields = {
        "name": "Cities",
        "datasource": datasource.pk,
        "query": "/countries",
        "api_filter": "label_starts_with",
        "method": "GET",
        "key_field": "id",
        "max_options": 100,
        "pagination": "none",
        "page_start": 1,
        "page_step": 1,
        "max_pages": 5,
    }
    refused = staff_client.post("/items/new/", fields)
    assert refused.status_code == 200 and 'id="id_api_filter_error"' in refused.content.decode()
    assert not Item.objects.exists()
    created = staff_client.post("/items/new/", dict(fields, query="/cities?q=$userInput"))
    assert created.status_code == 302 and Item.objects.get().api_filter == "label_starts_with"


def test_the_admin_edits_narrowing(staff_user, client, datasource_factory):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    item = city_item(datasource_factory(), api_filter="nothing")
    page = client.get(f"/admin/items/item/{item.pk}/change/").content.decode()
    assert 'name="api_filter"' in page and "Label starts with the typed text" in page


def test_an_item_form_posted_without_the_setting_narrows_nothing(staff_client, datasource_factory):
    fields = {
        "name": "Cities",
        "datasource": datasource_factory().pk,
        "query": "/cities?q=$userInput",
        "method": "GET",
        "key_field": "id",
        "max_options": 100,
        "pagination": "none",
        "page_start": 1,
        "page_step": 1,
        "max_pages": 5,
    }
    assert staff_client.post("/items/new/", fields).status_code == 302
    assert Item.objects.get().api_filter == "nothing"
