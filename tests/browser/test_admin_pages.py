"""The admin site's pages where support staff choose roles and an item's groups, in Chromium: axe finds no serious
violation (the two-list filter widget, whose search icons carry a prohibited aria-label, is not used there)."""

import pytest

from items.models import Item
from tests.browser.test_messages import serious_violations
from tests.conftest import make_datasource, with_role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_page(browser):
    """A page without the Content-Security-Policy watch of `page`: axe, run on the admin site's pages, applies an
    inline style of its own there that the policy refuses (the pages themselves apply none; see
    tests/browser/test_content_security_policy.py)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def sign_in(page, live_server, username: str, password: str):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/datasources/")


def test_an_items_admin_page_chooses_groups_with_labelled_checkboxes(admin_page, live_server, django_user_model):
    page = admin_page
    django_user_model.objects.create_superuser("root", password="pw-root-123")
    sign_in(page, live_server, "root", "pw-root-123")
    item = Item.objects.create(name="Cities", datasource=make_datasource(name="Geo API"), query="/cities")

    page.goto(f"{live_server.url}/admin/items/item/{item.pk}/change/")

    page.get_by_role("checkbox", name="Editor").check()
    assert serious_violations(page) == []


def test_the_users_admin_page_gives_roles_with_labelled_checkboxes(admin_page, live_server, django_user_model):
    page = admin_page
    administrator = django_user_model.objects.create_user("admin1", password="pw-admin1-123", is_staff=True)
    with_role(administrator, "Administrator")
    other = django_user_model.objects.create_user("newcomer", password="pw-new-123", is_staff=True)
    sign_in(page, live_server, "admin1", "pw-admin1-123")

    page.goto(f"{live_server.url}/admin/auth/user/{other.pk}/change/")

    page.get_by_role("checkbox", name="Viewer").check()
    assert serious_violations(page) == []
