"""Options from a JSON answer: where the list is, which field is the key, how the label is built."""
import functools
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
    key_field = item.key_field
    # The key path and label template are parsed once per configuration, not once per answer or entry: this
    # runs on every cache miss, once per option.
    key_path, label_parts = _plan(key_field or "", item.label_template or "")
    options = []
    for position, entry in enumerate(entries, start=1):
        key = _lookup(entry, key_path)
        if type(key) is not str:
            key = _checked_key(key, key_field, position)
        if label_parts is None:
            label = key if type(key) is str else _text(key)
        else:
            label = _label_of(entry, key, label_parts, position)
        options.append({"key": key, "label": label})
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


@functools.lru_cache(maxsize=256)
def _plan(key_field: str, template: str):
    """(key path, label parts): each label part is (literal, field name or None, field path, is the key)."""
    key_path = tuple(syntax.split_path(key_field))
    if not template:
        return key_path, None  # the label is the key
    if syntax.is_bare_field(template):  # a bare field path is that field
        field_name = template.strip()
        return key_path, (("", field_name, tuple(syntax.split_path(field_name)), field_name == "key"),)
    parts = tuple((literal, field_name, tuple(syntax.split_path(field_name)) if field_name else (),
                   field_name == "key")
                  for literal, field_name, _spec, _conversion in Formatter().parse(template))
    return key_path, parts


def _checked_key(key, key_field: str, position: int):
    """A key that is not a text: a number or true/false as it is; anything else is an error (or made a text)."""
    if key is _MISSING or key is None:
        raise ExtractionError(f"Entry {position} of the list has no key field “{key_field}”.")
    if isinstance(key, (dict, list)):
        name = f"“{key_field}”" if key_field else "itself"
        raise ExtractionError(f"Entry {position}: the key {name} is {_kind(key)}, not a text or a number."
                              + (" Set the key field." if not key_field else ""))
    return key if isinstance(key, (str, int, float, bool)) else str(key)


def _label_of(entry, key, label_parts, position: int) -> str:
    parts = []
    for literal, field_name, field_path, is_key in label_parts:
        if literal:
            parts.append(literal)
        if field_name is None:
            continue
        value = key if is_key else _lookup(entry, field_path)
        if value is _MISSING:
            raise ExtractionError(f"Entry {position} has no field “{field_name}” used in the label.")
        parts.append(value if type(value) is str else _text(value))
    return "".join(parts)


def _lookup(value, path):
    for segment in path:
        if type(value) is dict:  # what JSON gives: the common case, without a call
            value = value.get(segment, _MISSING)
        else:
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
