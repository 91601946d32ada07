"""apply_config: what a dry run prints, one transaction, --prune, the audit entries, and every bad input named by its
place with nothing applied."""

import pytest
import yaml
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from configuration.applier import apply_configuration
from configuration.exporter import dump, export_configuration
from datasources.models import AuthConfig, Datasource, Header
from items.models import Item
from tests.conftest import SECRET_CLIENT_SECRET, SECRET_PASSWORD, assert_no_secret, make_datasource

pytestmark = pytest.mark.django_db

NEW_SECRET = "s3cr3t-FROM-ENV-9e9e"
ENV = {"JIRA_PASSWORD": NEW_SECRET}


def jira_entry(**changes) -> dict:
    entry = {
        "name": "Jira",
        "base_url": "https://jira.example.com/rest",
        "headers": [{"name": "X-Team", "value": "ops"}],
        "auth": {"mode": "basic", "username": "elements", "password": "${env:JIRA_PASSWORD}"},
        "items": [
            {"name": "Country", "query": "/countries"},
            {
                "name": "City",
                "query": "/cities?c=$country",
                "dependencies": [{"name": "country", "optional": False}],
                "bindings": {"country": "Country"},
            },
        ],
    }
    entry.update(changes)
    return entry


def document(*datasources, applications=()) -> str:
    return yaml.safe_dump({"connect": 1, "datasources": list(datasources), "applications": list(applications)})


def state() -> list:
    """Everything a failed apply must leave as it was."""
    return [
        list(Datasource.objects.values_list("name", "base_url", "config_version")),
        list(Header.objects.values_list("name", "value")),
        list(AuthConfig.objects.values_list("mode", "username")),
        list(Item.objects.values_list("name", "query", "config_version")),
        AuditEntry.objects.count(),
    ]


def test_a_file_creates_datasources_items_bindings_and_applications():
    result = apply_configuration(
        document(jira_entry(), applications=[{"name": "Portal", "items": ["City"]}]), environ=ENV
    )

    assert result.errors == [] and result.applied
    city = Item.objects.get(name="City")
    assert city.bindings.get().source.name == "Country"
    assert AuthConfig.objects.get(datasource__name="Jira").password == NEW_SECRET
    assert [i.name for i in city.applications.get().items.all()] == ["City"]
    assert result.counts() == "4 created, 0 changed, 0 deleted, 0 unchanged"


def test_a_dry_run_prints_each_change_and_changes_nothing(capsys, tmp_path, monkeypatch):
    datasource = make_datasource(
        name="Jira",
        base_url="https://jira.example.com/rest",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
        headers=[("X-Team", "dev")],
    )
    Item.objects.create(name="Old", datasource=datasource, query="/old")
    path = tmp_path / "connect.yaml"
    path.write_text(document(jira_entry(base_url="https://jira.example.com/v2")))
    monkeypatch.setenv("JIRA_PASSWORD", NEW_SECRET)
    before = state()

    call_command("apply_config", str(path), "--dry-run", "--prune")

    out = capsys.readouterr().out
    assert "update datasource “Jira”" in out
    assert "    base_url: https://jira.example.com/rest -> https://jira.example.com/v2" in out
    assert "    headers[X-Team]: dev -> ops" in out
    assert "    auth.password: changed" in out
    assert "create item “Country”" in out and "delete item “Old” (--prune)" in out
    assert "Dry run: nothing was changed" in out
    assert_no_secret(out, (NEW_SECRET, SECRET_PASSWORD))
    assert state() == before


def test_without_prune_what_the_file_lacks_is_kept_and_with_it_deleted():
    other = make_datasource(name="Other", base_url="https://other.example.com")
    apply_configuration(document(jira_entry()), environ=ENV)
    assert Datasource.objects.filter(pk=other.pk).exists()

    result = apply_configuration(document(jira_entry()), environ=ENV, prune=True)

    assert result.errors == []
    assert not Datasource.objects.filter(pk=other.pk).exists()
    assert [c.lines()[0] for c in result.changes] == ["delete datasource “Other” (--prune)"]


def test_applied_changes_are_audited_with_the_actor_and_secrets_only_as_changed():
    apply_configuration(document(jira_entry()), environ=ENV)
    AuditEntry.objects.all().delete()

    apply_configuration(
        document(jira_entry(base_url="https://jira.example.com/v2")),
        environ={"JIRA_PASSWORD": "s3cr3t-ROTATED-2222"},
        actor="deploy-bot",
        source="prod.yaml",
    )

    entry = AuditEntry.objects.get(object_type="datasource")
    assert (entry.actor, entry.via, entry.action) == ("deploy-bot", "apply_config", "update")
    assert {"field": "base_url", "old": "https://jira.example.com/rest", "new": "https://jira.example.com/v2"} in (
        entry.changes
    )
    assert {"field": "auth.password", "secret": True} in entry.changes
    imported = AuditEntry.objects.get(object_type="configuration")
    assert (imported.action, imported.object_name) == ("import", "prod.yaml")
    assert_no_secret(str(list(AuditEntry.objects.values())), ("s3cr3t-ROTATED-2222", NEW_SECRET))


def test_a_failure_anywhere_applies_nothing():
    before = state()

    result = apply_configuration(
        document(jira_entry(), {"name": "Broken", "base_url": "http://insecure.example.com"}), environ=ENV
    )

    assert result.errors and not result.applied
    assert state() == before


def _errors(text_or_doc, environ=ENV) -> list[str]:
    before = state()
    content = text_or_doc if isinstance(text_or_doc, (str, bytes)) else yaml.safe_dump(text_or_doc)
    result = apply_configuration(content, environ=environ)
    assert state() == before, "a refused file changed something"
    return result.errors


@pytest.mark.parametrize(
    "datasource, expected",
    [
        (jira_entry(colour="blue"), "datasources[0].colour: unknown key"),
        (jira_entry(concurrent_calls="five"), "datasources[0].concurrent_calls: expected a whole number, got text."),
        (jira_entry(stale_if_error="yes"), "datasources[0].stale_if_error: expected true or false, got text."),
        (jira_entry(base_url="http://jira.example.com"), "datasources[0].base_url: "),
        (
            jira_entry(headers=[{"name": "X-Team", "value": "a"}, {"name": "Bad Header", "value": "b"}]),
            "datasources[0].headers[1].name: “Bad Header” is not a valid header name",
        ),
        (
            jira_entry(headers=[{"name": "Cookie", "value": "a"}]),
            "datasources[0].headers[0].name: The header “Cookie” is forbidden",
        ),
        (
            jira_entry(headers=[{"name": "X-Line", "value": "a\r\nb"}]),
            "datasources[0].headers[0].value: A header value cannot",
        ),
        (
            jira_entry(headers=[{"name": f"X-H{n}", "value": "v"} for n in range(21)]),
            "datasources[0].headers[20]: A datasource can have at most 20 custom headers.",
        ),
        (
            jira_entry(headers=[{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}]),
            "datasources[0].headers[1].name: “x-a” appears twice",
        ),
        (
            jira_entry(auth={"mode": "basic", "username": "elements", "password": "hunter2"}),
            "datasources[0].auth.password: a secret is written as a reference",
        ),
        (
            jira_entry(auth={"mode": "basic", "username": "elements", "password": "${env:NOT_SET_ANYWHERE}"}),
            "datasources[0].auth.password: the environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            jira_entry(auth={"mode": "basic", "username": "elements"}),
            "datasources[0].auth.password: Enter the password for Basic authentication.",
        ),
        (
            jira_entry(
                auth={
                    "mode": "oauth2_authorization_code",
                    "provider": "microsoft",
                    "client_id": "c",
                    "client_secret": "${env:JIRA_PASSWORD}",
                    "authorization_url": "https://login.example.com/a",
                    "token_url": "https://login.example.com/t",
                }
            ),
            "datasources[0].auth.tenant: Enter the tenant",
        ),
        (
            jira_entry(items=[{"name": "City", "query": "/c?x=$nope"}]),
            "datasources[0].items[0].query: Unknown variable $nope",
        ),
        (jira_entry(items=[{"name": "City", "max_options": 50000}]), "datasources[0].items[0].max_options: "),
        (
            jira_entry(items=[{"name": "City", "bindings": {"country": "Country"}}]),
            "datasources[0].items[0].bindings.country: “country” is not a dependency",
        ),
        (
            jira_entry(
                items=[
                    {
                        "name": "City",
                        "query": "/c?x=$country",
                        "dependencies": [{"name": "country"}],
                        "bindings": {"country": "Atlantis"},
                    }
                ]
            ),
            "datasources[0].items[0].bindings.country: there is no item “Atlantis”",
        ),
        (jira_entry(items=[{"name": "A"}, {"name": "a"}]), "datasources[0].items[1].name: the item “a” appears twice"),
        (
            jira_entry(items=[{"name": "A", "access": "groups"}]),
            "datasources[0].items[0].allowed_groups: Choose at least one group",
        ),
        (
            jira_entry(items=[{"name": "A", "access": "groups", "allowed_groups": ["Nobody"]}]),
            "datasources[0].items[0].allowed_groups[0]: there is no group “Nobody”",
        ),
    ],
)
def test_each_bad_input_is_named_by_its_place_and_nothing_is_applied(datasource, expected):
    errors = _errors({"connect": 1, "datasources": [datasource]})

    assert any(error.startswith(expected) for error in errors), errors


def test_a_binding_cycle_is_refused_with_the_items_along_it():
    items = [
        {"name": "A", "query": "/a?x=$b", "dependencies": [{"name": "b"}], "bindings": {"b": "B"}},
        {"name": "B", "query": "/b?x=$a", "dependencies": [{"name": "a"}], "bindings": {"a": "A"}},
    ]

    errors = _errors({"connect": 1, "datasources": [jira_entry(items=items)]})

    assert any("bindings" in e and "would make a cycle: " in e for e in errors), errors


def test_duplicate_datasource_names_are_refused():
    errors = _errors({"connect": 1, "datasources": [jira_entry(), jira_entry(name="JIRA")]})

    assert any(e.startswith("datasources[1].name: “JIRA” appears twice (also at datasources[0]") for e in errors)


def test_an_application_granting_an_unknown_item_is_refused():
    errors = _errors({"connect": 1, "applications": [{"name": "Portal", "items": ["Ghost"]}]})

    assert errors == ["applications[0].items[0]: there is no item “Ghost” (in the file or in Connect)."]


def test_an_application_origin_is_checked_by_the_applications_rule():
    errors = _errors(
        {"connect": 1, "applications": [{"name": "Portal", "allowed_origins": ["https://a.example.com/path"]}]}
    )

    assert len(errors) == 1 and errors[0].startswith("applications[0].allowed_origins: ")


@pytest.mark.parametrize(
    "content, expected",
    [
        ("datasources: []\n", "connect: missing"),
        ("connect: 2\n", "connect: version 2 is not supported"),
        ("connect: 1\nsecrets: []\n", "secrets: unknown key"),
        ("connect: 1\ndatasources: {name: Jira}\n", "datasources: expected a list, got a mapping."),
        ("connect: 1\ndatasources: [\n", "The file is not valid YAML: "),
        ("- just\n- a list\n", "The file must be a mapping"),
        ("connect: 1\na: &x [1]\nb: *x\n", "The file is not valid YAML: aliases (*name) are not accepted"),
    ],
)
def test_a_file_that_is_not_a_configuration_is_refused(content, expected):
    errors = _errors(content)

    assert errors and errors[0].startswith(expected), errors


def test_a_file_over_5_mb_is_refused(tmp_path):
    content = "connect: 1\n# " + "x" * (5 * 1024 * 1024) + "\n"
    assert _errors(content) == ["The file is 5.0 MB: a configuration file may be at most 5 MB."]
    path = tmp_path / "big.yaml"
    path.write_text(content)
    with pytest.raises(CommandError, match="at most 5 MB"):
        call_command("apply_config", str(path))


def test_the_command_names_every_problem_and_applies_nothing(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(document(jira_entry(colour="blue", base_url=7)))

    with pytest.raises(CommandError) as refused:
        call_command("apply_config", str(path))

    assert "Nothing was applied" in str(refused.value)
    assert "datasources[0].colour: unknown key" in str(refused.value)
    assert "datasources[0].base_url: expected text, got a number." in str(refused.value)
    assert not Datasource.objects.exists()


def test_moving_a_datasource_to_another_host_needs_its_secret_again():
    datasource = make_datasource(
        name="Jira",
        base_url="https://jira.example.com/rest",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )
    entry = jira_entry(base_url="https://elsewhere.example.com/rest", items=[])
    entry["auth"] = {"mode": "basic", "username": "elements"}

    errors = _errors({"connect": 1, "datasources": [entry]})

    assert errors == [
        "datasources[0].auth.password: the API host changed, so the stored secret is not kept: give it again as "
        "${env:NAME}."
    ]
    assert AuthConfig.objects.get(datasource=datasource).password == SECRET_PASSWORD


def test_moving_the_token_url_to_another_host_needs_the_client_secret_again():
    datasource = make_datasource(
        name="Jira",
        base_url="https://jira.example.com/rest",
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
    )
    entry = jira_entry(items=[])
    entry["auth"] = {
        "mode": "oauth2_client_credentials",
        "token_url": "https://evil.example.net/token",
        "client_id": "connect",
    }

    errors = _errors({"connect": 1, "datasources": [entry]})

    assert errors == [
        "datasources[0].auth.client_secret: the token URL's host changed, so the stored secret is not kept: give it "
        "again as ${env:NAME}."
    ]
    assert AuthConfig.objects.get(datasource=datasource).token_url == "https://auth.example.com/token"


def test_a_chain_turned_around_is_not_taken_for_a_cycle():
    apply_configuration(document(jira_entry()), environ=ENV)
    country, city = Item.objects.get(name="Country"), Item.objects.get(name="City")
    assert city.bindings.exists()
    items = [
        {
            "name": "Country",
            "query": "/countries?c=$city",
            "dependencies": [{"name": "city"}],
            "bindings": {"city": "City"},
        },
        {"name": "City", "query": "/cities", "dependencies": [], "bindings": {}},
    ]

    result = apply_configuration(document(jira_entry(items=items)), environ=ENV)

    assert result.errors == []
    assert country.bindings.get().source == city and not city.bindings.exists()


def _stored_jira():
    return make_datasource(
        name="Jira",
        base_url="https://jira.example.com/rest",
        mode="basic",
        username="elements",
        password=SECRET_PASSWORD,
    )


def test_an_unset_variable_keeps_the_stored_secret_of_an_existing_datasource():
    _stored_jira()
    content = document(jira_entry(items=[]))

    dry = apply_configuration(content, dry_run=True, environ={})
    applied = apply_configuration(content, environ={})

    assert dry.errors == [] and applied.errors == [] and applied.applied
    assert "    auth.password: kept (the environment variable JIRA_PASSWORD is not set)" in dry.report()
    assert AuthConfig.objects.get(datasource__name="Jira").password == SECRET_PASSWORD
    assert_no_secret(dry.report(), (SECRET_PASSWORD,))


def test_the_exported_file_applies_to_its_instance_without_the_secret_variables():
    _stored_jira()
    exported = dump(export_configuration())

    result = apply_configuration(exported, dry_run=True, environ={})

    assert result.errors == []
    assert result.counts() == "0 created, 0 changed, 0 deleted, 1 unchanged"
    assert "auth.password: kept (the environment variable CONNECT_JIRA_PASSWORD is not set)" in result.report()


def test_an_unset_variable_for_a_new_datasource_is_an_error_naming_its_place():
    errors = _errors(document(jira_entry()), environ={})

    assert errors == [
        "datasources[0].auth.password: the environment variable JIRA_PASSWORD is not set (or empty), and there is "
        "no stored secret to keep."
    ]


def test_an_unset_variable_for_a_secret_not_stored_is_an_error():
    make_datasource(name="Jira", base_url="https://jira.example.com/rest")  # no authentication stored

    errors = _errors(document(jira_entry(items=[])), environ={})

    assert errors == [
        "datasources[0].auth.password: the environment variable JIRA_PASSWORD is not set (or empty), and there is "
        "no stored secret to keep."
    ]


def test_apply_config_keeps_stored_secrets_whose_variables_are_unset(tmp_path, capsys, monkeypatch):
    _stored_jira()
    path = tmp_path / "connect.yaml"
    path.write_text(dump(export_configuration()))
    monkeypatch.delenv("CONNECT_JIRA_PASSWORD", raising=False)

    call_command("apply_config", str(path))

    out = capsys.readouterr().out
    assert "auth.password: kept (the environment variable CONNECT_JIRA_PASSWORD is not set)" in out
    assert "Applied: 0 created, 0 changed, 0 deleted, 1 unchanged." in out
    assert AuthConfig.objects.get(datasource__name="Jira").password == SECRET_PASSWORD
