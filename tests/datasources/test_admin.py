"""The admin site for support staff: datasources with inline headers and auth, secrets only as "stored"/"not set"."""

import re

import pytest

from datasources.models import AuthConfig, Datasource, Header
from tests.conftest import (
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
    assert_no_secret,
)
from tests.datasources.conftest import form_data

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/datasources/datasource/"


@pytest.fixture
def jira(datasource_factory):
    return datasource_factory(
        name="Jira",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
        api_key_value=SECRET_API_KEY,
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
        refresh_token=SECRET_REFRESH_TOKEN,
        headers=[("X-Team", "blue")],
    )


@pytest.fixture
def confluence(datasource_factory):
    return datasource_factory(name="Confluence", mode="api_key", api_key_name="X-API-Key")


def _change_url(datasource):
    return f"{CHANGELIST}{datasource.pk}/change/"


def _admin_form(client, datasource, **changes):
    data = form_data(client.get(_change_url(datasource)))
    data.update(changes)
    return data


def _names(response):
    return re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', response.content.decode())


def test_the_changelist_shows_no_secret(superuser_client, jira, confluence):
    response = superuser_client.get(CHANGELIST)

    assert response.status_code == 200
    assert_no_secret(response.content)


def test_the_change_page_shows_no_secret(superuser_client, jira):
    response = superuser_client.get(_change_url(jira))

    assert response.status_code == 200
    assert_no_secret(response.content)


def _secret_states(response):
    """The states of the datasource's auth form (the admin's blank template form comes after it)."""
    states = {}
    for label, state in re.findall(
        r'<label>(\w[\w ]*):</label>\s*<div class="readonly">(stored|not set)</div>', response.content.decode()
    ):
        states.setdefault(label, state)
    return states


def test_the_change_page_says_stored_or_not_set(superuser_client, datasource_factory):
    datasource = datasource_factory(mode="basic", username="elements", password=SECRET_PASSWORD)

    states = _secret_states(superuser_client.get(_change_url(datasource)))

    assert states == {
        "Password": "stored",
        "API key value": "not set",
        "Client secret": "not set",
        "Access token": "not set",
        "Refresh token": "not set",
        "Proxy password": "not set",
        "Client key": "not set",
        "Client key passphrase": "not set",
    }


def test_the_change_page_has_no_secret_input(superuser_client, jira):
    data = form_data(superuser_client.get(_change_url(jira)))

    assert not [
        name
        for name in data
        if name.endswith(("password", "api_key_value", "client_secret", "access_token", "refresh_token"))
    ]


def test_search_finds_datasources_by_name(superuser_client, jira, confluence):
    assert _names(superuser_client.get(CHANGELIST, {"q": "jir"})) == ["Jira"]


def test_filter_by_auth_mode(superuser_client, jira, confluence):
    assert _names(superuser_client.get(CHANGELIST, {"auth__mode__exact": "api_key"})) == ["Confluence"]


def test_filter_by_type(superuser_client, jira, confluence):
    assert _names(superuser_client.get(CHANGELIST, {"type__exact": "rest_api"})) == ["Confluence", "Jira"]


def test_saving_the_change_page_keeps_the_secrets(superuser_client, jira):
    response = superuser_client.post(_change_url(jira), _admin_form(superuser_client, jira, base_url=jira.base_url))

    auth = AuthConfig.objects.get(datasource=jira)
    assert response.status_code == 302
    assert (auth.password, auth.access_token, auth.refresh_token) == (
        SECRET_PASSWORD,
        SECRET_ACCESS_TOKEN,
        SECRET_REFRESH_TOKEN,
    )


def test_saving_the_change_page_changes_the_config_version(superuser_client, jira):
    superuser_client.post(_change_url(jira), _admin_form(superuser_client, jira, test_url="/health"))

    assert Datasource.objects.get(pk=jira.pk).config_version != jira.config_version


def test_the_admin_refuses_an_http_base_url(superuser_client, jira):
    response = superuser_client.post(
        _change_url(jira), _admin_form(superuser_client, jira, base_url="http://api.example.com")
    )

    assert "Only https:// URLs are accepted (got http://)." in response.content.decode()
    assert Datasource.objects.get(pk=jira.pk).base_url == jira.base_url


def test_the_admin_refuses_a_taken_name_with_one_message(superuser_client, jira, confluence):
    response = superuser_client.post(_change_url(jira), _admin_form(superuser_client, jira, name=" CONFLUENCE "))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("already exists") == 1
    assert Datasource.objects.get(pk=jira.pk).name == "Jira"


def _add_inline_header(data, name, value="x"):
    index = int(data["headers-TOTAL_FORMS"])
    data[f"headers-{index}-name"] = name
    data[f"headers-{index}-value"] = value
    data["headers-TOTAL_FORMS"] = str(index + 1)
    return data


def test_the_admin_refuses_a_forbidden_header(superuser_client, jira):
    data = _add_inline_header(_admin_form(superuser_client, jira), "Proxy-Authorization")

    response = superuser_client.post(_change_url(jira), data)

    assert "The header “Proxy-Authorization” is forbidden" in response.content.decode()
    assert Header.objects.filter(datasource=jira).count() == 1


def test_the_admin_refuses_a_header_name_given_twice_in_one_submit(superuser_client, jira):
    data = _add_inline_header(_add_inline_header(_admin_form(superuser_client, jira), "X-Env"), "x-env")

    response = superuser_client.post(_change_url(jira), data)

    assert response.status_code == 200
    assert "appears twice" in response.content.decode()
    assert Header.objects.filter(datasource=jira).count() == 1


def test_the_admin_refuses_a_twenty_first_header(superuser_client, datasource_factory):
    datasource = datasource_factory(headers=[(f"X-H{i}", str(i)) for i in range(20)])
    data = _add_inline_header(_admin_form(superuser_client, datasource), "X-H20")

    response = superuser_client.post(_change_url(datasource), data)

    assert response.status_code == 200
    assert "at most 20 custom headers" in response.content.decode()
    assert Header.objects.filter(datasource=datasource).count() == 20


def test_the_admin_refuses_a_mode_whose_secret_is_missing(superuser_client, datasource_factory):
    datasource = datasource_factory(mode="basic", username="elements", password=SECRET_PASSWORD)
    data = _admin_form(
        superuser_client,
        datasource,
        **{
            "auth-0-mode": "oauth2_client_credentials",
            "auth-0-token_url": "https://auth.example.com/token",
            "auth-0-client_id": "connect",
        },
    )

    response = superuser_client.post(_change_url(datasource), data)

    assert response.status_code == 200
    assert (
        "Enter the client secret. Secrets are entered on the datasource&#x27;s edit page, not in the admin site."
    ) in response.content.decode()
    assert AuthConfig.objects.get(datasource=datasource).mode == "basic"


def test_switching_mode_in_the_admin_drops_the_old_modes_secret(superuser_client, jira):
    superuser_client.post(_change_url(jira), _admin_form(superuser_client, jira, **{"auth-0-mode": "none"}))

    auth = AuthConfig.objects.get(datasource=jira)
    assert (auth.mode, auth.password, auth.access_token) == ("none", "", "")


def test_changing_a_token_binding_field_in_the_admin_removes_the_tokens(superuser_client, datasource_factory):
    datasource = datasource_factory(
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
    )

    superuser_client.post(
        _change_url(datasource), _admin_form(superuser_client, datasource, **{"auth-0-client_id": "other"})
    )

    auth = AuthConfig.objects.get(datasource=datasource)
    assert (auth.client_id, auth.access_token, auth.client_secret) == ("other", "", SECRET_CLIENT_SECRET)


def test_the_admin_refuses_a_new_host_for_stored_secrets(superuser_client, jira):
    response = superuser_client.post(
        _change_url(jira), _admin_form(superuser_client, jira, base_url="https://elsewhere.example.com/rest")
    )

    assert "The API host changed and this datasource has stored secrets" in response.content.decode()
    assert Datasource.objects.get(pk=jira.pk).base_url == "https://api.example.com/rest"


@pytest.fixture
def client_credentials(datasource_factory):
    return datasource_factory(
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
    )


def _auth_state(datasource):
    auth = AuthConfig.objects.get(datasource=datasource)
    return [(f.name, getattr(auth, f.name)) for f in AuthConfig._meta.fields]


def test_the_admin_refuses_a_token_url_on_another_host_for_a_stored_client_secret(superuser_client, client_credentials):
    before = _auth_state(client_credentials)

    response = superuser_client.post(
        _change_url(client_credentials),
        _admin_form(superuser_client, client_credentials, **{"auth-0-token_url": "https://evil.example.net/token"}),
    )

    assert response.status_code == 200
    assert (
        "The token URL&#x27;s host changed and this datasource has stored secrets: make this change on the "
        "datasource&#x27;s edit page"
    ) in response.content.decode()
    assert _auth_state(client_credentials) == before


def test_the_admin_refuses_an_authorization_url_on_another_host_for_a_stored_client_secret(
    superuser_client, datasource_factory
):
    datasource = datasource_factory(
        mode="oauth2_authorization_code",
        provider="custom",
        authorization_url="https://auth.example.com/authorize",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
    )
    before = _auth_state(datasource)

    response = superuser_client.post(
        _change_url(datasource),
        _admin_form(superuser_client, datasource, **{"auth-0-authorization_url": "https://evil.example.net/auth"}),
    )

    assert "The authorization URL&#x27;s host changed and this datasource has stored secrets" in (
        response.content.decode()
    )
    assert _auth_state(datasource) == before


def test_the_admin_keeps_the_client_secret_for_a_token_url_on_the_same_host(superuser_client, client_credentials):
    superuser_client.post(
        _change_url(client_credentials),
        _admin_form(superuser_client, client_credentials, **{"auth-0-token_url": "https://auth.example.com/v2/token"}),
    )

    auth = AuthConfig.objects.get(datasource=client_credentials)
    assert (auth.token_url, auth.client_secret, auth.access_token) == (
        "https://auth.example.com/v2/token",
        SECRET_CLIENT_SECRET,
        "",
    )


def test_the_admin_accepts_a_new_host_without_stored_secrets(superuser_client, datasource_factory):
    datasource = datasource_factory(mode="none")

    superuser_client.post(
        _change_url(datasource),
        _admin_form(superuser_client, datasource, base_url="https://elsewhere.example.com/rest"),
    )

    assert Datasource.objects.get(pk=datasource.pk).base_url == "https://elsewhere.example.com/rest"


def test_the_admin_can_swap_two_header_names(superuser_client, datasource_factory):
    datasource = datasource_factory(headers=[("X-A", "1"), ("X-B", "2")])
    data = _admin_form(superuser_client, datasource, **{"headers-0-name": "X-B", "headers-1-name": "X-A"})

    response = superuser_client.post(_change_url(datasource), data)

    assert response.status_code == 302
    assert sorted(Header.objects.values_list("name", "value")) == [("X-A", "2"), ("X-B", "1")]


def test_every_field_of_the_admins_headers_inline_has_a_label(superuser_client, jira):
    page = superuser_client.get(_change_url(jira)).content.decode()

    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*\bname=\"headers-[^\"]*\"[^>]*>", page)
    visible = [c for c in controls if 'type="hidden"' not in c]
    ids = [re.search(r'\bid="([^"]+)"', control).group(1) for control in visible]
    assert any("-0-name" in i for i in ids) and any("-0-value" in i for i in ids) and any("-0-DELETE" in i for i in ids)
    unlabelled = [i for i in ids if f'for="{i}"' not in page]
    assert unlabelled == []


def test_staff_without_a_role_get_403_in_the_admin(client, django_user_model, jira):
    client.force_login(django_user_model.objects.create_user("norole", password="pw-norole-123", is_staff=True))

    assert client.get(CHANGELIST).status_code == 403


def test_non_staff_users_are_sent_to_the_admin_login(client, django_user_model, jira):
    client.force_login(django_user_model.objects.create_user("member", "m@example.com", "pw-member-123"))

    response = client.get(_change_url(jira))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_can_add_a_datasource(superuser_client):
    data = form_data(superuser_client.get(f"{CHANGELIST}add/"))
    data.update({"name": "Added", "base_url": "https://api.example.com", "type": "rest_api"})

    response = superuser_client.post(f"{CHANGELIST}add/", data)

    assert response.status_code == 302
    assert Datasource.objects.get().name == "Added"
