"""No secret (an API key sent as a query parameter, a bearer token) in any Redis key or value, endpoint error,
or preview page. Each test first checks that the secret really was sent upstream, so it proves something."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from datasources.services.redaction import redaction_for_datasource
from items.services import resolve_item

from ..conftest import SECRET_ACCESS_TOKEN, SECRET_API_KEY, SECRET_CLIENT_SECRET, assert_no_secret
from .conftest import BASE_URL, ISSUES, redis_dump

SEARCH_URL = f"{BASE_URL}/search"


@pytest.fixture
def api_key_item(item_factory, datasource_factory):
    datasource = datasource_factory(
        name="Keyed",
        base_url=BASE_URL,
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )
    return item_factory(datasource, name="Keyed issues")


@pytest.fixture
def bearer_item(item_factory, datasource_factory):
    datasource = datasource_factory(
        name="Bearer",
        base_url=BASE_URL,
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/t",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
        token_expires_at=timezone.now() + timedelta(hours=1),
    )
    return item_factory(datasource, name="Bearer issues")


def sent_api_key(call) -> bool:
    return f"api_key={quote(SECRET_API_KEY)}" in call.request.url


def sent_bearer(call) -> bool:
    return call.request.headers.get("Authorization") == f"Bearer {SECRET_ACCESS_TOKEN}"


CASES = [("api_key_item", sent_api_key), ("bearer_item", sent_bearer)]


@pytest.mark.parametrize("item_fixture, was_sent", CASES)
def test_no_secret_in_redis_keys_or_values(request, item_fixture, was_sent, upstream, fake_dns, redis):
    item = request.getfixturevalue(item_fixture)
    upstream.get(SEARCH_URL, json=ISSUES, headers={"Set-Cookie": f"echo={SECRET_API_KEY}"})
    resolve_item(item=item, user_input="printer")
    assert resolve_item(item=item, user_input="printer").cached is True
    assert was_sent(upstream.calls[0])
    dump = redis_dump(redis)
    assert "item-options" in dump
    assert_no_secret(dump)


@pytest.mark.parametrize("item_fixture, was_sent", CASES)
@pytest.mark.parametrize(
    "answer",
    [{"status": 500, "json": {}}, {"status": 200, "body": "not json"}, {"status": 200, "json": {"no": "list"}}],
)
def test_no_secret_in_endpoint_errors(request, staff_client, item_fixture, was_sent, answer, upstream, fake_dns):
    item = request.getfixturevalue(item_fixture)
    upstream.get(SEARCH_URL, **answer)
    response = staff_client.get(f"/api/items/{item.pk}/options?q=printer")
    assert response.status_code == 502
    assert was_sent(upstream.calls[0])
    assert_no_secret(response.content)


@pytest.mark.parametrize("item_fixture, was_sent", CASES)
@pytest.mark.parametrize("answer", [{"status": 200, "json": ISSUES}, {"status": 403, "json": {}}])
def test_no_secret_on_the_preview_page(request, staff_client, item_fixture, was_sent, answer, upstream, fake_dns):
    item = request.getfixturevalue(item_fixture)
    upstream.get(SEARCH_URL, **answer)
    page = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "printer", "current_user": "admin"})
    assert was_sent(upstream.calls[0])
    assert "/search?q=printer" in page.content.decode()
    assert_no_secret(page.content)


def test_redaction_hides_the_api_key_parameter_and_stored_values(api_key_item):
    datasource = api_key_item.datasource
    shown = redaction_for_datasource(datasource).url(f"/search?q=1&api_key={SECRET_API_KEY}&b=2")
    assert shown == "/search?q=1&api_key=***&b=2"
    shown = redaction_for_datasource(datasource).url(f"/x/{quote(SECRET_API_KEY)}")
    assert_no_secret(shown)
