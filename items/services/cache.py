"""The shared answer cache (Redis through Django's cache API) and its health.

Keys never hold a query or a value in clear: only ids, config versions and a SHA-256. Redis errors are not
swallowed silently here: they mark the cache unavailable for a short while (calls go on uncached) and are reported
(operations/redis_outage.py: one warning per interval per process on "connect.cache", whoever noticed the outage).
"""

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django_redis.cache import RedisCache

from operations.redis_outage import report_redis_failure

KEY_PREFIX = "item-options"


class CacheUnavailable(Exception):
    """Redis did not answer."""


def cache_key_for(item, evaluated_query: str, *, method: str = "GET", body: str | None = None, kind: str = "") -> str:
    """item id + item and datasource config versions + SHA-256 of the evaluated call: the query for a GET (as it
    always was), the method, the query and the evaluated body for a POST; a lookup (kind="lookup") hashes its kind
    too, so the lookup of a key never reads an answer of the query.

    Saving the item or its datasource changes a version, so old entries are never read again (they expire).
    The datasource id is there so that one datasource's entries can be deleted by pattern.
    """
    called = evaluated_query if method == "GET" else f"{method}\n{evaluated_query}\n{body or ''}"
    if kind:
        called = f"{kind}\n{method}\n{evaluated_query}\n{body or ''}"
    digest = hashlib.sha256(called.encode("utf-8")).hexdigest()
    datasource = item.datasource
    return f"{KEY_PREFIX}:{item.pk}:{item.config_version}:{datasource.pk}:{datasource.config_version}:{digest}"


def item_key_pattern(item_id) -> str:
    return f"{KEY_PREFIX}:{item_id}:*"


def datasource_key_pattern(datasource_id) -> str:
    return f"{KEY_PREFIX}:*:*:{datasource_id}:*"


class CacheHealth:
    """Per process: is Redis believed down (after an error, the cache is skipped for CONNECT_CACHE_RETRY_SECONDS)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.down_until = 0.0

    def is_available(self) -> bool:
        return time.monotonic() >= self.down_until

    def record_failure(self, exc: BaseException) -> None:
        with self._lock:
            self.down_until = time.monotonic() + settings.CONNECT_CACHE_RETRY_SECONDS
        report_redis_failure(exc, noticed_by="item_cache")

    def reset(self) -> None:
        with self._lock:
            self.down_until = 0.0


health = CacheHealth()


def _backend():
    """django-redis' client raises on connection errors, where the cache object would only return a default."""
    backend = caches["default"]
    return backend.client if isinstance(backend, RedisCache) else backend


def _failures():
    from django_redis.exceptions import ConnectionInterrupted
    from redis.exceptions import RedisError

    return (ConnectionInterrupted, RedisError, OSError)


def _run(operation: str, *args):
    try:
        return getattr(_backend(), operation)(*args)
    except _failures() as exc:
        health.record_failure(exc)
        raise CacheUnavailable() from exc


def ttl_seconds(item=None) -> int:
    """How long an answer of `item` stays in the cache: the item's own "answers are kept for" (SPEC 12; 0: never
    cached, which resolution.py checks before it reads or writes the cache), or for None the default lifetime
    (CONNECT_CACHE_TTL_SECONDS). The one place it is read."""
    if item is None:
        return settings.CONNECT_CACHE_TTL_SECONDS
    return item.cache_seconds


@dataclass(frozen=True)
class Entry:
    """One cached answer. Stored as the raw body alone (bytes: the common one-page answer, as always) or, for the
    pages of a paginated item and for a narrowed answer, as a small dict of plain values (never a class: entries
    outlive a deploy).

    `following` is where the next page is ({"number": n} for a page parameter, plus "url" for a next link) when
    more pages may be read later; `end` says the API itself said nothing follows (an empty page, no next link)."""

    body: bytes
    paged: bool = False  # body is the JSON list of the pages read
    pages: int = 1
    following: dict | None = None
    end: bool = True
    narrowed: bool = False  # body is the JSON list of options computed from a shorter text's complete answer

    def stored(self):
        if not (self.paged or self.narrowed):
            return bytes(self.body)
        return {
            "body": bytes(self.body),
            "paged": self.paged,
            "pages": self.pages,
            "following": self.following,
            "end": self.end,
            "narrowed": self.narrowed,
        }


def _entry(value) -> Entry | None:
    if isinstance(value, bytes):
        return Entry(body=value)
    if isinstance(value, dict) and isinstance(value.get("body"), bytes):
        following = value.get("following")
        return Entry(
            body=value["body"],
            paged=bool(value.get("paged")),
            pages=value.get("pages") if type(value.get("pages")) is int else 1,
            following=following if isinstance(following, dict) else None,
            end=bool(value.get("end")),
            narrowed=bool(value.get("narrowed")),
        )
    return None


def read_entry(key: str) -> Entry | None:
    """The cached answer, None on a miss; raises CacheUnavailable."""
    return _entry(_run("get", key))


def read_entries(keys: list[str]) -> dict[str, Entry]:
    """The cached answers of several keys in one round trip (the missing ones left out); raises CacheUnavailable."""
    if not keys:
        return {}
    found = _run("get_many", keys)
    return {key: entry for key, entry in ((k, _entry(v)) for k, v in found.items()) if entry is not None}


def store_entry(key: str, entry: Entry, seconds: float) -> bool:
    """Store an answer for `seconds`; False (never an exception) when Redis is down."""
    try:
        _run("set", key, entry.stored(), seconds)
    except CacheUnavailable:
        return False
    return True


def seconds_left(item, key: str) -> float | None:
    """How long the entry at `key` still lives (None when it is gone or Redis is down): what is computed from an
    entry or added to it must not outlive the answer it comes from. (The in-process cache of development cannot
    say: there it is the item's whole lifetime.)"""
    backend = caches["default"]
    try:
        if not isinstance(backend, RedisCache):
            return float(ttl_seconds(item)) if backend.has_key(key) else None
        left = _run("pttl", key)
    except CacheUnavailable:
        return None
    return left / 1000 if left and left > 0 else None


def read_body(key: str) -> bytes | None:
    """The cached raw body of a one-page answer, None on a miss; raises CacheUnavailable."""
    entry = read_entry(key)
    return entry.body if entry is not None and not (entry.paged or entry.narrowed) else None


def store_body(key: str, body: bytes) -> bool:
    """Store a one-page answer's raw body for the default lifetime; False when Redis is down."""
    return store_entry(key, Entry(body=body), ttl_seconds())


def last_good_key(key: str) -> str:
    """Where stale-if-error keeps the last good answer of a cache key (the same ids, versions and digest)."""
    return f"{key}:last-good"


def store_last_good(key: str, body: bytes, seconds: int) -> bool:
    """Keep a good answer (with the time it was stored) for stale-if-error; False when Redis is down."""
    try:
        _run("set", last_good_key(key), (time.time(), bytes(body)), seconds)
    except CacheUnavailable:
        return False
    return True


def read_last_good(key: str) -> tuple[float, bytes] | None:
    """(stored at, body) of the last good answer, None when there is none or Redis is down."""
    try:
        value = _run("get", last_good_key(key))
    except CacheUnavailable:
        return None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes):
        return float(value[0]), value[1]
    return None


def acquire_fill_lock(key: str, seconds: float):
    """A held lock (release it with release_fill_lock) when this caller may fill `key`, None when another caller
    already is; raises CacheUnavailable.

    On Redis it is django-redis' cache.lock (redis-py's Lock, as the OAuth renewal uses): it expires by itself after
    `seconds`, and its release deletes it only while this caller still holds it, atomically. The in-process cache of
    development has no lock: there add() of a marker does, for the one process it serves."""
    backend = caches["default"]
    try:
        if isinstance(backend, RedisCache):
            lock = backend.lock(f"{key}:lock", timeout=seconds)
            return lock if lock.acquire(blocking=False) else None
        return _ProcessLock(backend, f"{key}:lock") if backend.add(f"{key}:lock", 1, seconds) else None
    except _failures() as exc:
        health.record_failure(exc)
        raise CacheUnavailable() from exc


def release_fill_lock(lock) -> None:
    """Give the lock back; a lock that expired meanwhile (a very slow call) is simply gone, or someone else's."""
    try:
        lock.release()
    except Exception:  # noqa: BLE001 - not held any more, or Redis gone: it expires by itself
        pass


def drop_item_answers(item) -> int | None:
    """Drop every cached answer of one item ("Refresh now", the purge API), so the next request calls the API.

    The item gets a new config version first: its old entries can no longer be read whatever Redis says (down now,
    or a fill in flight storing an answer under the old key meanwhile). Then its keys (answers, stale-if-error
    copies, fill locks) are deleted. Returns how many keys were deleted; None when none could be (Redis down, or a
    cache that is not Redis): the unreachable entries then expire by themselves.
    """
    item.bump_config_version()
    try:
        return delete_pattern(item_key_pattern(item.pk))
    except CacheUnavailable:
        return None


class _ProcessLock:
    def __init__(self, backend, key: str):
        self.backend, self.key = backend, key

    def release(self) -> None:
        self.backend.delete(self.key)


def delete_pattern(pattern: str) -> int | None:
    """Delete keys matching a glob pattern; None when the cache backend cannot (not Redis)."""
    backend = _backend()
    if not hasattr(backend, "delete_pattern"):
        return None
    return _run("delete_pattern", pattern)
