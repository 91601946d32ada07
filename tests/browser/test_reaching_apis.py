"""SPEC 12 as a person sees it: the item's cache lifetime and "Refresh now"; the datasource's proxy, client
certificate and login-call sections."""

import pytest

from items.models import Item
from tests.conftest import make_datasource

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_refresh_now_and_the_cache_lifetime_on_the_item_pages(signed_in, live_server, screenshot):
    item = Item.objects.create(
        name="Countries", datasource=make_datasource(name="Reference data"), query="/countries", key_field="code"
    )
    page = signed_in
    page.goto(f"{live_server.url}/items/{item.pk}/edit/")
    page.get_by_label("Answers are kept for (seconds)").fill("86401")
    page.get_by_role("button", name="Save").click()
    field = page.locator(".field", has=page.locator("[name='cache_seconds']"))
    assert "from 0 (answers are never kept) to 86,400 (24 hours)" in field.locator(".errorlist").inner_text()
    field.scroll_into_view_if_needed()
    screenshot("bad-lifetime")
    page.get_by_label("Answers are kept for (seconds)").fill("86400")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/items/{item.pk}/preview/")
    assert "1 day (86400 s)" in page.locator(".props").first.inner_text()

    page.get_by_role("button", name="Refresh now").click()
    page.wait_for_url(f"{live_server.url}/items/{item.pk}/preview/#cache")
    assert "Cached answers of “Countries” dropped: the next request calls the API." in page.content()
    screenshot("refreshed")
