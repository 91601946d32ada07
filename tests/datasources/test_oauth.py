"""OAuth2: client credentials and the authorization-code flow, with `responses` standing in for providers."""

import base64
import hashlib
import json
import logging
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.test import Client
from django.utils import timezone

from datasources.models import AuthConfig, Datasource, OAuthState
from datasources.services import errors, oauth
from datasources.services.presets import PRESETS
from tests.conftest import (
    ALL_SECRETS,
    SECRET_ACCESS_TOKEN,
    SECRET_CLIENT_SECRET,
    SECRET_REFRESH_TOKEN,
    assert_no_secret,
    make_datasource,
    with_role,
)

TOKEN_URL = "https://auth.example.com/oauth/token"
AUTHORIZE_URL = "https://auth.example.com/oauth/authorize"
API = "https://api.example.com/v1"

pytestmark = pytest.mark.usefixtures("fake_dns")


def token_body(access=SECRET_ACCESS_TOKEN, refresh=None, expires_in=3600, scope=None):
    body = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    if scope:
        body["scope"] = scope
    return body


def form_of(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def cc_datasource(**auth):
    fields = dict(
        token_url=TOKEN_URL,
        client_id="connect-client",
        client_secret=SECRET_CLIENT_SECRET,
        scopes="read write",
        extra_token_params={"audience": "https://api.example.com"},
    )
    fields.update(auth)
    return make_datasource(name="CC", base_url=API, mode="oauth2_client_credentials", **fields)


def ac_datasource(provider="custom", **auth):
    fields = dict(
        provider=provider,
        authorization_url=AUTHORIZE_URL,
        token_url=TOKEN_URL,
        client_id="connect-client",
        client_secret=SECRET_CLIENT_SECRET,
        scopes="read offline",
    )
    fields.update(auth)
    return make_datasource(name=f"AC {provider}", base_url=API, mode="oauth2_authorization_code", **fields)


def connected(datasource, *, expires_in=3600, refresh=SECRET_REFRESH_TOKEN):
    AuthConfig.objects.filter(datasource=datasource).update(
        access_token="old-access-token-1",
        refresh_token=refresh,
        connected_at=timezone.now(),
        token_expires_at=timezone.now() + timedelta(seconds=expires_in),
    )
    return AuthConfig.objects.get(datasource=datasource)


# --- client credentials --------------------------------------------------------------------------------------


@pytest.mark.django_db
@responses.activate
def test_client_credentials_token_is_fetched_once_and_reused():
    responses.post(TOKEN_URL, json=token_body())
    auth = cc_datasource().auth
    assert oauth.bearer_token_for(auth) == SECRET_ACCESS_TOKEN
    assert oauth.bearer_token_for(AuthConfig.objects.get(pk=auth.pk)) == SECRET_ACCESS_TOKEN
    assert len(responses.calls) == 1
    sent = form_of(responses.calls[0])
    assert sent["grant_type"] == "client_credentials"
    assert sent["scope"] == "read write"
    assert sent["audience"] == "https://api.example.com"
    assert "client_secret" not in sent
    expected = base64.b64encode(f"connect-client:{SECRET_CLIENT_SECRET}".encode()).decode()
    assert responses.calls[0].request.headers["Authorization"] == f"Basic {expected}"


@pytest.mark.django_db
@responses.activate
def test_client_credentials_token_is_stored_encrypted_with_expiry():
    responses.post(TOKEN_URL, json=token_body(expires_in=120))
    auth = cc_datasource().auth
    oauth.bearer_token_for(auth)
    stored = AuthConfig.objects.get(pk=auth.pk)
    assert stored.access_token == SECRET_ACCESS_TOKEN
    assert timedelta(seconds=100) < stored.token_expires_at - timezone.now() <= timedelta(seconds=120)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM datasources_authconfig WHERE id = %s", [auth.pk])
        raw = bytes(cursor.fetchone()[0])
    assert SECRET_ACCESS_TOKEN.encode() not in raw


@pytest.mark.parametrize(
    "lifetime, seconds_left, renewed",
    [
        (3600, 90, False),  # more than 60 s left: reused
        (3600, 50, True),  # within 60 s of expiry: renewed
        (3600, -5, True),  # expired: fetched again
        (20, 15, False),  # a 20-second token: reused until half its lifetime is left (issue 12)
        (20, 9, True),
        (None, 50, True),  # lifetime unknown: the 60-second margin
    ],
)
@pytest.mark.django_db
@responses.activate
def test_a_token_is_renewed_shortly_before_it_expires_relative_to_its_lifetime(lifetime, seconds_left, renewed):
    responses.post(TOKEN_URL, json=token_body(access="fresh-token-2"))
    auth = cc_datasource().auth
    expires_at = timezone.now() + timedelta(seconds=seconds_left)
    refreshed_at = expires_at - timedelta(seconds=lifetime) if lifetime else None
    AuthConfig.objects.filter(pk=auth.pk).update(
        access_token="old-token-1", token_expires_at=expires_at, last_refresh_at=refreshed_at
    )
    token = oauth.bearer_token_for(AuthConfig.objects.get(pk=auth.pk))
    assert token == ("fresh-token-2" if renewed else "old-token-1")
    assert len(responses.calls) == (1 if renewed else 0)


@pytest.mark.django_db
@responses.activate
def test_a_short_lived_token_fetched_by_connect_is_reused_by_the_next_calls():
    responses.post(TOKEN_URL, json=token_body(access="fresh-token-2", expires_in=20))
    auth = cc_datasource().auth
    for _ in range(3):
        assert oauth.bearer_token_for(AuthConfig.objects.get(pk=auth.pk)) == "fresh-token-2"
    assert len(responses.calls) == 1


@pytest.mark.django_db
@responses.activate
def test_body_client_authentication_sends_credentials_in_the_body():
    responses.post(TOKEN_URL, json=token_body())
    auth = cc_datasource(client_auth_method="body").auth
    oauth.bearer_token_for(auth)
    sent = form_of(responses.calls[0])
    assert sent["client_id"] == "connect-client"
    assert sent["client_secret"] == SECRET_CLIENT_SECRET
    assert "Authorization" not in responses.calls[0].request.headers


@pytest.mark.django_db
@responses.activate
def test_token_endpoint_error_shows_provider_error_without_the_secret():
    responses.post(
        TOKEN_URL,
        status=401,
        json={"error": "invalid_client", "error_description": f"Bad secret {SECRET_CLIENT_SECRET}"},
    )
    auth = cc_datasource().auth
    with pytest.raises(errors.AuthenticationFailure) as caught:
        oauth.bearer_token_for(auth)
    assert "invalid_client" in caught.value.message
    assert "Bad secret" in caught.value.message
    assert_no_secret(caught.value.message)
    assert_no_secret(str(caught.value))
    assert_no_secret(AuthConfig.objects.get(pk=auth.pk).last_error)


@pytest.mark.parametrize(
    "status, reason",
    [(500, "Internal Server Error"), (501, "Not Implemented"), (502, "Bad Gateway"), (404, "Not Found")],
)
@pytest.mark.django_db
@responses.activate
def test_token_endpoint_answering_an_html_page_names_the_token_endpoint_and_its_status(status, reason):
    responses.post(TOKEN_URL, status=status, body="<html><h1>Bad gateway</h1></html>", content_type="text/html")
    auth = cc_datasource().auth
    with pytest.raises(errors.AuthenticationFailure) as caught:
        oauth.bearer_token_for(auth)
    message = caught.value.message
    assert f"The token endpoint {TOKEN_URL} answered HTTP {status} {reason}" in message
    assert "missing_token" not in message and "Missing access token" not in message
    assert AuthConfig.objects.get(pk=auth.pk).last_error == message


@pytest.mark.django_db
@responses.activate
def test_a_token_endpoint_refusal_gives_the_http_status_and_the_oauth_error():
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    with pytest.raises(errors.AuthenticationFailure) as caught:
        oauth.bearer_token_for(cc_datasource().auth)
    assert caught.value.message == f"The token endpoint {TOKEN_URL} refused the request (HTTP 401, invalid_client)."


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_callers_with_an_expired_token_make_one_token_request():
    auth = cc_datasource().auth
    AuthConfig.objects.filter(pk=auth.pk).update(
        access_token="old-token-1", token_expires_at=timezone.now() - timedelta(seconds=5)
    )
    auths = [AuthConfig.objects.get(pk=auth.pk) for _ in range(20)]
    results, failures = [], []

    def slow_token(request):
        time.sleep(0.2)
        return 200, {}, json.dumps(token_body(access="fresh-token-2"))

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, TOKEN_URL, callback=slow_token)
        barrier = threading.Barrier(20)

        def call(one):
            barrier.wait()
            try:
                results.append(oauth.bearer_token_for(one))
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)
            finally:
                from django.db import connection

                connection.close()

        threads = [threading.Thread(target=call, args=(a,)) for a in auths]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        token_requests = len(mock.calls)
    assert failures == []
    assert results == ["fresh-token-2"] * 20
    assert token_requests == 1


@pytest.mark.django_db
@responses.activate
def test_force_new_after_a_rejected_token_fetches_a_new_one_once():
    responses.post(TOKEN_URL, json=token_body(access="fresh-token-2"))
    auth = cc_datasource().auth
    AuthConfig.objects.filter(pk=auth.pk).update(
        access_token="old-token-1", token_expires_at=timezone.now() + timedelta(hours=1)
    )
    first = AuthConfig.objects.get(pk=auth.pk)
    second = AuthConfig.objects.get(pk=auth.pk)
    assert oauth.bearer_token_for(first, force_new=True, rejected_token="old-token-1") == "fresh-token-2"
    # A second caller rejected the same old token: it gets the new one without another request.
    assert oauth.bearer_token_for(second, force_new=True, rejected_token="old-token-1") == "fresh-token-2"
    assert len(responses.calls) == 1


# --- authorization code: the consent ---------------------------------------------------------------------------


def start(staff_client, datasource):
    response = staff_client.post(f"/datasources/{datasource.pk}/oauth/connect/")
    assert response.status_code == 302
    return response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("provider", sorted(PRESETS))
def test_authorize_url_carries_pkce_and_the_preset_parameters(staff_client, provider):
    preset = PRESETS[provider]
    datasource = ac_datasource(
        provider=provider, tenant="contoso.example", authorization_url=preset.authorization_url or AUTHORIZE_URL
    )
    location = start(staff_client, datasource)
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "connect-client"
    assert query["redirect_uri"] == "http://testserver/oauth/callback/"
    assert query["scope"] == "read offline"
    assert len(query["state"]) >= 32
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert "code_verifier" not in query
    row = OAuthState.objects.get()
    expected = base64.urlsafe_b64encode(hashlib.sha256(row.code_verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == expected
    assert row.code_verifier not in location
    for name, value in preset.authorize_params.items():
        assert query[name] == value
    expected_base = (preset.authorization_url or AUTHORIZE_URL).replace("{tenant}", "contoso.example")
    assert location.startswith(expected_base + "?")


def test_presets_hold_the_documented_quirks():
    assert PRESETS["google"].authorize_params == {"access_type": "offline", "prompt": "consent"}
    assert PRESETS["google"].token_url == "https://oauth2.googleapis.com/token"
    assert "offline_access" in PRESETS["microsoft"].default_scopes.split()
    assert "{tenant}" in PRESETS["microsoft"].authorization_url and PRESETS["microsoft"].needs_tenant
    assert PRESETS["github"].token_headers == {"Accept": "application/json"}
    assert PRESETS["dropbox"].authorize_params == {"token_access_type": "offline"}
    assert PRESETS["salesforce"].authorization_url.startswith("https://login.salesforce.com/")


@pytest.mark.django_db
@responses.activate
def test_callback_exchanges_the_code_with_the_verifier_and_stores_tokens(staff_client):
    responses.post(TOKEN_URL, json=token_body(refresh=SECRET_REFRESH_TOKEN, scope="read offline"))
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    verifier = OAuthState.objects.get().code_verifier
    response = staff_client.get("/oauth/callback/", {"state": state, "code": "the-code"})
    assert response.status_code == 302
    assert response["Location"] == f"/datasources/{datasource.pk}/"
    assert response["Referrer-Policy"] == "no-referrer"
    sent = form_of(responses.calls[0])
    assert sent["grant_type"] == "authorization_code"
    assert sent["code"] == "the-code"
    assert sent["code_verifier"] == verifier
    assert sent["redirect_uri"] == "http://testserver/oauth/callback/"
    auth = AuthConfig.objects.get(datasource=datasource)
    assert auth.access_token == SECRET_ACCESS_TOKEN
    assert auth.refresh_token == SECRET_REFRESH_TOKEN
    assert auth.connected_at is not None
    assert auth.token_scopes == "read offline"
    page = staff_client.get(f"/datasources/{datasource.pk}/")
    assert b"Connected" in page.content and b"Reconnect" in page.content
    assert_no_secret(page.content)


def refused_callback(client, params):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(TOKEN_URL, json=token_body(refresh=SECRET_REFRESH_TOKEN))
        response = client.get("/oauth/callback/", params)
        token_requests = len(mock.calls)
    return response, token_requests


@pytest.mark.django_db
def test_callback_without_state_is_refused_without_a_token_request(staff_client):
    ac_datasource()
    response, token_requests = refused_callback(staff_client, {"code": "the-code"})
    assert response.status_code == 400
    assert b"no state parameter" in response.content
    assert token_requests == 0
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.django_db
def test_callback_with_unknown_state_is_refused_without_a_token_request(staff_client):
    datasource = ac_datasource()
    start(staff_client, datasource)
    response, token_requests = refused_callback(staff_client, {"state": "made-up-state", "code": "c"})
    assert response.status_code == 400 and b"unknown" in response.content
    assert token_requests == 0
    assert AuthConfig.objects.get(datasource=datasource).access_token == ""


@pytest.mark.django_db
def test_reused_state_is_refused_without_a_second_token_request(staff_client):
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    first, first_requests = refused_callback(staff_client, {"state": state, "code": "c"})
    assert first.status_code == 302 and first_requests == 1
    again, token_requests = refused_callback(staff_client, {"state": state, "code": "c"})
    assert again.status_code == 400 and b"already used" in again.content
    assert token_requests == 0


@pytest.mark.django_db
def test_expired_state_is_refused_without_a_token_request(staff_client):
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    OAuthState.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    response, token_requests = refused_callback(staff_client, {"state": state, "code": "c"})
    assert response.status_code == 400 and b"expired" in response.content
    assert token_requests == 0


@pytest.mark.django_db
def test_state_from_an_ended_session_is_refused_and_says_so(staff_client, staff_user):
    """The admin's Connect session ended during consent and they signed in again: refused (the state is bound to
    the session), with a message that tells what happened (issue 12)."""
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    other = Client()
    other.force_login(staff_user)
    response, token_requests = refused_callback(other, {"state": state, "code": "c"})
    assert response.status_code == 400 and b"Your Connect session ended" in response.content
    assert b"another" not in response.content
    assert token_requests == 0
    assert AuthConfig.objects.get(datasource=datasource).access_token == ""


def test_state_from_another_user_is_refused_without_a_token_request(staff_client, django_user_model):
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    other = Client()
    other.force_login(
        with_role(
            django_user_model.objects.create_user("other-admin", password="pw-other-123", is_staff=True),
            "Administrator",
        )
    )
    response, token_requests = refused_callback(other, {"state": state, "code": "c"})
    assert response.status_code == 400 and b"started by another Connect user" in response.content
    assert token_requests == 0
    assert AuthConfig.objects.get(datasource=datasource).access_token == ""


@pytest.mark.django_db
def test_access_denied_is_shown_clearly_and_nothing_is_stored(staff_client):
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    response, token_requests = refused_callback(
        staff_client, {"state": state, "error": "access_denied", "error_description": "The user said no"}
    )
    assert token_requests == 0
    page = staff_client.get(response["Location"])
    assert "Access was denied at the provider" in page.content.decode()
    assert AuthConfig.objects.get(datasource=datasource).access_token == ""


@pytest.mark.django_db
def test_other_provider_errors_are_shown_with_their_code(staff_client):
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    response, _ = refused_callback(
        staff_client, {"state": state, "error": "invalid_scope", "error_description": "Unknown scope offline"}
    )
    page = staff_client.get(response["Location"]).content.decode()
    assert "invalid_scope" in page and "Unknown scope offline" in page


@pytest.mark.django_db
def test_a_cancelled_reconnect_keeps_the_connection_and_records_no_error_beside_connected(staff_client):
    datasource = ac_datasource()
    connected(datasource)
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    response, token_requests = refused_callback(staff_client, {"state": state, "error": "access_denied"})
    assert token_requests == 0
    page = staff_client.get(response["Location"]).content.decode()
    assert "Reconnect cancelled: access was denied at the provider. The existing connection is kept." in page
    assert "Last error" not in page and ">Connected<" in page
    stored = AuthConfig.objects.get(datasource=datasource)
    assert stored.access_token == "old-access-token-1" and stored.last_error == ""


@pytest.mark.django_db
def test_a_token_endpoint_that_is_down_during_the_code_exchange_is_named(staff_client, fake_dns):
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, body=requests.exceptions.ConnectionError("connection refused"))
        response = staff_client.get("/oauth/callback/", {"state": state, "code": "the-code"})
    page = staff_client.get(response["Location"]).content.decode()
    assert f"Could not connect to the token endpoint {TOKEN_URL}" in page
    assert "to the API" not in page


@pytest.mark.django_db
def test_callback_needs_a_signed_in_staff_user(client):
    response = client.get("/oauth/callback/", {"state": "x", "code": "y"})
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- authorization code: refresh -------------------------------------------------------------------------------


@pytest.mark.django_db
@responses.activate
def test_expired_access_token_is_refreshed_and_a_new_refresh_token_is_kept():
    responses.post(TOKEN_URL, json=token_body(access="fresh-token-2", refresh="new-refresh-3"))
    auth = connected(ac_datasource(), expires_in=-10)
    assert oauth.bearer_token_for(auth) == "fresh-token-2"
    sent = form_of(responses.calls[0])
    assert sent["grant_type"] == "refresh_token"
    assert sent["refresh_token"] == SECRET_REFRESH_TOKEN
    stored = AuthConfig.objects.get(pk=auth.pk)
    assert (stored.access_token, stored.refresh_token) == ("fresh-token-2", "new-refresh-3")
    assert stored.last_refresh_at is not None


@pytest.mark.django_db
@responses.activate
def test_refresh_without_a_new_refresh_token_keeps_the_old_one():
    responses.post(TOKEN_URL, json=token_body(access="fresh-token-2"))
    auth = connected(ac_datasource(), expires_in=-10)
    oauth.bearer_token_for(auth)
    assert AuthConfig.objects.get(pk=auth.pk).refresh_token == SECRET_REFRESH_TOKEN


@pytest.mark.django_db
@responses.activate
def test_invalid_grant_marks_reconnect_needed(staff_client):
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "Token revoked"})
    auth = connected(ac_datasource(), expires_in=-10)
    with pytest.raises(errors.ReconnectNeeded) as caught:
        oauth.bearer_token_for(auth)
    assert "reconnect" in caught.value.message.lower()
    stored = AuthConfig.objects.get(pk=auth.pk)
    assert stored.reconnect_needed
    page = staff_client.get(f"/datasources/{auth.datasource_id}/").content.decode()
    assert "Reconnect needed" in page
    assert_no_secret(page)


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 200, "json": {"error": "bad_refresh_token", "error_description": "The refresh token is invalid."}},
        {"status": 400, "json": {"error": "invalid_request", "error_description": "refresh token expired"}},
        {"status": 401, "json": {"error": "invalid_client"}},
    ],
)
@pytest.mark.django_db
@responses.activate
def test_any_oauth_error_in_a_refresh_answer_marks_reconnect_needed(answer, staff_client):
    """GitHub answers a bad refresh token with HTTP 200 {"error": "bad_refresh_token"} (issue 12)."""
    responses.post(TOKEN_URL, **answer)
    auth = connected(ac_datasource(provider="github"), expires_in=-10)
    with pytest.raises(errors.ReconnectNeeded):
        oauth.bearer_token_for(auth)
    stored = AuthConfig.objects.get(pk=auth.pk)
    assert stored.reconnect_needed and answer["json"]["error"] in stored.last_error
    page = staff_client.get(f"/datasources/{auth.datasource_id}/").content.decode()
    assert "Reconnect needed" in page and ">Connected<" not in page


@pytest.mark.parametrize("error", ["temporarily_unavailable", "server_error"])
@pytest.mark.django_db
@responses.activate
def test_a_transient_oauth_error_in_a_refresh_answer_is_not_reconnect_needed(error):
    responses.post(TOKEN_URL, status=400, json={"error": error})
    auth = connected(ac_datasource(), expires_in=-10)
    with pytest.raises(errors.AuthenticationFailure) as caught:
        oauth.bearer_token_for(auth)
    assert not isinstance(caught.value, errors.ReconnectNeeded)
    assert not AuthConfig.objects.get(pk=auth.pk).reconnect_needed


@pytest.mark.django_db
@responses.activate
def test_a_datasource_flagged_reconnect_needed_fails_at_once_without_a_token_request(caplog):
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    datasource = ac_datasource()
    connected(datasource, expires_in=-10)
    responses.get(f"{API}/issues", json={})
    from datasources.services import client

    with pytest.raises(errors.ReconnectNeeded):
        client.call_datasource(datasource=Datasource.objects.get(pk=datasource.pk), path_and_query="/issues")
    token_requests = len(responses.calls)
    caplog.clear()
    for _ in range(5):  # one call per keystroke
        with pytest.raises(errors.ReconnectNeeded) as caught:
            client.call_datasource(datasource=Datasource.objects.get(pk=datasource.pk), path_and_query="/issues")
    assert token_requests == 1 and len(responses.calls) == 1  # no new provider request, no API call
    assert "Reconnect" in caught.value.message
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.django_db
@responses.activate
def test_reconnecting_clears_the_flag_and_calls_work_again(staff_client):
    datasource = ac_datasource()
    auth = connected(datasource, expires_in=-10)
    AuthConfig.objects.filter(pk=auth.pk).update(reconnect_needed=True, last_error="refused")
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    responses.post(TOKEN_URL, json=token_body(access="fresh-token-2", refresh="new-refresh-3"))
    staff_client.get("/oauth/callback/", {"state": state, "code": "the-code"})
    stored = AuthConfig.objects.get(pk=auth.pk)
    assert not stored.reconnect_needed and stored.last_error == ""
    assert oauth.bearer_token_for(stored) == "fresh-token-2"


@pytest.mark.django_db
def test_disconnect_removes_the_tokens(staff_client):
    auth = connected(ac_datasource())
    response = staff_client.post(f"/datasources/{auth.datasource_id}/oauth/disconnect/")
    assert response.status_code == 302
    stored = AuthConfig.objects.get(pk=auth.pk)
    assert (stored.access_token, stored.refresh_token, stored.connected_at) == ("", "", None)


@pytest.mark.django_db
def test_changing_the_client_id_invalidates_stored_tokens():
    from datasources.forms import AuthForm

    auth = connected(ac_datasource())
    data = {
        f"auth-{k}": v
        for k, v in {
            "mode": "oauth2_authorization_code",
            "provider": "custom",
            "authorization_url": AUTHORIZE_URL,
            "token_url": TOKEN_URL,
            "client_id": "another-client",
            "scopes": "read offline",
            "client_auth_method": "basic",
            "api_key_location": "header",
        }.items()
    }
    form = AuthForm(data, instance=auth, prefix="auth")
    assert form.is_valid(), form.errors
    form.save()
    stored = AuthConfig.objects.get(pk=auth.pk)
    assert (stored.access_token, stored.refresh_token) == ("", "")
    assert stored.client_secret == SECRET_CLIENT_SECRET
    assert form.notes


# --- nothing leaks -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_token_or_secret_in_logs_pages_or_errors(staff_client, caplog):
    caplog.set_level(logging.DEBUG)
    datasource = ac_datasource()
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, json=token_body(refresh=SECRET_REFRESH_TOKEN))
        state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
        callback = staff_client.get("/oauth/callback/", {"state": state, "code": "the-code"}, follow=True)
    AuthConfig.objects.filter(datasource=datasource).update(token_expires_at=timezone.now() - timedelta(minutes=1))
    with responses.RequestsMock() as mock:
        mock.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
        with pytest.raises(errors.ReconnectNeeded) as caught:
            oauth.bearer_token_for(AuthConfig.objects.get(datasource=datasource))
    outputs = [
        callback.content.decode(),
        caught.value.message,
        caplog.text,
        staff_client.get(f"/datasources/{datasource.pk}/").content.decode(),
        staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode(),
    ]
    for record in caplog.records:
        outputs.append(record.getMessage())
    for output in outputs:
        assert_no_secret(output, ALL_SECRETS)


@pytest.mark.django_db
def test_a_token_url_resolving_to_a_private_address_is_refused_before_any_request(fake_dns, connect_attempts):
    fake_dns["auth.example.com"] = ["10.1.2.3"]
    auth = cc_datasource().auth
    with pytest.raises(errors.AddressRefused):
        oauth.bearer_token_for(auth)
    assert connect_attempts == []
    assert AuthConfig.objects.get(pk=auth.pk).access_token == ""
    assert_no_secret(AuthConfig.objects.get(pk=auth.pk).last_error)


@pytest.mark.django_db
def test_an_http_token_url_is_refused():
    auth = cc_datasource().auth
    AuthConfig.objects.filter(pk=auth.pk).update(token_url="http://auth.example.com/oauth/token")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post("http://auth.example.com/oauth/token", json=token_body())
        with pytest.raises(errors.InvalidURL) as caught:
            oauth.bearer_token_for(AuthConfig.objects.get(pk=auth.pk))
        assert len(mock.calls) == 0
    assert "https://" in caught.value.message


@pytest.mark.django_db
@responses.activate
def test_an_oauth_connection_is_audited_without_its_tokens(staff_client):
    from audit.models import AuditEntry

    responses.post(TOKEN_URL, json=token_body(refresh=SECRET_REFRESH_TOKEN, scope="read offline"))
    datasource = ac_datasource()
    state = parse_qs(urlsplit(start(staff_client, datasource)).query)["state"][0]
    AuditEntry.objects.all().delete()

    staff_client.get("/oauth/callback/", {"state": state, "code": "the-code"}, REMOTE_ADDR="192.0.2.44")

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.object_name, entry.actor, entry.address) == (
        "oauth_connect",
        datasource.name,
        "admin",
        "192.0.2.44",
    )
    assert entry.changes == [{"field": "auth.tokens", "secret": True}]
    assert_no_secret(str(list(AuditEntry.objects.values())))
