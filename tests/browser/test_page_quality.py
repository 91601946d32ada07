"""Every page a person uses: a title, a way back, and a label on every field (checked in Chromium)."""
import pytest

from items.models import Item
from tests.conftest import make_datasource

pytestmark = pytest.mark.django_db(transaction=True)

UNLABELLED_FIELDS = """() => Array.from(document.querySelectorAll('main input, main select, main textarea'))
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.name)"""


def pages(live_server, datasource, item):
    return [
        ("datasources", "/datasources/"),
        ("wizard-type", "/datasources/new/?restart=1"),
        ("datasource", f"/datasources/{datasource.pk}/"),
        ("datasource-edit", f"/datasources/{datasource.pk}/edit/"),
        ("datasource-delete", f"/datasources/{datasource.pk}/delete/"),
        ("items", "/items/"),
        ("item-new", "/items/new/"),
        ("item-edit", f"/items/{item.pk}/edit/"),
        ("item-preview", f"/items/{item.pk}/preview/"),
        ("item-delete", f"/items/{item.pk}/delete/"),
    ]


def test_every_page_has_a_title_a_way_back_and_labelled_fields(signed_in, live_server, screenshot):
    page = signed_in
    datasource = make_datasource(name="Jira", mode="basic", username="elements", password="s3cr3t-pw-5551")
    item = Item.objects.create(name="Issue picker", datasource=datasource, query="/search?q=$userInput",
                               list_path="issues", key_field="key")
    for name, path in pages(live_server, datasource, item):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert page.title().endswith("· Connect") and len(page.title()) > len("· Connect"), path
        assert page.locator("h1").count() == 1, path
        assert page.locator("nav[aria-label=Breadcrumb], nav[aria-label=Main]").count() >= 1, path
        assert page.evaluate(UNLABELLED_FIELDS) == [], path
        assert "s3cr3t-pw-5551" not in page.content(), path
        screenshot(name)
