"""Every page a person uses: a title, a way back, and a label on every field (checked in Chromium)."""

import pytest

from applications.models import Application
from items.models import Item
from tests.conftest import make_datasource

pytestmark = pytest.mark.django_db(transaction=True)

UNLABELLED_FIELDS = """() => Array.from(document.querySelectorAll('main input, main select, main textarea'))
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.name)"""


def pages(live_server, datasource, item, application):
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
        ("item-try", f"/items/{item.pk}/try/"),
        ("applications", "/applications/"),
        ("application-new", "/applications/new/"),
        ("application", f"/applications/{application.pk}/"),
        ("application-edit", f"/applications/{application.pk}/edit/"),
        ("application-rotate", f"/applications/{application.pk}/rotate/"),
        ("application-secret-stored", f"/applications/{application.pk}/secret/"),
        ("application-delete", f"/applications/{application.pk}/delete/"),
        ("audit", "/audit/"),
        ("configuration", "/configuration/"),
    ]


def test_every_page_has_a_title_a_way_back_and_labelled_fields(signed_in, live_server, screenshot):
    page = signed_in
    datasource = make_datasource(name="Jira", mode="basic", username="elements", password="s3cr3t-pw-5551")
    item = Item.objects.create(
        name="Issue picker", datasource=datasource, query="/search?q=$userInput", list_path="issues", key_field="key"
    )
    application = Application.objects.create(name="Intranet forms", allowed_origins=["https://forms.example.com"])
    application.items.add(item)
    for name, path in pages(live_server, datasource, item, application):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert page.title().endswith("· Connect") and len(page.title()) > len("· Connect"), path
        assert page.locator("h1").count() == 1, path
        assert page.locator("nav[aria-label=Breadcrumb], nav[aria-label=Main]").count() >= 1, path
        assert page.evaluate(UNLABELLED_FIELDS) == [], path
        assert "s3cr3t-pw-5551" not in page.content(), path
        assert application.secret not in page.content(), path
        screenshot(name)
