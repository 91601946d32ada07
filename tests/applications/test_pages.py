"""Application pages for staff: each action with a visible result, the secret shown once, bad input refused."""

import logging
import re

import pytest
from django.contrib.auth import get_user_model

from applications.models import Application
from items.models import Item
from tests.conftest import assert_no_secret, make_datasource, saved_first_by_a_colleague
from tests.datasources.conftest import errors_next_to

from .conftest import make_application, mint

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(db):
    return Item.objects.create(
        name="Assets", datasource=make_datasource(), query="/assets?q=$userInput", key_field="id"
    )


def shown_secret(response) -> str:
    found = re.search(r'id="application-secret">([^<]+)<', response.content.decode())
    assert found, "no secret on the page"
    return found.group(1)


def create(client, item, **overrides):
    data = {
        "name": "Intranet forms",
        "items": [item.pk],
        "allowed_origins": "https://forms.example.com",
        "enabled": "on",
    }
    data.update(overrides)
    return client.post("/applications/new/", data, follow=True)


@pytest.mark.parametrize(
    "path",
    [
        "/applications/",
        "/applications/new/",
        "/applications/{pk}/",
        "/applications/{pk}/edit/",
        "/applications/{pk}/rotate/",
        "/applications/{pk}/secret/",
        "/applications/{pk}/delete/",
    ],
)
def test_pages_are_for_staff_only(client, item, path):
    application = make_application(items=[item])
    url = path.format(pk=application.pk)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    assert client.get(url).status_code == 403


def test_create_shows_the_secret_once_and_then_only_says_stored(staff_client, item):
    response = create(staff_client, item)
    application = Application.objects.get()
    assert response.redirect_chain[-1][0] == f"/applications/{application.pk}/secret/"
    assert "Copy its secret now" in response.content.decode()
    assert shown_secret(response) == application.secret
    assert "Cache-Control" in response and "no-store" in response["Cache-Control"]
    again = staff_client.get(f"/applications/{application.pk}/secret/").content.decode()
    assert application.secret not in again and "stored" in again
    assert application.items.get() == item and application.allowed_origins == ["https://forms.example.com"]


def test_the_secret_never_appears_elsewhere_after_creation(staff_client, item, caplog, admin_client):
    caplog.set_level(logging.DEBUG)
    for name in ("connect", "django", "oauthlib", "requests_oauthlib", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    response = create(staff_client, item)
    application = Application.objects.get()
    secret = shown_secret(response)
    token = mint(application, items=[item.pk])
    outputs = [
        staff_client.get(path).content
        for path in (
            "/applications/",
            f"/applications/{application.pk}/",
            f"/applications/{application.pk}/edit/",
            f"/applications/{application.pk}/secret/",
            f"/applications/{application.pk}/rotate/",
            f"/applications/{application.pk}/delete/",
            f"/items/{item.pk}/preview/",
            f"/items/{item.pk}/try/",
        )
    ]
    outputs += [
        admin_client.get(path).content
        for path in (
            "/admin/applications/application/",
            f"/admin/applications/application/{application.pk}/change/",
            f"/admin/applications/application/{application.pk}/history/",
        )
    ]
    for headers in (
        {"HTTP_AUTHORIZATION": f"Bearer {token}"},
        {"HTTP_AUTHORIZATION": f"Bearer {mint(application, items=[item.pk], lifetime=7200)}"},
        {"HTTP_AUTHORIZATION": f"Bearer {mint(application, items=[item.pk], secret=secret[::-1])}"},
    ):
        for path in (f"/api/items/{item.pk}/options?q=x", f"/api/items/{item.pk}/field"):
            outputs.append(staff_client.get(path, HTTP_ORIGIN="https://forms.example.com", **headers).content)
    for output in outputs:
        assert_no_secret(output, secrets=[secret])
    assert_no_secret("\n".join(r.getMessage() for r in caplog.records), secrets=[secret])
    assert_no_secret(caplog.text, secrets=[secret])


def test_bad_origins_are_refused_next_to_the_field_and_nothing_is_saved(staff_client, item):
    response = create(
        staff_client,
        item,
        allowed_origins="https://ok.example.com\nhttp://plain.example.com\nhttps://x.example.com/path",
    )
    page = response.content.decode()
    assert response.status_code == 200 and Application.objects.count() == 0
    assert 'id="id_allowed_origins_error"' in page
    assert "“http://plain.example.com”: Only https://" in page
    assert "“https://x.example.com/path”" in page


def test_localhost_origins_only_while_debug_is_on(staff_client, item, settings):
    settings.DEBUG = False
    response = create(staff_client, item, allowed_origins="http://localhost:3000")
    assert "only allowed while DEBUG is on" in response.content.decode() and Application.objects.count() == 0
    settings.DEBUG = True
    create(staff_client, item, allowed_origins="http://localhost:3000")
    assert Application.objects.get().allowed_origins == ["http://localhost:3000"]


def test_a_duplicate_name_is_refused(staff_client, item):
    make_application(name="Intranet Forms")
    response = create(staff_client, item, name="intranet forms")
    assert "already exists" in response.content.decode() and Application.objects.count() == 1


@pytest.mark.parametrize("typed", ["", "   "])
def test_create_refuses_an_empty_name_with_one_message(staff_client, item, typed):
    response = create(staff_client, item, name=typed)

    assert errors_next_to(response, "name") == ["Enter a name."]
    assert not Application.objects.exists()


@pytest.mark.parametrize("typed", ["", "   "])
def test_edit_refuses_an_empty_name_with_one_message(staff_client, item, typed):
    application = make_application(name="Portal", items=[], origins=[])

    response = staff_client.post(
        f"/applications/{application.pk}/edit/", {"name": typed, "allowed_origins": "", "enabled": "on"}
    )

    assert errors_next_to(response, "name") == ["Enter a name."]
    application.refresh_from_db()
    assert application.name == "Portal"


def test_a_name_taken_while_the_form_was_checked_is_an_error_next_to_the_name(staff_client, item):
    with saved_first_by_a_colleague(Application, name="INTRANET FORMS"):
        response = create(staff_client, item, name="Intranet forms")

    assert response.status_code == 200
    assert errors_next_to(response, "name") == ["An application with this name already exists (names ignore case)."]
    assert not Application.objects.filter(name="Intranet forms").exists()


def test_a_rename_to_a_name_taken_meanwhile_is_an_error_next_to_the_name(staff_client, item):
    application = make_application(name="Portal", items=[], origins=[])
    with saved_first_by_a_colleague(Application, name="renamed"):
        response = staff_client.post(
            f"/applications/{application.pk}/edit/", {"name": "Renamed", "allowed_origins": "", "enabled": "on"}
        )

    assert response.status_code == 200
    assert errors_next_to(response, "name") == ["An application with this name already exists (names ignore case)."]
    application.refresh_from_db()
    assert application.name == "Portal"


def test_edit_saves_and_says_so(staff_client, item):
    application = make_application(items=[], origins=[])
    response = staff_client.post(
        f"/applications/{application.pk}/edit/",
        {"name": "Renamed", "items": [item.pk], "allowed_origins": "https://a.example.com/", "enabled": "on"},
        follow=True,
    )
    assert "saved" in response.content.decode()
    application.refresh_from_db()
    assert application.name == "Renamed" and application.allowed_origins == ["https://a.example.com"]
    assert list(application.items.all()) == [item]


def test_disable_and_enable_with_a_visible_result(staff_client, item):
    application = make_application(items=[item])
    page = staff_client.post(f"/applications/{application.pk}/toggle/", follow=True).content.decode()
    assert "disabled: its tokens are refused" in page
    assert not Application.objects.get().enabled
    page = staff_client.post(f"/applications/{application.pk}/toggle/", follow=True).content.decode()
    assert "enabled: its tokens are accepted again" in page and Application.objects.get().enabled


def test_rotate_asks_first_then_shows_the_new_secret_once(staff_client, item):
    application = make_application(items=[item])
    old = application.secret
    assert "Rotate the secret" in staff_client.get(f"/applications/{application.pk}/rotate/").content.decode()
    assert Application.objects.get().secret == old  # a GET changes nothing
    response = staff_client.post(f"/applications/{application.pk}/rotate/", follow=True)
    new = Application.objects.get().secret
    assert new != old and shown_secret(response) == new
    assert "refused from now on" in response.content.decode()
    assert new not in staff_client.get(f"/applications/{application.pk}/secret/").content.decode()


def test_the_secret_page_of_another_application_shows_nothing(staff_client, item):
    create(staff_client, item)
    other = make_application(name="Other")
    assert other.secret not in staff_client.get(f"/applications/{other.pk}/secret/").content.decode()


def test_delete_asks_then_deletes_with_a_message(staff_client, item):
    application = make_application(items=[item])
    assert "cannot be undone" in staff_client.get(f"/applications/{application.pk}/delete/").content.decode()
    page = staff_client.post(f"/applications/{application.pk}/delete/", follow=True).content.decode()
    assert "deleted" in page and not Application.objects.exists()


def test_list_and_detail_show_what_a_token_needs(staff_client, item):
    application = make_application(items=[item])
    listing = staff_client.get("/applications/").content.decode()
    assert "Intranet forms" in listing and "https://forms.example.com" in listing and "never" in listing
    detail = staff_client.get(f"/applications/{application.pk}/").content.decode()
    assert f'<code>"{application.pk}"</code>' in detail and "http://testserver" in detail
    assert f"[{item.pk}]" in detail and "stored (encrypted)" in detail


def test_the_admin_never_shows_the_secret_and_cannot_create(admin_client, item):
    application = make_application(items=[item])
    change = admin_client.get(f"/admin/applications/application/{application.pk}/change/").content.decode()
    assert "stored (encrypted" in change and application.secret not in change
    assert 'name="secret"' not in change
    assert admin_client.get("/admin/applications/application/add/").status_code == 403


def test_the_admin_shows_the_purge_endpoint_in_the_help_text(admin_client, item):
    application = make_application(items=[item])

    page = admin_client.get(f"/admin/applications/application/{application.pk}/change/").content.decode()

    assert "POST /api/items/&lt;id&gt;/cache/purge" in page


def test_the_admin_refuses_a_bad_origin_next_to_the_field(admin_client, item):
    application = make_application(items=[item])
    response = admin_client.post(
        f"/admin/applications/application/{application.pk}/change/",
        {
            "name": application.name,
            "items": [item.pk],
            "allowed_origins": "https://ok.example.com\nhttp://x.com",
            "enabled": "on",
        },
    )
    assert response.status_code == 200 and "Only https://" in response.content.decode()
    assert Application.objects.get().allowed_origins == ["https://forms.example.com"]
