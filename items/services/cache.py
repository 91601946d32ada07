"""The shared answer cache (Redis through Django's cache API) and its health.

Keys never hold a query or a value in clear: only ids, config versions and a SHA-256. Redis errors are not
swallowed silently here: they mark the cache unavailable for a short while (calls go on uncached) and are reported
(operations/redis_outage.py: one warning per interval per process on "connect.cache", whoever noticed the outage).
"""

import hashlib
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import caches
from django_redis.cache import RedisCache

from operations.redis_outage import report_redis_failure

KEY_PREFIX = "item-options"


class CacheUnavailable(Exception):
    """Redis did not answer."""


def cache_key_for(item, evaluated_query: str, *, method: str = "GET", body: str | None = None) -> str:
    """item id + item and datasource config versions + SHA-256 of the evaluated call: the query for a GET (as it
    always was), the method, the query and the evaluated body for a POST.

    Saving the item or its datasource changes a version, so old entries are never read again (they expire).
    The datasource id is there so that one datasource's entries can be deleted by pattern.
    """
    called = evaluated_query if method == "GET" else f"{method}\n{evaluated_query}\n{body or ''}"
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


def read_body(key: str) -> bytes | None:
    """The cached raw body, None on a miss; raises CacheUnavailable."""
    value = _run("get", key)
    return value if isinstance(value, bytes) else None


def store_body(key: str, body: bytes, seconds: int) -> bool:
    """Store a raw body for `seconds` (the item's cache lifetime); False (never an exception) when Redis is down."""
    try:
        _run("set", key, bytes(body), seconds)
    except CacheUnavailable:
        return False
    return True


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


def acquire_fill_lock(key: str, seconds: float) -> str | None:
    """A token when this caller may fill `key`, None when another caller already is; raises CacheUnavailable."""
    token = uuid.uuid4().hex
    return token if _run("add", f"{key}:lock", token, seconds) else None


def release_fill_lock(key: str, token: str) -> None:
    # Only our own lock: after a very slow call it may have expired and been taken by someone else.
    try:
        if _run("get", f"{key}:lock") == token:
            _run("delete", f"{key}:lock")
    except CacheUnavailable:
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


def delete_pattern(pattern: str) -> int | None:
    """Delete keys matching a glob pattern; None when the cache backend cannot (not Redis)."""
    backend = _backend()
    if not hasattr(backend, "delete_pattern"):
        return None
    return _run("delete_pattern", pattern)
