"""What a person does on the datasource pages, in Chromium."""

import pytest

from datasources.models import Datasource
from tests.conftest import SECRET_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def go_to_configuration(page, live_server, name="Jira Cloud"):
    page.goto(f"{live_server.url}/datasources/")
    page.get_by_role("link", name="Create datasource").click()
    page.get_by_label("REST API").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/datasources/new/configuration/")


def header_rows(page):
    return page.locator("#headers [data-formset-row]:visible")


def test_wizard_creates_a_datasource_with_headers_added_and_removed(signed_in, live_server, screenshot):
    page = signed_in
    go_to_configuration(page, live_server)
    page.get_by_label("API base URL").fill("https://jira.example.com/rest/api/2")
    add = page.get_by_role("button", name="Add a header")
    # One empty row is there already; add two more, fill three, remove the second.
    add.click()
    add.click()
    assert header_rows(page).count() == 3
    for index, (name, value) in enumerate([("X-One", "1"), ("X-Two", "2"), ("X-Three", "3")]):
        header_rows(page).nth(index).get_by_label("Header name").fill(name)
        header_rows(page).nth(index).get_by_label("Header value").fill(value)
    header_rows(page).nth(1).get_by_role("button", name="Remove").click()
    assert header_rows(page).count() == 2
    page.get_by_label("Basic").check()
    page.get_by_label("Username").fill("elements")
    page.get_by_label("Password", exact=True).fill(SECRET_PASSWORD)
    screenshot("configuration")
    page.get_by_role("button", name="Create datasource").click()
    page.wait_for_selector("text=created")
    screenshot("created")
    datasource = Datasource.objects.get(name="Jira Cloud")
    assert sorted(datasource.headers.values_list("name", flat=True)) == ["X-One", "X-Three"]
    assert datasource.auth.mode == "basic" and datasource.auth.password == SECRET_PASSWORD
    assert SECRET_PASSWORD not in page.content()


def test_auth_section_shows_only_the_chosen_modes_fields(signed_in, live_server, screenshot):
    page = signed_in
    go_to_configuration(page, live_server)
    username = page.locator("[name='auth-username']")
    key_name = page.locator("[name='auth-api_key_name']")
    token_url = page.locator("[name='auth-token_url']")
    authorize_url = page.locator("[name='auth-authorization_url']")
    assert not username.is_visible() and not key_name.is_visible() and not token_url.is_visible()
    page.get_by_label("Basic").check()
    assert username.is_visible() and not key_name.is_visible()
    page.get_by_label("API key").check()
    assert key_name.is_visible() and not username.is_visible()
    page.get_by_label("OAuth2 client credentials").check()
    assert token_url.is_visible() and not authorize_url.is_visible()
    page.get_by_label("OAuth2 authorization code").check()
    assert authorize_url.is_visible() and token_url.is_visible()
    page.get_by_label("Provider preset").select_option("google")
    assert authorize_url.input_value() == "https://accounts.google.com/o/oauth2/v2/auth"
    screenshot("authorization-code")


def test_server_side_errors_are_shown_next_to_their_fields_with_values_kept(signed_in, live_server, screenshot):
    page = signed_in
    go_to_configuration(page, live_server)
    page.get_by_label("API base URL").fill("http://jira.example.com")
    row = header_rows(page).first
    row.get_by_label("Header name").fill("Proxy-Authorization")
    row.get_by_label("Header value").fill("kept-value")
    page.get_by_role("button", name="Create datasource").click()
    base_field = page.locator(".field", has=page.locator("[name='base_url']"))
    assert "Only https:// URLs are accepted" in base_field.inner_text()
    assert "is forbidden" in header_rows(page).first.inner_text()
    assert page.get_by_label("API base URL").input_value() == "http://jira.example.com"
    assert header_rows(page).first.get_by_label("Header value").input_value() == "kept-value"
    screenshot("errors")
    assert not Datasource.objects.exists()


def test_narrow_window_keeps_the_configuration_usable(signed_in, live_server, screenshot):
    page = signed_in
    page.set_viewport_size({"width": 380, "height": 800})
    go_to_configuration(page, live_server)
    assert page.get_by_label("API base URL").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400
    screenshot("narrow")
