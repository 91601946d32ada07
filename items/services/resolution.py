"""Resolving an item: evaluate its query, read the answer through the shared cache, extract the options.

The one path used by the options endpoint and the preview page. Only the raw body of a successful (2xx, JSON,
extractable) answer is cached, never headers; a failure stores nothing. Concurrent misses for one key make one
upstream call: the first caller takes a short lock and fills the entry, the others poll for it, and a caller that
waits too long makes its own call rather than fail. A hit on a body this process has already extracted reuses those
options (extracted.py) instead of parsing the JSON again.

Stale-if-error (opt-in per datasource): each good answer is also kept, with the time it was stored, under the same
key plus ":last-good" for the datasource's stale_max_age_seconds. When a call through the cache fails in a way that
allows it (datasources.services.protection.allows_stale: the API failing or throttling, or Connect holding calls
back), that answer is served instead, marked stale with its age. A fresh hit is unchanged (CONNECT_CACHE_TTL_SECONDS).
"""

import time
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings

from datasources.services import errors, protection
from datasources.services.redaction import redaction_for_datasource

from . import cache
from .errors import ExtractionError, ItemError
from .evaluation import Evaluated, evaluate_call, evaluate_lookup
from .extracted import extracted_options
from .fetching import fetch_lookup, fetch_options, lookup_from_cached, options_from_cached

POLL_SECONDS = 0.05

HIT, MISS, BYPASSED, UNAVAILABLE, WAIT_TIMEOUT = "hit", "miss", "bypassed", "unavailable", "wait_timeout"
STALE = "stale"
CACHE_NOTES = {
    STALE: "Stale answer: the API call failed, so the last good answer for this query, stored {age} seconds ago, "
    "was served instead (stale-if-error is on for this datasource).",
    HIT: "Cache hit: the answer was read from the cache, where it was stored less than {ttl} seconds ago.",
    MISS: "Cache miss: the API was called and its answer is cached for {ttl} seconds.",
    BYPASSED: "Cache bypassed: the API was called and nothing was read from or written to the cache.",
    UNAVAILABLE: "Cache unavailable: Redis did not answer, so the API was called directly and nothing was cached.",
    WAIT_TIMEOUT: "Another request was fetching the same answer and took too long, so this request called the "
    "API itself.",
}


@dataclass
class Resolution:
    """What one resolution did. Filled as it goes, so a failure can show how far it got (see `resolution` on
    the raised error). The redacted query and URL are built when first read: the options endpoint never shows
    them, so a cache hit does not pay for redaction."""

    datasource: object = field(repr=False)
    raw_query: str = field(repr=False)
    called_url: str = field(default="", repr=False)  # already redacted by the client
    method: str = "GET"
    pages: list = field(default_factory=list)  # the calls made (fetching.PageCall), for the preview
    options: list = field(default_factory=list)
    cached: bool = False
    cache_status: str = ""
    upstream_status: int | None = None
    elapsed_seconds: float | None = None  # of the upstream call; None when served from the cache
    total_seconds: float = 0.0
    raw_body: bytes = b""
    stale: bool = False  # served by stale-if-error: `stale_error` is why, `age_seconds` how old the answer is
    age_seconds: int | None = None
    stale_error: errors.DatasourceError | None = field(default=None, repr=False)

    @cached_property
    def evaluated_query(self) -> str:
        return self._redaction.url(self.raw_query)

    @cached_property
    def url(self) -> str:
        return self.called_url or self._redaction.url(_joined(self.datasource.base_url, self.raw_query))

    @cached_property
    def _redaction(self):
        """The datasource's secrets, read from its auth (no pooled session is built to show a value)."""
        return redaction_for_datasource(self.datasource)

    @property
    def cache_note(self) -> str:
        return CACHE_NOTES.get(self.cache_status, "").format(
            ttl=settings.CONNECT_CACHE_TTL_SECONDS, age=self.age_seconds
        )


@dataclass(frozen=True)
class Reading:
    """How one kind of call becomes options: `fetch` calls the API, `from_cached` reads a cached body back. `kind`
    keeps the kinds' cache entries apart (the query's keys are what they always were)."""

    kind: str
    fetch: object
    from_cached: object


QUERY = Reading(kind="", fetch=fetch_options, from_cached=options_from_cached)
LOOKUP = Reading(kind="lookup", fetch=fetch_lookup, from_cached=lookup_from_cached)


def resolve_item(
    *, item, user_input: str = "", current_user="", values: dict | None = None, use_cache: bool = True
) -> Resolution:
    """Options for one call of an item. `current_user` is an evaluation.CurrentUser (or just a username).

    Raises ItemError or DatasourceError, with `.resolution` when the query could be evaluated."""
    started = time.monotonic()
    evaluated = evaluate_call(item=item, user_input=user_input, current_user=current_user, values=values)
    return _resolve(item, evaluated, QUERY, started=started, use_cache=use_cache)


def resolve_lookup(*, item, key: str, current_user="", values: dict | None = None) -> Resolution:
    """The entries the item's lookup query answers for `key` (as options), through the same cache and single flight
    as its query. Raises ItemError or DatasourceError like resolve_item."""
    started = time.monotonic()
    evaluated = evaluate_lookup(item=item, key=key, current_user=current_user, values=values)
    return _resolve(item, evaluated, LOOKUP, started=started, use_cache=True)


def _resolve(item, evaluated: Evaluated, reading: Reading, *, started: float, use_cache: bool) -> Resolution:
    resolution = Resolution(datasource=item.datasource, raw_query=evaluated.query, method=evaluated.method)
    try:
        if not use_cache:
            _fill_from_upstream(item, evaluated, reading, resolution, status=BYPASSED)
        elif not cache.health.is_available():
            _fill_from_upstream(item, evaluated, reading, resolution, status=UNAVAILABLE)
        else:
            try:
                _fill_through_cache(item, evaluated, reading, resolution)
            except cache.CacheUnavailable:
                _fill_from_upstream(item, evaluated, reading, resolution, status=UNAVAILABLE)
            except errors.DatasourceError as exc:
                if not _fill_from_last_good(item, evaluated, reading, resolution, exc):
                    raise
    except (ItemError, errors.DatasourceError) as exc:
        resolution.total_seconds = time.monotonic() - started
        exc.resolution = resolution
        raise
    resolution.total_seconds = time.monotonic() - started
    return resolution


def _cache_key(item, evaluated: Evaluated, reading: Reading) -> str:
    return cache.cache_key_for(item, evaluated.query, method=evaluated.method, body=evaluated.body, kind=reading.kind)


def _fill_through_cache(item, evaluated: Evaluated, reading: Reading, resolution: Resolution) -> None:
    """Raises cache.CacheUnavailable only before this caller has called the API."""
    key = _cache_key(item, evaluated, reading)
    if _fill_from_cache(item, key, reading, resolution):
        return
    give_up_at = time.monotonic() + _lock_wait_seconds()
    while True:
        lock = cache.acquire_fill_lock(key, _lock_seconds())
        if lock is not None:
            try:
                # Another caller may have filled the entry between our read and our lock.
                if _fill_from_cache(item, key, reading, resolution):
                    return
                _fill_from_upstream(item, evaluated, reading, resolution, status=MISS)
                _store(item, key, resolution)
                return
            finally:
                cache.release_fill_lock(lock)
        if time.monotonic() >= give_up_at:
            _fill_from_upstream(item, evaluated, reading, resolution, status=WAIT_TIMEOUT)
            _store(item, key, resolution)
            return
        time.sleep(POLL_SECONDS)
        if _fill_from_cache(item, key, reading, resolution):
            return


def _fill_from_cache(item, key: str, reading: Reading, resolution: Resolution) -> bool:
    body = cache.read_body(key)
    if body is None:
        return False
    resolution.raw_body = body
    resolution.cached = True
    resolution.cache_status = HIT
    resolution.options = extracted_options.options_for(
        item=item, key=key, body=body, extract=lambda: reading.from_cached(item, body)
    )
    return True


def _fill_from_last_good(
    item, evaluated: Evaluated, reading: Reading, resolution: Resolution, error: errors.DatasourceError
) -> bool:
    """Stale-if-error: serve the last good answer instead of `error` when the datasource allows it."""
    datasource = item.datasource
    if not datasource.stale_if_error or not protection.allows_stale(error):
        return False
    key = _cache_key(item, evaluated, reading)
    kept = cache.read_last_good(key)
    if kept is None:
        return False
    stored_at, body = kept
    age = max(0, int(time.time() - stored_at))
    if age > datasource.stale_max_age_seconds:
        return False
    resolution.options = extracted_options.options_for(
        item=item, key=cache.last_good_key(key), body=body, extract=lambda: reading.from_cached(item, body)
    )
    resolution.raw_body, resolution.cached, resolution.cache_status = body, True, STALE
    resolution.stale, resolution.age_seconds, resolution.stale_error = True, age, error
    return True


def _fill_from_upstream(item, evaluated: Evaluated, reading: Reading, resolution: Resolution, *, status: str) -> None:
    resolution.cache_status = status
    resolution.cached = False
    try:
        fetched = reading.fetch(item=item, evaluated=evaluated, pages=resolution.pages)
    except (errors.DatasourceError, ItemError) as exc:
        _note_calls(resolution)
        if isinstance(exc, ExtractionError) and getattr(exc, "raw_text", None) is not None:
            resolution.raw_body = exc.raw_text.encode("utf-8", "surrogatepass")  # shown even when extraction fails
        raise
    _note_calls(resolution)
    resolution.options = fetched.options
    resolution.raw_body = fetched.text.encode(fetched.encoding, "surrogatepass")


def _note_calls(resolution: Resolution) -> None:
    """The first call's status and URL, and the time of all of them, for the preview's summary."""
    if resolution.pages:
        first = resolution.pages[0]
        resolution.upstream_status = resolution.pages[-1].status
        resolution.called_url = first.url
        resolution.elapsed_seconds = sum(page.seconds or 0 for page in resolution.pages)


def _store(item, key: str, resolution: Resolution) -> None:
    if not cache.store_body(key, resolution.raw_body):
        resolution.cache_status = UNAVAILABLE
    elif item.datasource.stale_if_error:
        cache.store_last_good(key, resolution.raw_body, item.datasource.stale_max_age_seconds)


def _joined(base_url: str, evaluated: str) -> str:
    if not evaluated:
        return base_url
    return base_url.rstrip("/") + "/" + evaluated.lstrip("/")


def _lock_seconds() -> float:
    # Long enough for one upstream call; a crashed holder's lock expires by itself.
    return settings.CONNECT_CALL_DEADLINE_SECONDS + 5


def _lock_wait_seconds() -> float:
    configured = settings.CONNECT_CACHE_LOCK_WAIT_SECONDS
    return _lock_seconds() if configured is None else configured
