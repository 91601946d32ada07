"""Every bad input of SPEC 1.2-1.4 is refused with its message next to the field, and nothing is saved."""

import pytest
from django.core.exceptions import ValidationError

from datasources import validators
from datasources.forms import ServerDetailsForm
from datasources.models import AuthConfig, Datasource, Header
from tests.conftest import SECRET_API_KEY, SECRET_CLIENT_SECRET, SECRET_PASSWORD
from tests.datasources.conftest import (
    STEP3_URL,
    described_by_missing,
    errors_next_to,
    fill_headers,
    form_data,
    start_wizard,
    step3_data,
)

pytestmark = pytest.mark.django_db

FORBIDDEN_NAMES = [
    "Accept-Charset",
    "Accept-Encoding",
    "Access-Control-Request-Headers",
    "Access-Control-Request-Method",
    "Connection",
    "Content-Length",
    "Cookie",
    "Cookie2",
    "Date",
    "DNT",
    "Expect",
    "Host",
    "Keep-Alive",
    "Origin",
    "Referer",
    "Set-Cookie",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Via",
    # any case, and the two prefixes
    "host",
    "COOKIE",
    "Proxy-Authorization",
    "Proxy-Connection",
    "proxy-anything",
    "Sec-Fetch-Mode",
    "SEC-CH-UA",
]

ANOTHER_ADDRESS = (
    "This names another address (“//” at the start, or a scheme such as https: or javascript:): enter a "
    "path and query string such as /search?q=1, not a full URL. The host always comes from the base URL."
)
DOT_SEGMENTS = (
    "Remove the “.” and “..” path segments (also percent-encoded ones such as %2e%2e or ..%2f): the path "
    "must stay under the base URL."
)

URL_CASES = [
    ("base_url", "http://api.example.com/rest", "Only https:// URLs are accepted (got http://)."),
    ("base_url", "api.example.com/rest", "Only https:// URLs are accepted (got no scheme)."),
    ("base_url", "https:///rest", "The URL needs a host name, as in https://api.example.com."),
    (
        "base_url",
        "https://elements:connect@api.example.com/rest",
        "Do not put a user name or password in the URL: use the authentication section.",
    ),
    (
        "base_url",
        "https://token@api.example.com/rest",
        "Do not put a user name or password in the URL: use the authentication section.",
    ),
    ("base_url", "https://api.example.com/rest#section", "Remove the #fragment: it is never sent to a server."),
    ("base_url", "https://api.example.com/rest#", "Remove the #fragment: it is never sent to a server."),
    ("base_url", "", "This field is required."),
    ("documentation_url", "http://docs.example.com", "Only https:// URLs are accepted (got http://)."),
    ("test_url", "//evil.example.com/health", ANOTHER_ADDRESS),
    ("test_url", "http://api.example.com/health", "Only https:// URLs are accepted (got http://)."),
    ("test_url", "/health#top", "Remove the #fragment: it is never sent to a server."),
    (
        "test_url",
        "/a\\b",
        "Backslashes and control characters (such as line breaks) are not allowed in a path or query.",
    ),
    ("test_url", "evil.example.com:443/health", ANOTHER_ADDRESS),
    ("test_url", "javascript:alert(1)", ANOTHER_ADDRESS),
    ("test_url", "/../admin", DOT_SEGMENTS),
    ("test_url", "/%2e%2e/admin?x=1", DOT_SEGMENTS),
    ("test_url", "/..%2f..", DOT_SEGMENTS),
    ("test_url", "/%252e%252e/x", DOT_SEGMENTS),
    (
        "test_url",
        "/users/me@evil.example.com",
        "“@” is not allowed in the path: it could name another host. (In the "
        "query string it is allowed, e.g. ?user=me@example.com.)",
    ),
    ("base_url", "https://api.example.com:99999/rest", "The port must be a number from 1 to 65535."),
    ("base_url", "https://api.example.com:0/rest", "The port must be a number from 1 to 65535."),
]

MISSING_SECRET_CASES = [
    ("basic", {"username": "elements"}, "password", "Enter the password for Basic authentication."),
    ("api_key", {"api_key_name": "X-API-Key"}, "api_key_value", "Enter the API key value."),
    (
        "oauth2_client_credentials",
        {"token_url": "https://auth.example.com/token", "client_id": "connect"},
        "client_secret",
        "Enter the client secret.",
    ),
    (
        "oauth2_authorization_code",
        {
            "authorization_url": "https://auth.example.com/authorize",
            "token_url": "https://auth.example.com/token",
            "client_id": "connect",
        },
        "client_secret",
        "Enter the client secret.",
    ),
]

OTHER_AUTH_CASES = [
    ("basic", {"password": SECRET_PASSWORD}, "username", "Enter the user name for Basic authentication."),
    (
        "api_key",
        {"api_key_value": SECRET_API_KEY},
        "api_key_name",
        "Enter the name of the API key header or query parameter.",
    ),
    (
        "api_key",
        {"api_key_name": "X API Key", "api_key_value": SECRET_API_KEY},
        "api_key_name",
        "“X API Key” is not a valid header name: use letters, digits and ! # $ % & ' * + - . ^ _ ` | ~ only.",
    ),
    (
        "oauth2_client_credentials",
        {"token_url": "http://auth.example.com/token", "client_id": "connect", "client_secret": SECRET_CLIENT_SECRET},
        "token_url",
        "Only https:// URLs are accepted (got http://).",
    ),
    (
        "oauth2_client_credentials",
        {
            "token_url": "https://auth.example.com/token",
            "client_id": "connect",
            "client_secret": SECRET_CLIENT_SECRET,
            "extra_token_params": "audience=x",
        },
        "extra_token_params",
        'Enter a JSON object, e.g. {"audience": "https://api.example.com"}.',
    ),
    (
        "oauth2_client_credentials",
        {
            "token_url": "https://auth.example.com/token",
            "client_id": "connect",
            "client_secret": SECRET_CLIENT_SECRET,
            "extra_token_params": '{"n": 1}',
        },
        "extra_token_params",
        'Enter a JSON object of text values, e.g. {"audience": "https://api"}.',
    ),
    (
        "oauth2_authorization_code",
        {
            "authorization_url": "http://auth.example.com/authorize",
            "token_url": "https://auth.example.com/token",
            "client_id": "connect",
            "client_secret": SECRET_CLIENT_SECRET,
        },
        "authorization_url",
        "Only https:// URLs are accepted (got http://).",
    ),
]


def _nothing_saved():
    return (Datasource.objects.count(), Header.objects.count(), AuthConfig.objects.count()) == (0, 0, 0)


# --- wizard step 3 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value, message", URL_CASES)
def test_wizard_refuses_a_bad_url_next_to_its_field(staff_client, field, value, message):
    data = step3_data(start_wizard(staff_client))
    data[field] = value

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, field) == [message]
    assert _nothing_saved()


@pytest.mark.parametrize(
    "field, value",
    [
        ("test_url", "/serverInfo"),
        ("test_url", "health"),
        ("test_url", "/v1/items:search?q=a.b"),
        ("test_url", "https://status.example.com/health"),
        ("test_url", "?ping=1"),
        ("test_url", "/ping?u=me@example.com"),
        ("base_url", "https://api.example.com:8443/rest"),
        ("base_url", "https://api.example.com/rest?v=2"),
    ],
)
def test_wizard_accepts_a_good_url(staff_client, field, value):
    data = step3_data(start_wizard(staff_client))
    data[field] = value

    response = staff_client.post(STEP3_URL, data)

    assert response.status_code == 302
    assert getattr(Datasource.objects.get(), field) == value


@pytest.mark.parametrize("name", FORBIDDEN_NAMES)
def test_wizard_refuses_each_forbidden_header_by_name(staff_client, name):
    data = step3_data(start_wizard(staff_client), headers=[(name, "x")])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-name") == [
        f"The header “{name}” is forbidden: browsers and HTTP clients control it themselves."
    ]
    assert _nothing_saved()


@pytest.mark.parametrize("name", ["Authorization", "authorization"])
def test_wizard_refuses_an_authorization_header_and_points_to_the_auth_section(staff_client, name):
    data = step3_data(start_wizard(staff_client), headers=[(name, "Bearer x")])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-name") == [
        "The Authorization header cannot be set here: choose an authentication mode below instead."
    ]
    assert _nothing_saved()


@pytest.mark.parametrize("name", ["X Team", "X-Team:", "X-Tëam", "(X-Team)", "X/Team", "X-Team;a", '"X"'])
def test_wizard_refuses_a_malformed_header_name(staff_client, name):
    data = step3_data(start_wizard(staff_client), headers=[(name, "x")])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-name") == [
        f"“{name}” is not a valid header name: use letters, digits and ! # $ % & ' * + - . ^ _ ` | ~ only."
    ]
    assert _nothing_saved()


def test_wizard_refuses_a_header_value_without_a_name(staff_client):
    data = step3_data(start_wizard(staff_client), headers=[("", "orphan value")])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-name") == ["This field is required."]
    assert _nothing_saved()


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nX-Injected: 1"])
def test_wizard_refuses_a_line_break_in_a_header_value(staff_client, value):
    data = step3_data(start_wizard(staff_client), headers=[("X-Team", value)])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-value") == [
        "A header value cannot contain line breaks (CR, LF) or NUL characters."
    ]
    assert _nothing_saved()


def test_wizard_refuses_a_nul_in_a_header_value(staff_client):
    data = step3_data(start_wizard(staff_client), headers=[("X-Team", "a\x00b")])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-0-value") == ["Null characters are not allowed."]
    assert _nothing_saved()


def test_nul_in_a_header_value_is_refused_by_the_validator_too():
    with pytest.raises(ValidationError):
        validators.validate_header_value("a\x00b")


@pytest.mark.parametrize("second", ["X-Team", "x-team", "X-TEAM"])
def test_wizard_refuses_a_header_name_given_twice_ignoring_case(staff_client, second):
    data = step3_data(start_wizard(staff_client), headers=[("X-Team", "blue"), (second, "red")])

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "headers-1-name") == [f"The header “{second}” appears twice (names ignore case)."]
    assert _nothing_saved()


def test_wizard_accepts_twenty_headers(staff_client):
    rows = [(f"X-H{i}", str(i)) for i in range(20)]
    data = step3_data(start_wizard(staff_client), headers=rows)

    response = staff_client.post(STEP3_URL, data)

    assert response.status_code == 302
    assert Header.objects.count() == 20


def test_wizard_refuses_a_twenty_first_header_with_one_message(staff_client):
    rows = [(f"X-H{i}", str(i)) for i in range(21)]
    data = step3_data(start_wizard(staff_client), headers=rows)

    response = staff_client.post(STEP3_URL, data)

    message = "A datasource can have at most 20 custom headers: remove one before adding another."
    assert list(response.context["header_formset"].non_form_errors()) == [message]
    summary, form = response.content.decode().split("data-config-form", 1)
    assert summary.count(message) == 1 and form.count(message) == 1  # the error summary's line, and the form's
    assert _nothing_saved()


def test_twenty_one_rows_with_one_removed_are_accepted(staff_client):
    rows = [(f"X-H{i}", str(i)) for i in range(21)]
    data = step3_data(start_wizard(staff_client), headers=rows)
    data["headers-20-DELETE"] = "on"

    response = staff_client.post(STEP3_URL, data)

    assert response.status_code == 302
    assert Header.objects.count() == 20


@pytest.mark.parametrize("mode, fields, secret, message", MISSING_SECRET_CASES)
def test_wizard_refuses_a_missing_secret_for_the_chosen_mode(staff_client, mode, fields, secret, message):
    data = step3_data(start_wizard(staff_client), mode=mode, **fields)

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, f"auth-{secret}") == [message]
    assert _nothing_saved()


@pytest.mark.parametrize("mode, fields, field, message", OTHER_AUTH_CASES)
def test_wizard_refuses_a_bad_auth_field(staff_client, mode, fields, field, message):
    data = step3_data(start_wizard(staff_client), mode=mode, **fields)

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, f"auth-{field}") == [message]
    assert _nothing_saved()


def test_wizard_refuses_an_unknown_auth_mode(staff_client):
    data = step3_data(start_wizard(staff_client), mode="kerberos")

    response = staff_client.post(STEP3_URL, data)

    assert errors_next_to(response, "auth-mode") == [
        "Select a valid choice. kerberos is not one of the available choices."
    ]
    assert _nothing_saved()


@pytest.mark.parametrize("typed", ["jira", "  JIRA  ", "Jira"])
def test_wizard_refuses_a_taken_name_ignoring_case_and_spaces(staff_client, datasource_factory, typed):
    datasource_factory(name="Jira")
    staff_client.post("/datasources/new/", {"type": "rest_api"})

    response = staff_client.post("/datasources/new/name/", {"name": typed, "action": "next"})

    assert errors_next_to(response, "name") == ["A datasource with this name already exists (names ignore case)."]
    assert Datasource.objects.count() == 1


@pytest.mark.parametrize(
    "typed, message",
    [("   ", "This field is required."), ("x" * 101, "Ensure this value has at most 100 characters (it has 101).")],
)
def test_wizard_refuses_an_empty_or_too_long_name(staff_client, typed, message):
    staff_client.post("/datasources/new/", {"type": "rest_api"})

    response = staff_client.post("/datasources/new/name/", {"name": typed, "action": "next"})

    assert errors_next_to(response, "name") == [message]


def test_wizard_trims_the_name(staff_client):
    step3 = start_wizard(staff_client, name="  Jira Cloud  ")

    staff_client.post(STEP3_URL, step3_data(step3))

    assert Datasource.objects.get().name == "Jira Cloud"


def test_every_error_is_linked_to_its_input(staff_client):
    data = step3_data(
        start_wizard(staff_client),
        base_url="http://x.example.com",
        headers=[("Host", "a\nb")],
        mode="basic",
        username="",
    )

    response = staff_client.post(STEP3_URL, data)

    assert described_by_missing(response) == []


# --- edit page ---------------------------------------------------------------------------------------


def _snapshot(datasource):
    datasource = Datasource.objects.get(pk=datasource.pk)
    auth = AuthConfig.objects.get(datasource=datasource)
    return (
        [
            (f, getattr(datasource, f))
            for f in ("name", "base_url", "documentation_url", "test_url", "config_version", "updated_at")
        ],
        list(Header.objects.filter(datasource=datasource).values_list("id", "name", "value")),
        [(f.name, getattr(auth, f.name)) for f in AuthConfig._meta.fields],
    )


@pytest.fixture
def jira(datasource_factory):
    return datasource_factory(
        name="Jira",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
        headers=[("X-Team", "blue"), ("X-Env", "prod")],
    )


def _edit_page(client, datasource):
    return client.get(f"/datasources/{datasource.pk}/edit/")


def _edit_data(client, datasource, **changes):
    data = form_data(_edit_page(client, datasource))
    for key, value in changes.items():
        data[key] = value
    return data


@pytest.mark.parametrize("field, value, message", URL_CASES)
def test_edit_refuses_a_bad_url_and_changes_nothing(staff_client, jira, field, value, message):
    before = _snapshot(jira)

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", _edit_data(staff_client, jira, **{field: value}))

    assert errors_next_to(response, field) == [message]
    assert _snapshot(jira) == before


@pytest.mark.parametrize("name", ["Host", "Proxy-Authorization", "Sec-Fetch-Site", "Authorization", "X Team"])
def test_edit_refuses_a_bad_new_header_and_changes_nothing(staff_client, jira, name):
    before = _snapshot(jira)
    data = fill_headers(_edit_data(staff_client, jira), [(name, "x")])

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert len(errors_next_to(response, "headers-2-name")) == 1
    assert _snapshot(jira) == before


def test_edit_refuses_renaming_an_existing_header_to_a_forbidden_name(staff_client, jira):
    before = _snapshot(jira)
    data = _edit_data(staff_client, jira, **{"headers-0-name": "Cookie"})

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert errors_next_to(response, "headers-0-name") == [
        "The header “Cookie” is forbidden: browsers and HTTP clients control it themselves."
    ]
    assert _snapshot(jira) == before


def test_edit_refuses_a_line_break_in_an_existing_header_value(staff_client, jira):
    before = _snapshot(jira)
    data = _edit_data(staff_client, jira, **{"headers-1-value": "prod\r\nX-Injected: 1"})

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert errors_next_to(response, "headers-1-value") == [
        "A header value cannot contain line breaks (CR, LF) or NUL characters."
    ]
    assert _snapshot(jira) == before


@pytest.mark.parametrize("second", ["X-Team", "x-team"])
def test_edit_refuses_a_new_header_named_like_an_existing_one_with_one_message(staff_client, jira, second):
    before = _snapshot(jira)
    data = fill_headers(_edit_data(staff_client, jira), [(second, "red")])

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert errors_next_to(response, "headers-2-name") == [f"The header “{second}” appears twice (names ignore case)."]
    assert _snapshot(jira) == before


def test_edit_refuses_renaming_a_header_to_another_rows_name(staff_client, jira):
    before = _snapshot(jira)
    data = _edit_data(staff_client, jira, **{"headers-1-name": "x-TEAM"})

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert errors_next_to(response, "headers-1-name") == ["The header “x-TEAM” appears twice (names ignore case)."]
    assert _snapshot(jira) == before


def test_edit_accepts_removing_a_header_and_adding_it_again_in_other_case(staff_client, jira):
    data = fill_headers(_edit_data(staff_client, jira, **{"headers-0-DELETE": "on"}), [("x-team", "green")])

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert response.status_code == 302
    assert sorted(jira.headers.values_list("name", "value")) == [("X-Env", "prod"), ("x-team", "green")]


def test_edit_accepts_swapping_two_header_names(staff_client, jira):
    data = _edit_data(staff_client, jira, **{"headers-0-name": "X-Env", "headers-1-name": "X-Team"})

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert response.status_code == 302
    assert sorted(jira.headers.values_list("name", "value")) == [("X-Env", "blue"), ("X-Team", "prod")]


def test_edit_refuses_a_twenty_first_header(staff_client, datasource_factory):
    datasource = datasource_factory(headers=[(f"X-H{i}", str(i)) for i in range(20)])
    before = _snapshot(datasource)
    data = fill_headers(_edit_data(staff_client, datasource), [("X-H20", "20")], start=20)

    response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)

    assert list(response.context["header_formset"].non_form_errors()) == [
        "A datasource can have at most 20 custom headers: remove one before adding another."
    ]
    assert _snapshot(datasource) == before


def test_edit_accepts_replacing_one_of_twenty_headers(staff_client, datasource_factory):
    datasource = datasource_factory(headers=[(f"X-H{i}", str(i)) for i in range(20)])
    data = fill_headers(_edit_data(staff_client, datasource, **{"headers-0-DELETE": "on"}), [("X-New", "n")], start=20)

    response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)

    assert response.status_code == 302
    assert datasource.headers.count() == 20


def _without_existing_rows(data, rows):
    """A stale or tampered edit form that does not list the stored header rows."""
    data = {k: v for k, v in data.items() if not k.startswith("headers-")}
    data.update({"headers-INITIAL_FORMS": "0", "headers-MIN_NUM_FORMS": "0", "headers-MAX_NUM_FORMS": "20"})
    return fill_headers(data, rows, start=0)


def test_edit_counts_stored_headers_missing_from_the_form(staff_client, datasource_factory):
    datasource = datasource_factory(headers=[(f"X-H{i}", str(i)) for i in range(20)])
    before = _snapshot(datasource)
    data = _without_existing_rows(_edit_data(staff_client, datasource), [("X-New", "n")])

    response = staff_client.post(f"/datasources/{datasource.pk}/edit/", data)

    assert list(response.context["header_formset"].non_form_errors()) == [
        "A datasource can have at most 20 custom headers: remove one before adding another."
    ]
    assert _snapshot(datasource) == before


def test_edit_compares_names_with_stored_headers_missing_from_the_form(staff_client, jira):
    before = _snapshot(jira)
    data = _without_existing_rows(_edit_data(staff_client, jira), [("x-env", "n")])

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert errors_next_to(response, "headers-0-name") == ["The header “x-env” is already set on this datasource."]
    assert _snapshot(jira) == before


@pytest.mark.parametrize("typed", ["confluence", "  CONFLUENCE "])
def test_edit_refuses_another_datasources_name_with_one_message(staff_client, jira, datasource_factory, typed):
    datasource_factory(name="Confluence")
    before = _snapshot(jira)

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", _edit_data(staff_client, jira, name=typed))

    assert errors_next_to(response, "name") == ["A datasource with this name already exists (names ignore case)."]
    assert _snapshot(jira) == before


def test_edit_accepts_a_new_case_of_its_own_name(staff_client, jira):
    response = staff_client.post(f"/datasources/{jira.pk}/edit/", _edit_data(staff_client, jira, name=" JIRA "))

    assert response.status_code == 302
    assert Datasource.objects.get(pk=jira.pk).name == "JIRA"


@pytest.mark.parametrize("mode, fields, secret, message", MISSING_SECRET_CASES[1:])
def test_edit_refuses_a_mode_change_without_the_new_modes_secret(staff_client, jira, mode, fields, secret, message):
    before = _snapshot(jira)
    data = _edit_data(staff_client, jira, **{"auth-mode": mode}, **{f"auth-{k}": v for k, v in fields.items()})

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    assert errors_next_to(response, f"auth-{secret}") == [message]
    assert _snapshot(jira) == before


def test_edit_page_shows_the_typed_values_and_the_stored_title_after_an_error(staff_client, jira):
    data = _edit_data(staff_client, jira, name="Jira 2", base_url="http://jira.example.com")

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", data)

    shown = form_data(response)
    assert (shown["name"], shown["base_url"]) == ("Jira 2", "http://jira.example.com")
    assert "<h1>Edit “Jira”</h1>" in response.content.decode()


def test_edit_page_shows_the_stored_extra_token_parameters_as_json(staff_client, datasource_factory):
    datasource = datasource_factory(
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
        extra_token_params={"audience": "https://api.example.com"},
    )

    shown = form_data(_edit_page(staff_client, datasource))

    assert shown["auth-extra_token_params"] == '{"audience": "https://api.example.com"}'


def test_an_unchanged_edit_form_saves_and_keeps_everything(staff_client, jira):
    before = _snapshot(jira)

    response = staff_client.post(f"/datasources/{jira.pk}/edit/", _edit_data(staff_client, jira))

    after = _snapshot(jira)
    assert response.status_code == 302
    assert (after[1], after[2]) == (before[1], before[2])


def test_a_name_taken_after_step_two_is_reported_on_the_server_form(datasource_factory):
    datasource_factory(name="Jira")
    form = ServerDetailsForm({"base_url": "https://api.example.com"}, instance=Datasource(name="JIRA"))

    assert not form.is_valid()
    assert form.non_field_errors() == ["A datasource with this name already exists (names ignore case)."]
