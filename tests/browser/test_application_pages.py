"""Registering an application and binding items, as a person does it in Chromium."""

import re

import pytest

from applications.models import Application
from items.models import Binding, Item
from tests.conftest import make_datasource

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_an_application_and_copy_its_secret_once(signed_in, live_server, screenshot):
    page = signed_in
    datasource = make_datasource(name="Geo API")
    Item.objects.create(name="Country", datasource=datasource, query="/countries")
    page.goto(f"{live_server.url}/applications/")
    screenshot("empty-list")
    page.get_by_role("link", name="Create application").click()
    page.get_by_label("Name").fill("Intranet forms")
    page.get_by_label("Country").check()
    page.get_by_label("Allowed web origins").fill("https://forms.example.com/\nhttp://plain.example.com")
    page.get_by_role("button", name="Create application").click()
    errors = page.locator("#id_allowed_origins_error")
    assert "Only https://" in errors.inner_text()
    screenshot("form-error")
    page.get_by_label("Allowed web origins").fill("https://forms.example.com/")
    page.get_by_role("button", name="Create application").click()
    page.wait_for_url(re.compile(r".*/applications/\d+/secret/$"))
    application = Application.objects.get()
    assert page.locator("#application-secret").inner_text() == application.secret
    assert page.get_by_role("button", name="Copy").is_visible()
    screenshot("secret-shown")
    page.reload()
    assert application.secret not in page.content()
    assert page.get_by_role("heading", name="Stored").is_visible()
    page.get_by_role("link", name="Back to “Intranet forms”").click()
    assert "https://forms.example.com" in page.locator("main").inner_text()
    screenshot("detail")
    page.get_by_role("button", name="Disable").click()
    assert "disabled: its tokens are refused" in page.locator(".messages").inner_text()
    page.goto(f"{live_server.url}/applications/")
    screenshot("list")


def test_bind_a_dependency_typed_in_the_item_form(signed_in, live_server, screenshot):
    page = signed_in
    datasource = make_datasource(name="Geo API")
    country = Item.objects.create(name="Country", datasource=datasource, query="/countries")
    page.goto(f"{live_server.url}/items/new/")
    assert page.locator("[data-binding-empty]").is_visible()
    page.get_by_label("Name").fill("Region")
    page.get_by_label("Datasource").select_option(label="Geo API")
    page.get_by_label("Query").fill("/regions?country=$country")
    page.get_by_label("Dependencies").fill("country")
    binding = page.get_by_label("$country comes from")
    binding.select_option(label="Country")
    assert page.locator("[data-binding-empty]").is_hidden()
    screenshot("binding")
    page.get_by_role("button", name="Create item").click()
    page.wait_for_url(re.compile(r".*/items/\d+/preview/$"))
    assert Binding.objects.get().source == country
    assert "comes from Country" in page.locator("main").inner_text()
    screenshot("item-page")
