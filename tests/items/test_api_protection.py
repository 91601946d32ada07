"""The options endpoint when Connect holds a call back to protect the API: 429 or 503 with Retry-After, a public
message with the seconds to wait, and never a secret, a URL or the API's own text."""

import pytest
from django.contrib.auth import get_user_model

from datasources.models import Datasource
from datasources.services import errors
from tests.conftest import SECRET_API_KEY, assert_no_secret

from .conftest import BASE_URL, ISSUES

SEARCH_URL = f"{BASE_URL}/search"


@pytest.fixture
def item(item_factory, datasource_factory):
    datasource = datasource_factory(
        base_url=BASE_URL,
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )
    return item_factory(datasource)


@pytest.fixture
def member_client(client, db):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


def options(member_client, item, q):
    return member_client.get(f"/api/items/{item.pk}/options?q={q}")


def assert_public(response, code: str, status: int):
    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert f"{response['Retry-After']} s" in message  # the seconds to wait, as the header says
    for leak in ("api.example.com", "api_key", "search", "HTTP 5", "slow down"):
        assert leak not in message
    assert_no_secret(response.content)
    return message


def test_rate_limited_is_429_with_retry_after(item, member_client, upstream, fake_dns, redis, settings):
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    Datasource.objects.filter(pk=item.datasource_id).update(calls_per_second=0.5, concurrent_calls=0)
    upstream.get(SEARCH_URL, json=ISSUES)
    assert options(member_client, item, "one").status_code == 200
    response = options(member_client, item, "two")  # another query: the cache does not answer it
    assert_public(response, "rate_limited", 429)
    assert 1 <= int(response["Retry-After"]) <= 2  # the next token, at 0.5 calls per second
    assert len(upstream.calls) == 1


def test_upstream_paused_is_503_with_the_time_left(item, member_client, upstream, fake_dns, redis):
    upstream.get(SEARCH_URL, status=429, body=f"slow down {SECRET_API_KEY}", headers={"Retry-After": "30"})
    first = options(member_client, item, "one")
    assert first.status_code == 502 and first.json()["error"]["message"] == "The API answered HTTP 429."
    response = options(member_client, item, "two")
    message = assert_public(response, "upstream_paused", 503)
    assert 29 <= int(response["Retry-After"]) <= 30 and "paused" in message
    assert len(upstream.calls) == 1


def test_circuit_open_is_503_with_retry_after(item, member_client, upstream, fake_dns, redis, settings):
    settings.CONNECT_BREAKER_FAILURES = 2
    settings.CONNECT_BREAKER_OPEN_SECONDS = 45
    upstream.get(SEARCH_URL, status=500, body=f"database down {SECRET_API_KEY}")
    for q in ("one", "two"):
        assert options(member_client, item, q).status_code == 502
    response = options(member_client, item, "three")
    assert_public(response, "circuit_open", 503)
    assert 44 <= int(response["Retry-After"]) <= 45
    assert len(upstream.calls) == 2


def test_every_new_public_message_names_the_wait_and_nothing_else():
    for refusal in (errors.RateLimited, errors.UpstreamPaused, errors.CircuitOpen):
        text = refusal("detail for administrators", retry_after=12).public_text()
        assert "12 s" in text and "{" not in text and "http" not in text.lower()
