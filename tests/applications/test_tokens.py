"""Embedding tokens on the options endpoint: accepted, and each refusal at once with its own JSON code."""

import base64
import json
import time

import jwt
import pytest

from items.models import Item
from tests.conftest import make_datasource
from tests.support import geo_api

from .conftest import make_application, mint

pytestmark = pytest.mark.django_db

ORIGIN = "https://forms.example.com"
FORGED_SECRET = "s3cr3t-FORGED-APPLICATION-SECRET-0000"


@pytest.fixture
def geo(start_server, trust_test_ca):
    upstream = start_server(geo_api.ROUTES)
    return upstream, geo_api.make_chain(upstream)


@pytest.fixture
def item(db):
    """An item no test reaches the API of: refusals happen before any call."""
    return Item.objects.create(
        name="Assets", datasource=make_datasource(), query="/assets?q=$userInput", key_field="id", list_path=""
    )


@pytest.fixture
def application(item):
    return make_application(items=[item], origins=[ORIGIN])


def options(client, item, token, *, origin=ORIGIN, query="?q=printer", **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin
    return client.get(f"/api/items/{item.pk}/options{query}", **headers)


def refused(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    return body["error"]["message"]


def unsigned(header: dict, payload: dict) -> str:
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


# --- accepted ------------------------------------------------------------------------------------------------


def test_a_valid_token_gets_options_with_sub_as_current_user(client, geo):
    upstream, chain = geo
    item = Item.objects.create(
        name="Mine",
        datasource=chain.country.datasource,
        query="/cities?region=NH&q=$userInput&by=$currentUser",
        list_path="",
        key_field="code",
        label_template="{name}",
    )
    application = make_application(items=[item])
    token = mint(application, sub="shopper", email="shopper@example.com", name="Sam Shopper")
    response = options(client, item, token, query="?q=am")
    assert response.status_code == 200, response.content
    assert response.json()["options"] == [{"key": "AMS", "label": "Amsterdam"}, {"key": "ZAA", "label": "Zaandam"}]
    assert upstream.requests[-1]["path"] == "/geo/cities?region=NH&q=am&by=shopper"
    assert response.wsgi_request.caller.email == "shopper@example.com"
    assert response.wsgi_request.caller.display_name == "Sam Shopper"


def test_a_server_to_server_call_without_origin_is_accepted(client, geo):
    _upstream, chain = geo
    application = make_application(items=[chain.country], origins=[])
    response = options(client, chain.country, mint(application), origin=None, query="")
    assert response.status_code == 200
    assert [o["key"] for o in response.json()["options"]] == ["NL", "FR"]


def test_a_token_is_judged_alone_even_with_a_signed_in_session(client, application, item, django_user_model):
    client.force_login(django_user_model.objects.create_user("member", password="pw-member-123"))
    refused(options(client, item, mint(application, secret=FORGED_SECRET)), 401, "invalid_signature")
    refused(options(client, item, None, HTTP_AUTHORIZATION="Basic bWU6cHc="), 401, "invalid_token")


def test_two_applications_asking_the_same_query_share_the_cache_entry(client, geo):
    upstream, chain = geo
    first = make_application(name="One", items=[chain.country], origins=[])
    second = make_application(name="Two", items=[chain.country], origins=[])
    assert options(client, chain.country, mint(first), origin=None, query="").json()["cached"] is False
    again = options(client, chain.country, mint(second), origin=None, query="")
    assert again.status_code == 200 and again.json()["cached"] is True
    assert [r["path"] for r in upstream.requests].count("/geo/countries") == 1


# --- refused, each for its reason ----------------------------------------------------------------------------


def test_missing_signature(client, application, item):
    token = mint(application).rsplit(".", 1)[0] + "."
    refused(options(client, item, token), 401, "invalid_signature")


def test_forged_signature(client, application, item):
    refused(options(client, item, mint(application, secret=FORGED_SECRET)), 401, "invalid_signature")


def test_not_a_jwt(client, application, item):
    refused(options(client, item, "not-a-token"), 401, "invalid_token")


def test_expired(client, application, item):
    now = int(time.time())
    token = mint(application, iat=now - 900, exp=now - 300)
    message = refused(options(client, item, token), 401, "token_expired")
    assert "expired" in message


def test_not_yet_valid(client, application, item):
    now = int(time.time())
    refused(
        options(client, item, mint(application, nbf=now + 600, iat=now, exp=now + 1200)), 401, "token_not_yet_valid"
    )


def test_wrong_audience(client, application, item):
    refused(
        options(client, item, mint(application, audience="https://another-connect.example.com")), 401, "wrong_audience"
    )


def test_audience_is_connect_public_url_when_set(client, geo, settings):
    _upstream, chain = geo
    application = make_application(items=[chain.country], origins=[])
    settings.CONNECT_PUBLIC_URL = "https://connect.example.com/"
    refused(options(client, chain.country, mint(application), origin=None, query=""), 401, "wrong_audience")
    accepted = options(
        client, chain.country, mint(application, audience="https://connect.example.com"), origin=None, query=""
    )
    assert accepted.status_code == 200


def test_unknown_application(client, application, item):
    refused(options(client, item, mint(application, iss="999999")), 401, "unknown_application")
    refused(options(client, item, mint(application, iss="not-an-id")), 401, "unknown_application")
    refused(options(client, item, mint(application, omit=["iss"])), 401, "missing_claim")


def test_disabled_application(client, application, item):
    application.enabled = False
    application.save()
    refused(options(client, item, mint(application)), 403, "application_disabled")


def test_item_not_granted_by_the_token(client, application, item):
    other = Item.objects.create(name="Other", datasource=item.datasource, query="/x")
    application.items.add(other)
    refused(options(client, item, mint(application, items=[other.pk])), 403, "item_not_granted")


def test_item_not_granted_to_the_application(client, application, item):
    other = Item.objects.create(name="Other", datasource=item.datasource, query="/x")
    refused(options(client, other, mint(application, items=[item.pk, other.pk])), 403, "item_not_granted")
    refused(options(client, other, mint(application, items=[other.pk])), 403, "item_not_granted")


def test_origin_not_allowed(client, application, item):
    refused(options(client, item, mint(application), origin="https://evil.example.com"), 403, "origin_not_allowed")


def test_a_token_valid_for_more_than_an_hour(client, application, item):
    now = int(time.time())
    refused(options(client, item, mint(application, iat=now, exp=now + 3601)), 401, "token_lifetime_too_long")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "aud", "items"])
def test_a_required_claim_missing(client, application, item, claim):
    message = refused(options(client, item, mint(application, omit=[claim])), 401, "missing_claim")
    assert f"“{claim}”" in message


def test_alg_none(client, application, item):
    now = int(time.time())
    token = unsigned(
        {"alg": "none", "typ": "JWT"},
        {
            "iss": str(application.pk),
            "sub": "x",
            "aud": "http://testserver",
            "iat": now,
            "exp": now + 60,
            "items": [item.pk],
        },
    )
    refused(options(client, item, token), 401, "algorithm_not_allowed")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_any_algorithm_but_hs256(client, application, item, algorithm):
    token = mint(application, algorithm=algorithm, secret=application.secret * 2)  # long enough for the algorithm
    refused(options(client, item, token), 401, "algorithm_not_allowed")


def test_rs256_signed_with_a_key_of_its_own(client, application, item):
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(options(client, item, mint(application, secret=key, algorithm="RS256")), 401, "algorithm_not_allowed")


def test_a_refusal_names_only_its_reason(client, application, item):
    message = refused(
        options(client, item, mint(application, audience="https://elsewhere.example.com")), 401, "wrong_audience"
    )
    for detail in ("http://testserver", "elsewhere", ORIGIN, application.secret, str(item.pk)):
        assert detail not in message


def test_session_path_still_answers_not_authenticated_without_a_token(client, item):
    response = client.get(f"/api/items/{item.pk}/options?q=x")
    refused(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_field_description_uses_the_same_token_rules(client, application, item):
    response = client.get(
        f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {mint(application)}", HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 200
    assert response.json() == {
        "item": item.pk,
        "name": "Assets",
        "search": True,
        "searchable": False,
        "user_input_optional": False,
        "lookup": False,
        "dependencies": [],
    }
    refused(
        client.get(
            f"/api/items/{item.pk}/field",
            HTTP_AUTHORIZATION=f"Bearer {mint(application)}",
            HTTP_ORIGIN="https://evil.example.com",
        ),
        403,
        "origin_not_allowed",
    )
    refused(client.get(f"/api/items/{item.pk}/field"), 401, "not_authenticated")


def test_pyjwt_is_what_signs_in_these_tests(application):
    # The minted token verifies with PyJWT and the stored secret, as Connect does.
    token = mint(application)
    claims = jwt.decode(token, application.secret, algorithms=["HS256"], audience="http://testserver")
    assert claims["iss"] == str(application.pk)
