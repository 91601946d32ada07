"""What an HTTP header can carry (datasources/header_values.py): values beyond Latin-1 (Cyrillic, the euro sign, the
invisible U+2028) are refused at save next to their field; Basic credentials go as UTF-8 (RFC 7617), whatever their
script; a value stored before the rules makes the call fail with a clear error, never a 500."""

import base64

import pytest
import responses

from datasources.models import Datasource
from datasources.services import client, connection_check
from tests.conftest import SECRET_CLIENT_SECRET, assert_no_secret
from tests.datasources.conftest import STEP3_URL, errors_next_to, start_wizard, step3_data
from tests.items.conftest import make_item

pytestmark = pytest.mark.django_db

BASE_URL = "https://api.example.com/rest"
CHARSET = (
    "This value has characters an HTTP header cannot carry: only Latin-1 letters and symbols can be sent (not "
    "Cyrillic, Greek, Chinese, the euro sign, emoji or invisible separators such as U+2028). If the API expects such "
    "text, enter it encoded as the API documents (for example percent-encoded or Base64)."
)
EURO_KEY = "k€y-s3cr3t-9d1f"


def _nothing_saved():
    return not Datasource.objects.exists()


@pytest.fixture
def upstream():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.mark.parametrize("value", ["Привет", "line\u2028separator", "10 €", "😀"])
def test_a_header_value_beyond_latin_1_is_refused_next_to_it(staff_client, value):
    data = step3_data(start_wizard(staff_client), headers=[("X-Greeting", value)])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-value") == [CHARSET]
    assert _nothing_saved()


@pytest.mark.parametrize("value", ["a\x01b", "a\x7fb"])
def test_a_control_character_in_a_header_value_is_refused(staff_client, value):
    data = step3_data(start_wizard(staff_client), headers=[("X-Greeting", value)])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-value") == [
        "A header value cannot contain control characters (tabs and spaces are fine)."
    ]
    assert _nothing_saved()


def test_latin_1_and_tabs_are_accepted_in_a_header_value(staff_client):
    data = step3_data(start_wizard(staff_client), headers=[("X-Greeting", "Grüße\taus Köln ©")])

    assert staff_client.post(STEP3_URL, data).status_code == 302
    assert Datasource.objects.get().headers.get().value == "Grüße\taus Köln ©"


def test_an_api_key_beyond_latin_1_in_a_header_is_refused_without_being_shown(staff_client):
    data = step3_data(
        start_wizard(staff_client),
        mode="api_key",
        api_key_location="header",
        api_key_name="X-API-Key",
        api_key_value=EURO_KEY,
    )

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "auth-api_key_value") == [CHARSET]
    assert EURO_KEY not in response.content.decode()
    assert _nothing_saved()


def test_an_api_key_beyond_latin_1_in_the_query_string_is_accepted_and_sent_percent_encoded(
    staff_client, upstream, fake_dns
):
    data = step3_data(
        start_wizard(staff_client), mode="api_key", api_key_location="query", api_key_name="key", api_key_value="k€y"
    )
    assert staff_client.post(STEP3_URL, data).status_code == 302
    upstream.get(f"{BASE_URL}/ping", json={})

    client.call_datasource(datasource=Datasource.objects.get(), path_and_query="/ping")

    assert upstream.calls[0].request.url == f"{BASE_URL}/ping?key=k%E2%82%ACy"


def test_a_basic_user_name_in_cyrillic_is_saved_and_sent_as_utf_8(staff_client, upstream, fake_dns):
    data = step3_data(start_wizard(staff_client), mode="basic", username="юзер", password="пароль-9")
    assert staff_client.post(STEP3_URL, data).status_code == 302
    upstream.get(f"{BASE_URL}/ping", json={})

    client.call_datasource(datasource=Datasource.objects.get(), path_and_query="/ping")

    sent = upstream.calls[0].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode("юзер:пароль-9".encode()).decode()


def test_a_colon_in_a_basic_user_name_is_refused(staff_client):
    data = step3_data(start_wizard(staff_client), mode="basic", username="dom:user", password="pw-1")

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "auth-username") == [
        "A Basic authentication user name cannot contain “:”: it separates the name from the password."
    ]
    assert _nothing_saved()


def test_an_oauth_client_id_beyond_latin_1_goes_to_the_token_url_as_utf_8(datasource_factory, upstream, fake_dns):
    datasource = datasource_factory(
        base_url=BASE_URL,
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="клиент",
        client_secret=SECRET_CLIENT_SECRET,
    )
    upstream.post("https://auth.example.com/token", json={"access_token": "t0ken-1", "expires_in": 3600})
    upstream.get(f"{BASE_URL}/ping", json={})

    client.call_datasource(datasource=datasource, path_and_query="/ping")

    token_request = upstream.calls[0].request
    expected = base64.b64encode(f"клиент:{SECRET_CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    assert upstream.calls[1].request.headers["Authorization"] == "Bearer t0ken-1"


# --- values stored before the rules: a clear error, nothing sent, never a 500 -------------------------------------


@pytest.fixture
def member_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("filler", "f@example.com", "pw-filler-123"))
    return client


def test_a_stored_header_value_beyond_latin_1_fails_the_options_call_with_a_clear_error(
    datasource_factory, member_client, upstream, fake_dns
):
    item = make_item(datasource_factory(base_url=BASE_URL, headers=[("X-Greeting", "Привет")]))

    response = member_client.get(f"/api/items/{item.pk}/options?q=x")

    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "unsendable_header",
        "message": "The datasource has a header value Connect cannot send: an administrator must correct it.",
    }
    assert len(upstream.calls) == 0


def test_the_preview_says_which_stored_header_cannot_be_sent(datasource_factory, staff_client, upstream, fake_dns):
    item = make_item(datasource_factory(base_url=BASE_URL, headers=[("X-Greeting", "Привет")]))

    response = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "x", "current_user": "admin"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "The header “X-Greeting” cannot be sent. This value has characters an HTTP header cannot carry" in page
    assert len(upstream.calls) == 0


def test_a_stored_api_key_beyond_latin_1_fails_without_being_shown(
    datasource_factory, staff_client, upstream, fake_dns
):
    datasource = datasource_factory(
        base_url=BASE_URL, mode="api_key", api_key_location="header", api_key_name="X-API-Key", api_key_value=EURO_KEY
    )
    item = make_item(datasource)

    response = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "x", "current_user": "admin"})

    assert "The API key cannot be sent in the header “X-API-Key”." in response.content.decode()
    assert_no_secret(response.content, secrets=[EURO_KEY])
    assert len(upstream.calls) == 0


def test_a_stored_header_with_u2028_is_reported_by_test_connection(datasource_factory, upstream, fake_dns):
    datasource = datasource_factory(base_url=BASE_URL, headers=[("X-Note", "a\u2028b")])

    check = connection_check.check_connection(datasource=Datasource.objects.get(pk=datasource.pk))

    assert (check.ok, check.category) == (False, "unsendable_header")
    assert "The header “X-Note” cannot be sent." in check.message


def test_an_access_token_beyond_latin_1_from_the_provider_is_an_authentication_failure(
    datasource_factory, upstream, fake_dns
):
    datasource = datasource_factory(
        base_url=BASE_URL,
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
    )
    upstream.post("https://auth.example.com/token", json={"access_token": "токен", "expires_in": 3600})

    check = connection_check.check_connection(datasource=Datasource.objects.get(pk=datasource.pk))

    assert (check.ok, check.category) == (False, "authentication_failure")
    assert "The access token from the token endpoint cannot be sent in an Authorization header." in check.message
    assert [call.request.url for call in upstream.calls] == ["https://auth.example.com/token"]
