"""The audit log: a change through a page or the admin site makes one entry with who, when, from where and each
field's old -> new value; secrets only as "changed"; a failed change writes nothing."""

import json

import pytest
from django.contrib.auth.models import Group

from audit.models import Action, AuditEntry
from audit.recorder import Actor, recording
from datasources.models import AuthConfig, Datasource
from datasources.services import oauth
from items.models import Item
from tests.applications.conftest import make_application
from tests.conftest import ALL_SECRETS, SECRET_PASSWORD, assert_no_secret, make_datasource
from tests.datasources.conftest import form_data, start_wizard, step3_data

pytestmark = pytest.mark.django_db

NEW_SECRET = "s3cr3t-NEW-PASSWORD-5d5d"


@pytest.fixture
def jira():
    return make_datasource(
        name="Jira",
        base_url="https://api.example.com/rest",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )


def _only_entry() -> AuditEntry:
    entries = list(AuditEntry.objects.all())
    assert len(entries) == 1, [(e.action, e.object_type, e.changes) for e in entries]
    return entries[0]


def _edit(client, datasource, **changes):
    data = form_data(client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update(changes)
    return client.post(f"/datasources/{datasource.pk}/edit/", data, REMOTE_ADDR="203.0.113.7")


def test_a_change_on_a_page_makes_one_entry_with_who_where_and_old_to_new(staff_client, jira):
    AuditEntry.objects.all().delete()

    response = _edit(staff_client, jira, base_url="https://api.example.com/v2")

    assert response.status_code == 302
    entry = _only_entry()
    assert (entry.actor, entry.address, entry.via) == ("admin", "203.0.113.7", "page")
    assert (entry.action, entry.object_type, entry.object_id, entry.object_name) == (
        "update",
        "datasource",
        str(jira.pk),
        "Jira",
    )
    assert entry.changes == [
        {"field": "base_url", "old": "https://api.example.com/rest", "new": "https://api.example.com/v2"}
    ]


def test_headers_and_authentication_changed_in_one_submit_are_one_entry(staff_client, jira):
    AuditEntry.objects.all().delete()

    _edit(staff_client, jira, **{"headers-0-name": "X-Team", "headers-0-value": "ops", "auth-username": "connect"})

    entry = _only_entry()
    assert {"field": "auth.username", "old": "elements", "new": "connect"} in entry.changes
    assert {"field": "headers[X-Team].value", "old": None, "new": "ops"} in entry.changes


def test_a_secret_change_is_recorded_as_changed_and_its_value_appears_nowhere(staff_client, jira, capsys):
    from django.core.management import call_command

    AuditEntry.objects.all().delete()

    _edit(staff_client, jira, **{"auth-password": NEW_SECRET})

    entry = _only_entry()
    assert entry.changes == [{"field": "auth.password", "secret": True}]
    secrets = (*ALL_SECRETS, NEW_SECRET)
    assert_no_secret(json.dumps(list(AuditEntry.objects.values()), default=str), secrets)
    audit_page = staff_client.get("/audit/").content.decode()
    history = staff_client.get(f"/datasources/{jira.pk}/").content.decode()
    for page in (audit_page, history):
        assert "auth.password</code>: <em>changed</em>" in page
        assert_no_secret(page, secrets)
    call_command("export_audit")
    assert_no_secret(capsys.readouterr().out, secrets)


def test_an_unchanged_save_records_nothing(staff_client, jira):
    AuditEntry.objects.all().delete()

    _edit(staff_client, jira)

    assert not AuditEntry.objects.exists()


def test_an_invalid_submit_changes_nothing_and_records_nothing(staff_client, jira):
    AuditEntry.objects.all().delete()

    response = _edit(staff_client, jira, base_url="http://insecure.example.com")

    assert response.status_code == 200
    assert not AuditEntry.objects.exists()


def test_a_failed_change_rolls_back_its_entries_with_it(jira):
    AuditEntry.objects.all().delete()

    with pytest.raises(RuntimeError), recording(actor=Actor(name="someone", via="page")):
        jira.base_url = "https://elsewhere.example.com"
        jira.save()
        raise RuntimeError("the rest of the change failed")

    assert not AuditEntry.objects.exists()
    assert Datasource.objects.get(pk=jira.pk).base_url == "https://api.example.com/rest"


def test_the_wizard_records_one_create_entry_with_its_headers_and_authentication(staff_client):
    AuditEntry.objects.all().delete()
    page = start_wizard(staff_client, name="Weather")

    staff_client.post(
        "/datasources/new/configuration/",
        step3_data(page, headers=[("X-Team", "blue")], mode="basic", username="elements", password=NEW_SECRET),
    )

    entry = _only_entry()
    assert (entry.action, entry.object_name) == ("create", "Weather")
    fields = [c["field"] for c in entry.changes]
    assert "base_url" in fields and "headers[X-Team].value" in fields and "auth.mode" in fields
    assert {"field": "auth.password", "secret": True} in entry.changes
    assert_no_secret(json.dumps(entry.changes), (NEW_SECRET,))


def test_a_deleted_datasource_is_one_delete_entry_and_its_items_theirs(staff_client, jira):
    Item.objects.create(name="Issues", datasource=jira, query="/search")
    AuditEntry.objects.all().delete()

    staff_client.post(f"/datasources/{jira.pk}/delete/")

    assert sorted(AuditEntry.objects.values_list("action", "object_type", "object_name")) == [
        ("delete", "datasource", "Jira"),
        ("delete", "item", "Issues"),
    ]


def test_a_change_in_the_admin_makes_one_entry(superuser_client, jira):
    AuditEntry.objects.all().delete()
    url = f"/admin/datasources/datasource/{jira.pk}/change/"
    data = form_data(superuser_client.get(url))
    data["name"] = "Jira Cloud"

    response = superuser_client.post(url, data, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    entry = _only_entry()
    assert (entry.actor, entry.address, entry.via, entry.action) == ("support", "198.51.100.4", "admin", "update")
    assert entry.changes == [{"field": "name", "old": "Jira", "new": "Jira Cloud"}]


def test_rotating_an_application_secret_is_recorded_without_the_secret(staff_client):
    application = make_application(name="Portal")
    old_secret = application.secret
    AuditEntry.objects.all().delete()

    staff_client.post(f"/applications/{application.pk}/rotate/")

    entry = _only_entry()
    application.refresh_from_db()
    assert (entry.action, entry.object_name) == ("rotate_secret", "Portal")
    assert {"field": "secret", "secret": True} in entry.changes
    assert_no_secret(json.dumps(list(AuditEntry.objects.values()), default=str), (old_secret, application.secret))
    assert_no_secret(staff_client.get(f"/applications/{application.pk}/").content, (application.secret,))


def test_granting_items_to_an_application_records_old_and_new_lists(staff_client, jira):
    item = Item.objects.create(name="Issues", datasource=jira, query="/search")
    application = make_application(name="Portal")
    AuditEntry.objects.all().delete()
    data = form_data(staff_client.get(f"/applications/{application.pk}/edit/"))
    data["items"] = [str(item.pk)]

    staff_client.post(f"/applications/{application.pk}/edit/", data)

    entry = _only_entry()
    assert entry.changes == [{"field": "items", "old": [], "new": ["Issues"]}]


def test_a_role_change_in_the_admin_is_recorded(superuser_client, django_user_model):
    person = django_user_model.objects.create_user("newcomer", is_staff=True)
    editor = Group.objects.get(name="Editor")
    AuditEntry.objects.all().delete()

    response = superuser_client.post(
        f"/admin/auth/user/{person.pk}/change/",
        {
            "username": "newcomer",
            "is_active": "on",
            "is_staff": "on",
            "groups": [str(editor.pk)],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )

    assert response.status_code == 302
    entry = _only_entry()
    assert (entry.action, entry.object_type, entry.object_name, entry.via) == (
        "role_change",
        "user",
        "newcomer",
        "admin",
    )
    assert entry.changes == [{"field": "groups", "old": [], "new": ["Editor"]}]


def test_disconnecting_oauth_is_recorded_and_token_renewals_are_not(staff_client, datasource_factory):
    datasource = datasource_factory(
        name="Graph",
        mode="oauth2_authorization_code",
        authorization_url="https://auth.example.com/authorize",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=NEW_SECRET,
    )
    auth = AuthConfig.objects.get(datasource=datasource)
    AuditEntry.objects.all().delete()
    oauth.store_token(auth, {"access_token": "s3cr3t-RENEWED-1111", "expires_in": 3600})
    assert not AuditEntry.objects.exists()

    staff_client.post(f"/datasources/{datasource.pk}/oauth/disconnect/")

    entry = _only_entry()
    assert (entry.action, entry.object_name) == (Action.OAUTH_DISCONNECT, "Graph")
    assert_no_secret(json.dumps(entry.changes), ("s3cr3t-RENEWED-1111", NEW_SECRET))


def test_signing_in_records_nothing(client, django_user_model):
    django_user_model.objects.create_user("filler", password="pw-filler-123")
    AuditEntry.objects.all().delete()

    client.post("/login/", {"username": "filler", "password": "pw-filler-123"})

    assert not AuditEntry.objects.exists()


def test_an_item_edit_records_its_fields_and_bindings(staff_client, jira):
    country = Item.objects.create(name="Country", datasource=jira, query="/countries")
    city = Item.objects.create(
        name="City", datasource=jira, query="/cities?c=$country", dependencies=[{"name": "country", "optional": False}]
    )
    AuditEntry.objects.all().delete()
    data = form_data(staff_client.get(f"/items/{city.pk}/edit/"))
    data.update({"max_options": "50", "bind_country": str(country.pk)})

    staff_client.post(f"/items/{city.pk}/edit/", data)

    entry = _only_entry()
    assert {"field": "max_options", "old": 100, "new": 50} in entry.changes
    assert {"field": "bindings[country].source", "old": None, "new": "Country"} in entry.changes


def test_an_auth_mode_change_lists_only_the_fields_of_the_chosen_mode(staff_client, jira):
    AuditEntry.objects.all().delete()

    _edit(
        staff_client,
        jira,
        **{
            "auth-mode": "api_key",
            "auth-api_key_location": "header",
            "auth-api_key_name": "X-Key",
            "auth-api_key_value": "s3cr3t-KEY-in-audit-3a3a",
        },
    )

    assert _only_entry().changes == [
        {"field": "auth.mode", "old": "basic", "new": "api_key"},
        {"field": "auth.api_key_name", "old": "", "new": "X-Key"},
        {"field": "auth.api_key_value", "secret": True},
    ]


def test_a_new_datasources_entry_lists_only_the_fields_of_its_auth_mode(staff_client):
    AuditEntry.objects.all().delete()
    page = start_wizard(staff_client, name="Weather")

    staff_client.post(
        "/datasources/new/configuration/", step3_data(page, mode="basic", username="elements", password=NEW_SECRET)
    )

    auth_fields = [c["field"] for c in _only_entry().changes if c["field"].startswith("auth.")]
    assert auth_fields == ["auth.mode", "auth.username", "auth.password"]
