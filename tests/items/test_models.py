"""Item validation: a query is only a path and query string, names and templates are well-formed."""

import pytest
from django.core.exceptions import ValidationError

from items.models import Item

pytestmark = pytest.mark.django_db


def build(datasource, **fields):
    values = {
        "name": "Issues",
        "datasource": datasource,
        "query": "/search?q=$userInput",
        "list_path": "issues",
        "key_field": "key",
        "label_template": "{key}",
        "dependencies": [],
    }
    values.update(fields)
    return Item(**values)


def errors_of(item) -> dict:
    with pytest.raises(ValidationError) as caught:
        item.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("https://evil.example.com/x", "not a full URL"),
        ("javascript:alert(1)", "not a full URL"),
        ("//evil.example.com/x", "//"),
        ("/a\\b", "Backslashes"),
        ("/users/me@evil.example.com", "@"),
        ("/search?q=1#top", "fragment"),
        ("/a/../admin", "path segments"),
        ("/a/%2e%2e/admin", "path segments"),
        # encoded dot segments are refused at save, as the client refuses them at call time (issue 12)
        ("/..%2f..", "path segments"),
        ("/..%2F..%2Fadmin", "path segments"),
        ("/%252e%252e/x", "path segments"),
        ("/$userInput/..%2f/x", "path segments"),
        ("/search\r\nX-Injected: 1", "control characters"),
        ("/search?q=${userInput", "not closed"),
    ],
)
def test_query_must_be_a_path_and_query_string(datasource_factory, query, fragment):
    errors = errors_of(build(datasource_factory(), query=query))
    assert fragment in errors["query"][0]


@pytest.mark.parametrize(
    "query", ["/search?u=me@example.com", "/search?u=$userInput&by=me@example.com", "/a//b?q=$userInput"]
)
def test_at_sign_in_the_query_string_and_inner_double_slashes_are_accepted(datasource_factory, query):
    build(datasource_factory(), query=query).full_clean()


@pytest.mark.parametrize("query", ["/..%2f..", "/%252e%252e/x", "/search?u=me@example.com", "/a/%40b"])
def test_the_item_form_and_the_client_agree_on_every_query(datasource_factory, query):
    """One rule: a query the model accepts is one the client builds a URL for, and a refused one the client
    refuses too."""
    from datasources.services import call_url
    from datasources.services import errors as datasource_errors

    try:
        build(datasource_factory(), query=query).full_clean()
        accepted = True
    except ValidationError:
        accepted = False
    try:
        call_url.build_call_url("https://api.example.com/rest", query)
        called = True
    except datasource_errors.InvalidURL:
        called = False
    assert accepted == called


def test_query_with_variables_path_and_query_is_valid(datasource_factory):
    item = build(
        datasource_factory(),
        query="/projects/${project}/search?jql=a%3Db&q=$userInput&by=$currentUser",
        dependencies=[{"name": "project", "optional": False}],
    )
    item.full_clean()


def test_unknown_variable_in_query_is_refused(datasource_factory):
    errors = errors_of(build(datasource_factory(), query="/search?country=$country"))
    assert "$country" in errors["query"][0]


@pytest.mark.parametrize("name", ["1st", "with-dash", "has space", "", "a.b"])
def test_dependency_name_must_be_an_identifier(datasource_factory, name):
    errors = errors_of(build(datasource_factory(), dependencies=[{"name": name, "optional": False}]))
    assert "not a valid dependency name" in errors["dependencies"][0]


@pytest.mark.parametrize("name", ["userInput", "currentUser", "CURRENTUSER", "q"])
def test_dependency_cannot_use_a_built_in_name(datasource_factory, name):
    errors = errors_of(build(datasource_factory(), dependencies=[{"name": name, "optional": False}]))
    assert "reserved" in errors["dependencies"][0]


def test_dependency_declared_twice_is_refused(datasource_factory):
    errors = errors_of(
        build(
            datasource_factory(),
            dependencies=[{"name": "country", "optional": False}, {"name": "Country", "optional": True}],
        )
    )
    assert "twice" in errors["dependencies"][0]


@pytest.mark.parametrize(
    "template, fragment",
    [
        ("{key", "Braces do not match"),
        ("key}", "Braces do not match"),
        ("{}", "Empty {}"),
        ("{key!r}", "not supported"),
        ("{key:>10}", "not supported"),
        ("{fields..summary}", "not a field path"),
        ("{fields[0]}", "not a field path"),
    ],
)
def test_label_template_must_be_well_formed(datasource_factory, template, fragment):
    errors = errors_of(build(datasource_factory(), label_template=template))
    assert fragment in errors["label_template"][0]


def test_label_template_with_literal_braces_is_valid(datasource_factory):
    build(datasource_factory(), label_template="{{{key}}} {fields.summary}").full_clean()


@pytest.mark.parametrize("field", ["list_path", "key_field"])
def test_paths_must_be_dotted_names(datasource_factory, field):
    errors = errors_of(build(datasource_factory(), **{field: "data..items"}))
    assert "separated by dots" in errors[field][0]


def test_name_is_unique_ignoring_case(datasource_factory):
    datasource = datasource_factory()
    build(datasource).save()
    errors = errors_of(build(datasource, name="  ISSUES "))
    assert "already exists" in errors["name"][0]


def test_config_version_changes_on_every_save(datasource_factory):
    item = build(datasource_factory())
    item.save()
    first = item.config_version
    item.save()
    assert item.config_version != first
    assert Item.objects.get(pk=item.pk).config_version == item.config_version
