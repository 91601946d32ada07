"""Options from a JSON answer: where the list is, which field is the key, how the label is built."""
import json
from string import Formatter

from .. import syntax
from .errors import ExtractionError

_MISSING = object()


def extract_options(*, item, data) -> list[dict]:
    """[{"key": ..., "label": ...}] for at most item.max_options entries of the list at item.list_path."""
    entries = _find_list(data, item.list_path)[: item.max_options]
    if not entries:
        return []
    key_path = syntax.split_path(item.key_field)
    # The template is parsed once per answer, not once per entry (this runs on every cache hit).
    label_parts = _parsed_label(item.label_template)
    options = []
    for position, entry in enumerate(entries, start=1):
        key = _key_of(entry, key_path, item.key_field, position)
        options.append({"key": key, "label": _label_of(entry, key, label_parts, position)})
    return options


def _find_list(data, list_path: str) -> list:
    current = data
    walked = []
    for segment in syntax.split_path(list_path):
        found = _step(current, segment)
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


def _key_of(entry, key_path: list[str], key_field: str, position: int):
    key = _lookup(entry, key_path)
    if key is _MISSING or key is None:
        raise ExtractionError(f"Entry {position} of the list has no key field “{key_field}”.")
    if isinstance(key, (dict, list)):
        name = f"“{key_field}”" if key_field else "itself"
        raise ExtractionError(f"Entry {position}: the key {name} is {_kind(key)}, not a text or a number."
                              + (" Set the key field." if not key_field else ""))
    return key if isinstance(key, (str, int, float, bool)) else str(key)


def _parsed_label(template: str) -> list[tuple[str, str | None, list[str]]] | None:
    """(literal, field name, field path) for each part of the template; None when the label is the key."""
    if not template:
        return None
    return [(literal, field_name, syntax.split_path(field_name) if field_name else [])
            for literal, field_name, _spec, _conversion in Formatter().parse(template)]


def _label_of(entry, key, label_parts, position: int) -> str:
    if label_parts is None:
        return _text(key)
    parts = []
    for literal, field_name, field_path in label_parts:
        parts.append(literal)
        if field_name is None:
            continue
        value = key if field_name == "key" else _lookup(entry, field_path)
        if value is _MISSING:
            raise ExtractionError(f"Entry {position} has no field “{field_name}” used in the label.")
        parts.append(_text(value))
    return "".join(parts)


def _lookup(value, path: list[str]):
    for segment in path:
        value = _step(value, segment)
        if value is _MISSING:
            return _MISSING
    return value


def _step(value, segment: str):
    if isinstance(value, dict):
        return value.get(segment, _MISSING)
    if isinstance(value, list) and segment.isdigit():
        index = int(segment)
        return value[index] if index < len(value) else _MISSING
    return _MISSING


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "true or false", type(None): "null"}.get(
        type(value), "a number")
