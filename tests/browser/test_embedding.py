"""The widget embedded in a page of another web origin, with an embedding token minted in the test: options load
from an allowed origin; from an origin the application does not list, the CORS refusal shows in the widget."""

import html

import pytest

from tests.applications.conftest import make_application, mint
from tests.support import geo_api
from tests.support.page_server import PageServer

pytestmark = [pytest.mark.django_db(transaction=True)]

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Order form</title>
<link rel="stylesheet" href="{connect}/static/connect-field.css">
<script src="{connect}/static/connect-field.js" data-connect-url="{connect}"
 data-connect-token="{token}" defer></script>
</head><body><main><h1>Order form</h1><form method="get" action="/sent">
<label for="country">Country</label><input id="country" name="country" data-connect-item="{country}">
<label for="region">Region</label>
<input id="region" name="region" data-connect-item="{region}" data-connect-depends="country=#country">
<button type="submit">Send</button></form></main></body></html>"""


@pytest.fixture
def embedding(live_server, start_server, trust_test_ca):
    upstream = start_server(geo_api.ROUTES)
    chain = geo_api.make_chain(upstream)
    pages = PageServer({})
    application = make_application(
        name="Shop", items=[chain.country, chain.region], origins=[pages.origin("127.0.0.1")]
    )
    token = mint(application, audience=live_server.url, sub="shopper", email="shopper@example.com", name="Sam Shopper")
    pages.pages["/order.html"] = PAGE.format(
        connect=live_server.url, token=html.escape(token), country=chain.country.pk, region=chain.region.pk
    )
    yield pages, chain, application
    pages.stop()


def test_an_allowed_origin_loads_options_with_the_token(page, embedding, screenshot):
    pages, chain, application = embedding
    seen = []
    page.on("request", lambda request: seen.append(request))
    page.goto(f"{pages.origin('127.0.0.1')}/order.html")
    country = page.get_by_label("Country")
    country.locator("option", has_text="Netherlands").wait_for(state="attached")
    country.select_option(label="France")
    region = page.get_by_label("Region")
    region.locator("option", has_text="Île-de-France").wait_for(state="attached")
    screenshot("embedded")
    api_calls = [r for r in seen if "/api/items/" in r.url]
    assert api_calls and all(r.headers.get("authorization", "").startswith("Bearer ") for r in api_calls)
    assert all("cookie" not in r.headers for r in api_calls)
    region.select_option(label="Île-de-France")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/sent?*")
    assert "country=FR" in page.url and "region=IDF" in page.url
    application.refresh_from_db()
    assert application.last_used_at is not None


def test_an_origin_the_application_does_not_list_shows_the_cors_refusal(page, embedding, screenshot):
    pages, chain, application = embedding
    page.goto(f"{pages.origin('localhost')}/order.html")  # same server, another origin
    status = page.locator(".connect-field-status.is-error").first
    status.wait_for()
    assert "does not allow this page's origin (CORS)" in status.inner_text()
    assert page.get_by_label("Country").locator("option").count() == 0
    screenshot("refused")
