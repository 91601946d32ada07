"""Narrowing (SPEC 10): an item whose API filters by its labels ("label contains" or "label starts with" the typed
text) does not need the API for a text that extends one whose answer was complete: the answer for "ams" is the
complete answer for "am", filtered on Connect by the same rule.

Where a shorter text's answer is found: each text the typed one starts with (longest first; the empty text too when
the item allows it) is evaluated with the same other variables, and their cache keys are read in one round trip
(resolution.py chooses the first complete one). Texts longer than MAX_TEXT_CHARS are not narrowed.

The calls saved are counted per item in Redis, in 5-minute buckets kept an hour (as a datasource's health figures
are), for the item page: "API calls saved in the last hour". Keys hold the item id and the bucket only.
"""

import time

from django.core.cache import caches

from ..models import ApiFilter
from . import cache
from .errors import ItemError
from .evaluation import evaluate_call

MAX_TEXT_CHARS = 100
BUCKET_SECONDS = 300
BUCKETS = 12  # one hour
SAVED_KEY_PREFIX = "item-narrowing-saved"


def applies(item) -> bool:
    return item.api_filter != ApiFilter.NOTHING and item.uses_user_input


def source_keys(*, item, user_input: str, current_user, values) -> list[str]:
    """The cache keys of the answers an answer for `user_input` may be computed from, longest text first."""
    if not user_input or len(user_input) > MAX_TEXT_CHARS:
        return []
    shortest = 0 if item.user_input_optional else 1
    keys = []
    for length in range(len(user_input) - 1, shortest - 1, -1):
        try:
            evaluated = evaluate_call(
                item=item, user_input=user_input[:length], current_user=current_user, values=values
            )
        except ItemError:  # a shorter text this item refuses (a "." path segment): no answer to look for
            continue
        keys.append(cache.cache_key_for(item, evaluated.query, method=evaluated.method, body=evaluated.body))
    return keys


def count_saved_call(*, item_id: int, now: float | None = None) -> None:
    """One upstream call saved by narrowing (nothing happens when Redis is down: it is a figure, not a rule)."""
    key = _saved_key(item_id, _bucket(now))
    backend = caches["default"]
    backend.add(key, 0, BUCKET_SECONDS * (BUCKETS + 1))
    try:
        backend.incr(key)
    except ValueError:  # expired between the two commands, or Redis went away
        pass


def calls_saved_last_hour(*, item_id: int, now: float | None = None) -> int:
    newest = _bucket(now)
    keys = [_saved_key(item_id, bucket) for bucket in range(newest - BUCKETS + 1, newest + 1)]
    found = caches["default"].get_many(keys)
    return sum(value for value in found.values() if type(value) is int)


def _bucket(now: float | None) -> int:
    return int((time.time() if now is None else now) // BUCKET_SECONDS)


def _saved_key(item_id: int, bucket: int) -> str:
    return f"{SAVED_KEY_PREFIX}:{int(item_id)}:{bucket}"
