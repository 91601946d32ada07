"""Datasource, Header and AuthConfig invariants, shared by forms, admin and API; the config version; the type
registry."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from datasources import types
from datasources.models import AuthConfig, Datasource, Header
from tests.conftest import SECRET_PASSWORD

pytestmark = pytest.mark.django_db


def _version(datasource):
    return Datasource.objects.get(pk=datasource.pk).config_version


def _errors(instance) -> dict:
    with pytest.raises(ValidationError) as refused:
        instance.full_clean()
    return refused.value.message_dict


# --- config version --------------------------------------------------------------------------------


def test_saving_the_datasource_changes_the_config_version(datasource_factory):
    datasource = datasource_factory()
    before = _version(datasource)

    datasource.test_url = "/health"
    datasource.save()

    assert _version(datasource) != before


def test_adding_a_header_changes_the_config_version(datasource_factory):
    datasource = datasource_factory()
    before = _version(datasource)

    Header.objects.create(datasource=datasource, name="X-Team", value="blue")

    assert _version(datasource) != before


def test_changing_a_header_changes_the_config_version(datasource_factory):
    datasource = datasource_factory(headers=[("X-Team", "blue")])
    before = _version(datasource)

    header = datasource.headers.get()
    header.value = "red"
    header.save()

    assert _version(datasource) != before


def test_deleting_a_header_changes_the_config_version(datasource_factory):
    datasource = datasource_factory(headers=[("X-Team", "blue")])
    before = _version(datasource)

    datasource.headers.get().delete()

    assert _version(datasource) != before


def test_saving_the_auth_config_changes_the_config_version(datasource_factory):
    datasource = datasource_factory(mode="basic", username="elements", password=SECRET_PASSWORD)
    before = _version(datasource)

    auth = AuthConfig.objects.get(datasource=datasource)
    auth.username = "someone"
    auth.save()

    assert _version(datasource) != before


def test_reading_does_not_change_the_config_version(datasource_factory):
    datasource = datasource_factory(headers=[("X-Team", "blue")])

    list(Datasource.objects.all()), list(Header.objects.all()), list(AuthConfig.objects.all())

    assert _version(datasource) == datasource.config_version


# --- Datasource ---------------------------------------------------------------------------------------


def test_names_are_unique_ignoring_case_in_the_database(datasource_factory):
    datasource_factory(name="Jira")

    with pytest.raises(IntegrityError), transaction.atomic():
        Datasource.objects.create(name="JIRA", base_url="https://api.example.com")


def test_a_taken_name_is_refused_once_ignoring_case_and_spaces(datasource_factory):
    datasource_factory(name="Jira")

    errors = _errors(Datasource(name="  jira ", base_url="https://api.example.com"))

    assert errors == {"name": ["A datasource with this name already exists (names ignore case)."]}


def test_the_name_is_trimmed_on_save():
    datasource = Datasource.objects.create(name="  Jira  ", base_url="https://api.example.com")

    assert Datasource.objects.get(pk=datasource.pk).name == "Jira"


def test_a_blank_name_is_refused():
    assert "name" in _errors(Datasource(name="   ", base_url="https://api.example.com"))


def test_an_unknown_type_is_refused():
    errors = _errors(Datasource(type="soap", name="Old", base_url="https://api.example.com"))

    assert errors == {"type": ["Value 'soap' is not a valid choice."]}


# --- Header ---------------------------------------------------------------------------------------


def test_a_header_name_is_unique_per_datasource_ignoring_case_in_the_database(datasource_factory):
    datasource = datasource_factory(headers=[("X-Team", "blue")])

    with pytest.raises(IntegrityError), transaction.atomic():
        Header.objects.create(datasource=datasource, name="x-team", value="red")


def test_the_same_header_name_on_two_datasources_is_fine(datasource_factory):
    datasource_factory(name="A", headers=[("X-Team", "blue")])
    other = datasource_factory(name="B")

    Header(datasource=other, name="X-Team", value="red").full_clean()


def test_a_header_named_like_a_stored_one_is_refused_with_one_message(datasource_factory):
    datasource = datasource_factory(headers=[("X-Team", "blue")])

    errors = _errors(Header(datasource=datasource, name="X-TEAM", value="red"))

    assert errors == {"name": ["The header “X-TEAM” is already set on this datasource."]}


def test_a_twenty_first_header_is_refused(datasource_factory):
    datasource = datasource_factory(headers=[(f"X-H{i}", "v") for i in range(20)])

    errors = _errors(Header(datasource=datasource, name="X-H20", value="v"))

    assert errors == {"__all__": ["A datasource can have at most 20 custom headers."]}


def test_a_stored_header_of_a_full_datasource_can_still_be_edited(datasource_factory):
    datasource = datasource_factory(headers=[(f"X-H{i}", "v") for i in range(20)])
    header = datasource.headers.first()

    header.value = "changed"
    header.full_clean()


@pytest.mark.parametrize(
    "name, value, field",
    [("Host", "x", "name"), ("Sec-Fetch-Mode", "x", "name"), ("X Team", "x", "name"), ("X-Team", "a\r\nb", "value")],
)
def test_header_validation_lives_in_the_model(datasource_factory, name, value, field):
    datasource = datasource_factory()

    assert field in _errors(Header(datasource=datasource, name=name, value=value))


# --- AuthConfig ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, required",
    [
        ("none", set()),
        ("basic", {"username", "password"}),
        ("api_key", {"api_key_name", "api_key_value"}),
        ("oauth2_client_credentials", {"token_url", "client_id", "client_secret"}),
        ("oauth2_authorization_code", {"authorization_url", "token_url", "client_id", "client_secret"}),
    ],
)
def test_each_mode_requires_its_fields(datasource_factory, mode, required):
    auth = AuthConfig(datasource=datasource_factory(name=f"DS {mode}"), mode=mode)

    try:
        auth.full_clean(exclude=["datasource"])
        missing = set()
    except ValidationError as refused:
        missing = set(refused.message_dict)

    assert missing == required


def test_an_api_key_sent_as_a_query_parameter_may_use_any_name(datasource_factory):
    auth = AuthConfig(
        datasource=datasource_factory(),
        mode="api_key",
        api_key_location="query",
        api_key_name="api key",
        api_key_value="v",
    )

    auth.full_clean(exclude=["datasource"])


def test_switching_mode_drops_the_other_modes_secrets_and_tokens():
    auth = AuthConfig(
        mode="api_key", password="p", api_key_value="k", client_secret="c", access_token="a", refresh_token="r"
    )

    auth.drop_secrets_not_used_by_mode()

    assert (auth.password, auth.api_key_value, auth.client_secret, auth.access_token, auth.refresh_token) == (
        "",
        "k",
        "",
        "",
        "",
    )


# --- type registry -----------------------------------------------------------------------------------


def test_the_registry_offers_rest_api():
    assert types.type_choices() == [("rest_api", "REST API")]


def test_a_registered_type_becomes_a_valid_choice(monkeypatch):
    monkeypatch.setitem(types.REGISTRY, "graphql", types.DatasourceType("graphql", "GraphQL API", "A GraphQL API."))

    Datasource(type="graphql", name="Graph", base_url="https://api.example.com").full_clean()


def test_a_type_not_yet_implemented_is_not_offered(monkeypatch):
    monkeypatch.setitem(types.REGISTRY, "soap", types.DatasourceType("soap", "SOAP", "Later.", implemented=False))

    assert "soap" not in dict(types.type_choices())
