"""CORS on the item API only, for each application's own origins, never with credentials."""

import pytest

from items.models import Item
from tests.conftest import make_datasource

from .conftest import make_application, mint

pytestmark = pytest.mark.django_db

ORIGIN = "https://forms.example.com"


@pytest.fixture
def item(db):
    return Item.objects.create(name="Assets", datasource=make_datasource(), query="/assets", key_field="id")


def preflight(client, path, origin=ORIGIN):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


@pytest.mark.parametrize("endpoint", ["options", "field"])
def test_a_preflight_from_an_enabled_applications_origin_is_allowed(client, item, endpoint):
    make_application(items=[item], origins=[ORIGIN])
    response = preflight(client, f"/api/items/{item.pk}/{endpoint}")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("case", ["unknown origin", "disabled application", "item not granted"])
def test_a_preflight_is_not_allowed_otherwise(client, item, case):
    other = Item.objects.create(name="Other", datasource=item.datasource, query="/x")
    make_application(
        items=[other if case == "item not granted" else item], origins=[ORIGIN], enabled=case != "disabled application"
    )
    origin = "https://evil.example.com" if case == "unknown origin" else ORIGIN
    response = preflight(client, f"/api/items/{item.pk}/options", origin=origin)
    assert "Access-Control-Allow-Origin" not in response


def test_cors_is_never_answered_outside_the_item_api(client, item):
    make_application(items=[item], origins=[ORIGIN])
    for path in ("/api/datasources/", "/login/", f"/items/{item.pk}/try/", "/static/connect-field.js"):
        response = client.get(path, HTTP_ORIGIN=ORIGIN)
        assert "Access-Control-Allow-Origin" not in response, path
    assert "Access-Control-Allow-Origin" not in preflight(client, "/api/datasources/")


def test_an_accepted_token_request_carries_its_origin_and_no_credentials(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    response = client.get(
        f"/api/items/{item.pk}/field", HTTP_ORIGIN=ORIGIN, HTTP_AUTHORIZATION=f"Bearer {mint(application)}"
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in response
    assert "origin" in response["Vary"].lower()


def test_a_refused_origin_can_read_its_json_error_when_another_application_lists_it(client, item):
    make_application(name="Shop", items=[item], origins=["https://shop.example.com"])
    intranet = make_application(name="Intranet", items=[item], origins=[ORIGIN])
    response = client.get(
        f"/api/items/{item.pk}/options?q=x",
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_AUTHORIZATION=f"Bearer {mint(intranet)}",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"


def test_a_signed_in_session_is_not_readable_cross_origin(client, item, django_user_model):
    client.force_login(django_user_model.objects.create_user("member", password="pw-member-123"))
    response = client.get(f"/api/items/{item.pk}/field", HTTP_ORIGIN="https://evil.example.com")
    assert response.status_code == 200  # the page itself may ask; another origin cannot read it
    assert "Access-Control-Allow-Origin" not in response


# --- the trusted-choice endpoints (SPEC 9): the same rules, POST with a JSON body included ------------------------


@pytest.mark.parametrize("endpoint", ["selections", "verify"])
def test_a_json_post_preflight_from_an_enabled_applications_origin_is_allowed(client, item, endpoint):
    make_application(items=[item], origins=[ORIGIN])
    response = client.options(
        f"/api/items/{item.pk}/{endpoint}",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = response["Access-Control-Allow-Headers"]
    assert "authorization" in allowed and "content-type" in allowed
    assert "Access-Control-Allow-Credentials" not in response


def test_a_labels_preflight_from_an_enabled_applications_origin_is_allowed(client, item):
    make_application(items=[item], origins=[ORIGIN])
    response = preflight(client, f"/api/items/{item.pk}/labels")
    assert response["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("endpoint", ["selections", "verify", "labels"])
def test_a_trusted_choice_preflight_from_an_unknown_origin_is_not_allowed(client, item, endpoint):
    make_application(items=[item], origins=[ORIGIN])
    response = preflight(client, f"/api/items/{item.pk}/{endpoint}", origin="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in response


def test_an_accepted_token_post_carries_its_origin(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    response = client.post(
        f"/api/items/{item.pk}/verify",
        data='{"proof": "not.a.proof"}',
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {mint(application)}",
    )
    assert response.status_code == 200 and response.json() == {"valid": False, "reason": "proof_forged"}
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in response


def test_a_post_from_an_origin_its_application_does_not_list_is_refused(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    response = client.post(
        f"/api/items/{item.pk}/selections",
        data='{"keys": ["A"]}',
        content_type="application/json",
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_AUTHORIZATION=f"Bearer {mint(application)}",
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response
