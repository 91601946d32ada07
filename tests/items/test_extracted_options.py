"""Options remembered per process for cache hits: reused only for the same key, extraction settings and body."""

import pytest

from items.models import Item
from items.services.extracted import ExtractedOptions

OPTIONS = [{"key": "OPS-1", "label": "OPS-1 - Printer on fire"}]


class Extractions:
    """An extract() that counts its calls."""

    def __init__(self, options=OPTIONS):
        self.calls, self.options = 0, options

    def __call__(self):
        self.calls += 1
        return [dict(o) for o in self.options]


def settings_item(**changes) -> Item:
    fields = {
        "list_path": "issues",
        "key_field": "key",
        "label_template": "{key} - {fields.summary}",
        "max_options": 100,
        **changes,
    }
    return Item(**fields)


def test_a_hit_on_the_same_body_reuses_the_extracted_options():
    remembered, extract = ExtractedOptions(), Extractions()
    for _ in range(3):
        assert remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=extract) == OPTIONS
    assert extract.calls == 1


def test_a_different_body_under_the_same_key_is_extracted_again():
    remembered, extract = ExtractedOptions(), Extractions()
    remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=extract)
    remembered.options_for(item=settings_item(), key="k", body=b"[2]", extract=extract)
    assert extract.calls == 2


@pytest.mark.parametrize(
    "change", [{"list_path": "data"}, {"key_field": "id"}, {"label_template": "{key}"}, {"max_options": 1}]
)
def test_changed_extraction_settings_are_extracted_again(change):
    remembered, extract = ExtractedOptions(), Extractions()
    remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=extract)
    remembered.options_for(item=settings_item(**change), key="k", body=b"[1]", extract=extract)
    assert extract.calls == 2


def test_a_failed_extraction_is_not_remembered():
    remembered = ExtractedOptions()

    def failing():
        raise ValueError("no list there")

    with pytest.raises(ValueError):
        remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=failing)
    extract = Extractions()
    remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=extract)
    assert extract.calls == 1


def test_callers_cannot_change_what_is_remembered():
    remembered = ExtractedOptions()
    first = remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=Extractions())
    first[0]["label"] = "changed"
    first.append({"key": "x", "label": "x"})
    again = remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=Extractions())
    assert again == OPTIONS


def test_the_least_recently_used_entry_goes_first():
    remembered, extract = ExtractedOptions(max_entries=2), Extractions()
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        remembered.options_for(item=settings_item(), key=key, body=b"[1]", extract=extract)
    calls = extract.calls
    remembered.options_for(item=settings_item(), key="a", body=b"[1]", extract=extract)
    assert extract.calls == calls
    remembered.options_for(item=settings_item(), key="b", body=b"[1]", extract=extract)
    assert extract.calls == calls + 1


def test_the_options_kept_in_all_are_bounded_oldest_lists_first():
    many = [{"key": n, "label": str(n)} for n in range(40)]
    remembered, extract = ExtractedOptions(max_options=100), Extractions(many)
    for key in ("a", "b", "c"):  # 120 options: "a" goes
        remembered.options_for(item=settings_item(), key=key, body=b"[1]", extract=extract)
    calls = extract.calls
    for key in ("b", "c"):
        remembered.options_for(item=settings_item(), key=key, body=b"[1]", extract=extract)
    assert extract.calls == calls
    remembered.options_for(item=settings_item(), key="a", body=b"[1]", extract=extract)
    assert extract.calls == calls + 1


def test_a_list_larger_than_the_bound_is_never_kept():
    remembered, extract = ExtractedOptions(max_options=10), Extractions([{"key": n, "label": ""} for n in range(11)])
    for _ in range(2):
        assert len(remembered.options_for(item=settings_item(), key="k", body=b"[1]", extract=extract)) == 11
    assert extract.calls == 2
