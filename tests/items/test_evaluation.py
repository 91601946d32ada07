"""Query evaluation: every value is URL-encoded for its position and can never change the path or host."""

from urllib.parse import parse_qs, urlsplit

import pytest

from items.models import Item
from items.services import InvalidVariableValue, MissingVariable, evaluate_query


def item_with(query, dependencies=(), user_input_optional=False):
    return Item(
        query=query,
        user_input_optional=user_input_optional,
        dependencies=[{"name": n.rstrip("?"), "optional": n.endswith("?")} for n in dependencies],
    )


def test_variables_are_replaced_in_both_forms():
    item = item_with(
        "/projects/${project}/search?q=$userInput&by=$currentUser&c=$country", dependencies=["project", "country"]
    )
    evaluated = evaluate_query(
        item=item, user_input="printer", current_user="alice", values={"project": "OPS", "country": "NL"}
    )
    assert evaluated == "/projects/OPS/search?q=printer&by=alice&c=NL"


def test_longest_name_wins_and_double_dollar_is_a_literal_dollar():
    item = item_with("/x?a=$countryCode&b=$$country&c=$country", dependencies=["country", "countryCode"])
    assert evaluate_query(item=item, values={"country": "NL", "countryCode": "31"}) == "/x?a=31&b=$country&c=NL"


@pytest.mark.parametrize("value", ["a/b", "x?admin=1", "x#frag", "x&admin=1", "evil.com/@x", "a b", "ü"])
def test_value_in_a_path_segment_stays_one_segment(value):
    item = item_with("/users/$userInput/issues")
    evaluated = evaluate_query(item=item, user_input=value)
    path = urlsplit("https://api.example.com" + evaluated).path
    segments = path.split("/")
    assert segments[:2] == ["", "users"] and segments[-1] == "issues" and len(segments) == 4
    assert "?" not in evaluated and "#" not in evaluated


@pytest.mark.parametrize("value", ["a&admin=1", "x#frag", "a=b", "x?y", "../..", "//evil.example.com", "a+b c"])
def test_value_in_the_query_string_stays_one_parameter_value(value):
    item = item_with("/search?q=$userInput&limit=5")
    evaluated = evaluate_query(item=item, user_input=value)
    parts = urlsplit("https://api.example.com" + evaluated)
    assert parts.path == "/search" and parts.netloc == "api.example.com" and parts.fragment == ""
    assert parse_qs(parts.query) == {"q": [value], "limit": ["5"]}


@pytest.mark.parametrize("value", ["..", ".", "../../admin", "%2e%2e", "..%2f.."])
def test_dot_segment_value_in_the_path_is_refused(value):
    """Also when percent-encoded: the client would refuse the URL (url_rules), so the value is refused first."""
    with pytest.raises(InvalidVariableValue) as caught:
        evaluate_query(item=item_with("/users/$userInput"), user_input=value)
    assert "$userInput" in caught.value.message


def test_missing_required_dependency_is_an_error_naming_it():
    item = item_with("/cities?country=$country", dependencies=["country"])
    with pytest.raises(MissingVariable) as caught:
        evaluate_query(item=item, values={})
    assert "$country" in caught.value.message
    assert caught.value.http_status == 400


def test_empty_string_counts_as_no_value():
    with pytest.raises(MissingVariable):
        evaluate_query(item=item_with("/cities?country=$country", dependencies=["country"]), values={"country": ""})


def test_missing_user_input_is_an_error_unless_marked_optional():
    with pytest.raises(MissingVariable) as caught:
        evaluate_query(item=item_with("/search?q=$userInput"))
    assert "$userInput" in caught.value.message
    assert evaluate_query(item=item_with("/search?q=$userInput", user_input_optional=True)) == "/search?q="


def test_optional_dependency_becomes_empty():
    item = item_with("/cities?country=$country&region=$region", dependencies=["country", "region?"])
    assert evaluate_query(item=item, values={"country": "NL"}) == "/cities?country=NL&region="


def test_declared_but_unused_dependency_is_not_required():
    item = item_with("/countries", dependencies=["continent"])
    assert evaluate_query(item=item, values={}) == "/countries"
