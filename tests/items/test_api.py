"""The JSON API: options for signed-in users, datasource configuration for staff, errors always JSON."""

import pytest
import requests
from django.contrib.auth import get_user_model

from datasources.services import errors

from .conftest import BASE_URL, ISSUES

SEARCH_URL = f"{BASE_URL}/search"


@pytest.fixture
def item(item_factory, datasource_factory):
    return item_factory(datasource_factory(base_url=BASE_URL))


@pytest.fixture
def member_client(client, db):
    """A signed-in person who is not staff: a form filler."""
    user = get_user_model().objects.create_user("filler", "filler@example.com", "pw-filler-123")
    client.force_login(user)
    return client


def options_url(item, query=""):
    return f"/api/items/{item.pk}/options{query}"


def test_options_as_json_for_a_signed_in_user(item, member_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, json=ISSUES)
    response = member_client.get(options_url(item, "?q=printer"))
    assert response.status_code == 200
    assert response.json() == {
        "options": [
            {"key": "OPS-1", "label": "OPS-1 - Printer on fire"},
            {"key": "OPS-2", "label": "OPS-2 - Coffee machine empty"},
        ],
        "cached": False,
        "item": item.pk,
        "has_more": False,
        "total_known": 2,
        "complete": True,
    }
    assert "no-store" in response["Cache-Control"]


def test_second_call_says_it_came_from_the_cache(item, member_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, json=ISSUES)
    member_client.get(options_url(item, "?q=printer"))
    assert member_client.get(options_url(item, "?q=printer")).json()["cached"] is True
    assert len(upstream.calls) == 1


def test_dependencies_come_from_query_parameters_and_current_user_from_the_session(
    item_factory, datasource_factory, member_client, upstream, fake_dns
):
    item = item_factory(
        datasource_factory(base_url=BASE_URL),
        query="/cities?country=$country&by=$currentUser",
        dependencies=["country"],
        list_path="",
        key_field="id",
        label_template="",
    )
    upstream.get(f"{BASE_URL}/cities", json=[{"id": "AMS"}])
    response = member_client.get(options_url(item, "?country=N%26L&currentUser=someone-else"))
    assert response.status_code == 200
    assert upstream.calls[0].request.url == f"{BASE_URL}/cities?country=N%26L&by=filler"


def test_anonymous_gets_401_json_not_a_redirect(item, client):
    response = client.get(options_url(item, "?q=x"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_unknown_item_is_404_json(member_client):
    response = member_client.get("/api/items/999999/options?q=x")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_missing_variable_is_400_json(item, member_client, upstream, fake_dns):
    response = member_client.get(options_url(item))
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "missing_variable", "message": response.json()["error"]["message"]}
    assert "$userInput" in response.json()["error"]["message"]
    assert len(upstream.calls) == 0


def test_upstream_failure_is_502_without_the_upstream_body(item, member_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, status=500, body="internal detail 7c1d: stack trace of the API")
    response = member_client.get(options_url(item, "?q=x"))
    assert response.status_code == 502
    assert set(response.json()) == {"error"} and set(response.json()["error"]) == {"code", "message"}
    assert response.json()["error"] == {"code": "http_status", "message": "The API answered HTTP 500."}
    assert "internal detail 7c1d" not in response.content.decode()


def test_invalid_json_is_502(item, member_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, body="<html>login page</html>")
    response = member_client.get(options_url(item, "?q=x"))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "invalid_json"
    assert "login page" not in response.content.decode()


def test_extraction_error_is_502_with_a_clear_message(item, member_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, json={"values": []})
    response = member_client.get(options_url(item, "?q=x"))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "extraction_error"
    assert "no “issues”" in response.json()["error"]["message"]


def test_timeout_is_504(item, member_client, monkeypatch):
    def time_out(**kwargs):
        raise errors.UpstreamTimeout("The API did not answer within 60 seconds.")

    monkeypatch.setattr("datasources.services.client.call_datasource", time_out)
    response = member_client.get(options_url(item, "?q=x"))
    assert response.status_code == 504
    assert response.json()["error"] == {"code": "timeout", "message": "The API did not answer in time."}


def test_transport_timeout_is_504(item, member_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    response = member_client.get(options_url(item, "?q=x"))
    assert response.status_code == 504 and response.json()["error"]["message"] == "The API did not answer in time."


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_other_methods_get_405_json(item, member_client, method):
    response = getattr(member_client, method)(options_url(item, "?q=x"))
    assert response.status_code == 405 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "method_not_allowed" and response["Allow"] == "GET"


def test_a_post_with_a_session_but_no_csrf_token_is_405_json_not_the_csrf_page(item, db):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(get_user_model().objects.create_user("poster", password="pw-poster-123"))
    response = browser.post(options_url(item))
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "url", ["/api/items/abc/options", "/api/items/7/nothing", "/api/nothing/", "/api/datasources/abc/", "/api/"]
)
def test_every_unknown_api_url_is_404_json(member_client, url, db):
    response = member_client.get(url)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_an_unexpected_error_under_api_is_500_json(item, member_client, monkeypatch, settings):
    """Even an error outside the view's own handling (the 500 handler) answers JSON."""
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False

    def broken(pk):
        raise RuntimeError("boom")

    monkeypatch.setattr("items.api.find_item", broken)
    member_client.raise_request_exception = False
    response = member_client.get(options_url(item, "?q=x"))
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    assert "boom" not in response.content.decode()
