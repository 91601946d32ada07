"""OAuth2 end to end: Connect against a real authorization server (django-oauth-toolkit under gunicorn, TLS, 127.0.0.1).

The server comes from the session-scoped `oauth_provider` fixture (tests/support/oauth_provider.py). Connect reaches
it by the name on its certificate, auth.connect.test, which the stubbed DNS maps to 127.0.0.1; only the test CA
is trusted. The consent is done with a real HTTP session, as a browser would: sign in as alice, Authorize.
"""

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from datasources.models import AuthConfig, OAuthState
from datasources.services import errors, oauth
from datasources.services.client import call_datasource
from tests.conftest import assert_no_secret, make_datasource

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/oauth/callback/"
HTTP_STACK = ("oauthlib", "requests_oauthlib", "urllib3", "requests")


@pytest.fixture
def provider(oauth_provider, settings, fake_dns):
    """The authorization server, with Connect configured to reach it: its CA trusted, 127.0.0.1 allowed."""
    settings.CONNECT_CA_BUNDLE = str(oauth_provider.ca_pem)
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1"]
    fake_dns[oauth_provider.hostname] = ["127.0.0.1"]
    return oauth_provider


def url(provider, path):
    return provider.base(host=provider.hostname) + path


def code_datasource(provider):
    return make_datasource(
        name="Issues (consent)",
        base_url=url(provider, "/api"),
        mode="oauth2_authorization_code",
        provider="custom",
        authorization_url=url(provider, "/o/authorize/"),
        token_url=url(provider, "/o/token/"),
        client_id=provider.web_client_id,
        client_secret=provider.web_client_secret,
        scopes="read",
    )


def service_datasource(provider):
    return make_datasource(
        name="Issues (service)",
        base_url=url(provider, "/api"),
        mode="oauth2_client_credentials",
        token_url=url(provider, "/o/token/"),
        client_id=provider.service_client_id,
        client_secret=provider.service_client_secret,
        scopes="read",
    )


def consent(client, provider, datasource, *, allow=True):
    """Connect -> the provider's consent page -> back to Connect's callback. Returns the callback's response."""
    started = client.post(f"/datasources/{datasource.pk}/oauth/connect/")
    assert started.status_code == 302
    location = provider.consent(started["Location"], allow=allow)
    assert location.startswith(CALLBACK + "?")
    return client.get("/oauth/callback/", {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})


def stored(datasource) -> AuthConfig:
    return AuthConfig.objects.get(datasource=datasource)


def raw_column(datasource, column) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM datasources_authconfig WHERE datasource_id = %s", [datasource.pk])
        return bytes(cursor.fetchone()[0])


def issues(datasource):
    response = call_datasource(datasource=datasource, path_and_query="/issues/")
    assert response.status_code == 200
    return response.json()


def expire(datasource):
    AuthConfig.objects.filter(datasource=datasource).update(token_expires_at=timezone.now() - timedelta(minutes=1))


def api_status_with(provider, token) -> int:
    return (
        provider.session()
        .get(provider.api_url + "/issues/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        .status_code
    )


# --- authorization code --------------------------------------------------------------------------------------


def test_consent_connects_the_datasource_with_tokens_stored_encrypted(provider, staff_client):
    datasource = code_datasource(provider)
    token_requests = provider.request_count("POST", "/o/token/")
    callback = consent(staff_client, provider, datasource)
    assert callback.status_code == 302
    assert callback["Location"] == f"/datasources/{datasource.pk}/"
    assert callback["Referrer-Policy"] == "no-referrer"
    assert provider.request_count("POST", "/o/token/") == token_requests + 1
    auth = stored(datasource)
    assert auth.access_token and auth.refresh_token
    assert auth.connected_at is not None and not auth.reconnect_needed and not auth.last_error
    assert auth.token_scopes == "read"
    assert timedelta(0) < auth.token_expires_at - timezone.now() <= timedelta(seconds=provider.access_token_seconds)
    assert auth.access_token.encode() not in raw_column(datasource, "access_token")
    assert auth.refresh_token.encode() not in raw_column(datasource, "refresh_token")
    page = staff_client.get(f"/datasources/{datasource.pk}/")
    assert b"Connected" in page.content and b"Reconnect" in page.content
    assert_no_secret(page.content, (auth.access_token, auth.refresh_token, provider.web_client_secret))


def test_the_provider_checks_the_pkce_verifier_connect_sends(provider, staff_client):
    datasource = code_datasource(provider)
    started = staff_client.post(f"/datasources/{datasource.pk}/oauth/connect/")
    location = provider.consent(started["Location"])
    # A verifier that does not match the challenge in the authorize URL: the real server must refuse the code.
    OAuthState.objects.update(code_verifier="x" * 64)
    callback = staff_client.get("/oauth/callback/", {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
    auth = stored(datasource)
    assert not auth.access_token and auth.connected_at is None
    assert "invalid_grant" in auth.last_error and not auth.reconnect_needed
    assert "invalid_grant" in staff_client.get(callback["Location"]).content.decode()


def test_declined_consent_is_shown_and_stores_nothing(provider, staff_client):
    datasource = code_datasource(provider)
    callback = consent(staff_client, provider, datasource, allow=False)
    assert callback.status_code == 302
    page = staff_client.get(callback["Location"])
    assert "Access was denied at the provider" in page.content.decode()
    assert not stored(datasource).access_token


def test_api_call_sends_the_access_token(provider, staff_client):
    datasource = code_datasource(provider)
    consent(staff_client, provider, datasource)
    body = issues(datasource)
    assert body["user"] == "alice"
    assert body["issues"][0] == {"id": "1", "summary": "Printer on fire"}


def test_expired_access_token_is_refreshed_at_the_provider(provider, staff_client):
    datasource = code_datasource(provider)
    consent(staff_client, provider, datasource)
    before = stored(datasource)
    expire(datasource)
    token_requests = provider.request_count("POST", "/o/token/")

    assert issues(datasource)["user"] == "alice"

    after = stored(datasource)
    assert provider.request_count("POST", "/o/token/") == token_requests + 1
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token  # the server rotates refresh tokens; the new one is kept
    assert after.token_expires_at > timezone.now() + timedelta(seconds=60)
    assert after.last_refresh_at > before.last_refresh_at
    # The refresh really happened at the provider: it revoked the old access token.
    assert api_status_with(provider, before.access_token) == 401
    assert api_status_with(provider, after.access_token) == 200
    # And the fresh token is reused, not refreshed again.
    assert issues(datasource)["user"] == "alice"
    assert provider.request_count("POST", "/o/token/") == token_requests + 1


def test_revoked_refresh_token_asks_for_reconnect(provider, staff_client):
    datasource = code_datasource(provider)
    consent(staff_client, provider, datasource)
    old_refresh = stored(datasource).refresh_token
    expire(datasource)
    oauth.bearer_token_for(stored(datasource))  # rotates: the old refresh token is now spent
    AuthConfig.objects.filter(datasource=datasource).update(refresh_token=old_refresh)
    expire(datasource)
    with pytest.raises(errors.ReconnectNeeded) as caught:
        issues(datasource)
    assert "reconnect" in caught.value.message.lower()
    assert stored(datasource).reconnect_needed


# --- client credentials --------------------------------------------------------------------------------------


def test_client_credentials_datasource_gets_a_token_and_calls_the_api(provider):
    datasource = service_datasource(provider)
    token_requests = provider.request_count("POST", "/o/token/")
    body = issues(datasource)
    assert body["issues"][1]["summary"] == "Coffee machine out of beans"
    assert body["user"] is None  # a client-credentials token belongs to no user
    auth = stored(datasource)
    assert auth.access_token and not auth.refresh_token
    assert auth.access_token.encode() not in raw_column(datasource, "access_token")
    issues(datasource)
    assert provider.request_count("POST", "/o/token/") == token_requests + 1


# --- nothing leaks -------------------------------------------------------------------------------------------


def run_both_flows(provider, staff_client):
    """Consent, call, refresh, call; and a client-credentials call. Returns the pages seen and every secret."""
    datasource = code_datasource(provider)
    callback = consent(staff_client, provider, datasource)
    pages = [staff_client.get(callback["Location"]).content.decode()]
    first = stored(datasource)
    issues(datasource)
    expire(datasource)
    issues(datasource)
    second = stored(datasource)
    service = service_datasource(provider)
    issues(service)
    pages.append(staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode())
    secrets = (
        first.access_token,
        first.refresh_token,
        second.access_token,
        second.refresh_token,
        stored(service).access_token,
        provider.web_client_secret,
        provider.service_client_secret,
        provider.password,
    )
    assert all(secrets)
    return pages, secrets


def test_no_token_or_secret_in_logs_or_pages(provider, staff_client, caplog):
    caplog.set_level(logging.DEBUG)
    pages, secrets = run_both_flows(provider, staff_client)
    for output in [caplog.text, *pages, *(record.getMessage() for record in caplog.records)]:
        assert_no_secret(output, secrets)


def test_no_token_or_secret_in_logs_even_with_the_http_libraries_at_debug(provider, staff_client, caplog):
    caplog.set_level(logging.DEBUG)
    for name in HTTP_STACK:
        caplog.set_level(logging.DEBUG, logger=name)
    pages, secrets = run_both_flows(provider, staff_client)
    assert any(record.name.startswith(HTTP_STACK) for record in caplog.records)  # they did log
    for output in [caplog.text, *(record.getMessage() for record in caplog.records)]:
        assert_no_secret(output, secrets)
