"""The banner that says what an action did (Django's messages, templates/base.html): axe finds no serious or critical
violation on a page showing one, for each kind of message and for several at once (Chromium)."""

import re

import pytest

from applications.models import Application
from items.models import Binding, Item
from tests.conftest import make_datasource

pytestmark = pytest.mark.django_db(transaction=True)


def serious_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_message_page_is_clean(page, screenshot, name: str, text: str):
    banner = page.get_by_role("status")
    assert text in banner.inner_text(), name
    assert serious_violations(page) == [], name
    screenshot(name)


def test_pages_showing_messages_have_no_serious_accessibility_violation(signed_in, live_server, screenshot):
    page = signed_in
    datasource = make_datasource(name="Geo API")
    country = Item.objects.create(name="Country", datasource=datasource, query="/countries", key_field="code")
    region = Item.objects.create(
        name="Region", datasource=datasource, query="/regions?c=$country", dependencies=[{"name": "country"}]
    )
    Binding.objects.create(item=region, dependency="country", source=country)  # Region's page lists its binding

    # The application's "secret shown once" page, right after creating it (where axe found `listitem`).
    page.goto(f"{live_server.url}/applications/new/")
    page.get_by_label("Name").fill("Intranet forms")
    page.get_by_role("button", name="Create application").click()
    page.wait_for_url(re.compile(r".*/applications/\d+/secret/$"))
    assert_message_page_is_clean(page, screenshot, "secret-shown", "created")

    application = Application.objects.get()
    page.goto(f"{live_server.url}/applications/{application.pk}/")
    page.get_by_role("button", name="Disable").click()
    assert_message_page_is_clean(page, screenshot, "application-disabled", "disabled")

    # An error message: the test connection to an address Connect refuses (a private one, not allowed here).
    unreachable = make_datasource(name="Internal", base_url="https://127.0.0.1:9/api")
    page.goto(f"{live_server.url}/datasources/{unreachable.pk}/")
    page.get_by_role("button", name="Test connection").click()
    page.locator(".message.error").wait_for()
    assert_message_page_is_clean(page, screenshot, "test-connection-failed", "")

    page.goto(f"{live_server.url}/items/{region.pk}/edit/")
    page.get_by_role("button", name="Save").click()
    assert_message_page_is_clean(page, screenshot, "item-saved", "saved")

    page.goto(f"{live_server.url}/applications/{application.pk}/delete/")
    page.get_by_role("button", name="Delete").click()
    assert_message_page_is_clean(page, screenshot, "application-deleted", "deleted")
