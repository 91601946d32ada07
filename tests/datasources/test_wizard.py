"""The create wizard: type, then name, then configuration; nothing is saved before the last step is valid."""

import re

import pytest

from datasources import types
from datasources.models import AuthConfig, Datasource, Header
from tests.conftest import SECRET_API_KEY, SECRET_CLIENT_SECRET, SECRET_PASSWORD, assert_no_secret
from tests.datasources.conftest import STEP3_URL, errors_next_to, form_data, start_wizard, step3_data

pytestmark = pytest.mark.django_db


def test_three_steps_create_the_datasource_with_headers_and_auth(staff_client):
    step3 = start_wizard(staff_client, name="Jira")
    data = step3_data(
        step3,
        base_url="https://jira.example.com/rest/api/2",
        headers=[("X-Team", "blue"), ("Accept", "application/json")],
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )
    data["documentation_url"] = "https://docs.example.com/jira"
    data["test_url"] = "/serverInfo"

    response = staff_client.post(STEP3_URL, data)

    datasource = Datasource.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/datasources/{datasource.pk}/"
    assert (
        datasource.name,
        datasource.type,
        datasource.base_url,
        datasource.documentation_url,
        datasource.test_url,
    ) == ("Jira", "rest_api", "https://jira.example.com/rest/api/2", "https://docs.example.com/jira", "/serverInfo")
    assert [(h.name, h.value) for h in datasource.headers.all()] == [("X-Team", "blue"), ("Accept", "application/json")]
    auth = AuthConfig.objects.get(datasource=datasource)
    assert (auth.mode, auth.username, auth.password) == ("basic", "elements", SECRET_PASSWORD)


@pytest.mark.parametrize(
    "mode, fields, expected",
    [
        ("none", {}, {}),
        (
            "api_key",
            {"api_key_location": "query", "api_key_name": "api_key", "api_key_value": SECRET_API_KEY},
            {"api_key_location": "query", "api_key_name": "api_key", "api_key_value": SECRET_API_KEY},
        ),
        (
            "oauth2_client_credentials",
            {
                "token_url": "https://auth.example.com/token",
                "client_id": "connect",
                "client_secret": SECRET_CLIENT_SECRET,
                "scopes": "read",
                "extra_token_params": '{"audience": "https://api.example.com"}',
            },
            {
                "token_url": "https://auth.example.com/token",
                "client_id": "connect",
                "client_secret": SECRET_CLIENT_SECRET,
                "scopes": "read",
                "extra_token_params": {"audience": "https://api.example.com"},
            },
        ),
        (
            "oauth2_authorization_code",
            {
                "provider": "github",
                "authorization_url": "https://github.com/login/oauth/authorize",
                "token_url": "https://github.com/login/oauth/access_token",
                "client_id": "gh-app",
                "client_secret": SECRET_CLIENT_SECRET,
            },
            {"provider": "github", "client_id": "gh-app", "client_secret": SECRET_CLIENT_SECRET},
        ),
    ],
)
def test_each_auth_mode_is_created_with_its_fields(staff_client, mode, fields, expected):
    step3 = start_wizard(staff_client)

    response = staff_client.post(STEP3_URL, step3_data(step3, mode=mode, **fields))

    assert response.status_code == 302
    auth = AuthConfig.objects.get()
    assert auth.mode == mode
    assert {field: getattr(auth, field) for field in expected} == expected


def test_steps_one_and_two_write_nothing_to_the_database(staff_client):
    start_wizard(staff_client, name="Jira")

    assert (Datasource.objects.count(), Header.objects.count(), AuthConfig.objects.count()) == (0, 0, 0)


def test_an_invalid_step_three_writes_nothing(staff_client):
    step3 = start_wizard(staff_client)
    data = step3_data(
        step3,
        base_url="http://jira.example.com",
        headers=[("X-Team", "blue")],
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )

    response = staff_client.post(STEP3_URL, data)

    assert response.status_code == 200
    assert (Datasource.objects.count(), Header.objects.count(), AuthConfig.objects.count()) == (0, 0, 0)


def test_an_invalid_header_alone_writes_nothing(staff_client):
    step3 = start_wizard(staff_client)

    staff_client.post(STEP3_URL, step3_data(step3, headers=[("X-Team", "blue"), ("Host", "evil")]))

    assert (Datasource.objects.count(), Header.objects.count(), AuthConfig.objects.count()) == (0, 0, 0)


def _fill_step3(client):
    step3 = start_wizard(client, name="Jira")
    data = step3_data(
        step3,
        base_url="https://jira.example.com/rest",
        headers=[("X-Team", "blue"), ("X-Env", "prod")],
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )
    data["documentation_url"] = "https://docs.example.com"
    data["test_url"] = "/serverInfo"
    data["action"] = "back"
    return data


def _back_to_step1_and_forward_again(client):
    """From step 2: back to step 1, then forward through steps 1 and 2 to a fresh step 3 page."""
    pages = [client.get("/datasources/new/name/")]
    pages.append(client.post("/datasources/new/name/", {"name": "Jira", "action": "back"}, follow=True))
    pages.append(client.post("/datasources/new/", {"type": "rest_api"}, follow=True))
    pages.append(client.post("/datasources/new/name/", {"name": "Jira", "action": "next"}, follow=True))
    return pages


def test_back_from_step_three_keeps_server_details_headers_and_auth_fields(staff_client):
    staff_client.post(STEP3_URL, _fill_step3(staff_client))

    step3 = _back_to_step1_and_forward_again(staff_client)[-1]

    data = form_data(step3)
    assert (data["base_url"], data["documentation_url"], data["test_url"]) == (
        "https://jira.example.com/rest",
        "https://docs.example.com",
        "/serverInfo",
    )
    assert [(data["headers-0-name"], data["headers-0-value"]), (data["headers-1-name"], data["headers-1-value"])] == [
        ("X-Team", "blue"),
        ("X-Env", "prod"),
    ]
    assert (data["auth-mode"], data["auth-username"]) == ("basic", "elements")


def test_back_and_forward_never_send_a_typed_secret_back(staff_client):
    back = staff_client.post(STEP3_URL, _fill_step3(staff_client), follow=True)

    pages = [back] + _back_to_step1_and_forward_again(staff_client)

    for page in pages:
        assert_no_secret(page.content)
    assert form_data(pages[-1])["auth-password"] == ""


def test_the_secret_is_not_kept_in_the_session_either(staff_client):
    staff_client.post(STEP3_URL, _fill_step3(staff_client))

    assert_no_secret(repr(dict(staff_client.session)))


def test_back_and_forward_keep_extra_token_parameters(staff_client):
    step3 = start_wizard(staff_client)
    data = step3_data(
        step3,
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        extra_token_params='{"audience": "https://api.example.com"}',
        action="back",
    )
    staff_client.post(STEP3_URL, data)

    step3 = staff_client.post("/datasources/new/name/", {"name": "Jira", "action": "next"}, follow=True)

    assert form_data(step3)["auth-extra_token_params"] == '{"audience": "https://api.example.com"}'


def test_back_from_step_two_keeps_the_name(staff_client):
    staff_client.post("/datasources/new/", {"type": "rest_api"})
    staff_client.post("/datasources/new/name/", {"name": "Jira", "action": "back"})

    step2 = staff_client.post("/datasources/new/", {"type": "rest_api"}, follow=True)

    assert form_data(step2)["name"] == "Jira"


def test_step_three_keeps_typed_values_after_an_error_but_not_the_password(staff_client):
    step3 = start_wizard(staff_client)
    data = step3_data(
        step3,
        base_url="http://jira.example.com",
        headers=[("X-Team", "blue")],
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )

    response = staff_client.post(STEP3_URL, data)

    shown = form_data(response)
    assert (shown["base_url"], shown["headers-0-name"], shown["auth-username"]) == (
        "http://jira.example.com",
        "X-Team",
        "elements",
    )
    assert_no_secret(response.content)


def test_restart_forgets_a_previous_wizard(staff_client):
    staff_client.post(STEP3_URL, _fill_step3(staff_client))

    staff_client.get("/datasources/new/?restart=1")

    assert staff_client.get(STEP3_URL)["Location"] == "/datasources/new/"


def test_a_created_datasource_ends_the_wizard(staff_client):
    step3 = start_wizard(staff_client)
    staff_client.post(STEP3_URL, step3_data(step3))

    response = staff_client.get(STEP3_URL)

    assert response["Location"] == "/datasources/new/"


def test_step_two_without_a_type_goes_back_to_step_one(staff_client):
    response = staff_client.get("/datasources/new/name/")

    assert response["Location"] == "/datasources/new/"


def test_step_three_without_a_name_goes_back_to_step_two(staff_client):
    staff_client.post("/datasources/new/", {"type": "rest_api"})

    response = staff_client.get(STEP3_URL)

    assert response["Location"] == "/datasources/new/name/"


def test_step_three_refuses_a_name_taken_since_step_two(staff_client, datasource_factory):
    start_wizard(staff_client, name="Jira")
    datasource_factory(name="JIRA")

    response = staff_client.get(STEP3_URL)

    assert response["Location"] == "/datasources/new/name/"


def test_step_one_lists_the_registry_types(staff_client, monkeypatch):
    monkeypatch.setitem(types.REGISTRY, "graphql", types.DatasourceType("graphql", "GraphQL API", "A GraphQL API."))

    response = staff_client.get("/datasources/new/")

    offered = _radio_values(response, "type")
    assert offered == ["rest_api", "graphql"]


def test_a_registered_type_can_be_created(staff_client, monkeypatch):
    monkeypatch.setitem(types.REGISTRY, "graphql", types.DatasourceType("graphql", "GraphQL API", "A GraphQL API."))
    step3 = start_wizard(staff_client, type_key="graphql")

    staff_client.post(STEP3_URL, step3_data(step3))

    assert Datasource.objects.get().type == "graphql"


def test_step_one_refuses_an_unknown_type(staff_client):
    response = staff_client.post("/datasources/new/", {"type": "soap"})

    assert response.status_code == 200
    assert errors_next_to(response, "type") == ["Select a valid choice. soap is not one of the available choices."]
    assert "datasource_wizard" not in staff_client.session


def _radio_values(response, name):
    return re.findall(rf'<input type="radio" name="{name}" value="([^"]*)"', response.content.decode())
