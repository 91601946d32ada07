"""An API that echoes the request back (a real local HTTPS echo server) never shows the datasource's own secrets:
in every form the client sends them (an API key as a query parameter or header, Basic's base64 of user:password,
a bearer token), they are *** in the preview's raw answer, in the options (endpoint and preview) and in the cache.
Each test first checks that the secret really was sent, so it proves something."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from items.services import resolve_item
from tests.conftest import (
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    assert_no_secret,
    make_datasource,
)
from tests.items.conftest import make_item, redis_dump
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

BASIC = base64.b64encode(f"elements:{SECRET_PASSWORD}".encode()).decode()
AUTH_MODES = {
    "api key in the query": (
        dict(mode="api_key", api_key_location="query", api_key_name="api_key", api_key_value=SECRET_API_KEY),
        SECRET_API_KEY,
    ),
    "api key header": (
        dict(mode="api_key", api_key_location="header", api_key_name="X-Api-Key", api_key_value=SECRET_API_KEY),
        SECRET_API_KEY,
    ),
    "basic": (dict(mode="basic", username="elements", password=SECRET_PASSWORD), BASIC),
    "bearer": (
        dict(
            mode="oauth2_client_credentials",
            token_url="https://auth.example.com/t",
            client_id="connect",
            client_secret=SECRET_CLIENT_SECRET,
            access_token=SECRET_ACCESS_TOKEN,
            token_expires_at=timezone.now() + timedelta(hours=1),
        ),
        SECRET_ACCESS_TOKEN,
    ),
}
SECRETS = (SECRET_API_KEY, SECRET_PASSWORD, BASIC, SECRET_ACCESS_TOKEN, SECRET_CLIENT_SECRET)


@pytest.fixture(params=list(AUTH_MODES))
def echo_item(request, start_server):
    auth, sent_form = AUTH_MODES[request.param]
    server = start_server({"/api/echo": srv.echo_json})
    datasource = make_datasource(name=f"Echo {request.param}", base_url=server.url("/api"), **auth)
    item = make_item(
        datasource,
        name="Echo",
        query="/echo?x=$userInput",
        list_path="results",
        key_field="id",
        label_template="{name}: {id}",
    )
    return item, server, sent_form


def test_the_preview_masks_echoed_secrets_in_the_raw_answer_and_the_options(echo_item, staff_client):
    item, server, sent_form = echo_item
    page = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "printer", "current_user": "admin"})
    html = page.content.decode()
    assert sent_form in repr(server.requests[0])  # the secret was really sent, and echoed
    assert "Raw answer" in html and "printer" in html
    assert "***" in html
    assert_no_secret(html, SECRETS)


def test_options_from_echoed_fields_show_no_secret_fresh_or_cached(echo_item, staff_client):
    item, server, sent_form = echo_item
    for expected_cache in (False, True):
        response = staff_client.get(f"/api/items/{item.pk}/options?q=printer")
        data = response.json()
        assert response.status_code == 200 and data["cached"] is expected_cache
        assert {"key": "printer", "label": "x: printer"} in data["options"]
        assert any("***" in option["label"] for option in data["options"])
        assert_no_secret(response.content, SECRETS)
    assert len(server.requests) == 1 and sent_form in repr(server.requests[0])


def test_the_cache_holds_no_echoed_secret(echo_item, redis):
    item, server, sent_form = echo_item
    resolve_item(item=item, user_input="printer")
    assert sent_form in repr(server.requests[0])
    dump = redis_dump(redis)
    assert "printer" in dump
    assert_no_secret(dump, SECRETS)


@pytest.mark.parametrize(
    "escaped", ["Tr0ub4dor\\u00263xyz", "Tr0ub4dor\\u00263XYZ".replace("XYZ", "xyz"), "\\u0054r0ub4dor&3xyz"]
)
def test_a_secret_spelled_with_json_escapes_is_masked_too(start_server, escaped):
    """Go's encoding/json writes & as \\u0026; others escape other characters or use upper-case hex."""
    from datasources.services.redaction import redaction_for_auth
    from datasources.services.response import UpstreamResponse

    datasource = make_datasource(
        name="Escapes",
        base_url="https://api.example.com/x",
        mode="basic",
        username="elements",
        password="Tr0ub4dor&3xyz",
    )
    body = ('{"results": [{"id": "a", "name": "' + escaped + '"}], "note": "caf\\u00e9"}').encode()
    response = UpstreamResponse(
        status_code=200,
        body=body,
        elapsed_seconds=0.0,
        redacted_url="https://x",
        redaction=redaction_for_auth(datasource.auth),
    )
    data, text, _encoding = response.json_releasing_body()
    assert data["results"][0]["name"] == "***" and data["note"] == "café"
    assert "Tr0ub4dor" not in text and "\\u0026" not in text
