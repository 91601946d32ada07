"""Roles, the audit log and configuration as code as a person uses them, in Chromium: an import shown as a diff and
applied, its History and Audit entries, and the page a staff account without a role sees."""

import pytest

from datasources.models import Datasource
from tests.conftest import SECRET_PASSWORD, make_datasource, with_role

pytestmark = pytest.mark.django_db(transaction=True)

CHANGED = """connect: 1
datasources:
- name: Jira
  base_url: https://jira.example.com/v2
  headers:
  - name: X-Team
    value: ops
  items:
  - name: Issues
    query: /search?q=$userInput
    max_options: 25
"""


def sign_in(page, live_server, django_user_model, *, role):
    user = django_user_model.objects.create_user("person", password="pw-person-123", is_staff=True)
    if role:
        with_role(user, role)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("person")
    page.get_by_label("Password").fill("pw-person-123")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/datasources/")


def test_an_administrator_imports_a_file_after_seeing_its_diff(
    page, live_server, django_user_model, screenshot, tmp_path
):
    datasource = make_datasource(
        name="Jira",
        base_url="https://jira.example.com/rest",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )
    sign_in(page, live_server, django_user_model, role="Administrator")
    page.get_by_role("link", name="Configuration").click()
    screenshot("configuration")
    path = tmp_path / "connect.yaml"
    path.write_text(CHANGED)

    page.get_by_label("Configuration file").set_input_files(str(path))
    page.get_by_role("button", name="Show the changes").click()

    diff = page.locator("#diff").inner_text()
    assert "update datasource “Jira”" in diff and "https://jira.example.com/v2" in diff
    assert "create item “Issues”" in diff
    screenshot("diff")
    assert Datasource.objects.get(pk=datasource.pk).base_url == "https://jira.example.com/rest"
    page.get_by_role("button", name="Apply these changes").click()
    assert "1 created, 1 changed, 0 deleted" in page.get_by_role("status").first.inner_text()
    assert Datasource.objects.get(pk=datasource.pk).base_url == "https://jira.example.com/v2"
    screenshot("applied")

    page.goto(f"{live_server.url}/datasources/{datasource.pk}/")
    history = page.locator("#history").inner_text()
    assert "Changed by person" in history and "https://jira.example.com/v2" in history
    screenshot("history")
    page.get_by_role("link", name="Audit").first.click()
    page.get_by_label("Action").select_option("import")
    page.get_by_role("button", name="Filter").click()
    assert "Configuration imported configuration connect.yaml" in page.locator("table").inner_text()
    screenshot("audit")
    assert SECRET_PASSWORD not in page.content()


def test_staff_without_a_role_are_told_which_role_to_ask_for(page, live_server, django_user_model, screenshot):
    sign_in(page, live_server, django_user_model, role=None)

    text = page.locator("main").inner_text()

    assert "This page needs the Viewer role" in text
    screenshot("no-role")


def test_a_viewer_sees_no_button_to_change(page, live_server, django_user_model, screenshot):
    datasource = make_datasource(name="Jira", base_url="https://jira.example.com/rest")
    sign_in(page, live_server, django_user_model, role="Viewer")
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/")

    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("button", name="Test connection").count() == 0
    screenshot("viewer")
