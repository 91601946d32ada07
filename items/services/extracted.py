"""Options already extracted from cached answers, kept per process so that a cache hit on an unchanged body skips
json.loads and extraction: the same body and the same item configuration always give the same options.

Entries are found by cache key and the item's extraction settings, and used only when the body read from Redis has
the digest the options were extracted from, so a changed, replaced or corrupted entry is extracted again. Costs: up to
MAX_ENTRIES option lists per process.
"""

import hashlib
import threading
from collections import OrderedDict

MAX_ENTRIES = 256


class ExtractedOptions:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[bytes, list]] = OrderedDict()  # found at -> (body digest, options)
        self._lock = threading.Lock()

    def options_for(self, *, item, key: str, body: bytes, extract) -> list[dict]:
        """The options of `body` for `item` (the caller's own copy): remembered ones, or extract() (which may raise)
        remembered."""
        found_at = (key, item.list_path, item.key_field, item.label_template, item.max_options)
        digest = hashlib.blake2b(body, digest_size=16).digest()
        with self._lock:
            entry = self._entries.get(found_at)
            if entry is not None and entry[0] == digest:
                self._entries.move_to_end(found_at)
                return _copy(entry[1])
        options = extract()
        entry = (digest, _copy(options))
        with self._lock:
            self._entries[found_at] = entry
            self._entries.move_to_end(found_at)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return options

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _copy(options: list[dict]) -> list[dict]:
    # Keys and labels are immutable values: copying each dict keeps callers from changing what is remembered.
    return [dict(option) for option in options]


extracted_options = ExtractedOptions()
