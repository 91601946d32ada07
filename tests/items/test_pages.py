"""Item pages for staff: list, create, edit, delete and the preview."""

import pytest
from django.contrib.auth import get_user_model

from items.models import Item
from tests.conftest import saved_first_by_a_colleague
from tests.datasources.conftest import errors_next_to

from .conftest import BASE_URL, ISSUES
from .test_resolution import DOWN_CACHES

SEARCH_URL = f"{BASE_URL}/search"


@pytest.fixture
def datasource(datasource_factory):
    return datasource_factory(base_url=BASE_URL)


@pytest.fixture
def item(item_factory, datasource):
    datasource.documentation_url = "https://docs.example.com/api"
    datasource.save()
    return item_factory(datasource)


def form_data(datasource, **overrides):
    data = {
        "name": "Cities",
        "datasource": datasource.pk,
        "query": "/cities?country=$country&q=$userInput",
        "dependencies": "country, region?",
        "list_path": "",
        "key_field": "id",
        "label_template": "{name}",
        "max_options": "50",
        "method": "GET",
        "pagination": "none",
        "page_start": "1",
        "page_step": "1",
        "max_pages": "5",
    }
    data.update(overrides)
    return data


def preview(client, item, **fields):
    data = {"user_input": "", "current_user": "admin"}
    data.update(fields)
    return client.post(f"/items/{item.pk}/preview/", data)


# --- access -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/items/", "/items/new/", "/items/{pk}/edit/", "/items/{pk}/delete/", "/items/{pk}/preview/"]
)
def test_pages_send_anonymous_visitors_to_login_and_refuse_non_staff(client, item, path):
    url = path.format(pk=item.pk)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    assert client.get(url).status_code == 403


def test_items_link_in_the_navigation_for_staff(staff_client):
    assert b'href="/items/"' in staff_client.get("/datasources/").content


# --- list, create, edit, delete -----------------------------------------------------------------------------


def test_list_shows_items_with_their_datasource(staff_client, item):
    page = staff_client.get("/items/").content.decode()
    assert "Issues" in page and "Jira" in page and f"/items/{item.pk}/preview/" in page


def test_create_saves_dependencies_and_goes_to_the_preview(staff_client, datasource):
    response = staff_client.post("/items/new/", form_data(datasource))
    item = Item.objects.get(name="Cities")
    assert response.status_code == 302 and response["Location"] == f"/items/{item.pk}/preview/"
    assert item.dependencies == [{"name": "country", "optional": False}, {"name": "region", "optional": True}]


def test_create_with_an_invalid_query_shows_the_error_and_saves_nothing(staff_client, datasource):
    response = staff_client.post("/items/new/", form_data(datasource, query="https://evil.example.com/x"))
    assert response.status_code == 200
    assert "not a full URL" in response.content.decode()
    assert not Item.objects.exists()


def test_create_refuses_a_query_variable_that_is_not_declared(staff_client, datasource):
    response = staff_client.post("/items/new/", form_data(datasource, dependencies=""))
    assert "Unknown variable $country" in response.content.decode()
    assert not Item.objects.exists()


def test_a_name_taken_while_the_form_was_checked_is_an_error_next_to_the_name(staff_client, datasource):
    with saved_first_by_a_colleague(Item, name="CITIES", datasource=datasource, query="/cities"):
        response = staff_client.post("/items/new/", form_data(datasource))

    assert response.status_code == 200
    assert errors_next_to(response, "name") == ["An item with this name already exists (names ignore case)."]
    assert not Item.objects.filter(name="Cities").exists()


def test_create_refuses_a_duplicate_name(staff_client, datasource, item):
    response = staff_client.post("/items/new/", form_data(datasource, name="ISSUES"))
    assert "already exists" in response.content.decode()
    assert Item.objects.count() == 1


def test_edit_shows_dependencies_as_typed_and_saves_a_new_version(staff_client, datasource):
    staff_client.post("/items/new/", form_data(datasource))
    item = Item.objects.get()
    page = staff_client.get(f"/items/{item.pk}/edit/").content.decode()
    assert 'value="country, region?"' in page
    old_version = item.config_version
    response = staff_client.post(f"/items/{item.pk}/edit/", form_data(datasource, max_options="5"))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.max_options == 5 and item.config_version != old_version


def test_delete_asks_then_removes(staff_client, item):
    assert "cannot be undone" in staff_client.get(f"/items/{item.pk}/delete/").content.decode()
    assert Item.objects.filter(pk=item.pk).exists()
    response = staff_client.post(f"/items/{item.pk}/delete/")
    assert response.status_code == 302 and not Item.objects.filter(pk=item.pk).exists()


# --- preview ------------------------------------------------------------------------------------------------


def test_preview_form_defaults_current_user_and_links_the_documentation(staff_client, item):
    page = staff_client.get(f"/items/{item.pk}/preview/").content.decode()
    assert 'name="current_user" value="admin"' in page
    assert '<a href="https://docs.example.com/api" target="_blank" rel="noopener noreferrer">' in page
    assert 'data-busy="Previewing…"' in page


def test_preview_shows_query_cache_status_upstream_raw_answer_and_options(staff_client, item, upstream, fake_dns):
    upstream.get(SEARCH_URL, json=ISSUES)
    page = preview(staff_client, item, user_input="print er").content.decode()
    assert "/search?q=print%20er" in page
    assert "Cache miss" in page and "HTTP 200" in page
    assert "&quot;summary&quot;: &quot;Printer on fire&quot;" in page  # pretty-printed raw JSON
    assert "OPS-1 - Printer on fire" in page and "Options (2)" in page
    again = preview(staff_client, item, user_input="print er").content.decode()
    assert "Cache hit" in again and "not called (cached answer)" in again
    assert len(upstream.calls) == 1


def test_preview_shows_a_missing_variable_as_a_message(staff_client, item, upstream, fake_dns):
    page = preview(staff_client, item, user_input="").content.decode()
    assert "The preview failed" in page and "No value for $userInput" in page
    assert "Traceback" not in page and len(upstream.calls) == 0


def test_preview_shows_the_raw_answer_when_extraction_fails(staff_client, item, upstream, fake_dns):
    upstream.get(SEARCH_URL, json={"values": [{"id": "7"}]})
    page = preview(staff_client, item, user_input="x").content.decode()
    assert "The answer has no “issues”" in page
    assert "&quot;values&quot;" in page  # the raw answer helps to fix the path


def test_preview_shows_an_upstream_error_readably(staff_client, item, upstream, fake_dns):
    upstream.get(SEARCH_URL, status=500, body="database is down")
    response = preview(staff_client, item, user_input="x")
    page = response.content.decode()
    assert response.status_code == 200
    # Staff see the client's message (redacted URL and the start of the answer); the endpoint does not.
    assert "The preview failed" in page and "HTTP 500" in page and "database is down" in page
    assert "Traceback" not in page


@pytest.mark.parametrize(
    "failure",
    [{"status": 500, "body": "database is down"}, {"json": {"values": [{"id": "7"}]}}],
    ids=["upstream error", "extraction error"],
)
def test_a_failed_preview_never_says_its_answer_was_cached(staff_client, item, upstream, fake_dns, failure):
    upstream.get(SEARCH_URL, **failure)

    page = preview(staff_client, item, user_input="x").content.decode()

    assert "The preview failed" in page
    assert "cached for" not in page and "Cache miss" not in page and "Cache hit" not in page
    assert "not cached: a failed answer is never cached" in page
    again = preview(staff_client, item, user_input="x").content.decode()
    assert "Cache hit" not in again and len(upstream.calls) == 2  # and indeed nothing was cached


def test_preview_truncates_a_long_raw_answer(staff_client, item, upstream, fake_dns):
    issues = [{"key": f"OPS-{n}", "fields": {"summary": "x" * 200}} for n in range(200)]
    upstream.get(SEARCH_URL, json={"issues": issues})
    page = preview(staff_client, item, user_input="x").content.decode()
    assert "Showing the first 20000 of" in page
    assert "Options (100)" in page  # max_options


def test_preview_fills_dependencies(staff_client, item_factory, datasource, upstream, fake_dns):
    item = item_factory(
        datasource,
        name="Cities",
        query="/cities?country=$country&region=$region",
        dependencies=["country", "region?"],
        list_path="",
        key_field="id",
        label_template="",
    )
    upstream.get(f"{BASE_URL}/cities", json=[{"id": "AMS"}])
    page = staff_client.get(f"/items/{item.pk}/preview/").content.decode()
    assert 'name="dep_country"' in page and 'name="dep_region"' in page
    preview(staff_client, item, dep_country="NL")
    assert upstream.calls[0].request.url == f"{BASE_URL}/cities?country=NL&region="


def test_preview_says_when_redis_is_down(staff_client, item, upstream, fake_dns, settings):
    settings.CACHES = DOWN_CACHES
    upstream.get(SEARCH_URL, json=ISSUES)
    page = preview(staff_client, item, user_input="x").content.decode()
    assert "Cache unavailable" in page and "OPS-1 - Printer on fire" in page


def test_preview_can_bypass_the_cache(staff_client, item, upstream, fake_dns):
    upstream.get(SEARCH_URL, json=ISSUES)
    preview(staff_client, item, user_input="x")
    page = preview(staff_client, item, user_input="x", bypass_cache="on").content.decode()
    assert "Cache bypassed" in page and len(upstream.calls) == 2


def test_preview_is_a_csrf_protected_post(client, staff_user, item):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user)
    assert csrf_client.post(f"/items/{item.pk}/preview/", {"user_input": "x"}).status_code == 403


def test_items_are_in_the_admin_site(client, item, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("support", "s@example.com", "pw-support-1"))
    assert "Issues" in client.get("/admin/items/item/").content.decode()
    page = client.get(f"/admin/items/item/{item.pk}/change/").content.decode()
    assert item.config_version in page and "/search?q=$userInput" in page
