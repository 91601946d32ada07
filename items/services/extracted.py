"""Options already extracted from cached answers, kept per process so that a cache hit on an unchanged body skips
json.loads and extraction: the same body and the same item configuration always give the same options.

Entries are found by cache key and the item's extraction settings, and used only when the body read from Redis has
the digest the options were extracted from, so a changed, replaced or corrupted entry is extracted again. Each
entry also keeps its options encoded as JSON (`json_of`), so the options endpoint does not encode them again on every
hit. Costs: up to MAX_ENTRIES option lists (and their JSON) per process.
"""

import hashlib
import json
import threading
from collections import OrderedDict

MAX_ENTRIES = 256


class ExtractedOptions:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        # found at -> [digest of the body, options, their JSON or None until first asked]
        self._entries: OrderedDict[tuple, list] = OrderedDict()
        self._lock = threading.Lock()

    def options_for(self, *, item, key: str, body: bytes, extract) -> "RememberedOptions":
        """The options of `body` for `item`: remembered ones, or extract() (which may raise) remembered."""
        found_at = (key, item.list_path, item.key_field, item.label_template, item.max_options)
        digest = hashlib.blake2b(body, digest_size=16).digest()
        with self._lock:
            entry = self._entries.get(found_at)
            if entry is not None and entry[0] == digest:
                self._entries.move_to_end(found_at)
                return RememberedOptions(entry)
        options = extract()
        entry = [digest, _copy(options), None]
        with self._lock:
            self._entries[found_at] = entry
            self._entries.move_to_end(found_at)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return RememberedOptions(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RememberedOptions(list):
    """A caller's own copy of remembered options, which gives their JSON (json.dumps, as the options endpoint sends
    it) without encoding them again: it is built once per entry."""

    def __init__(self, entry: list):
        super().__init__(_copy(entry[1]))
        self._entry = entry

    def encoded(self) -> bytes:
        if self._entry[2] is None:
            self._entry[2] = json.dumps(self._entry[1]).encode()  # a race only encodes twice, the same bytes
        return self._entry[2]


def _copy(options: list[dict]) -> list[dict]:
    # Keys and labels are immutable values: copying each dict keeps callers from changing what is remembered.
    return [dict(option) for option in options]


extracted_options = ExtractedOptions()
