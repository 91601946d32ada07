"""An item's lookup query (SPEC 9, labels of keys): validated like the query, with $key as its own variable, and
edited in the item form and the admin site."""

import pytest
from django.core.exceptions import ValidationError

from items.models import Item

from .test_pages import form_data


@pytest.fixture
def datasource(datasource_factory):
    return datasource_factory(base_url="https://api.example.com/rest")


def candidate(datasource, **fields):
    values = {"name": "Assets", "datasource": datasource, "query": "/assets?q=$userInput", "key_field": "id"}
    values.update(fields)
    return Item(**values)


def refusal(item, field="lookup_query") -> str:
    with pytest.raises(ValidationError) as caught:
        item.full_clean()
    return caught.value.message_dict[field][0]


@pytest.mark.parametrize(
    "fields",
    [
        {"lookup_query": "/assets/$key"},
        {"lookup_query": "/assets?id=${key}&by=$currentUser.email"},
        {"lookup_query": "/regions/$country/cities/$key", "dependencies": [{"name": "country", "optional": False}]},
        {"lookup_method": "POST", "lookup_body_template": '{"ids": ["$key"]}'},
        {"lookup_query": "/search", "lookup_method": "POST", "lookup_body_template": '{"id": $key}'},
    ],
)
def test_a_lookup_query_is_accepted(datasource, fields):
    item = candidate(datasource, **fields)
    item.full_clean()
    assert item.has_lookup


def test_an_item_without_a_lookup_query_has_none(datasource):
    item = candidate(datasource)
    item.full_clean()
    assert not item.has_lookup


def test_a_lookup_must_use_key(datasource):
    assert "must use $key" in refusal(candidate(datasource, lookup_query="/assets/all"))


def test_a_post_lookup_must_use_key_in_its_query_or_body(datasource):
    item = candidate(datasource, lookup_method="POST", lookup_body_template='{"all": true}')
    assert "query or its body must use $key" in refusal(item)


def test_a_lookup_has_no_typed_text(datasource):
    assert "use $key" in refusal(candidate(datasource, lookup_query="/assets/$key?q=$userInput"))


def test_an_unknown_variable_in_the_lookup_is_refused(datasource):
    message = refusal(candidate(datasource, lookup_query="/assets/$key?region=$region"))
    assert "Unknown variable $region" in message and "$key" in message


def test_the_lookup_follows_the_query_url_rules(datasource):
    assert refusal(candidate(datasource, lookup_query="https://elsewhere.example.com/assets/$key"))


def test_an_unclosed_brace_in_the_lookup_is_refused(datasource):
    assert "is not closed" in refusal(candidate(datasource, lookup_query="/assets/${key"))


def test_a_lookup_body_needs_the_post_method(datasource):
    item = candidate(datasource, lookup_query="/assets/$key", lookup_body_template='{"id": "$key"}')
    assert "choose POST as the lookup method" in refusal(item, "lookup_body_template")


def test_a_lookup_body_must_be_json(datasource):
    item = candidate(datasource, lookup_method="POST", lookup_body_template='{"id": $key')
    assert "not valid JSON" in refusal(item, "lookup_body_template")


def test_a_dependency_named_key_would_hide_the_lookups_key(datasource):
    item = candidate(datasource, lookup_query="/assets/$key", dependencies=[{"name": "key", "optional": False}])
    assert "named “key”" in refusal(item)


# --- the item form and the admin --------------------------------------------------------------------------------


def test_the_item_form_edits_the_lookup_query(staff_client, datasource):
    page = staff_client.get("/items/new/").content.decode()
    assert 'name="lookup_query"' in page and 'name="lookup_method"' in page and "Labels of keys" in page
    response = staff_client.post("/items/new/", form_data(datasource, lookup_query="/cities/$key"))
    assert response.status_code == 302
    assert Item.objects.get(name="Cities").lookup_query == "/cities/$key"


def test_a_form_posted_without_the_lookup_method_keeps_get(staff_client, datasource):
    response = staff_client.post("/items/new/", form_data(datasource))
    assert response.status_code == 302
    item = Item.objects.get(name="Cities")
    assert item.lookup_method == "GET" and not item.has_lookup


def test_a_bad_lookup_query_is_shown_next_to_the_field_and_nothing_is_saved(staff_client, datasource):
    response = staff_client.post("/items/new/", form_data(datasource, lookup_query="/cities/all"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_lookup_query_error"' in page and "must use $key" in page
    assert not Item.objects.exists()


def test_an_edit_with_a_bad_lookup_changes_nothing(staff_client, datasource):
    item = Item.objects.create(name="Cities", datasource=datasource, query="/cities", lookup_query="/cities/$key")
    version = item.config_version
    response = staff_client.post(f"/items/{item.pk}/edit/", form_data(datasource, lookup_query="/cities/$nope"))
    assert response.status_code == 200 and "Unknown variable $nope" in response.content.decode()
    item.refresh_from_db()
    assert item.lookup_query == "/cities/$key" and item.config_version == version


def test_the_item_page_shows_the_lookup_query(staff_client, datasource):
    item = Item.objects.create(name="Cities", datasource=datasource, query="/cities", lookup_query="/cities/$key")
    page = staff_client.get(f"/items/{item.pk}/preview/").content.decode()
    assert "Key lookup" in page and "GET /cities/$key" in page


def test_the_admin_edits_the_lookup_query(client, django_user_model, datasource):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    item = Item.objects.create(name="Cities", datasource=datasource, query="/cities")
    page = client.get(f"/admin/items/item/{item.pk}/change/").content.decode()
    assert 'name="lookup_query"' in page and 'name="lookup_body_template"' in page
