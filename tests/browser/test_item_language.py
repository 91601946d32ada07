"""An item with a POST body, a JSONPath filter and pagination, created and previewed in Chromium."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from items.models import Item
from tests.conftest import make_datasource
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db(transaction=True)]


def search_pages(server):
    """POST /rest/search?page=N: two pages of people, some inactive."""

    def route(handler):
        page = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        people = [{"login": f"user{page}{n}", "name": f"Person {page}.{n}", "active": n != 2} for n in range(1, 4)]
        headers = [("Link", f'<{server.url("/rest/search")}?page=2>; rel="next"')] if page == 1 else []
        srv.send(handler, 200, json.dumps({"data": {"people": people}}).encode(), headers=headers)

    return route


def test_a_post_item_with_a_filter_and_pages_is_made_and_previewed(
    signed_in, live_server, screenshot, start_server, trust_test_ca
):
    page = signed_in
    upstream = start_server({})
    upstream.routes["/rest/search"] = search_pages(upstream)
    datasource = make_datasource(name="Directory", base_url=upstream.url("/rest"))
    page.goto(f"{live_server.url}/items/new/")
    body = page.get_by_label("JSON body", exact=True)
    assert not body.is_visible()  # GET: the body field is hidden until POST is chosen
    page.locator("#id_name").fill("People")
    page.locator("#id_datasource").select_option(str(datasource.pk))
    page.locator("#id_query").fill("/search")
    page.get_by_label("POST (with a JSON body)").check()
    assert body.is_visible()
    body.fill('{"query": "$userInput", "limit": 3')  # not JSON yet: refused next to the field
    page.get_by_label("Path to the list").fill("$.data.people[?@.active == true]")
    page.get_by_label("Key field").fill("$.login")
    page.locator("#id_label_template").fill("name")
    page.locator("#id_pagination").select_option("link")
    assert page.get_by_label("Page cap").is_visible() and not page.get_by_label("Page parameter").is_visible()
    page.get_by_role("button", name="Create item").click()
    error = page.locator(".field.has-error").filter(has=page.get_by_label("JSON body", exact=True))
    assert "The body is not valid JSON" in error.inner_text()
    screenshot("body-error")
    assert not Item.objects.exists()
    page.get_by_label("JSON body", exact=True).fill('{"query": "$userInput", "limit": 3}')
    page.get_by_role("button", name="Create item").click()
    page.get_by_role("button", name="Preview").wait_for()
    page.get_by_label("$userInput").fill('pe"rs')
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("Calls made (2)").wait_for()
    options = page.locator("section", has_text="Options (4)")
    assert options.is_visible() and "Person 1.3" in options.inner_text() and "Person 1.2" not in options.inner_text()
    assert '{"query": "pe\\"rs", "limit": 3}' in page.locator("section", has_text="Calls made").inner_text()
    assert [json.loads(r["body"]) for r in upstream.requests] == [{"query": 'pe"rs', "limit": 3}] * 2
    screenshot("preview")
