"""Only staff users see or change datasources; every form is CSRF-protected."""

import pytest
from django.test import Client
from django.urls import URLPattern

from datasources import urls as datasource_urls
from datasources.models import Datasource

pytestmark = pytest.mark.django_db

FOUNDATION_PAGES = [
    "/datasources/",
    "/datasources/new/",
    "/datasources/new/name/",
    "/datasources/new/configuration/",
    "/datasources/{pk}/",
    "/datasources/{pk}/edit/",
    "/datasources/{pk}/delete/",
]


def _every_datasource_url():
    """Every route of the datasources app (later issues add some), with a datasource id filled in."""
    routes = [p.pattern._route for p in datasource_urls.urlpatterns if isinstance(p, URLPattern)]
    return ["/datasources/" + route.replace("<int:pk>", "{pk}") for route in routes]


@pytest.fixture
def datasource(datasource_factory):
    return datasource_factory(name="Jira")


@pytest.fixture
def member_client(client, django_user_model):
    """Signed in, but not staff."""
    client.force_login(django_user_model.objects.create_user("member", "m@example.com", "pw-member-123"))
    return client


@pytest.fixture
def csrf_client(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    return client


@pytest.mark.parametrize("url", FOUNDATION_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, datasource, url):
    path = url.format(pk=datasource.pk)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


@pytest.mark.parametrize("url", _every_datasource_url())
def test_anonymous_posts_are_sent_to_the_login_page(client, datasource, url):
    response = client.post(url.format(pk=datasource.pk))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("url", FOUNDATION_PAGES)
def test_signed_in_non_staff_users_get_403(member_client, datasource, url):
    assert member_client.get(url.format(pk=datasource.pk)).status_code == 403


@pytest.mark.parametrize("url", _every_datasource_url())
def test_signed_in_non_staff_posts_get_403(member_client, datasource, url):
    assert member_client.post(url.format(pk=datasource.pk)).status_code == 403


def test_a_non_staff_user_cannot_delete(member_client, datasource):
    member_client.post(f"/datasources/{datasource.pk}/delete/")

    assert Datasource.objects.filter(pk=datasource.pk).exists()


def test_staff_users_can_sign_in_on_the_login_page(client, staff_user):
    response = client.post("/login/", {"username": "admin", "password": "pw-admin-123"})

    assert response["Location"] == "/datasources/"


def test_the_login_page_returns_to_the_page_asked_for(client, staff_user):
    response = client.post("/login/", {"username": "admin", "password": "pw-admin-123", "next": "/datasources/new/"})

    assert response["Location"] == "/datasources/new/"


@pytest.mark.parametrize(
    "url, data",
    [
        ("/datasources/new/", {"type": "rest_api"}),
        ("/datasources/new/name/", {"name": "Jira 2", "action": "next"}),
        ("/datasources/{pk}/edit/", {"name": "Renamed", "base_url": "https://api.example.com"}),
        ("/datasources/{pk}/delete/", {}),
    ],
)
def test_a_post_without_the_csrf_token_is_refused(csrf_client, datasource, url, data):
    response = csrf_client.post(url.format(pk=datasource.pk), data)

    assert response.status_code == 403
    assert list(Datasource.objects.values_list("name", flat=True)) == ["Jira"]


def test_a_post_with_the_csrf_token_is_accepted(csrf_client, datasource):
    page = csrf_client.get(f"/datasources/{datasource.pk}/delete/")

    response = csrf_client.post(
        f"/datasources/{datasource.pk}/delete/", {"csrfmiddlewaretoken": page.context["csrf_token"]}
    )

    assert response.status_code == 302
    assert not Datasource.objects.exists()
