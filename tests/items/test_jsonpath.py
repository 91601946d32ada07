"""RFC 9535 JSONPath in "Path to the list", "Key field" and the label, beside the dotted paths items always had."""

import pytest
from django.core.exceptions import ValidationError

from items.models import Item
from items.services import ExtractionError, extract_options

ANSWER = {
    "data": {
        "items": [
            {"id": 1, "key": "OPS-1", "active": True, "fields": {"summary": "Printer on fire", "key": "p-1"}},
            {"id": 2, "key": "OPS-2", "active": False, "fields": {"summary": "Coffee machine empty", "key": "p-2"}},
            {"id": 3, "key": "OPS-3", "active": True, "fields": {"summary": "Door stuck", "key": "p-3"}},
        ]
    },
    "odd-name": [{"@id": "x1", "a-b": "dash"}],
    "nested": [[{"id": "n1"}]],
}


def item(list_path="data.items", key_field="key", label_template="", max_options=100):
    return Item(list_path=list_path, key_field=key_field, label_template=label_template, max_options=max_options)


def keys(**fields):
    return [option["key"] for option in extract_options(item=item(**fields), data=ANSWER)]


@pytest.mark.parametrize(
    "list_path, key_field, label, expected",
    [
        # every dotted form items had keeps resolving the same
        ("data.items", "key", "", ["OPS-1", "OPS-2", "OPS-3"]),
        ("data.items", "fields.key", "", ["p-1", "p-2", "p-3"]),
        ("data.items", "id", "{key}", [1, 2, 3]),
        ("odd-name", "@id", "{a-b}", ["x1"]),
        ("nested.0", "id", "", ["n1"]),
        # and their JSONPath twins give the same options
        ("$.data.items", "$.key", "", ["OPS-1", "OPS-2", "OPS-3"]),
        ("$['odd-name']", "$['@id']", "", ["x1"]),
        ("$.nested[0]", "$.id", "", ["n1"]),
    ],
)
def test_dotted_paths_resolve_as_before_and_their_jsonpath_twins_alike(list_path, key_field, label, expected):
    assert keys(list_path=list_path, key_field=key_field, label_template=label) == expected


def test_a_filter_keeps_only_the_matching_entries():
    assert keys(list_path="$.data.items[?@.active == true]") == ["OPS-1", "OPS-3"]


def test_a_filter_on_a_nested_field_and_a_wildcard():
    assert keys(list_path="$.data.items[?@.fields.summary == 'Door stuck']") == ["OPS-3"]
    assert keys(list_path="$.data.items[*]") == ["OPS-1", "OPS-2", "OPS-3"]


def test_a_list_at_the_root():
    data = [{"id": "a"}, {"id": "b"}]
    assert [o["key"] for o in extract_options(item=item(list_path="$", key_field="$.id"), data=data)] == ["a", "b"]


def test_a_key_deep_inside_and_jsonpath_label_fields():
    options = extract_options(
        item=item(key_field="$.fields.key", label_template="{$.fields.summary} ({key})"), data=ANSWER
    )
    assert options[0] == {"key": "p-1", "label": "Printer on fire (p-1)"}
    bare = extract_options(item=item(label_template="$.fields.summary"), data=ANSWER)
    assert bare[1]["label"] == "Coffee machine empty"


def test_a_filter_keeps_max_options():
    assert keys(list_path="$.data.items[?@.id > 1]", max_options=1) == ["OPS-2"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"list_path": "$.data.missing"}, "The path to the list $.data.missing selects nothing in the answer."),
        ({"list_path": "$.data"}, "$.data is an object, not a list."),
        ({"key_field": "$.fields"}, "Entry 1: the key “$.fields” is an object, not a text or a number."),
        ({"key_field": "$.nothing"}, "Entry 1 of the list has no key field “$.nothing”."),
        ({"key_field": "$.fields.*"}, "Entry 1: the key field $.fields.* selects 2 values; it must select one."),
        ({"label_template": "{$.fields.nothing}"}, "Entry 1 has no field “$.fields.nothing” used in the label."),
    ],
)
def test_data_errors_have_a_clear_message(fields, message):
    with pytest.raises(ExtractionError) as caught:
        extract_options(item=item(**fields), data=ANSWER)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "field, value",
    [
        ("list_path", "$.data.items[?@.active =="),
        ("list_path", "$.data[items"),
        ("key_field", "$..[?"),
        ("label_template", "{$.fields[}"),
        ("label_template", "$.a b"),
    ],
)
def test_a_jsonpath_syntax_error_is_a_message_next_to_the_field_at_save(datasource_factory, field, value):
    candidate = Item(name="J", datasource=datasource_factory(), query="/x", **{field: value})
    with pytest.raises(ValidationError) as caught:
        candidate.full_clean()
    message = caught.value.message_dict[field][0]
    assert "Not a valid JSONPath (RFC 9535)" in message and "character" in message


def test_only_rfc_9535_is_accepted_not_the_librarys_extensions(datasource_factory):
    candidate = Item(name="J", datasource=datasource_factory(), query="/x", list_path="$.data.items~")
    with pytest.raises(ValidationError):
        candidate.full_clean()
