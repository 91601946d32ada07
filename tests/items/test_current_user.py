"""$currentUser and its parts, $currentUser.email and $currentUser.displayName, from the signed-in account."""

import pytest
from django.contrib.auth import get_user_model

from items.models import Item
from items.services import MissingVariable, evaluate_query
from items.services.evaluation import CurrentUser

from .conftest import BASE_URL


def item_with(query):
    return Item(name="Mine", query=query, dependencies=[])


def test_the_parts_are_replaced_and_url_encoded():
    me = CurrentUser(username="ada", email="ada+x@example.com", display_name="Ada Lovelace")
    evaluated = evaluate_query(
        item=item_with("/u?n=$currentUser&e=$currentUser.email&d=${currentUser.displayName}"), current_user=me
    )
    assert evaluated == "/u?n=ada&e=ada%2Bx%40example.com&d=Ada%20Lovelace"


def test_a_dot_after_a_plain_variable_stays_text():
    me = CurrentUser(username="ada")
    assert evaluate_query(item=item_with("/u/$currentUser.json"), current_user=me) == "/u/ada.json"


def test_display_name_falls_back_to_the_username_and_a_plain_username_still_works():
    assert evaluate_query(item=item_with("/u?d=$currentUser.displayName"), current_user="ada") == "/u?d=ada"


def test_a_missing_email_is_an_error_naming_it():
    with pytest.raises(MissingVariable) as caught:
        evaluate_query(item=item_with("/u?e=$currentUser.email"), current_user=CurrentUser(username="ada"))
    assert "$currentUser.email" in caught.value.message


@pytest.mark.django_db
def test_the_item_form_accepts_the_parts_and_refuses_unknown_ones(datasource_factory):
    from django.core.exceptions import ValidationError

    datasource = datasource_factory()
    Item(name="Ok", datasource=datasource, query="/u?e=$currentUser.email&d=$currentUser.displayName").full_clean()
    with pytest.raises(ValidationError) as caught:
        Item(name="Bad", datasource=datasource, query="/u?x=${currentUser.phone}").full_clean()
    assert "query" in caught.value.message_dict


@pytest.mark.django_db
def test_the_options_endpoint_uses_the_signed_in_account(
    client, item_factory, datasource_factory, upstream, fake_dns, redis
):
    item = item_factory(
        datasource_factory(base_url=BASE_URL),
        list_path="",
        key_field="id",
        label_template="",
        query="/mine?e=$currentUser.email&d=$currentUser.displayName",
    )
    upstream.get(f"{BASE_URL}/mine", json=[{"id": "x"}])
    for username, email in (("ada", "ada@example.com"), ("bob", "bob@example.com")):
        user = get_user_model().objects.create_user(
            username, email, "pw-123-long", first_name=username.title(), last_name="Test"
        )
        client.force_login(user)
        assert client.get(f"/api/items/{item.pk}/options").status_code == 200
    sent = [call.request.url for call in upstream.calls]
    assert sent == [
        f"{BASE_URL}/mine?e=ada%40example.com&d=Ada%20Test",
        f"{BASE_URL}/mine?e=bob%40example.com&d=Bob%20Test",
    ]
    # per-user values give per-user cache entries: one per person, each read back from the cache
    client.force_login(get_user_model().objects.get(username="ada"))
    assert client.get(f"/api/items/{item.pk}/options").json()["cached"] is True


@pytest.mark.django_db
def test_the_preview_fills_the_parts_from_the_admin_account(staff_client, item_factory, datasource_factory):
    item = item_factory(datasource_factory(base_url=BASE_URL), query="/mine?e=$currentUser.email")
    page = staff_client.get(f"/items/{item.pk}/preview/").content.decode()
    assert 'value="admin@example.com"' in page and "$currentUser.displayName" in page


@pytest.mark.django_db
def test_an_embedding_tokens_claims_are_the_current_user_and_its_parts(
    client, item_factory, datasource_factory, upstream, fake_dns
):
    from tests.applications.conftest import make_application, mint

    item = item_factory(
        datasource_factory(base_url=BASE_URL),
        list_path="",
        key_field="id",
        label_template="",
        query="/mine?u=$currentUser&e=$currentUser.email&d=$currentUser.displayName",
    )
    upstream.get(f"{BASE_URL}/mine", json=[{"id": "x"}])
    application = make_application(items=[item])
    token = mint(application, sub="grace", email="grace@example.com", name="Grace Hopper")
    response = client.get(f"/api/items/{item.pk}/options", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert upstream.calls[0].request.url == f"{BASE_URL}/mine?u=grace&e=grace%40example.com&d=Grace%20Hopper"
