"""Checking a choice (SPEC 9): each chosen key must be among the item's options for the variables that produced it.

The options come through resolve_item, so the usual case (the person just saw them) is a cache hit: no upstream
call, no datasource secret decrypted. Several keys may have been chosen from several searches (issue 22's fields
with several values), so each key may carry its own typed text; keys chosen with the same text share one resolution.
A key sent without a text to a search item whose text is required was not chosen from a search: it is a value the form
was pre-filled with (a reopened record), kept among the new choices; the item's key lookup finds it, when it has one.
"""

from dataclasses import dataclass

from datasources.services import errors

from .errors import ItemError
from .keys import key_text
from .resolution import resolve_item, resolve_lookup


class NotAnOption(ItemError):
    """A chosen key that is not among the item's options for those variables."""

    code = "not_an_option"
    http_status = 400

    def __init__(self, *, key: str, item):
        super().__init__(f"“{key}” is not an option of “{item.name}” for these values.")
        self.key = key


@dataclass(frozen=True)
class Selection:
    """What a proof signs: the keys (texts, as the form submits them), the label of each, and the item's dependency
    values they were options for."""

    keys: tuple[str, ...]
    labels: dict
    values: dict


def check_selection(*, item, keys: list[str], texts: list[str], current_user, values: dict) -> Selection:
    """The selection of `keys` (texts), the i-th chosen with typed text texts[i]; raises NotAnOption for the first
    key that is not an option, ItemError or DatasourceError when the options cannot be had."""
    dependency_values = {name: values.get(name, "") for name in item.dependency_names}
    # An item without $userInput has one list whatever was typed: one resolution for every key.
    if not item.uses_user_input:
        texts = [""] * len(keys)
    found: dict[str, _Options] = {}  # typed text -> its options
    labels = {}
    looked_up = item.uses_user_input and not item.user_input_optional and item.has_lookup
    for key, text in zip(keys, texts, strict=True):
        if looked_up and not text:
            label = _looked_up(item=item, key=key, current_user=current_user, values=dependency_values)
            if label is None:
                raise NotAnOption(key=key, item=item)
            labels[key] = label
            continue
        if text not in found:
            found[text] = _Options(item=item, text=text, current_user=current_user, values=dependency_values)
        label = found[text].label_of(key)
        if label is None:
            raise NotAnOption(key=key, item=item)
        labels[key] = label
    return Selection(keys=tuple(dict.fromkeys(keys)), labels=labels, values=dependency_values)


class _Options:
    """The options of one call, as far as they are needed: a paginated item's options are first those its cached
    entry holds (the pages the person was shown: their slices extended it), and all its pages are read only for a
    key not among them."""

    def __init__(self, *, item, text: str, current_user, values: dict):
        self.call = {"item": item, "user_input": text, "current_user": current_user, "values": values}
        self.labels, self.whole = self._read(want=1)

    def label_of(self, key: str) -> str | None:
        if key not in self.labels and not self.whole:
            self.labels, self.whole = self._read(want=None)
        return self.labels.get(key)

    def _read(self, *, want) -> tuple[dict, bool]:
        resolution = resolve_item(**self.call, want=want)
        labels = {}
        for option in resolution.options:
            labels.setdefault(key_text(option["key"]), option["label"])
        return labels, not resolution.more_upstream


def _looked_up(*, item, key: str, current_user, values: dict) -> str | None:
    """The label of `key` by the item's key lookup (cached like its query); None when the API says it has no such
    entry (a 4xx answer, or an answer without that key). A failing API raises, as for the options."""
    try:
        options = resolve_lookup(item=item, key=key, current_user=current_user, values=values).options
    except errors.HTTPStatusError as exc:
        if exc.status_code and exc.status_code < 500:
            return None
        raise
    return next((option["label"] for option in options if key_text(option["key"]) == key), None)
