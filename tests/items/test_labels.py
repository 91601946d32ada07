"""Labels of keys (SPEC 9): GET /api/items/<id>/labels?key=A&key=B, through an item's lookup query (each lookup
cached like a query, one call for concurrent misses) or a list item's options; an unknown key is null, never an
error."""

import json
import threading

import pytest
from django.db import connection

from items.models import Item
from items.services import resolve_lookup
from tests.support import geo_api
from tests.support.https_server import answer, working

from .conftest import item_keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def geo(start_server, trust_test_ca):
    return start_server(geo_api.ROUTES)


@pytest.fixture
def chain(geo):
    return geo_api.make_chain(geo)


@pytest.fixture
def member(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("filler", "filler@example.com", "pw-filler-123"))
    return client


def labels(client, item, query: str, status: int = 200):
    response = client.get(f"/api/items/{item.pk}/labels?{query}")
    assert response.status_code == status, response.content
    return response.json()


def calls(geo, path: str) -> int:
    return sum(1 for r in geo.requests if r["path"].split("?", 1)[0] == path)


# --- through the lookup query -----------------------------------------------------------------------------------


def test_the_lookup_query_gives_each_keys_label_and_null_for_an_unknown_key(member, chain, geo):
    answer_ = labels(member, chain.city, "key=AMS&key=NOPE")
    assert answer_ == {"labels": {"AMS": "Amsterdam", "NOPE": None}}
    assert calls(geo, "/geo/city") == 2 and calls(geo, "/geo/cities") == 0


def test_each_lookup_is_cached_like_a_query(member, chain, geo, redis):
    labels(member, chain.city, "key=AMS&key=ROT")
    assert calls(geo, "/geo/city") == 2 and len(item_keys(redis)) == 2
    assert labels(member, chain.city, "key=ROT&key=AMS") == {"labels": {"ROT": "Rotterdam", "AMS": "Amsterdam"}}
    assert calls(geo, "/geo/city") == 2


def test_a_key_asked_twice_is_looked_up_once(member, chain, geo):
    assert labels(member, chain.city, "key=AMS&key=AMS") == {"labels": {"AMS": "Amsterdam"}}
    assert calls(geo, "/geo/city") == 1


def test_an_edit_of_the_item_looks_the_keys_up_again(member, chain, geo):
    labels(member, chain.city, "key=AMS")
    chain.city.save()
    labels(member, chain.city, "key=AMS")
    assert calls(geo, "/geo/city") == 2


def test_a_lookup_is_not_read_from_the_querys_entries(member, chain, geo):
    """The query and the lookup of one item never share an entry, even for one evaluated text."""
    chain.city.lookup_query = "/cities?region=NH&q=$key"
    chain.city.save()
    member.get(f"/api/items/{chain.city.pk}/options?q=AMS&region=NH")
    labels(member, chain.city, "key=AMS")
    assert calls(geo, "/geo/cities") == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_lookups_of_a_key_make_one_upstream_call(chain, geo, redis):
    geo.routes["/geo/city"] = working(geo_api.city, seconds=0.3)
    item = Item.objects.select_related("datasource").get(pk=chain.city.pk)
    start, results, failures = threading.Barrier(10), [], []

    def look_up():
        try:
            start.wait()
            results.append(resolve_lookup(item=item, key="AMS", current_user="filler"))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=look_up) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == [] and len(results) == 10
    assert calls(geo, "/geo/city") == 1
    assert all(r.options == [{"key": "AMS", "label": "Amsterdam"}] for r in results)


def test_a_lookup_that_answers_a_list_is_read_at_the_path_to_the_list(member, geo, chain):
    geo.routes["/geo/search"] = answer(body=json.dumps({"results": [{"code": "X1", "name": "Ex one"}]}).encode())
    item = Item.objects.create(
        name="Searched",
        datasource=chain.city.datasource,
        query="/search?q=$userInput",
        list_path="results",
        key_field="code",
        label_template="{name}",
        lookup_query="/search?id=$key",
    )
    assert labels(member, item, "key=X1&key=X2") == {"labels": {"X1": "Ex one", "X2": None}}


def test_a_post_lookup_sends_its_body(member, geo, chain):
    geo.routes["/geo/graphql"] = answer(body=json.dumps({"data": {"code": "G", "name": "Gee"}}).encode())
    item = Item.objects.create(
        name="Graph",
        datasource=chain.city.datasource,
        query="/graphql",
        list_path="data",
        key_field="code",
        label_template="{name}",
        lookup_method="POST",
        lookup_query="/graphql",
        lookup_body_template='{"query": "city", "code": "$key"}',
    )
    assert labels(member, item, "key=G") == {"labels": {"G": "Gee"}}  # the object at the path is the entry
    [sent] = [r for r in geo.requests if r["path"] == "/geo/graphql"]
    assert sent["method"] == "POST" and json.loads(sent["body"]) == {"query": "city", "code": "G"}


def test_a_lookup_answer_that_is_the_entry_itself_is_read_whatever_the_path_to_the_list(member, chain):
    assert chain.city.list_path == ""
    assert labels(member, chain.city, "key=HAA") == {"labels": {"HAA": "Haarlem"}}
    chain.city.list_path = "cities"
    chain.city.save()
    assert labels(member, chain.city, "key=HAA") == {"labels": {"HAA": "Haarlem"}}


def test_a_failing_lookup_is_null_not_an_error_and_the_failing_api_is_not_asked_for_every_key(member, chain, geo):
    geo.routes["/geo/city"] = answer(status=500, body=b'{"error": "down"}')
    assert labels(member, chain.city, "key=AMS&key=ROT") == {"labels": {"AMS": None, "ROT": None}}
    assert calls(geo, "/geo/city") == 1


def test_a_key_the_api_does_not_know_does_not_stop_the_others(member, chain, geo):
    assert labels(member, chain.city, "key=NOPE&key=AMS") == {"labels": {"NOPE": None, "AMS": "Amsterdam"}}
    assert calls(geo, "/geo/city") == 2  # a 404 is the answer about that key: the next key is still asked


def test_an_api_that_does_not_answer_json_is_not_asked_for_every_key(member, chain, geo):
    geo.routes["/geo/city"] = answer(body=b"<html>maintenance</html>", content_type="text/html")
    assert labels(member, chain.city, "key=AMS&key=ROT&key=PAR") == {"labels": {"AMS": None, "ROT": None, "PAR": None}}
    assert calls(geo, "/geo/city") == 1


def test_a_lookup_uses_the_items_other_variables(member, chain, geo):
    chain.city.lookup_query = "/city?code=$key&region=$region"
    chain.city.save()
    assert labels(member, chain.city, "key=AMS&region=NH") == {"labels": {"AMS": "Amsterdam"}}
    assert [r["path"] for r in geo.requests if r["path"].startswith("/geo/city?")] == ["/geo/city?code=AMS&region=NH"]
    assert labels(member, chain.city, "key=ROT") == {"labels": {"ROT": None}}  # $region has no value: no call
    assert calls(geo, "/geo/city") == 1


# --- without a lookup query -------------------------------------------------------------------------------------


def test_a_list_item_finds_its_keys_in_its_options(member, chain, geo):
    assert labels(member, chain.country, "key=NL&key=XX") == {"labels": {"NL": "Netherlands", "XX": None}}
    labels(member, chain.country, "key=FR")
    assert calls(geo, "/geo/countries") == 1


def test_a_list_item_with_a_dependency_takes_its_value(member, chain):
    assert labels(member, chain.region, "key=NH&country=NL") == {"labels": {"NH": "Noord-Holland"}}
    assert labels(member, chain.region, "key=NH") == {"labels": {"NH": None}}  # no country: nothing to find it in


def test_a_search_item_without_a_lookup_query_has_no_labels(member, chain, geo):
    chain.city.lookup_query = ""
    chain.city.save()
    assert labels(member, chain.city, "key=AMS&region=NH") == {"labels": {"AMS": None}}
    assert geo.requests == []


# --- bad input ------------------------------------------------------------------------------------------------


def refused(response, code: str, status: int = 400) -> str:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]["message"]


def test_no_key_is_refused(member, chain, geo):
    assert "at least one key" in refused(member.get(f"/api/items/{chain.city.pk}/labels"), "invalid_keys")
    assert geo.requests == []


def test_51_keys_are_refused(member, chain, geo):
    query = "&".join(f"key=K{n}" for n in range(51))
    response = member.get(f"/api/items/{chain.city.pk}/labels?{query}")
    assert "At most 50 keys per request (51 sent)" in refused(response, "too_many_keys")
    assert geo.requests == []


def test_an_empty_or_overlong_key_is_refused(member, chain, geo):
    assert "Key 2 is empty" in refused(member.get(f"/api/items/{chain.city.pk}/labels?key=A&key="), "invalid_keys")
    long_key = "A" * 1001
    response = member.get(f"/api/items/{chain.city.pk}/labels?key={long_key}")
    assert "longer than 1000" in refused(response, "invalid_keys")
    assert geo.requests == []


def test_labels_take_get_only(member, chain):
    refused(member.post(f"/api/items/{chain.city.pk}/labels?key=AMS"), "method_not_allowed", 405)


def test_an_unknown_item_is_not_found(member, db):
    refused(member.get("/api/items/987654/labels?key=A"), "not_found", 404)


def test_an_item_the_token_does_not_grant_is_refused(client, chain, geo):
    from tests.applications.conftest import make_application, mint

    application = make_application(items=[chain.country, chain.city], origins=[])
    token = mint(application, items=[chain.country.pk])
    response = client.get(f"/api/items/{chain.city.pk}/labels?key=AMS", HTTP_AUTHORIZATION=f"Bearer {token}")
    refused(response, "item_not_granted", 403)
    assert geo.requests == []


def test_an_embedding_token_gets_labels(client, chain):
    from tests.applications.conftest import make_application, mint

    application = make_application(items=[chain.city], origins=[])
    response = client.get(
        f"/api/items/{chain.city.pk}/labels?key=AMS", HTTP_AUTHORIZATION=f"Bearer {mint(application)}"
    )
    assert response.json() == {"labels": {"AMS": "Amsterdam"}}
