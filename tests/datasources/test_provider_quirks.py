"""Provider quirks kept as preset data (SPEC 12): Salesforce's instance_url becomes the base URL while the base URL is
the preset's placeholder; Google's preset scopes give real API access and the page says which to change."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.utils import timezone
from django.utils.html import escape

from datasources.models import AuthConfig, Datasource
from datasources.services import client, oauth
from datasources.services.presets import PRESETS
from tests.conftest import (
    SECRET_ACCESS_TOKEN,
    SECRET_CLIENT_SECRET,
    SECRET_REFRESH_TOKEN,
    assert_no_secret,
    make_datasource,
)

from .conftest import form_data

SALESFORCE = PRESETS["salesforce"]
PLACEHOLDER = SALESFORCE.base_url_placeholder
INSTANCE = "https://acme.my.salesforce.com"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_dns")]


def salesforce_datasource(base_url=PLACEHOLDER):
    return make_datasource(
        name="Salesforce",
        base_url=base_url,
        mode="oauth2_authorization_code",
        provider="salesforce",
        authorization_url=SALESFORCE.authorization_url,
        token_url=SALESFORCE.token_url,
        client_id="connect-client",
        client_secret=SECRET_CLIENT_SECRET,
        scopes=SALESFORCE.default_scopes,
    )


def token_answer(**extra):
    return {
        "access_token": SECRET_ACCESS_TOKEN,
        "refresh_token": SECRET_REFRESH_TOKEN,
        "token_type": "Bearer",
        "expires_in": 3600,
        **extra,
    }


def connect(staff_client, datasource, answer) -> object:
    """The consent round trip: Connect, the provider's redirect back, the code exchanged for `answer`."""
    location = staff_client.post(f"/datasources/{datasource.pk}/oauth/connect/")["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    with responses.RequestsMock() as mock:
        mock.post(SALESFORCE.token_url, json=answer)
        return staff_client.get("/oauth/callback/", {"state": state, "code": "the-code"}, follow=True)


def test_the_salesforce_placeholder_is_replaced_by_the_instance_url_at_connect(staff_client):
    datasource = salesforce_datasource()
    page = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    assert "still the Salesforce placeholder" in page
    response = connect(staff_client, datasource, token_answer(instance_url=INSTANCE))
    stored = Datasource.objects.get(pk=datasource.pk)
    assert stored.base_url == "https://acme.my.salesforce.com/services/data/v62.0"
    assert stored.config_version != datasource.config_version
    page = response.content.decode()
    assert "The API base URL is now https://acme.my.salesforce.com/services/data/v62.0, from the provider" in page
    assert "still the Salesforce placeholder" not in page
    assert_no_secret(page)


def test_calls_go_to_the_instance_after_connecting(staff_client):
    datasource = salesforce_datasource()
    connect(staff_client, datasource, token_answer(instance_url=INSTANCE))
    with responses.RequestsMock() as mock:
        mock.get(f"{INSTANCE}/services/data/v62.0/sobjects/Account", json={"ok": True})
        answer = client.call_datasource(
            datasource=Datasource.objects.get(pk=datasource.pk), path_and_query="/sobjects/Account"
        )
        assert mock.calls[0].request.headers["Authorization"] == f"Bearer {SECRET_ACCESS_TOKEN}"
    assert answer.json() == {"ok": True}


def test_a_base_url_chosen_by_the_administrator_is_kept(staff_client):
    chosen = "https://crm.example.com/services/data/v61.0"
    datasource = salesforce_datasource(base_url=chosen)
    connect(staff_client, datasource, token_answer(instance_url=INSTANCE))
    assert Datasource.objects.get(pk=datasource.pk).base_url == chosen


@pytest.mark.parametrize(
    "instance_url",
    [
        "https://evil.example.com",
        "http://acme.my.salesforce.com",
        "https://salesforce.com.evil.example",
        "https://user:pw@acme.my.salesforce.com",
        "not a url",
    ],
)
def test_an_instance_url_elsewhere_is_not_taken_and_the_page_says_why(staff_client, instance_url):
    datasource = salesforce_datasource()
    response = connect(staff_client, datasource, token_answer(instance_url=instance_url))
    assert Datasource.objects.get(pk=datasource.pk).base_url == PLACEHOLDER
    expected = (
        "The token answer's instance_url is not an https:// URL on salesforce.com or force.com, so the API base URL "
        "is still the Salesforce placeholder."
    )
    assert AuthConfig.objects.get(datasource=datasource).last_error == expected
    assert escape(expected) in response.content.decode()


def test_a_refresh_answer_also_fills_a_placeholder_left_by_the_consent(staff_client):
    datasource = salesforce_datasource()
    AuthConfig.objects.filter(datasource=datasource).update(
        access_token="old-token",
        refresh_token=SECRET_REFRESH_TOKEN,
        token_expires_at=timezone.now() - timedelta(seconds=5),
    )
    with responses.RequestsMock() as mock:
        mock.post(SALESFORCE.token_url, json=token_answer(instance_url="https://acme--dev.sandbox.my.salesforce.com"))
        oauth.bearer_token_for(AuthConfig.objects.get(datasource=datasource))
    expected = "https://acme--dev.sandbox.my.salesforce.com/services/data/v62.0"
    assert Datasource.objects.get(pk=datasource.pk).base_url == expected


def test_another_presets_token_answer_never_changes_the_base_url(staff_client):
    datasource = make_datasource(
        name="Custom",
        base_url=PLACEHOLDER,
        mode="oauth2_client_credentials",
        provider="salesforce",  # left over from another mode: only the authorization-code presets apply
        token_url="https://login.salesforce.com/services/oauth2/token",
        client_id="c",
        client_secret=SECRET_CLIENT_SECRET,
    )
    with responses.RequestsMock() as mock:
        mock.post("https://login.salesforce.com/services/oauth2/token", json=token_answer(instance_url=INSTANCE))
        oauth.bearer_token_for(datasource.auth)
    assert Datasource.objects.get(pk=datasource.pk).base_url == PLACEHOLDER


def test_the_google_preset_asks_for_a_real_api_scope_and_says_which_to_change(staff_client):
    scopes = PRESETS["google"].default_scopes.split()
    assert "https://www.googleapis.com/auth/drive.readonly" in scopes
    assert {"openid", "email"} <= set(scopes)
    datasource = make_datasource(name="Drive")
    page = staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode()
    assert (
        "the scopes include Drive read-only (https://www.googleapis.com/auth/drive.readonly) as an example of real "
        "API access; replace it with the scope of the Google API you call"
    ) in page
    assert "keep the base URL https://your-instance.my.salesforce.com/services/data/v62.0" in page
    presets = json.loads(page.split('id="oauth-presets" type="application/json">')[1].split("</script>")[0])
    assert presets["salesforce"]["base_url"] == PLACEHOLDER
    assert presets["google"]["scopes"] == PRESETS["google"].default_scopes


def test_a_blank_scope_with_the_google_preset_saves_the_presets_scopes(staff_client):
    datasource = make_datasource(name="Drive", base_url="https://www.googleapis.com/drive/v3")
    data = form_data(staff_client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update(
        {
            "auth-mode": "oauth2_authorization_code",
            "auth-provider": "google",
            "auth-authorization_url": "",
            "auth-token_url": "",
            "auth-scopes": "",
            "auth-client_id": "connect-client",
            "auth-client_secret": SECRET_CLIENT_SECRET,
        }
    )
    response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert AuthConfig.objects.get(datasource=datasource).scopes == PRESETS["google"].default_scopes
