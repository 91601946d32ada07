"""Applications kept per process: disabling, rotating, re-granting or deleting is seen at the next request."""

import pytest

from applications.services import secret as secrets_service
from applications.services.lookup import application_lookup
from items.models import Item
from tests.conftest import make_datasource

from .conftest import make_application, mint

pytestmark = pytest.mark.django_db

ORIGIN = "https://forms.example.com"


@pytest.fixture
def item(db):
    return Item.objects.create(name="Assets", datasource=make_datasource(), query="/assets", key_field="id")


def field(client, item, token, origin=ORIGIN):
    return client.get(f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=origin)


def test_disabling_takes_effect_at_the_next_request(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    token = mint(application)
    assert field(client, item, token).status_code == 200
    application.enabled = False
    application.save()
    assert field(client, item, token).json()["error"]["code"] == "application_disabled"


def test_rotating_the_secret_takes_effect_at_the_next_request(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    old = mint(application)
    assert field(client, item, old).status_code == 200
    secrets_service.rotate_secret(application=application)
    assert field(client, item, old).json()["error"]["code"] == "invalid_signature"
    assert field(client, item, mint(application)).status_code == 200


def test_a_removed_grant_and_a_removed_origin_are_seen_at_once(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    token = mint(application)
    assert field(client, item, token).status_code == 200
    application.items.remove(item)
    assert field(client, item, token).json()["error"]["code"] == "item_not_granted"
    item.applications.add(application)  # granted again, from the item's side
    assert field(client, item, token).status_code == 200
    application.allowed_origins = ["https://other.example.com"]
    application.save()
    assert field(client, item, token).json()["error"]["code"] == "origin_not_allowed"


def test_a_deleted_application_is_unknown_at_once(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    token = mint(application)
    assert field(client, item, token).status_code == 200
    application.delete()
    assert field(client, item, token).json()["error"]["code"] == "unknown_application"


def test_an_unchanged_application_is_not_loaded_again(client, item, django_assert_num_queries):
    application = make_application(items=[item], origins=[ORIGIN])
    token = mint(application)
    assert field(client, item, token).status_code == 200
    # The application's version, the item's versions: no row load, no grant query, no decryption.
    with django_assert_num_queries(2):
        assert field(client, item, token).status_code == 200
    assert application_lookup.find_application(application.pk).secret == application.secret


def test_a_remembered_token_still_expires(client, item, monkeypatch):
    import time as real_time

    from applications.services import tokens

    application = make_application(items=[item], origins=[ORIGIN])
    token = mint(application, lifetime=60)
    assert field(client, item, token).status_code == 200  # verified and remembered
    later = real_time.time() + 60 + tokens.LEEWAY_SECONDS + 1
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    assert field(client, item, token).json()["error"]["code"] == "token_expired"
