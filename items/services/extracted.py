"""Options already extracted from cached answers, kept per process so that a cache hit on an unchanged body skips
json.loads and extraction: the same body and the same item configuration always give the same options.

A measured speed layer (bench/README.md, "Ablation"): without it, every hit parses and extracts the cached body again.
For the bench's 25-option answer that cost a signed-in hit 2.7-6.4% of its CPU time (pair 2, four runs) and an
embedding-token hit 5.7-10.4% (pair 2c, three of four runs; one run was noise), about 50-80 µs a hit, more for longer
lists; it is also what keeps an in-process hit (pair 1) near its floor.

Entries are found by cache key and the item's extraction settings, and used only when the body read from Redis has
the digest the options were extracted from, so a changed, replaced or corrupted entry is extracted again. Costs: up to
MAX_ENTRIES option lists per process, and at most MAX_OPTIONS_KEPT options in all (lists can hold 10,000 options).
"""

import hashlib
import threading
from collections import OrderedDict

MAX_ENTRIES = 256
MAX_OPTIONS_KEPT = 200_000


class ExtractedOptions:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_options: int = MAX_OPTIONS_KEPT):
        self.max_entries, self.max_options = max_entries, max_options
        self._entries: OrderedDict[tuple, tuple[bytes, list]] = OrderedDict()  # found at -> (body digest, options)
        self._kept = 0  # options in all the entries
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
        if len(options) > self.max_options:
            return options
        entry = (digest, _copy(options))
        with self._lock:
            replaced = self._entries.pop(found_at, None)
            self._kept += len(options) - (len(replaced[1]) if replaced else 0)
            self._entries[found_at] = entry
            while len(self._entries) > self.max_entries or self._kept > self.max_options:
                _found_at, (_digest, dropped) = self._entries.popitem(last=False)
                self._kept -= len(dropped)
        return options

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._kept = 0


def _copy(options: list[dict]) -> list[dict]:
    # Keys and labels are immutable values: copying each dict keeps callers from changing what is remembered.
    return [dict(option) for option in options]


extracted_options = ExtractedOptions()
