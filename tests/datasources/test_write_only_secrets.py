"""Secrets in forms are write-only: never shown, blank keeps, "clear" removes, and they never follow a datasource
to another host."""

import datetime

import pytest
from django.utils import timezone

from datasources.models import AuthConfig, Datasource
from tests.conftest import (
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
)
from tests.datasources.conftest import errors_next_to, fill_headers, form_data

pytestmark = pytest.mark.django_db

TOKENS_REMOVED = (
    "The stored OAuth tokens were removed because the authentication or the API host changed: connect again."
)


@pytest.fixture
def basic(datasource_factory):
    return datasource_factory(name="Basic", mode="basic", username="elements", password=SECRET_PASSWORD)


@pytest.fixture
def oauth(datasource_factory):
    return datasource_factory(
        name="OAuth",
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        scopes="read",
        access_token=SECRET_ACCESS_TOKEN,
        refresh_token=SECRET_REFRESH_TOKEN,
        token_expires_at=timezone.now() + datetime.timedelta(hours=1),
        connected_at=timezone.now(),
    )


def _auth(datasource):
    return AuthConfig.objects.get(datasource=datasource)


def _edit(client, datasource, follow=False, **changes):
    data = form_data(client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update(changes)
    return client.post(f"/datasources/{datasource.pk}/edit/", data, follow=follow)


def _state(datasource):
    auth = _auth(datasource)
    return (
        Datasource.objects.get(pk=datasource.pk).config_version,
        [(f.name, getattr(auth, f.name)) for f in AuthConfig._meta.fields],
    )


def test_the_secret_input_is_empty_and_says_stored(staff_client, basic):
    response = staff_client.get(f"/datasources/{basic.pk}/edit/")

    assert form_data(response)["auth-password"] == ""
    assert response.context["auth_form"]["password"].help_text.startswith("Currently stored.")


def test_an_unset_secret_says_not_set(staff_client, basic):
    response = staff_client.get(f"/datasources/{basic.pk}/edit/")

    assert response.context["auth_form"]["api_key_value"].help_text.startswith("Currently not set.")


def test_an_unset_secret_offers_nothing_to_keep(staff_client, basic):
    response = staff_client.get(f"/datasources/{basic.pk}/edit/")

    helps = [response.context["auth_form"]["api_key_value"].help_text]
    helps += [response.context["network_form"][name].help_text for name in ("proxy_password", "client_key")]
    helps += [response.context["network_form"]["client_key_passphrase"].help_text]
    assert all(help.startswith("Currently not set.") for help in helps)
    assert not any("keep" in help.lower() for help in helps)


def test_a_blank_secret_keeps_the_stored_one(staff_client, basic):
    response = _edit(staff_client, basic, **{"auth-username": "someone"})

    assert response.status_code == 302
    assert (_auth(basic).username, _auth(basic).password) == ("someone", SECRET_PASSWORD)


def test_a_typed_secret_replaces_the_stored_one(staff_client, basic):
    _edit(staff_client, basic, **{"auth-password": "n3w-PASSWORD-x"})

    assert _auth(basic).password == "n3w-PASSWORD-x"


def test_clear_removes_the_secret_so_the_modes_required_check_refuses(staff_client, basic):
    before = _state(basic)

    response = _edit(staff_client, basic, **{"auth-clear_password": "on"})

    assert errors_next_to(response, "auth-password") == ["Enter the password for Basic authentication."]
    assert _state(basic) == before


def test_clear_and_a_new_value_together_are_refused(staff_client, basic):
    before = _state(basic)

    response = _edit(staff_client, basic, **{"auth-clear_password": "on", "auth-password": "n3w-PASSWORD-x"})

    assert errors_next_to(response, "auth-password") == ["Either enter a new value or tick “clear”, not both."]
    assert _state(basic) == before


def test_switching_mode_drops_the_old_modes_secret(staff_client, basic):
    _edit(
        staff_client,
        basic,
        **{"auth-mode": "api_key", "auth-api_key_name": "X-API-Key", "auth-api_key_value": SECRET_API_KEY},
    )

    auth = _auth(basic)
    assert (auth.mode, auth.password, auth.api_key_value) == ("api_key", "", SECRET_API_KEY)


def test_switching_to_no_auth_drops_every_secret_and_token(staff_client, oauth):
    _edit(staff_client, oauth, **{"auth-mode": "none"})

    auth = _auth(oauth)
    assert (auth.mode, auth.client_secret, auth.access_token, auth.refresh_token, auth.token_expires_at) == (
        "none",
        "",
        "",
        "",
        None,
    )


@pytest.mark.parametrize(
    "base_url",
    ["https://other.example.com/rest", "https://api.example.com:8443/rest", "https://api.example.com.evil.test/rest"],
)
def test_a_new_host_or_port_without_the_secret_again_is_refused_next_to_it(staff_client, basic, base_url):
    before = _state(basic)

    response = _edit(staff_client, basic, base_url=base_url)

    assert errors_next_to(response, "auth-password") == [
        "The API host changed: enter the password again, so a stored secret never follows a datasource to another host."
    ]
    assert _state(basic) == before
    assert Datasource.objects.get(pk=basic.pk).base_url == "https://api.example.com/rest"


@pytest.mark.parametrize(
    "mode, fields, secret, label",
    [
        ("api_key", {"api_key_name": "X-API-Key", "api_key_value": SECRET_API_KEY}, "api_key_value", "key value"),
        (
            "oauth2_client_credentials",
            {
                "token_url": "https://auth.example.com/token",
                "client_id": "connect",
                "client_secret": SECRET_CLIENT_SECRET,
            },
            "client_secret",
            "client secret",
        ),
    ],
)
def test_every_entered_secret_is_bound_to_the_host(staff_client, datasource_factory, mode, fields, secret, label):
    datasource = datasource_factory(mode=mode, **fields)

    response = _edit(staff_client, datasource, base_url="https://other.example.com/rest")

    assert errors_next_to(response, f"auth-{secret}") == [
        f"The API host changed: enter the {label} again, so a stored secret never follows a datasource to another host."
    ]


def test_a_new_host_with_the_secret_entered_again_is_saved(staff_client, basic):
    response = _edit(
        staff_client, basic, base_url="https://other.example.com/rest", **{"auth-password": "n3w-PASSWORD-x"}
    )

    assert response.status_code == 302
    assert (Datasource.objects.get(pk=basic.pk).base_url, _auth(basic).password) == (
        "https://other.example.com/rest",
        "n3w-PASSWORD-x",
    )


@pytest.mark.parametrize(
    "base_url", ["https://api.example.com/rest/v2", "https://API.example.com/rest", "https://api.example.com:443/rest"]
)
def test_the_same_host_keeps_the_secret(staff_client, basic, base_url):
    response = _edit(staff_client, basic, base_url=base_url)

    assert response.status_code == 302
    assert _auth(basic).password == SECRET_PASSWORD


@pytest.mark.parametrize(
    "token_url",
    [
        "https://evil.example.net/token",
        "https://auth.example.com:8443/token",
        "https://auth.example.com.evil.test/token",
    ],
)
def test_a_token_url_on_another_host_without_the_client_secret_again_is_refused(staff_client, oauth, token_url):
    before = _state(oauth)

    response = _edit(staff_client, oauth, **{"auth-token_url": token_url})

    assert errors_next_to(response, "auth-client_secret") == [
        "The token URL's host changed: enter the client secret again, so a stored secret never follows a datasource "
        "to another host."
    ]
    assert _state(oauth) == before


def test_a_token_url_on_another_host_with_the_client_secret_again_is_saved_and_clears_the_tokens(staff_client, oauth):
    response = _edit(
        staff_client,
        oauth,
        follow=True,
        **{"auth-token_url": "https://evil.example.net/token", "auth-client_secret": "n3w-CLIENT-SECRET-x"},
    )

    auth = _auth(oauth)
    assert (auth.token_url, auth.client_secret, auth.access_token, auth.refresh_token) == (
        "https://evil.example.net/token",
        "n3w-CLIENT-SECRET-x",
        "",
        "",
    )
    assert TOKENS_REMOVED in [str(m) for m in response.context["messages"]]


def test_a_token_url_on_the_same_host_keeps_the_client_secret(staff_client, oauth):
    response = _edit(staff_client, oauth, **{"auth-token_url": "https://AUTH.example.com:443/oauth/v2/token"})

    assert response.status_code == 302
    assert _auth(oauth).client_secret == SECRET_CLIENT_SECRET


@pytest.fixture
def authorization_code(datasource_factory):
    return datasource_factory(
        name="Consent",
        mode="oauth2_authorization_code",
        provider="custom",
        authorization_url="https://auth.example.com/authorize",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
        refresh_token=SECRET_REFRESH_TOKEN,
    )


def test_an_authorization_url_on_another_host_without_the_client_secret_again_is_refused(
    staff_client, authorization_code
):
    before = _state(authorization_code)

    response = _edit(staff_client, authorization_code, **{"auth-authorization_url": "https://evil.example.net/auth"})

    assert errors_next_to(response, "auth-client_secret") == [
        "The authorization URL's host changed: enter the client secret again, so a stored secret never follows a "
        "datasource to another host."
    ]
    assert _state(authorization_code) == before


def test_a_preset_moving_both_oauth_urls_names_both(staff_client, authorization_code):
    response = _edit(
        staff_client,
        authorization_code,
        **{"auth-provider": "github", "auth-authorization_url": "", "auth-token_url": ""},
    )

    assert errors_next_to(response, "auth-client_secret") == [
        "The token URL's host and authorization URL's host changed: enter the client secret again, so a stored "
        "secret never follows a datasource to another host."
    ]


def test_an_authorization_url_on_another_host_with_the_client_secret_again_clears_the_tokens(
    staff_client, authorization_code
):
    _edit(
        staff_client,
        authorization_code,
        **{"auth-authorization_url": "https://evil.example.net/auth", "auth-client_secret": "n3w-CLIENT-SECRET-x"},
    )

    auth = _auth(authorization_code)
    assert (auth.authorization_url, auth.client_secret, auth.access_token, auth.refresh_token) == (
        "https://evil.example.net/auth",
        "n3w-CLIENT-SECRET-x",
        "",
        "",
    )


def test_a_new_host_removes_oauth_tokens_with_a_warning(staff_client, oauth):
    response = _edit(
        staff_client,
        oauth,
        follow=True,
        base_url="https://other.example.com/rest",
        **{"auth-client_secret": SECRET_CLIENT_SECRET},
    )

    auth = _auth(oauth)
    assert (auth.access_token, auth.refresh_token, auth.token_expires_at, auth.connected_at) == ("", "", None, None)
    assert TOKENS_REMOVED in [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize(
    "field, value",
    [("client_id", "another-client"), ("token_url", "https://auth.example.com/v2/token"), ("scopes", "read write")],
)
def test_a_new_token_binding_field_removes_oauth_tokens_with_a_warning(staff_client, oauth, field, value):
    response = _edit(staff_client, oauth, follow=True, **{f"auth-{field}": value})

    auth = _auth(oauth)
    assert (auth.access_token, auth.refresh_token) == ("", "")
    assert TOKENS_REMOVED in [str(m) for m in response.context["messages"]]


def test_authorization_code_tokens_go_when_the_provider_changes(staff_client, datasource_factory):
    datasource = datasource_factory(
        mode="oauth2_authorization_code",
        provider="custom",
        authorization_url="https://auth.example.com/authorize",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
        refresh_token=SECRET_REFRESH_TOKEN,
    )

    _edit(staff_client, datasource, **{"auth-provider": "github"})

    assert (_auth(datasource).access_token, _auth(datasource).refresh_token) == ("", "")


def test_an_unrelated_change_keeps_oauth_tokens_without_a_warning(staff_client, oauth):
    data = form_data(staff_client.get(f"/datasources/{oauth.pk}/edit/"))
    fill_headers(data, [("X-Team", "blue")])
    data["documentation_url"] = "https://docs.example.com"

    response = staff_client.post(f"/datasources/{oauth.pk}/edit/", data, follow=True)

    auth = _auth(oauth)
    assert (auth.access_token, auth.refresh_token) == (SECRET_ACCESS_TOKEN, SECRET_REFRESH_TOKEN)
    assert TOKENS_REMOVED not in [str(m) for m in response.context["messages"]]
