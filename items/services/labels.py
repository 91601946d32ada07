"""Labels of keys (SPEC 9): the label of each key a form was pre-filled with, so a reopened record shows what was
chosen. Never an error for a key: a key Connect cannot find is None.

An item with a lookup query looks each key up (through the cache and single flight, like its query); an item
without $userInput and without one finds the keys in its options list (one resolution, usually a cache hit); a
search item without a lookup query cannot find a key (its options depend on typed text), so its keys are None.
"""

from datasources.services import errors

from .errors import ItemError
from .keys import key_text
from .resolution import resolve_item, resolve_lookup


def labels_of_keys(*, item, keys: list[str], current_user, values: dict) -> dict[str, str | None]:
    """{key: label or None} for each of `keys` (texts, as a form submits them)."""
    if item.has_lookup:
        return _looked_up(item, keys, current_user, values)
    if item.uses_user_input:
        return dict.fromkeys(keys)
    try:
        options = resolve_item(item=item, current_user=current_user, values=values).options
    except (ItemError, errors.DatasourceError):
        return dict.fromkeys(keys)
    found = {}
    for option in options:
        found.setdefault(key_text(option["key"]), option["label"])
    return {key: found.get(key) for key in keys}


def _looked_up(item, keys: list[str], current_user, values: dict) -> dict[str, str | None]:
    labels: dict[str, str | None] = dict.fromkeys(keys)
    for key in keys:
        try:
            options = resolve_lookup(item=item, key=key, current_user=current_user, values=values).options
        except errors.HTTPStatusError as exc:
            if exc.status_code and exc.status_code < 500:
                continue  # the API's answer about this key (a 404, most often): no label for it
            break  # the API is failing: the other keys would fail the same way
        except (ItemError, errors.DatasourceError):
            break  # no answer, or Connect holds calls back: the other keys would fail the same way
        labels[key] = next((o["label"] for o in options if key_text(o["key"]) == key), None)
    return labels
