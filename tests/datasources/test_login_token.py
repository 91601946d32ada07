"""Token from a login call (SPEC 12): an authentication mode of the registry whose token is obtained by POSTing the
credentials to a login URL, read at a JSONPath, sent in a configured header, reused until shortly before it expires
and renewed once (across threads and processes) after expiry or a 401. Against the local HTTPS server's login
route (tests/support/login_api.py)."""

import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY as METRICS

from datasources.auth_modes import REGISTRY, AuthMode
from datasources.models import AuthConfig, Datasource
from datasources.services import client, connection_check, errors
from tests.conftest import ALL_SECRETS, SECRET_PASSWORD, assert_no_secret, make_datasource
from tests.support import https_server as srv
from tests.support.login_api import TOKEN, LoginAPI

from .conftest import errors_next_to, form_data

pytestmark = [pytest.mark.usefixtures("trust_test_ca")]

JSON_BODY = '{"user": "$username", "secret": "$password"}'


def login_datasource(server, name="Legacy", **auth):
    fields = dict(
        login_url=server.url("/login"),
        login_body=JSON_BODY,
        username="connect",
        password=SECRET_PASSWORD,
        login_token_path="$.data.token",
        login_expires_in_path="$.expires_in",
        login_header_name="X-Auth-Token",
        login_header_prefix="Token",
    )
    fields.update(auth)
    return make_datasource(name=name, base_url=server.url("/api"), mode="login_token", **fields)


def call(datasource, path="/items"):
    return client.call_datasource(datasource=Datasource.objects.get(pk=datasource.pk), path_and_query=path)


def stored(datasource) -> AuthConfig:
    return AuthConfig.objects.get(datasource=datasource)


@pytest.fixture
def api():
    return LoginAPI(password=SECRET_PASSWORD)


@pytest.fixture
def server(start_server, api):
    return start_server(api.routes())


# --- the registry --------------------------------------------------------------------------------------------


def test_the_login_call_is_a_mode_of_the_registry_with_its_fields_and_renewal():
    spec = REGISTRY["login_token"]
    assert spec.mode == AuthMode.LOGIN_TOKEN and spec.mode.label == "Token from a login call"
    assert {"login_url", "login_body", "password", "login_token_path", "login_header_name"} <= set(spec.fields)
    assert spec.token.renewal == "login_call" and spec.token.header_from_config


# --- calls ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_call_logs_in_once_and_sends_the_token_in_the_configured_header(server, api):
    datasource = login_datasource(server)
    assert call(datasource).json() == {"items": [{"id": 1, "name": "Pump"}]}
    assert call(datasource).status_code == 200
    assert api.logins == 1
    content_type, body = api.bodies[0]
    assert content_type == "application/json"
    assert json.loads(body) == {"user": "connect", "secret": SECRET_PASSWORD}
    [first, second] = [r for r in server.requests if r["path"] == "/api/items"]
    assert first["headers"]["X-Auth-Token"] == second["headers"]["X-Auth-Token"] == f"Token {TOKEN}-1"
    auth = stored(datasource)
    assert auth.access_token == f"{TOKEN}-1"
    assert timedelta(seconds=3590) < auth.token_expires_at - timezone.now() <= timedelta(seconds=3600)


@pytest.mark.django_db
def test_values_are_escaped_for_json_and_encoded_for_a_form(server, api):
    tricky = 'pa"ss\\word & more=1'
    api.password = tricky
    assert call(login_datasource(server, password=tricky)).status_code == 200
    assert json.loads(api.bodies[-1][1])["secret"] == tricky
    form = login_datasource(
        server, "Form", password=tricky, login_body_format="form", login_body="user=$username&secret=$password"
    )
    assert call(form).status_code == 200
    content_type, body = api.bodies[-1]
    assert content_type == "application/x-www-form-urlencoded"
    assert body == b"user=connect&secret=pa%22ss%5Cword+%26+more%3D1"


@pytest.mark.django_db
def test_a_prefixless_header_sends_the_token_alone(server, api):
    api_accepts = api.accepts
    api.accepts = lambda handler: handler.headers.get("Authorization") == api.token() or api_accepts(handler)
    datasource = login_datasource(server, login_header_name="Authorization", login_header_prefix="")
    assert call(datasource).status_code == 200
    assert server.requests[-1]["headers"]["Authorization"] == f"{TOKEN}-1"


@pytest.mark.django_db
def test_a_401_is_answered_by_one_new_login_and_the_call_is_repeated(server, api):
    datasource = login_datasource(server)
    call(datasource)
    api.rejected.add(api.token())  # the API forgot the token before its expiry
    assert call(datasource).status_code == 200
    assert api.logins == 2
    assert server.requests[-1]["headers"]["X-Auth-Token"] == f"Token {TOKEN}-2"


@pytest.mark.django_db
def test_a_401_after_a_new_login_fails_without_another_login(server, api):
    datasource = login_datasource(server)
    call(datasource)
    api.accepts = lambda handler: False
    with pytest.raises(errors.HTTPStatusError) as caught:
        call(datasource)
    assert caught.value.status_code == 401 and api.logins == 2


@pytest.mark.parametrize(
    "answer_lifetime, fixed, expected",
    [(120, 3600, 120), (None, 600, 600), (None, 0, None)],
)
@pytest.mark.django_db
def test_the_lifetime_comes_from_the_answer_else_the_fixed_number(server, api, answer_lifetime, fixed, expected):
    api.lifetime = answer_lifetime
    datasource = login_datasource(server, login_token_seconds=fixed)
    call(datasource)
    auth = stored(datasource)
    if expected is None:
        assert auth.token_expires_at is None  # until the API answers 401
    else:
        left = (auth.token_expires_at - timezone.now()).total_seconds()
        assert expected - 10 < left <= expected


@pytest.mark.django_db
def test_an_expired_token_is_renewed_before_the_call(server, api):
    datasource = login_datasource(server)
    call(datasource)
    AuthConfig.objects.filter(datasource=datasource).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    call(datasource)
    assert api.logins == 2
    assert server.requests[-1]["headers"]["X-Auth-Token"] == f"Token {TOKEN}-2"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_calls_with_an_expired_token_make_one_login_call(server, api, redis):
    api.delay = 0.2  # the login takes a while: every caller finds the token expired meanwhile
    datasource = login_datasource(server)
    AuthConfig.objects.filter(datasource=datasource).update(
        access_token="expired-token-0", token_expires_at=timezone.now() - timedelta(seconds=5)
    )
    barrier, results, failures = threading.Barrier(20), [], []

    def one_call():
        barrier.wait()
        try:
            results.append(call(datasource).status_code)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert results == [200] * 20
    assert api.logins == 1
    assert len(api.bodies) == 1


@pytest.mark.django_db
def test_the_login_call_is_counted_in_the_token_request_metric(server, api):
    labels = {"grant": "login_call", "outcome": "ok"}
    before = METRICS.get_sample_value("connect_token_requests_total", labels) or 0
    call(login_datasource(server))
    assert METRICS.get_sample_value("connect_token_requests_total", labels) == before + 1


# --- failures ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_refused_login_names_the_status_never_the_answer(server, api, caplog):
    caplog.set_level(logging.DEBUG)
    datasource = login_datasource(server, password="wrong-" + SECRET_PASSWORD)
    with pytest.raises(errors.AuthenticationFailure) as caught:
        call(datasource)
    message = caught.value.message
    assert message == (
        f"The login URL {server.url('/login')} answered HTTP 401 Unauthorized: no token. Check the user name, the "
        "password and the login body."
    )
    assert stored(datasource).last_error == message
    assert_no_secret(caplog.text)
    assert "Login refused for" not in caplog.text  # the answer (which echoes the body) is never shown


@pytest.mark.django_db
def test_a_token_path_that_selects_nothing_is_named(server, api):
    datasource = login_datasource(server, login_token_path="$.token")
    with pytest.raises(errors.AuthenticationFailure) as caught:
        call(datasource)
    assert caught.value.message == (
        "The login answer (HTTP 200) has no token at the path “$.token”: check the path to the token against the "
        "API's documentation."
    )
    assert_no_secret(caught.value.message)


@pytest.mark.django_db
def test_a_path_selecting_an_object_is_not_a_token(server, api):
    with pytest.raises(errors.AuthenticationFailure, match="holds an object at the path “data”, not a token"):
        call(login_datasource(server, login_token_path="data"))


@pytest.mark.django_db
def test_a_login_answer_that_is_not_json_is_refused(server, api):
    api.answer_override = srv.answer(200, b"<html>welcome</html>", "text/html")
    with pytest.raises(errors.AuthenticationFailure, match="answered HTTP 200 without JSON"):
        call(login_datasource(server))


@pytest.mark.django_db
def test_a_redirect_from_the_login_url_is_never_followed(server, api):
    api.answer_override = srv.redirect("https://elsewhere.example.com/login", status=307)
    with pytest.raises(errors.RedirectRefused):
        call(login_datasource(server))
    assert len([r for r in server.requests if r["path"] == "/login"]) == 1


@pytest.mark.django_db
def test_a_login_url_resolving_to_a_refused_address_is_not_called(server, api, settings):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = []
    datasource = login_datasource(server)
    with pytest.raises(errors.AddressRefused):
        call(datasource)
    assert server.requests == []


# --- Test connection -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_test_connection_logs_in_and_shows_the_login_calls_status(server, api, staff_client):
    datasource = login_datasource(server)
    Datasource.objects.filter(pk=datasource.pk).update(test_url="/items")
    response = staff_client.post(f"/datasources/{datasource.pk}/test/", follow=True)
    page = response.content.decode()
    assert 'data-test-result="success"' in page
    assert (
        f"<dt>Login call</dt><dd>HTTP 200 from {server.url('/login')}; token read at $.data.token, kept for 3600 s."
        in page
    )
    assert api.logins == 1
    assert_no_secret(page, ALL_SECRETS + (f"{TOKEN}-1",))


@pytest.mark.django_db
def test_test_connection_always_logs_in_anew(server, api):
    datasource = login_datasource(server)
    call(datasource)
    check = connection_check.check_connection(datasource=Datasource.objects.get(pk=datasource.pk))
    assert check.login.startswith("HTTP 200")
    assert api.logins == 2


@pytest.mark.django_db
def test_test_connection_names_a_token_path_that_selects_nothing(server, api, staff_client):
    datasource = login_datasource(server, login_token_path="$.result.jwt")
    response = staff_client.post(f"/datasources/{datasource.pk}/test/", follow=True)
    page = response.content.decode()
    assert 'data-test-result="failure"' in page
    assert "The login call failed, so the API was not called: The login answer (HTTP 200) has no token at the path" in (
        page
    )
    assert "“$.result.jwt”" in page
    assert [r["path"] for r in server.requests] == ["/login"]
    assert_no_secret(page, ALL_SECRETS + (f"{TOKEN}-1",))


@pytest.mark.django_db
def test_an_api_echoing_the_token_shows_it_masked_in_errors(server, api):
    datasource = login_datasource(server)
    answer = call(datasource, "/echo")
    data, text, _ = answer.json_releasing_body()
    assert f"{TOKEN}-1" not in text and "***" in text


# --- the form: every bad input gets a message next to its field and changes nothing --------------------------


def edit(client, datasource, **changes):
    data = form_data(client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update({f"auth-{name}": value for name, value in changes.items()})
    return client.post(f"/datasources/{datasource.pk}/edit/", data)


@pytest.fixture
def saved(db, datasource_factory):
    return datasource_factory(
        name="Legacy",
        base_url="https://legacy.example.com/api",
        mode="login_token",
        login_url="https://legacy.example.com/login",
        login_body=JSON_BODY,
        username="connect",
        password=SECRET_PASSWORD,
        login_token_path="$.data.token",
    )


def snapshot(datasource):
    auth = stored(datasource)
    return Datasource.objects.get(pk=datasource.pk).config_version, [
        (f.name, getattr(auth, f.name)) for f in AuthConfig._meta.fields
    ]


@pytest.mark.django_db
def test_the_login_mode_is_saved_from_the_edit_page_with_its_password_write_only(staff_client, datasource_factory):
    datasource = datasource_factory(name="Legacy", base_url="https://legacy.example.com/api")
    response = edit(
        staff_client,
        datasource,
        mode="login_token",
        login_url="https://legacy.example.com/login",
        login_body_format="json",
        login_body=JSON_BODY,
        username="connect",
        password=SECRET_PASSWORD,
        login_token_path="$.data.token",
        login_expires_in_path="$.expires_in",
        login_token_seconds="600",
        login_header_name="X-Auth-Token",
        login_header_prefix="Token",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    auth = stored(datasource)
    assert (auth.mode, auth.password, auth.login_token_seconds) == ("login_token", SECRET_PASSWORD, 600)
    detail = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    assert "Token from a login call" in detail and "POST https://legacy.example.com/login" in detail
    assert "<dt>Password</dt><dd>stored</dd>" in detail
    form = staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode()
    assert "Currently stored" in form
    assert_no_secret(detail + form)


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"login_body": '{"user": $username, "secret": "$password"}'},
            "login_body",
            "The login body is not valid JSON (checked with a sample value in place of $username and $password, "
            'which must stand inside quotes, as in "$password"): Expecting value at line 1, column 10.',
        ),
        (
            {"login_body": '{"user": "$username", "secret": "$password"'},
            "login_body",
            "The login body is not valid JSON (checked with a sample value in place of $username and $password, "
            "which must stand inside quotes, as in \"$password\"): Expecting ',' delimiter at line 1, column 44.",
        ),
        (
            {"login_body_format": "form", "login_body": "user $username"},
            "login_body",
            "Write a form body as name=value pairs joined by &, without spaces, e.g. "
            "username=$username&password=$password.",
        ),
        ({"login_body": ""}, "login_body", "Enter the login body: the credentials Connect sends to the login URL."),
        ({"login_url": ""}, "login_url", "Enter the login URL."),
        (
            {"login_url": "http://legacy.example.com/login"},
            "login_url",
            "Only https:// URLs are accepted (got http://).",
        ),
        ({"login_token_path": "$[", "password": SECRET_PASSWORD}, "login_token_path", None),
        ({"login_token_path": "data..token"}, "login_token_path", None),
        (
            {"login_token_path": ""},
            "login_token_path",
            "Enter where the token is in the login answer, e.g. $.access_token.",
        ),
        ({"login_expires_in_path": "$.[x"}, "login_expires_in_path", None),
        (
            {"login_header_name": "Host"},
            "login_header_name",
            "The header “Host” is forbidden: browsers and HTTP clients control it themselves.",
        ),
        (
            {"login_header_prefix": "Bearer token"},
            "login_header_prefix",
            "Write the prefix as one word without spaces, e.g. Bearer or Token (or leave it blank).",
        ),
        (
            {"login_token_seconds": "-1"},
            "login_token_seconds",
            "Enter a number of seconds from 0 (until the API answers 401) to 31,536,000 (a year), e.g. 3600 for "
            "an hour.",
        ),
        (
            {"login_token_seconds": "31536001"},
            "login_token_seconds",
            "Enter a number of seconds from 0 (until the API answers 401) to 31,536,000 (a year), e.g. 3600 for "
            "an hour.",
        ),
        ({"username": ""}, "username", "Enter the user name: the login body uses $username."),
        ({"clear_password": "on"}, "password", "Enter the password: the login body uses $password."),
    ],
)
@pytest.mark.django_db
def test_bad_login_settings_are_refused_next_to_their_field(staff_client, saved, changes, field, message):
    before = snapshot(saved)
    response = edit(staff_client, saved, **changes)
    assert response.status_code == 200
    shown = errors_next_to(response, f"auth-{field}")
    if message is None:
        assert len(shown) == 1 and "path" in shown[0].lower(), shown
    else:
        assert shown == [message]
    assert snapshot(saved) == before
    assert_no_secret(response.content)


@pytest.mark.django_db
def test_a_new_login_host_needs_the_password_again(staff_client, saved):
    before = snapshot(saved)
    response = edit(staff_client, saved, login_url="https://evil.example.net/login")
    assert errors_next_to(response, "auth-password") == [
        "The login URL's host changed: enter the password again, so a stored secret never follows a datasource to "
        "another host."
    ]
    assert snapshot(saved) == before
    response = edit(staff_client, saved, login_url="https://evil.example.net/login", password="new-password-1")
    assert response.status_code == 302


@pytest.mark.django_db
def test_changing_the_login_settings_drops_the_stored_token(staff_client, saved):
    AuthConfig.objects.filter(datasource=saved).update(
        access_token="stored-token-1", token_expires_at=timezone.now() + timedelta(hours=1)
    )
    response = edit(staff_client, saved, login_token_path="$.token")
    assert response.status_code == 302
    assert stored(saved).access_token == ""
    messages = [str(m) for m in staff_client.get(f"/datasources/{saved.pk}/").context["messages"]]
    assert any("Connect logs in again at the next call" in m for m in messages)


@pytest.mark.django_db
def test_switching_away_from_the_login_mode_drops_the_password_and_the_token(staff_client, saved):
    AuthConfig.objects.filter(datasource=saved).update(access_token="stored-token-1")
    response = edit(staff_client, saved, mode="none")
    assert response.status_code == 302
    auth = stored(saved)
    assert (auth.password, auth.access_token) == ("", "")


@pytest.mark.django_db
def test_the_json_api_never_shows_the_password_or_token(staff_client, saved):
    AuthConfig.objects.filter(datasource=saved).update(access_token=ALL_SECRETS[3])
    data = staff_client.get(f"/api/datasources/{saved.pk}/").json()
    assert data["auth"]["mode"] == "login_token"
    assert data["auth"]["login_url"] == "https://legacy.example.com/login"
    assert data["auth"]["password_set"] is True and data["auth"]["access_token_set"] is True
    assert_no_secret(json.dumps(data))
