"""Datasource pages: what they show, and that a stored or typed secret never appears in any of them."""

import re

import pytest

from datasources.models import AuthConfig, Datasource, Header
from tests.conftest import (
    ALL_SECRETS,
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
    assert_no_secret,
    saved_first_by_a_colleague,
)
from tests.datasources.conftest import STEP3_URL, errors_next_to, form_data, start_wizard, step3_data

pytestmark = pytest.mark.django_db

TYPED_SECRET = "s3cr3t-TYPED-0c0c"
MODES = {
    "basic": {"username": "elements", "password": SECRET_PASSWORD},
    "api_key": {"api_key_location": "query", "api_key_name": "api_key", "api_key_value": SECRET_API_KEY},
    "oauth2_client_credentials": {
        "token_url": "https://auth.example.com/token",
        "client_id": "connect",
        "client_secret": SECRET_CLIENT_SECRET,
        "access_token": SECRET_ACCESS_TOKEN,
    },
    "oauth2_authorization_code": {
        "authorization_url": "https://auth.example.com/authorize",
        "token_url": "https://auth.example.com/token",
        "client_id": "connect",
        "client_secret": SECRET_CLIENT_SECRET,
        "access_token": SECRET_ACCESS_TOKEN,
        "refresh_token": SECRET_REFRESH_TOKEN,
    },
}


@pytest.fixture
def every_mode(datasource_factory):
    """One datasource per authentication mode, each with its secrets stored."""
    return {
        mode: datasource_factory(name=f"DS {mode}", mode=mode, headers=[("X-Team", "blue")], **fields)
        for mode, fields in MODES.items()
    }


@pytest.fixture
def all_secrets(datasource_factory):
    """Every secret field filled at once, whatever the mode: pages must show none of them."""
    return datasource_factory(
        name="Everything",
        mode="oauth2_authorization_code",
        authorization_url="https://auth.example.com/authorize",
        token_url="https://auth.example.com/token",
        client_id="connect",
        password=SECRET_PASSWORD,
        api_key_value=SECRET_API_KEY,
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
        refresh_token=SECRET_REFRESH_TOKEN,
    )


def _ok(response):
    assert response.status_code == 200
    return response.content


def test_the_list_shows_no_secret(staff_client, every_mode, all_secrets):
    assert_no_secret(_ok(staff_client.get("/datasources/")))


@pytest.mark.parametrize("mode", [*MODES, "all"])
@pytest.mark.parametrize("page", ["", "edit/", "delete/"])
def test_datasource_pages_show_no_secret(staff_client, every_mode, all_secrets, mode, page):
    datasource = all_secrets if mode == "all" else every_mode[mode]

    assert_no_secret(_ok(staff_client.get(f"/datasources/{datasource.pk}/{page}")))


@pytest.mark.parametrize("mode", MODES)
def test_an_edit_refused_with_errors_shows_neither_stored_nor_typed_secrets(staff_client, every_mode, mode):
    datasource = every_mode[mode]
    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update(
        {
            "base_url": "http://insecure.example.com",
            "auth-password": TYPED_SECRET,
            "auth-api_key_value": TYPED_SECRET,
            "auth-client_secret": TYPED_SECRET,
        }
    )

    response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)

    assert_no_secret(_ok(response), secrets=(*ALL_SECRETS, TYPED_SECRET))


def test_the_wizard_steps_show_no_secret(staff_client, all_secrets):
    pages = [
        staff_client.get("/datasources/new/?restart=1"),
        staff_client.post("/datasources/new/", {"type": "rest_api"}, follow=True),
        staff_client.post("/datasources/new/name/", {"name": "New", "action": "next"}, follow=True),
    ]

    for page in pages:
        assert_no_secret(_ok(page))


@pytest.mark.parametrize(
    "mode, secret_field",
    [
        ("basic", "password"),
        ("api_key", "api_key_value"),
        ("oauth2_client_credentials", "client_secret"),
        ("oauth2_authorization_code", "client_secret"),
    ],
)
def test_step_three_after_an_error_does_not_show_the_typed_secret(staff_client, mode, secret_field):
    step3 = start_wizard(staff_client)
    data = step3_data(step3, base_url="http://insecure.example.com", mode=mode, **{secret_field: TYPED_SECRET})

    response = staff_client.post(STEP3_URL, data)

    assert_no_secret(_ok(response), secrets=(TYPED_SECRET,))


def test_the_list_shows_name_type_base_url_and_auth_mode(staff_client, every_mode):
    html = _ok(staff_client.get("/datasources/")).decode()

    row = re.search(r"<tr>\s*<td><a [^>]*>DS basic</a></td>(.*?)</tr>", html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[:3] == ["REST API", "https://api.example.com/rest", "Basic"]


def test_the_list_is_sorted_by_name_ignoring_case(staff_client, datasource_factory):
    for name in ("beta", "Alpha", "gamma"):
        datasource_factory(name=name)

    html = _ok(staff_client.get("/datasources/")).decode()

    assert re.findall(r'<a href="/datasources/\d+/">([^<]+)</a>', html) == ["Alpha", "beta", "gamma"]


def test_the_detail_page_says_stored_for_a_stored_secret(staff_client, every_mode):
    html = _ok(staff_client.get(f"/datasources/{every_mode['basic'].pk}/")).decode()

    assert "<dt>Password</dt><dd>stored</dd>" in html


def test_the_detail_page_says_not_set_for_a_missing_secret(staff_client, datasource_factory):
    datasource = datasource_factory(mode="basic", username="elements")

    html = _ok(staff_client.get(f"/datasources/{datasource.pk}/")).decode()

    assert "<dt>Password</dt><dd>not set</dd>" in html


def test_the_documentation_link_opens_in_a_new_tab_without_opener(staff_client, datasource_factory):
    datasource = datasource_factory()
    Datasource.objects.filter(pk=datasource.pk).update(documentation_url="https://docs.example.com/api")

    html = _ok(staff_client.get(f"/datasources/{datasource.pk}/")).decode()

    link = re.search(r'<a href="https://docs.example.com/api"[^>]*>', html).group(0)
    assert 'target="_blank"' in link
    assert "noopener" in re.search(r'rel="([^"]*)"', link).group(1).split()


def test_the_detail_page_shows_header_values(staff_client, every_mode):
    html = _ok(staff_client.get(f"/datasources/{every_mode['basic'].pk}/")).decode()

    assert '<td>X-Team</td><td class="url">blue</td>' in html


def test_an_unknown_datasource_is_not_found(staff_client):
    assert staff_client.get("/datasources/999999/").status_code == 404


def test_delete_asks_first_and_removes_nothing_on_get(staff_client, every_mode):
    staff_client.get(f"/datasources/{every_mode['basic'].pk}/delete/")

    assert Datasource.objects.filter(pk=every_mode["basic"].pk).exists()


def test_delete_removes_the_datasource_its_headers_and_its_secrets(staff_client, every_mode):
    datasource = every_mode["basic"]

    response = staff_client.post(f"/datasources/{datasource.pk}/delete/")

    assert response["Location"] == "/datasources/"
    assert (
        Datasource.objects.filter(pk=datasource.pk).exists(),
        Header.objects.filter(datasource_id=datasource.pk).exists(),
        AuthConfig.objects.filter(datasource_id=datasource.pk).exists(),
    ) == (False, False, False)


def test_a_saved_edit_changes_the_config_version(staff_client, every_mode):
    datasource = every_mode["basic"]
    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))
    data["test_url"] = "/health"

    staff_client.post(f"/datasources/{datasource.pk}/edit/", data)

    assert Datasource.objects.get(pk=datasource.pk).config_version != datasource.config_version


def test_the_edit_form_says_header_values_are_not_secret_storage(staff_client, every_mode):
    html = _ok(staff_client.get(f"/datasources/{every_mode['basic'].pk}/edit/")).decode()

    assert "Header values are <strong>not secret storage</strong>" in html


@pytest.fixture
def without_auth_row():
    """As the admin site can create it: a datasource without an AuthConfig row."""
    return Datasource.objects.create(name="Bare", base_url="https://api.example.com")


@pytest.mark.parametrize("page", ["/datasources/", "/datasources/{pk}/", "/datasources/{pk}/edit/"])
def test_pages_work_for_a_datasource_without_auth_settings(staff_client, without_auth_row, page):
    response = staff_client.get(page.format(pk=without_auth_row.pk))

    assert response.status_code == 200
    assert "No auth" in response.content.decode()


def test_saving_a_datasource_without_auth_settings_creates_them(staff_client, without_auth_row):
    data = form_data(staff_client.get(f"/datasources/{without_auth_row.pk}/edit/"))

    staff_client.post(f"/datasources/{without_auth_row.pk}/edit/", data)

    assert AuthConfig.objects.get(datasource=without_auth_row).mode == "none"


def test_a_name_taken_before_the_wizard_saves_is_an_error_and_nothing_is_created(staff_client):
    data = step3_data(start_wizard(staff_client, name="Geo API"), mode="none")

    with saved_first_by_a_colleague(Datasource, name="GEO API", base_url="https://other.example.com"):
        response = staff_client.post(STEP3_URL, data)

    assert response.status_code == 200
    assert "A datasource with this name already exists (names ignore case)." in response.content.decode()
    assert not Datasource.objects.filter(name="Geo API").exists()


def test_a_rename_to_a_name_taken_meanwhile_is_an_error_next_to_the_name(staff_client):
    datasource = Datasource.objects.create(name="Jira", base_url="https://api.example.com/rest")
    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))
    data["name"] = "Tracker"

    with saved_first_by_a_colleague(Datasource, name="TRACKER", base_url="https://other.example.com"):
        response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)

    assert response.status_code == 200
    assert errors_next_to(response, "name") == ["A datasource with this name already exists (names ignore case)."]
    assert Datasource.objects.get(pk=datasource.pk).name == "Jira"
