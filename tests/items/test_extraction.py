"""Options from a JSON answer, with clear errors when the answer has another shape."""

import pytest

from items.models import Item
from items.services import ExtractionError, extract_options

ANSWER = {
    "data": {
        "items": [
            {"id": 1, "key": "OPS-1", "fields": {"summary": "Printer on fire", "labels": ["hw"]}},
            {"id": 2, "key": "OPS-2", "fields": {"summary": None, "labels": []}},
        ]
    }
}


def item(list_path="data.items", key_field="key", label_template="{key} - {fields.summary}", max_options=100):
    return Item(list_path=list_path, key_field=key_field, label_template=label_template, max_options=max_options)


def test_options_from_a_dotted_path_with_a_label_template():
    assert extract_options(item=item(), data=ANSWER) == [
        {"key": "OPS-1", "label": "OPS-1 - Printer on fire"},
        {"key": "OPS-2", "label": "OPS-2 - "},
    ]


def test_root_list_key_field_and_blank_label():
    data = [{"code": "NL"}, {"code": "BE"}]
    assert extract_options(item=item(list_path="", key_field="code", label_template=""), data=data) == [
        {"key": "NL", "label": "NL"},
        {"key": "BE", "label": "BE"},
    ]


def test_list_of_plain_values_with_blank_key_field():
    assert extract_options(item=item(list_path="", key_field="", label_template=""), data=["a", 2]) == [
        {"key": "a", "label": "a"},
        {"key": 2, "label": "2"},
    ]


def test_numeric_key_keeps_its_type_and_label_uses_other_fields():
    options = extract_options(item=item(key_field="id", label_template="{key}: {fields.labels}"), data=ANSWER)
    assert options[0] == {"key": 1, "label": '1: ["hw"]'}


def test_options_are_capped_at_max_options():
    data = [{"id": n} for n in range(50)]
    options = extract_options(item=item(list_path="", key_field="id", label_template="", max_options=3), data=data)
    assert [o["key"] for o in options] == [0, 1, 2]


def test_missing_list_path_names_the_missing_part():
    with pytest.raises(ExtractionError) as caught:
        extract_options(item=item(list_path="data.issues"), data=ANSWER)
    assert "“data” has no “issues”" in caught.value.message


def test_path_to_something_that_is_not_a_list():
    with pytest.raises(ExtractionError) as caught:
        extract_options(item=item(list_path="data"), data=ANSWER)
    assert "“data” is an object, not a list" in caught.value.message


def test_root_that_is_not_a_list_suggests_setting_the_path():
    with pytest.raises(ExtractionError) as caught:
        extract_options(item=item(list_path=""), data=ANSWER)
    assert "not a list" in caught.value.message and "Set the path" in caught.value.message


def test_entry_without_the_key_field():
    data = {"data": {"items": [{"key": "OPS-1", "fields": {"summary": "x"}}, {"fields": {"summary": "y"}}]}}
    with pytest.raises(ExtractionError) as caught:
        extract_options(item=item(), data=data)
    assert "Entry 2" in caught.value.message and "“key”" in caught.value.message


def test_object_as_key_is_refused():
    with pytest.raises(ExtractionError) as caught:
        extract_options(item=item(key_field="fields"), data=ANSWER)
    assert "not a text or a number" in caught.value.message


@pytest.mark.parametrize(
    "label, expected",
    [
        ("fields.summary", "Printer on fire"),
        ("key", "OPS-1"),
        ("id", "1"),
        ("{key}", "OPS-1"),
        ("Issue {key}", "Issue OPS-1"),
    ],
)
def test_a_bare_field_as_label_is_that_field_and_braces_make_a_template(label, expected):
    """Label `name` used to give every option the label "name" (issue 12)."""
    assert extract_options(item=item(label_template=label), data=ANSWER)[0]["label"] == expected


def test_label_field_missing_from_an_entry():
    with pytest.raises(ExtractionError) as caught:
        extract_options(item=item(label_template="{fields.title}"), data=ANSWER)
    assert "“fields.title”" in caught.value.message


def test_extraction_errors_are_upstream_errors_for_the_api():
    assert ExtractionError("x").http_status == 502
