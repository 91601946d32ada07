"""The datasource JSON API for staff: configuration without secrets, errors always JSON."""

import pytest
from django.contrib.auth import get_user_model

from ..conftest import ALL_SECRETS, SECRET_API_KEY, SECRET_CLIENT_SECRET, SECRET_PASSWORD, assert_no_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(client):
    """A signed-in person who is not staff."""
    client.force_login(get_user_model().objects.create_user("filler", "filler@example.com", "pw-filler-123"))
    return client


def test_datasource_json_replaces_secrets_with_booleans(staff_client, datasource_factory):
    datasource = datasource_factory(
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
        headers=[("X-Tenant", "acme")],
    )
    response = staff_client.get(f"/api/datasources/{datasource.pk}/")
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "Jira" and data["base_url"] == datasource.base_url
    assert data["headers"] == [{"name": "X-Tenant", "value": "acme"}]
    assert data["auth"]["mode"] == "api_key"
    assert data["auth"]["api_key_location"] == "query" and data["auth"]["api_key_name"] == "api_key"
    assert data["auth"]["api_key_value_set"] is True and data["auth"]["password_set"] is False
    assert "api_key_value" not in data["auth"]
    assert_no_secret(response.content)


def test_datasource_list_hides_every_kind_of_secret(staff_client, datasource_factory):
    from datetime import timedelta

    from django.utils import timezone

    from ..conftest import SECRET_ACCESS_TOKEN, SECRET_REFRESH_TOKEN

    datasource_factory(name="Basic", mode="basic", username="elements", password=SECRET_PASSWORD)
    datasource_factory(
        name="OAuth",
        mode="oauth2_authorization_code",
        authorization_url="https://auth.example.com/a",
        token_url="https://auth.example.com/t",
        client_id="cid",
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
        refresh_token=SECRET_REFRESH_TOKEN,
        token_expires_at=timezone.now() + timedelta(hours=1),
    )
    response = staff_client.get("/api/datasources/")
    assert response.status_code == 200
    by_name = {d["name"]: d["auth"] for d in response.json()["datasources"]}
    assert by_name["Basic"]["password_set"] is True and by_name["Basic"]["username"] == "elements"
    oauth = by_name["OAuth"]
    assert oauth["client_secret_set"] is oauth["access_token_set"] is oauth["refresh_token_set"] is True
    assert oauth["client_id"] == "cid" and oauth["token_expires_at"]
    assert_no_secret(response.content, ALL_SECRETS)


def test_datasource_api_is_403_json_for_non_staff(member_client, datasource_factory):
    datasource = datasource_factory()
    for url in ("/api/datasources/", f"/api/datasources/{datasource.pk}/"):
        response = member_client.get(url)
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_datasource_api_is_401_json_for_anonymous(client, db):
    response = client.get("/api/datasources/")
    assert response.status_code == 401 and response["Content-Type"] == "application/json"


def test_unknown_datasource_is_404_json(staff_client):
    response = staff_client.get("/api/datasources/999999/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
