"""Selection proofs and their verification (SPEC 9): POST /api/items/<id>/selections and /verify, against the
geography API on the real local HTTPS server (its requests are counted), for embedding tokens and sessions."""

import json
import time

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.services import lookup, usage
from items.services.proofs import session_proof_key
from tests.applications.conftest import make_application, mint
from tests.conftest import make_datasource
from tests.support import geo_api

from .test_large_lists import linked_products, page_of_path, paged_item

pytestmark = pytest.mark.django_db

SHOPPER = "shopper"


@pytest.fixture(autouse=True)
def _fresh_application_memory():
    lookup.application_lookup.clear()
    lookup.verified_tokens.clear()
    usage.forget_uses()
    yield
    lookup.application_lookup.clear()
    lookup.verified_tokens.clear()


@pytest.fixture
def geo(start_server, trust_test_ca):
    return start_server(geo_api.ROUTES)


@pytest.fixture
def chain(geo):
    return geo_api.make_chain(geo)


@pytest.fixture
def shop(chain):
    return make_application(name="Shop", items=[chain.country, chain.region, chain.city], origins=[])


def bearer(application, **claims) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {mint(application, **{'sub': SHOPPER, **claims})}"}


def post(client, item, endpoint: str, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(f"/api/items/{item.pk}/{endpoint}", data=data, content_type="application/json", **headers)


def options(client, item, query: str, **headers):
    response = client.get(f"/api/items/{item.pk}/options?{query}", **headers)
    assert response.status_code == 200, response.content
    return response.json()["options"]


def city_calls(geo) -> int:
    return sum(1 for r in geo.requests if r["path"].startswith("/geo/cities"))


AMSTERDAM = {"keys": ["AMS"], "q": "am", "values": {"region": "NH"}}


def decode(proof: str, key: str, audience: str) -> dict:
    return jwt.decode(proof, key, algorithms=["HS256"], audience=audience, issuer="connect")


# --- /selections ------------------------------------------------------------------------------------------------


def test_a_choice_gets_a_proof_signed_with_the_applications_secret(client, chain, shop):
    options(client, chain.city, "q=am&region=NH", **bearer(shop))
    response = post(client, chain.city, "selections", AMSTERDAM, **bearer(shop))
    assert response.status_code == 200, response.content
    assert response.json()["labels"] == {"AMS": "Amsterdam"}
    claims = decode(response.json()["proof"], shop.secret, audience=str(shop.pk))
    assert claims["sub"] == SHOPPER and claims["item"] == chain.city.pk
    assert claims["keys"] == ["AMS"] and claims["labels"] == {"AMS": "Amsterdam"}
    assert claims["values"] == {"region": "NH"}
    assert claims["exp"] - claims["iat"] == 86400 and abs(claims["iat"] - time.time()) < 60


def test_the_proof_lifetime_is_a_setting(client, chain, shop, settings):
    settings.CONNECT_PROOF_LIFETIME_SECONDS = 600
    proof = post(client, chain.city, "selections", AMSTERDAM, **bearer(shop)).json()["proof"]
    claims = decode(proof, shop.secret, audience=str(shop.pk))
    assert claims["exp"] - claims["iat"] == 600


def test_selections_on_a_cache_hit_make_no_upstream_call(client, chain, shop, geo):
    options(client, chain.city, "q=am&region=NH", **bearer(shop))
    assert city_calls(geo) == 1
    response = post(client, chain.city, "selections", AMSTERDAM, **bearer(shop))
    assert response.status_code == 200
    assert city_calls(geo) == 1


def test_selections_on_a_cache_hit_read_no_datasource_credentials(client, chain, shop):
    """The credentials are decrypted when the datasource's authentication is loaded: a hit never loads it."""
    options(client, chain.city, "q=am&region=NH", **bearer(shop))
    with CaptureQueriesContext(connection) as queries:
        assert post(client, chain.city, "selections", AMSTERDAM, **bearer(shop)).status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "authconfig" in q["sql"].lower()]


def test_a_session_choice_is_signed_with_a_key_derived_from_the_secret_key(client, chain, django_user_model, settings):
    client.force_login(django_user_model.objects.create_user("filler", "filler@example.com", "pw-filler-123"))
    response = post(client, chain.country, "selections", {"keys": ["FR"]})
    assert response.status_code == 200, response.content
    proof = response.json()["proof"]
    claims = decode(proof, session_proof_key(), audience="connect")
    assert claims["sub"] == "filler" and claims["keys"] == ["FR"] and claims["labels"] == {"FR": "France"}
    assert session_proof_key() != settings.SECRET_KEY
    with pytest.raises(jwt.InvalidSignatureError):
        decode(proof, settings.SECRET_KEY, audience="connect")


def test_a_key_that_is_not_an_option_is_refused_naming_it(client, chain, shop):
    response = post(client, chain.city, "selections", {**AMSTERDAM, "keys": ["ROT"]}, **bearer(shop))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "not_an_option" and "“ROT”" in error["message"]
    assert "proof" not in response.json()


def test_a_key_of_another_parent_is_not_an_option(client, chain, shop):
    """Rotterdam is a city, but of Zuid-Holland: not an option for region NH."""
    response = post(client, chain.city, "selections", {**AMSTERDAM, "keys": ["ROT"], "q": ""}, **bearer(shop))
    assert response.json()["error"]["code"] == "not_an_option"
    zuid = post(client, chain.city, "selections", {"keys": ["ROT"], "values": {"region": "ZH"}}, **bearer(shop))
    assert zuid.status_code == 200


def test_one_proof_covers_several_keys_chosen_from_several_searches(client, chain, shop, geo):
    body = {"keys": ["AMS", "HAA"], "q": ["am", "haa"], "values": {"region": "NH"}}
    response = post(client, chain.city, "selections", body, **bearer(shop))
    assert response.status_code == 200, response.content
    claims = decode(response.json()["proof"], shop.secret, audience=str(shop.pk))
    assert claims["keys"] == ["AMS", "HAA"] and claims["labels"] == {"AMS": "Amsterdam", "HAA": "Haarlem"}
    assert city_calls(geo) == 2


def test_keys_chosen_from_one_text_share_one_resolution(client, chain, shop, geo):
    body = {"keys": ["AMS", "HAA", "ZAA"], "q": "", "values": {"region": "NH"}}
    assert post(client, chain.city, "selections", body, **bearer(shop)).status_code == 200
    assert city_calls(geo) == 1


def test_a_list_item_ignores_the_typed_text(client, chain, shop, geo):
    response = post(client, chain.country, "selections", {"keys": ["NL"], "q": "whatever"}, **bearer(shop))
    assert response.json()["labels"] == {"NL": "Netherlands"}


def test_a_number_key_is_proved_as_the_form_writes_it(client, item_factory, datasource_factory, upstream, fake_dns):
    from django.contrib.auth import get_user_model

    item = item_factory(
        datasource_factory(base_url="https://api.example.com/rest"),
        query="/numbers",
        list_path="",
        key_field="id",
        label_template="{name}",
    )
    upstream.get("https://api.example.com/rest/numbers", json=[{"id": 7, "name": "Seven"}, {"id": 8.0, "name": "8"}])
    client.force_login(get_user_model().objects.create_user("filler"))
    response = post(client, item, "selections", {"keys": [7, "8"]})
    assert response.status_code == 200, response.content
    assert response.json()["labels"] == {"7": "Seven", "8": "8"}
    assert decode(response.json()["proof"], session_proof_key(), audience="connect")["keys"] == ["7", "8"]


def test_a_missing_dependency_value_is_an_error_not_a_proof(client, chain, shop):
    response = post(client, chain.city, "selections", {"keys": ["AMS"], "q": "am"}, **bearer(shop))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_variable"


def test_an_upstream_failure_is_the_public_error(client, chain, shop):
    body = {"keys": ["AMS"], "q": geo_api.FAILING_TEXT, "values": {"region": "NH"}}
    response = post(client, chain.city, "selections", body, **bearer(shop))
    assert response.status_code == 502
    assert response.json()["error"] == {"code": "http_status", "message": "The API answered HTTP 500."}


def test_selections_take_post_only(client, chain, shop):
    response = client.get(f"/api/items/{chain.city.pk}/selections", **bearer(shop))
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_an_anonymous_caller_gets_no_proof(client, chain):
    response = post(client, chain.country, "selections", {"keys": ["NL"]})
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


# --- /verify ----------------------------------------------------------------------------------------------------


def proof_for(client, item, body, headers) -> str:
    response = post(client, item, "selections", body, **headers)
    assert response.status_code == 200, response.content
    return response.json()["proof"]


def verify(client, item, body, headers) -> dict:
    response = post(client, item, "verify", body, **headers)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_proof_verifies(client, chain, shop):
    proof = proof_for(client, chain.city, AMSTERDAM, bearer(shop))
    answer = verify(client, chain.city, {"proof": proof}, bearer(shop))
    assert answer == {"valid": True, "keys": ["AMS"], "labels": {"AMS": "Amsterdam"}}


def test_keys_and_variables_verify_without_a_proof(client, chain, shop):
    assert verify(client, chain.city, AMSTERDAM, bearer(shop)) == {
        "valid": True,
        "keys": ["AMS"],
        "labels": {"AMS": "Amsterdam"},
    }


def test_verify_reason_not_an_option(client, chain, shop):
    answer = verify(client, chain.city, {**AMSTERDAM, "keys": ["PAR"]}, bearer(shop))
    assert answer == {"valid": False, "reason": "not_an_option"}


def test_verify_reason_other_item(client, chain, shop):
    proof = proof_for(client, chain.country, {"keys": ["NL"]}, bearer(shop))
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "other_item"}


def test_verify_reason_other_caller_for_another_application(client, chain, shop):
    other = make_application(name="Other shop", items=[chain.city], origins=[])
    proof = proof_for(client, chain.city, AMSTERDAM, bearer(other))
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "other_caller"}


def test_verify_reason_other_caller_for_another_user(client, chain, shop):
    proof = proof_for(client, chain.city, AMSTERDAM, bearer(shop, sub="somebody-else"))
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "other_caller"}


def test_verify_reason_other_caller_for_a_session_proof_shown_to_an_application(client, chain, shop, django_user_model):
    client.force_login(django_user_model.objects.create_user(SHOPPER))
    proof = proof_for(client, chain.city, AMSTERDAM, {})
    client.logout()
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "other_caller"}


def test_verify_reason_other_caller_for_another_signed_in_user(client, chain, django_user_model):
    client.force_login(django_user_model.objects.create_user("first"))
    proof = proof_for(client, chain.country, {"keys": ["NL"]}, {})
    client.force_login(django_user_model.objects.create_user("second"))
    assert verify(client, chain.country, {"proof": proof}, {}) == {"valid": False, "reason": "other_caller"}


def signed(application, **changes) -> str:
    """A proof as Connect signs it for `application`'s user SHOPPER and the item in `changes`."""
    now = int(time.time())
    claims = {
        "iss": "connect",
        "aud": str(application.pk),
        "sub": SHOPPER,
        "keys": ["AMS"],
        "labels": {"AMS": "Amsterdam"},
        "values": {"region": "NH"},
        "iat": now,
        "exp": now + 600,
    }
    key = changes.pop("key", application.secret)
    algorithm = changes.pop("algorithm", "HS256")
    claims.update(changes)
    return jwt.encode(claims, key, algorithm=algorithm)


def test_verify_reason_proof_expired(client, chain, shop):
    proof = signed(shop, item=chain.city.pk, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_expired"}


def test_the_signed_helper_makes_a_valid_proof(client, chain, shop):
    """So that the refusals below are about the one thing each changes."""
    assert verify(client, chain.city, {"proof": signed(shop, item=chain.city.pk)}, bearer(shop))["valid"] is True


def test_verify_reason_proof_forged_with_another_secret(client, chain, shop):
    proof = signed(shop, item=chain.city.pk, key="not-the-applications-secret-0123456789abcdef")
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_with_another_secret_naming_another_application(client, chain, shop):
    other = make_application(name="Other shop", items=[chain.city], origins=[])
    proof = signed(shop, item=chain.city.pk, aud=str(other.pk), key="not-any-applications-secret-0123456789abcdef")
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_with_another_secret_naming_connects_own_pages(client, chain, shop):
    proof = signed(shop, item=chain.city.pk, aud="connect", key="not-connects-own-key-0123456789abcdef0123")
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_with_another_secret_naming_no_application(client, chain, shop):
    proof = signed(shop, item=chain.city.pk, aud="999999", key="not-any-applications-secret-0123456789abcdef")
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_with_another_key_on_connects_own_pages(client, chain, django_user_model):
    client.force_login(django_user_model.objects.create_user(SHOPPER))
    proof = jwt.encode(
        {
            "iss": "connect",
            "aud": "connect",
            "sub": SHOPPER,
            "item": chain.country.pk,
            "keys": ["NL"],
            "labels": {"NL": "Netherlands"},
            "values": {},
            "iat": int(time.time()),
            "exp": int(time.time()) + 600,
        },
        "not-connects-own-key-0123456789abcdef0123",
        algorithm="HS256",
    )
    assert verify(client, chain.country, {"proof": proof}, {}) == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_when_a_claim_was_changed(client, chain, shop):
    header, payload, signature = proof_for(client, chain.city, AMSTERDAM, bearer(shop)).split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["keys"] = ["ZAA"]
    changed = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    answer = verify(client, chain.city, {"proof": f"{header}.{changed}.{signature}"}, bearer(shop))
    assert answer == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_for_alg_none(client, chain, shop):
    proof = signed(shop, item=chain.city.pk, key=None, algorithm="none")
    assert proof.endswith(".")  # unsigned
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_forged"}


@pytest.mark.filterwarnings("ignore:The HMAC key is")
def test_verify_reason_proof_forged_for_another_algorithm(client, chain, shop):
    proof = signed(shop, item=chain.city.pk, algorithm="HS512")
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_for_text_that_is_no_jwt(client, chain, shop):
    answer = verify(client, chain.city, {"proof": "not.a.jwt"}, bearer(shop))
    assert answer == {"valid": False, "reason": "proof_forged"}


def test_verify_reason_proof_forged_for_a_signed_token_that_is_no_proof(client, chain, shop):
    """An embedding token is signed with the same secret, but it is not a proof."""
    proof = signed(shop, item=chain.city.pk, iss=str(shop.pk))
    assert verify(client, chain.city, {"proof": proof}, bearer(shop)) == {"valid": False, "reason": "proof_forged"}


# --- bad input: a clear JSON error, nothing called, nothing stored ----------------------------------------------

ENDPOINTS = ["selections", "verify"]


def refused(response, code: str, status: int = 400) -> str:
    assert response.status_code == status, response.content
    assert set(response.json()) == {"error"} and response.json()["error"]["code"] == code
    return response.json()["error"]["message"]


@pytest.fixture
def nothing_called(geo, redis):
    from .conftest import item_keys

    yield
    assert geo.requests == [] and item_keys(redis) == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_malformed_json_body_is_refused(client, chain, shop, endpoint, nothing_called):
    message = refused(post(client, chain.city, endpoint, '{"keys": ["AMS"', **bearer(shop)), "invalid_body")
    assert "not valid JSON" in message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_nested_100000_levels_deep_is_refused_not_a_500(client, chain, shop, endpoint, nothing_called):
    body = '{"keys": ' + "[" * 100_000 + "]" * 100_000 + "}"
    message = refused(post(client, chain.city, endpoint, body, **bearer(shop)), "invalid_body")
    assert "not valid JSON" in message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_that_is_not_an_object_is_refused(client, chain, shop, endpoint, nothing_called):
    message = refused(post(client, chain.city, endpoint, '["AMS"]', **bearer(shop)), "invalid_body")
    assert "must be a JSON object" in message


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("keys", ["AMS", [], {"AMS": 1}, None])
def test_keys_that_are_not_a_list_are_refused(client, chain, shop, endpoint, keys, nothing_called):
    response = post(client, chain.city, endpoint, {**AMSTERDAM, "keys": keys}, **bearer(shop))
    assert "list of at least one key" in refused(response, "invalid_keys")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("key", [{"id": "AMS"}, ["AMS"], True, None, ""])
def test_a_key_that_is_not_a_text_or_a_number_is_refused(client, chain, shop, endpoint, key, nothing_called):
    response = post(client, chain.city, endpoint, {**AMSTERDAM, "keys": ["HAA", key]}, **bearer(shop))
    assert "Key 2 " in refused(response, "invalid_keys")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_51_keys_are_refused(client, chain, shop, endpoint, nothing_called):
    body = {**AMSTERDAM, "keys": [f"K{n}" for n in range(51)]}
    assert "At most 50 keys" in refused(post(client, chain.city, endpoint, body, **bearer(shop)), "too_many_keys")


def test_50_keys_are_accepted(client, chain, shop):
    body = {"keys": ["AMS"] * 50, "q": "am", "values": {"region": "NH"}}
    assert post(client, chain.city, "selections", body, **bearer(shop)).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("q", [5, ["am"], {"q": "am"}])
def test_typed_text_of_the_wrong_shape_is_refused(client, chain, shop, endpoint, q, nothing_called):
    body = {**AMSTERDAM, "keys": ["AMS", "HAA"], "q": q}
    assert "q must be" in refused(post(client, chain.city, endpoint, body, **bearer(shop)), "invalid_body")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("values", ["NH", ["NH"], {"region": {"code": "NH"}}])
def test_values_of_the_wrong_shape_are_refused(client, chain, shop, endpoint, values, nothing_called):
    body = {**AMSTERDAM, "values": values}
    assert "values must be" in refused(post(client, chain.city, endpoint, body, **bearer(shop)), "invalid_body")


def test_verify_refuses_a_proof_and_keys_together(client, chain, shop, nothing_called):
    response = post(client, chain.city, "verify", {**AMSTERDAM, "proof": "a.b.c"}, **bearer(shop))
    assert "not both" in refused(response, "invalid_body")


@pytest.mark.parametrize("proof", [None, 5, "", ["a.b.c"]])
def test_verify_refuses_a_proof_that_is_not_a_text(client, chain, shop, proof, nothing_called):
    response = post(client, chain.city, "verify", {"proof": proof}, **bearer(shop))
    assert "proof must be" in refused(response, "invalid_body")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_item_the_token_does_not_grant_is_refused(client, chain, endpoint, nothing_called):
    application = make_application(name="Countries only", items=[chain.country, chain.city], origins=[])
    headers = bearer(application, items=[chain.country.pk])
    refused(post(client, chain.city, endpoint, AMSTERDAM, **headers), "item_not_granted", 403)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unknown_item_is_refused(client, chain, shop, endpoint, nothing_called):
    response = client.post(
        f"/api/items/987654/{endpoint}", data=json.dumps(AMSTERDAM), content_type="application/json", **bearer(shop)
    )
    refused(response, "item_not_granted", 403)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_unknown_item_is_not_found_for_a_session(client, chain, endpoint, django_user_model, nothing_called):
    client.force_login(django_user_model.objects.create_user("filler"))
    response = client.post(f"/api/items/987654/{endpoint}", data=json.dumps(AMSTERDAM), content_type="application/json")
    assert "no item 987654" in refused(response, "not_found", 404)


# --- a paginated item shown in slices ---------------------------------------------------------------------------


@pytest.fixture
def paged(start_server, trust_test_ca, client, django_user_model):
    """Products on a paginated API (10 a page), the first slice of them shown to a signed-in person."""
    server = start_server({})
    server.routes["/api/products"] = linked_products(server, total=95)
    item = paged_item(make_datasource(name="Big API", base_url=server.url("/api")))
    client.force_login(django_user_model.objects.create_user("filler"))
    assert client.get(f"/api/items/{item.pk}/options?offset=0&limit=10").status_code == 200
    server.pages_read = lambda: [page_of_path(r["path"]) for r in server.requests]
    return server, item


def test_a_key_of_the_pages_shown_is_checked_without_reading_more(client, paged):
    server, item = paged
    assert server.pages_read() == [1]
    response = post(client, item, "selections", {"keys": ["P00007"]})
    assert response.status_code == 200 and response.json()["labels"] == {"P00007": "Product 7"}
    assert server.pages_read() == [1]


def test_a_key_further_down_the_list_reads_on_to_find_it(client, paged):
    server, item = paged
    response = post(client, item, "selections", {"keys": ["P00042"]})
    assert response.status_code == 200 and response.json()["labels"] == {"P00042": "Product 42"}
    assert server.pages_read() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_a_key_on_no_page_is_not_an_option(client, paged):
    server, item = paged
    response = post(client, item, "selections", {"keys": ["P00096"]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_an_option"


# --- several values: a pre-filled key kept among new choices (issue 22) ------------------------------------------


@pytest.fixture
def typed_city(chain):
    """City whose text is required: an empty text is no search."""
    chain.city.user_input_optional = False
    chain.city.save()
    return chain.city


def test_a_prefilled_key_without_text_is_found_by_the_key_lookup(client, typed_city, shop, geo):
    body = {"keys": ["AMS", "HAA"], "q": ["", "haa"], "values": {"region": "NH"}}
    response = post(client, typed_city, "selections", body, **bearer(shop))
    assert response.status_code == 200, response.content
    claims = decode(response.json()["proof"], shop.secret, audience=str(shop.pk))
    assert claims["keys"] == ["AMS", "HAA"] and claims["labels"] == {"AMS": "Amsterdam", "HAA": "Haarlem"}
    assert sum(1 for r in geo.requests if r["path"].startswith("/geo/city?")) == 1


def test_a_prefilled_key_the_lookup_does_not_find_is_not_an_option(client, typed_city, shop):
    body = {"keys": ["AMS", "XYZ"], "q": ["", ""], "values": {"region": "NH"}}
    response = post(client, typed_city, "selections", body, **bearer(shop))
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_an_option"
    assert "“XYZ”" in response.json()["error"]["message"]
