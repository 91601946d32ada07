"""/metrics in this process: who may read it, which events move which counters, and that no label carries a secret,
a URL or what a person typed. (Several workers sharing their values: tests/operations/test_serving.py.)"""

import importlib.metadata
import json

import pytest
from django.contrib.auth import get_user_model
from prometheus_client.parser import text_string_to_metric_families

from datasources.services import errors, oauth
from items.models import Item
from tests.conftest import ALL_SECRETS, SECRET_API_KEY, SECRET_CLIENT_SECRET, assert_no_secret, make_datasource
from tests.support import https_server as srv

from .answers import ISSUES_BODY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

TOKEN = "s3cr3t-METRICS-TOKEN-19ab"
DISTINCTIVE_QUERY = "zebra-QUERY-77c3"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.CONNECT_METRICS_TOKEN = TOKEN


def scrape(client, authorization=f"Bearer {TOKEN}"):
    return client.get("/metrics", HTTP_AUTHORIZATION=authorization) if authorization else client.get("/metrics")


def value(text: str, name: str, **labels) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def moved(client, action, name: str, **labels) -> float:
    before = scrape(client).content.decode()
    action()
    return value(scrape(client).content.decode(), name, **labels) - value(before, name, **labels)


def token_route(status: int, body: dict):
    def route(handler):
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        srv.send(handler, status, json.dumps(body).encode())

    return route


@pytest.fixture
def api(start_server):
    return start_server(
        {
            "/api/search": srv.answer(200, ISSUES_BODY),
            "/api/broken": srv.answer(500, b'{"error": "down"}'),
            "/token": token_route(200, {"access_token": "fresh-token-1", "token_type": "Bearer", "expires_in": 3600}),
            "/refused-token": token_route(401, {"error": "invalid_client"}),
        }
    )


@pytest.fixture
def member_client(client):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


def make_item(datasource, query="/search?q=$userInput"):
    item = Item(
        name=f"Item {Item.objects.count()}",
        datasource=datasource,
        query=query,
        list_path="issues",
        key_field="key",
        label_template="{key}",
    )
    item.full_clean()
    item.save()
    return item


def test_metrics_are_absent_without_a_configured_token(client, settings):
    settings.CONNECT_METRICS_TOKEN = ""
    assert scrape(client).status_code == 404
    assert scrape(client, authorization="Bearer ").status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN])
def test_metrics_refuse_a_missing_or_wrong_token(client, authorization):
    response = scrape(client, authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_no_secret(response.content, secrets=(TOKEN,))


def test_metrics_with_the_token_are_prometheus_text_without_sign_in(client):
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "connect_options_requests",
        "connect_upstream_calls",
        "connect_upstream_call_seconds",
        "connect_token_requests",
        "connect_cache_errors",
        "connect_protection_events",
    } <= names


def test_options_requests_count_by_item_and_cache_status(client, member_client, api):
    item = make_item(make_datasource(base_url=api.url("/api")))
    ask = lambda: member_client.get(f"/api/items/{item.pk}/options", {"q": "printer"})  # noqa: E731
    name, labels = "connect_options_requests_total", {"item": str(item.pk)}
    assert moved(client, ask, name, cache_status="miss", **labels) == 1
    assert moved(client, ask, name, cache_status="hit", **labels) == 1


def test_a_failed_options_request_counts_as_error_and_its_call_by_error_code(client, member_client, api):
    datasource = make_datasource(base_url=api.url("/api"))
    item = make_item(datasource, query="/broken?q=$userInput")
    ask = lambda: member_client.get(f"/api/items/{item.pk}/options", {"q": "printer"})  # noqa: E731
    assert moved(client, ask, "connect_options_requests_total", item=str(item.pk), cache_status="error") == 1
    assert moved(client, ask, "connect_upstream_calls_total", datasource=str(datasource.pk), outcome="http_status") == 1


def test_upstream_calls_are_counted_and_timed_by_datasource(client, member_client, api):
    datasource = make_datasource(base_url=api.url("/api"))
    item = make_item(datasource)
    ask = lambda: member_client.get(f"/api/items/{item.pk}/options", {"q": "printer"})  # noqa: E731
    labels = {"datasource": str(datasource.pk)}
    assert moved(client, ask, "connect_upstream_call_seconds_count", **labels) == 1
    assert (
        moved(
            client,
            lambda: member_client.get(f"/api/items/{item.pk}/options", {"q": "other"}),
            "connect_upstream_calls_total",
            outcome="ok",
            **labels,
        )
        == 1
    )


def test_token_requests_count_by_grant_and_outcome(client, api):
    good = make_datasource(
        name="CC",
        base_url=api.url("/api"),
        mode="oauth2_client_credentials",
        token_url=api.url("/token"),
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
    )
    bad = make_datasource(
        name="CC bad",
        base_url=api.url("/api"),
        mode="oauth2_client_credentials",
        token_url=api.url("/refused-token"),
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
    )
    name = "connect_token_requests_total"
    assert moved(client, lambda: oauth.bearer_token_for(good.auth), name, grant="client_credentials", outcome="ok") == 1

    def refused():
        with pytest.raises(errors.AuthenticationFailure):
            oauth.bearer_token_for(bad.auth)

    assert moved(client, refused, name, grant="client_credentials", outcome="authentication_failure") == 1


def test_no_secret_url_or_typed_text_in_any_label(client, member_client, api):
    keyed = make_datasource(
        name="Keyed",
        base_url=api.url("/api"),
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )
    member_client.get(f"/api/items/{make_item(keyed).pk}/options", {"q": DISTINCTIVE_QUERY})
    member_client.get(f"/api/items/{make_item(keyed, '/broken?q=$userInput').pk}/options", {"q": DISTINCTIVE_QUERY})
    member_client.get(f"/api/items/{make_item(keyed, '/nowhere/$userInput').pk}/options", {"q": DISTINCTIVE_QUERY})
    member_client.get("/api/items/987654/options", {"q": DISTINCTIVE_QUERY})  # no such item: no label for it
    guarded = make_datasource(
        name="CC",
        base_url=api.url("/api"),
        mode="oauth2_client_credentials",
        token_url=api.url("/refused-token"),
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
    )
    member_client.get(f"/api/items/{make_item(guarded).pk}/options", {"q": DISTINCTIVE_QUERY})
    text = scrape(client).content.decode()
    assert_no_secret(text, secrets=(*ALL_SECRETS, TOKEN, DISTINCTIVE_QUERY, "127.0.0.1", "/search", "api_key"))
    # Digits only in the labels: a sample's value (a duration's sum) may hold the port's digits by chance.
    labels = [
        (name, sample_labels)
        for family in text_string_to_metric_families(text)
        for name, sample_labels, *_rest in family.samples
    ]
    assert_no_secret(json.dumps(labels), secrets=("987654", str(api.port)))
    assert 'outcome="http_status"' in text and 'outcome="authentication_failure"' in text


def test_protection_events_are_counted_and_refused_calls_are_not_upstream_calls(client, member_client, api):
    api.routes["/api/busy"] = srv.answer(429, b'{"error": "slow down"}', headers=[("Retry-After", "30")])
    datasource = make_datasource(base_url=api.url("/api"))
    item = make_item(datasource, query="/busy?q=$userInput")
    ask = lambda: member_client.get(f"/api/items/{item.pk}/options", {"q": DISTINCTIVE_QUERY})  # noqa: E731
    labels = {"datasource": str(datasource.pk)}
    assert moved(client, ask, "connect_protection_events_total", event="retry_after", **labels) == 1
    before = scrape(client).content.decode()
    refused = ask()
    after = scrape(client).content.decode()
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "upstream_paused"
    assert (
        value(after, "connect_protection_events_total", event="upstream_paused", **labels)
        - value(before, "connect_protection_events_total", event="upstream_paused", **labels)
        == 1
    )
    assert value(after, "connect_upstream_calls_total", **labels) == value(
        before, "connect_upstream_calls_total", **labels
    )
    assert DISTINCTIVE_QUERY not in after


def test_metrics_carry_the_build_info_and_process_metrics_before_any_request(client):
    text = scrape(client).content.decode()
    assert value(text, "connect_build_info", version=importlib.metadata.version("connect")) == 1
    assert value(text, "process_resident_memory_bytes") > 0
