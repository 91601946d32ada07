"""A form sent back with errors (Chromium): a summary at the top ("There is a problem") takes the focus and links
to each field in error; each field keeps its own error next to it, described by it; axe finds no serious violation
(no list broken by a role given to its <ul>)."""

import pytest

from items.models import Item
from tests.browser.test_messages import serious_violations
from tests.conftest import make_datasource

pytestmark = pytest.mark.django_db(transaction=True)


def assert_summary_leads_to(page, field_label: str, field_id: str):
    summary = page.locator("[data-error-summary]")
    assert summary.get_by_role("heading", name="There is a problem").is_visible()
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    link = summary.get_by_role("link", name=field_label).first
    assert link.get_attribute("href") == f"#{field_id}"
    link.click()
    assert page.evaluate("document.activeElement.id") == field_id


def test_the_item_form_with_errors_has_a_summary_and_no_broken_list(signed_in, live_server, screenshot):
    page = signed_in
    make_datasource(name="Geo API")
    page.goto(f"{live_server.url}/items/new/")
    page.get_by_role("button", name="Create item").click()

    assert page.locator("#id_name_error").inner_text()
    assert "id_name_error" in page.locator("#id_name").get_attribute("aria-describedby")
    assert serious_violations(page) == []
    screenshot("item-form-errors")
    assert_summary_leads_to(page, "Name", "id_name")


def test_the_application_form_with_errors_has_a_summary_and_no_broken_list(signed_in, live_server, screenshot):
    page = signed_in
    Item.objects.create(name="Country", datasource=make_datasource(name="Geo API"), query="/countries")
    page.goto(f"{live_server.url}/applications/new/")
    page.get_by_label("Allowed web origins").fill("http://plain.example.com")
    page.get_by_role("button", name="Create application").click()

    assert "Only https://" in page.locator("#id_allowed_origins_error").inner_text()
    assert serious_violations(page) == []
    screenshot("application-form-errors")
    assert_summary_leads_to(page, "Name", "id_name")


def test_the_datasource_form_with_errors_has_the_same_summary(signed_in, live_server, screenshot):
    page = signed_in
    datasource = make_datasource(name="Geo API")
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/edit/")
    page.get_by_label("Base URL").fill("http://plain.example.com")
    page.get_by_role("button", name="Save").click()

    assert serious_violations(page) == []
    screenshot("datasource-form-errors")
    assert_summary_leads_to(page, "Base URL", "id_base_url")
