"""Options from a JSON answer: where the list is, which field is the key, how the label is built.

Paths are dotted (`data.items`, as items always had) or RFC 9535 JSONPath (`$.data.items[?@.active == true]`,
relative to the answer for the list and to each entry for the key and label fields). A JSONPath list path that
names one place (`$.data.items`) must hold a list, like a dotted one; one that selects several values (a filter,
a wildcard) makes those values the entries.
"""

import functools
import json

from .. import syntax
from .errors import ExtractionError

_MISSING = syntax.MISSING


def extract_options(*, item, data) -> list[dict]:
    """[{"key": ..., "label": ...}] for at most item.max_options entries of the list at item.list_path."""
    return options_of_entries(item, find_entries(data, item.list_path)[: item.max_options])


def lookup_options(*, item, data) -> list[dict]:
    """The options in a lookup's answer: the entries at the item's path to the list, the object found there instead
    of a list (one entry), or else the answer itself when it is an object (as /assets/$key answers). An entry without
    the key field or the label's fields is not the key's entry (an error object, say): it is skipped, never an
    error."""
    try:
        entries = find_entries(data, item.list_path)
    except ExtractionError:
        entries = [found for found in _found_at(data, item.list_path) if isinstance(found, dict)][:1]
    if not entries and isinstance(data, dict):
        entries = [data]
    options = []
    for entry in entries[: item.max_options]:
        try:
            options += options_of_entries(item, [entry])
        except ExtractionError:
            continue
    return options


def _found_at(data, list_path: str) -> list:
    try:
        return syntax.compile_path(list_path or "").values(data)
    except ValueError:
        return []


def options_of_entries(item, entries: list) -> list[dict]:
    """The option (key and label) of each entry."""
    if not entries:
        return []
    key_field = item.key_field or ""
    # The key path and label template are parsed once per configuration, not once per answer or entry: this
    # runs on every cache miss, once per option.
    key_path, label_parts = _plan(key_field, item.label_template or "")
    options = []
    for position, entry in enumerate(entries, start=1):
        key = _value_at(entry, key_path, key_field, position, what="key field")
        if type(key) is not str:
            key = _checked_key(key, key_field, position)
        if label_parts is None:
            label = key if type(key) is str else _text(key)
        else:
            label = _label_of(entry, key, label_parts, position)
        options.append({"key": key, "label": label})
    return options


def find_entries(data, list_path: str) -> list:
    """The entries at the item's "Path to the list" (blank: the answer itself)."""
    path = _compiled(list_path)
    if path.jsonpath is None:
        return _dotted_list(data, path, list_path)
    found = _selected(path, data, list_path)
    if not path.singular:
        return found
    if not found:
        raise ExtractionError(f"The path to the list {list_path} selects nothing in the answer.")
    if not isinstance(found[0], list):
        raise ExtractionError(f"{list_path} is {_kind(found[0])}, not a list.")
    return found[0]


def _dotted_list(data, path, list_path: str) -> list:
    current, walked = data, []
    for segment in path.segments:
        found = syntax.lookup(current, (segment,))
        if found is _MISSING:
            where = "the answer" if not walked else f"“{'.'.join(walked)}”"
            raise ExtractionError(f"The answer has no “{list_path}”: {where} has no “{segment}”.")
        walked.append(segment)
        current = found
    if not isinstance(current, list):
        where = f"“{list_path}”" if list_path else "The answer itself"
        hint = "" if list_path else " Set the path to the list, e.g. issues or data.items."
        raise ExtractionError(f"{where} is {_kind(current)}, not a list.{hint}")
    return current


def _compiled(text: str):
    try:
        return syntax.compile_path(text or "")
    except ValueError as exc:  # saved around validation: a clear message, never a traceback
        raise ExtractionError(f"The path {text} is not valid: {exc}") from None


def _selected(path, data, text: str) -> list:
    try:
        return path.values(data)
    except ValueError as exc:
        raise ExtractionError(f"The path {text} could not be applied: {exc}") from None


@functools.lru_cache(maxsize=256)
def _plan(key_field: str, template: str):
    """(key path, label parts): each label part is (literal, field name or None, compiled path, is the key)."""
    key_path = _compiled(key_field)
    if not template:
        return key_path, None  # the label is the key
    try:
        parsed = syntax.parse_label(template)
    except ValueError as exc:
        raise ExtractionError(f"The label is not valid: {exc}") from None
    return key_path, tuple(
        (literal, field, _compiled(field) if field else None, field == "key") for literal, field in parsed
    )


def _value_at(entry, path, text: str, position: int, *, what: str):
    """The one value a path selects in an entry, or _MISSING; an error when a JSONPath selects several."""
    if path.jsonpath is None:
        segments = path.segments
        if len(segments) == 1 and type(entry) is dict:  # the common case (`key`, `name`), without another call
            return entry.get(segments[0], _MISSING)
        return syntax.lookup(entry, segments)
    found = _selected(path, entry, text)
    if len(found) > 1:
        raise ExtractionError(f"Entry {position}: the {what} {text} selects {len(found)} values; it must select one.")
    return found[0] if found else _MISSING


def _checked_key(key, key_field: str, position: int):
    """A key that is not a text: a number or true/false as it is; anything else is an error (or made a text)."""
    if key is _MISSING or key is None:
        raise ExtractionError(f"Entry {position} of the list has no key field “{key_field}”.")
    if isinstance(key, (dict, list)):
        name = f"“{key_field}”" if key_field else "itself"
        raise ExtractionError(
            f"Entry {position}: the key {name} is {_kind(key)}, not a text or a number."
            + (" Set the key field." if not key_field else "")
        )
    return key if isinstance(key, (str, int, float, bool)) else str(key)


def _label_of(entry, key, label_parts, position: int) -> str:
    parts = []
    for literal, field_name, field_path, is_key in label_parts:
        if literal:
            parts.append(literal)
        if field_name is None:
            continue
        value = key if is_key else _value_at(entry, field_path, field_name, position, what="label field")
        if value is _MISSING:
            raise ExtractionError(f"Entry {position} has no field “{field_name}” used in the label.")
        parts.append(value if type(value) is str else _text(value))
    return "".join(parts)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "true or false", type(None): "null"}.get(
        type(value), "a number"
    )
