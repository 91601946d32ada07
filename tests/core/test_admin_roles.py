"""The admin site honours the roles: a Viewer sees but cannot change, an Editor changes datasources and items but
not applications, an Administrator assigns roles but cannot make superusers."""

import pytest
from django.contrib.auth.models import Group

from applications.models import Application
from datasources.models import Datasource
from tests.conftest import make_datasource, with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def datasource():
    return make_datasource(name="Jira", base_url="https://api.example.com/rest")


def signed_in(client, django_user_model, role):
    user = django_user_model.objects.create_user(role.lower(), password="pw-role-123", is_staff=True)
    if role != "none":
        with_role(user, role)
    client.force_login(user)
    return user


def test_a_viewer_sees_a_datasource_in_the_admin_read_only(client, django_user_model, datasource):
    signed_in(client, django_user_model, "Viewer")

    page = client.get(f"/admin/datasources/datasource/{datasource.pk}/change/")

    assert page.status_code == 200
    assert 'name="base_url"' not in page.content.decode()  # shown, not editable


def test_a_viewer_cannot_change_a_datasource_in_the_admin(client, django_user_model, datasource):
    signed_in(client, django_user_model, "Viewer")

    response = client.post(
        f"/admin/datasources/datasource/{datasource.pk}/change/",
        {"name": "Renamed", "base_url": "https://other.example.com", "type": "rest_api"},
    )

    assert response.status_code == 403
    assert Datasource.objects.get(pk=datasource.pk).name == "Jira"


def test_a_viewer_cannot_delete_in_the_admin(client, django_user_model, datasource):
    signed_in(client, django_user_model, "Viewer")

    response = client.post(f"/admin/datasources/datasource/{datasource.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Datasource.objects.filter(pk=datasource.pk).exists()


def test_an_editor_may_change_a_datasource_in_the_admin(client, django_user_model, datasource):
    signed_in(client, django_user_model, "Editor")

    page = client.get(f"/admin/datasources/datasource/{datasource.pk}/change/")

    assert 'name="base_url"' in page.content.decode()


def test_an_editor_sees_applications_but_cannot_change_them_or_open_users(client, django_user_model):
    signed_in(client, django_user_model, "Editor")
    application = Application.objects.create(name="Portal")

    response = client.post(f"/admin/applications/application/{application.pk}/change/", {"name": "Renamed"})

    assert response.status_code == 403
    assert Application.objects.get(pk=application.pk).name == "Portal"
    assert client.get("/admin/auth/user/").status_code == 403


def test_staff_without_a_role_see_nothing_in_the_admin(client, django_user_model, datasource):
    signed_in(client, django_user_model, "none")

    assert client.get("/admin/datasources/datasource/").status_code == 403
    assert client.get("/admin/items/item/").status_code == 403


def test_an_administrator_assigns_roles_on_the_users_page(client, django_user_model):
    signed_in(client, django_user_model, "Administrator")
    other = django_user_model.objects.create_user("newcomer", password="pw-new-123", is_staff=True)
    page = client.get(f"/admin/auth/user/{other.pk}/change/")
    assert "Connect's roles are groups" in page.content.decode()
    editor = Group.objects.get(name="Editor")

    response = client.post(
        f"/admin/auth/user/{other.pk}/change/",
        {
            "username": "newcomer",
            "is_active": "on",
            "is_staff": "on",
            "groups": [str(editor.pk)],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(other.groups.values_list("name", flat=True)) == ["Editor"]


def test_an_administrator_cannot_make_a_superuser(client, django_user_model):
    admin = signed_in(client, django_user_model, "Administrator")

    client.post(
        f"/admin/auth/user/{admin.pk}/change/",
        {
            "username": admin.username,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )

    admin.refresh_from_db()
    assert not admin.is_superuser


def _user_form(user, **changes):
    data = {
        "username": user.username,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
    }
    data.update(changes)
    return data


def test_an_administrator_cannot_make_another_account_superuser(client, django_user_model):
    signed_in(client, django_user_model, "Administrator")
    other = django_user_model.objects.create_user("colleague", password="pw-col-123", is_staff=True)

    client.post(f"/admin/auth/user/{other.pk}/change/", _user_form(other, is_superuser="on"))

    other.refresh_from_db()
    assert not other.is_superuser


def test_an_administrator_cannot_change_a_superusers_password_in_the_admin(client, django_user_model):
    signed_in(client, django_user_model, "Administrator")
    root = django_user_model.objects.create_superuser("root", password="pw-root-original-1")

    response = client.post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": "Taken-over-pw-991", "password2": "Taken-over-pw-991", "usable_password": "true"},
    )

    assert response.status_code == 403
    root.refresh_from_db()
    assert root.check_password("pw-root-original-1")


def test_an_administrator_cannot_change_a_superusers_account_in_the_admin(client, django_user_model):
    signed_in(client, django_user_model, "Administrator")
    root = django_user_model.objects.create_superuser("root", password="pw-root-original-1")
    viewer = Group.objects.get(name="Viewer")

    response = client.post(f"/admin/auth/user/{root.pk}/change/", _user_form(root, groups=[str(viewer.pk)]))

    assert response.status_code == 403
    root.refresh_from_db()
    assert root.is_superuser and root.is_active and not root.groups.exists()


def test_an_administrator_sees_a_superusers_account_read_only(client, django_user_model):
    signed_in(client, django_user_model, "Administrator")
    root = django_user_model.objects.create_superuser("root", password="pw-root-original-1")

    page = client.get(f"/admin/auth/user/{root.pk}/change/")

    assert page.status_code == 200
    assert 'name="groups"' not in page.content.decode()
    assert f"/admin/auth/user/{root.pk}/password/" not in page.content.decode()


def test_a_superuser_may_grant_and_remove_superuser_status(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="pw-root-original-1")
    client.force_login(root)
    other = django_user_model.objects.create_user("colleague", password="pw-col-123", is_staff=True)

    response = client.post(f"/admin/auth/user/{other.pk}/change/", _user_form(other, is_superuser="on"))
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.is_superuser

    client.post(f"/admin/auth/user/{other.pk}/change/", _user_form(other))
    other.refresh_from_db()
    assert not other.is_superuser
