"""Who may use an item (SPEC 11): every signed-in user by default, or the chosen groups; every item endpoint refuses
others with a JSON 403 item_not_allowed. Embedding tokens follow their application's grant."""

import pytest
from django.contrib.auth.models import Group

from items.models import Access
from tests.applications.conftest import make_application, mint
from tests.conftest import with_role

from .conftest import BASE_URL, ISSUES

pytestmark = pytest.mark.django_db

# Every item endpoint built with items.api.item_endpoint (other issues add theirs: they inherit the rule).
ITEM_ENDPOINTS = ["options", "field"]


@pytest.fixture
def hr(db):
    return Group.objects.create(name="HR")


@pytest.fixture
def restricted_item(item_factory, datasource_factory, hr):
    item = item_factory(datasource_factory(base_url=BASE_URL), access=Access.GROUPS)
    item.allowed_groups.add(hr)
    return item


@pytest.fixture
def filler(django_user_model):
    return django_user_model.objects.create_user("filler", "filler@example.com", "pw-filler-123")


@pytest.mark.parametrize("endpoint", ITEM_ENDPOINTS)
def test_a_user_outside_the_chosen_groups_gets_item_not_allowed(client, filler, restricted_item, endpoint):
    client.force_login(filler)

    response = client.get(f"/api/items/{restricted_item.pk}/{endpoint}?q=x")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "item_not_allowed"
    assert "chosen groups" in response.json()["error"]["message"]


@pytest.mark.parametrize("endpoint", ITEM_ENDPOINTS)
def test_a_member_of_a_chosen_group_may_use_the_item(client, filler, restricted_item, hr, upstream, fake_dns, endpoint):
    upstream.get(f"{BASE_URL}/search", json=ISSUES)
    filler.groups.add(hr)
    client.force_login(filler)

    response = client.get(f"/api/items/{restricted_item.pk}/{endpoint}?q=x")

    assert response.status_code == 200


def test_an_item_open_to_every_signed_in_user_is_the_default(client, filler, item_factory, datasource_factory):
    item = item_factory(datasource_factory(base_url=BASE_URL))
    client.force_login(filler)

    assert item.access == Access.SIGNED_IN
    assert client.get(f"/api/items/{item.pk}/field").status_code == 200


def test_connect_roles_may_use_every_item(client, django_user_model, restricted_item):
    viewer = with_role(
        django_user_model.objects.create_user("viewer", password="pw-viewer-123", is_staff=True), "Viewer"
    )
    client.force_login(viewer)

    assert client.get(f"/api/items/{restricted_item.pk}/field").status_code == 200


def test_a_group_removed_from_the_item_is_refused_at_the_next_request(client, filler, restricted_item, hr):
    filler.groups.add(hr)
    client.force_login(filler)
    assert client.get(f"/api/items/{restricted_item.pk}/field").status_code == 200

    restricted_item.allowed_groups.remove(hr)

    assert client.get(f"/api/items/{restricted_item.pk}/field").json()["error"]["code"] == "item_not_allowed"


def test_embedding_tokens_follow_their_application_not_the_groups(client, restricted_item):
    application = make_application(items=[restricted_item])
    token = mint(application)

    response = client.get(f"/api/items/{restricted_item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200


def test_the_item_page_sets_who_may_use_the_item(staff_client, restricted_item, hr):
    from tests.datasources.conftest import form_data

    data = form_data(staff_client.get(f"/items/{restricted_item.pk}/edit/"))
    data["access"] = Access.SIGNED_IN
    data.pop("allowed_groups", None)

    response = staff_client.post(f"/items/{restricted_item.pk}/edit/", data)

    assert response.status_code == 302
    restricted_item.refresh_from_db()
    assert restricted_item.access == Access.SIGNED_IN


def test_chosen_groups_without_a_group_is_refused_next_to_the_field(staff_client, item_factory, datasource_factory):
    from tests.datasources.conftest import errors_next_to, form_data

    item = item_factory(datasource_factory(base_url=BASE_URL))
    data = form_data(staff_client.get(f"/items/{item.pk}/edit/"))
    data["access"] = Access.GROUPS

    response = staff_client.post(f"/items/{item.pk}/edit/", data)

    assert response.status_code == 200
    assert errors_next_to(response, "allowed_groups") == [
        "Choose at least one group, or open the item to every signed-in user."
    ]
    item.refresh_from_db()
    assert item.access == Access.SIGNED_IN
