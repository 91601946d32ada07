"""Resolving an item: evaluate its query, read the answer through the shared cache, extract the options.

The one path used by the options endpoint and the preview page. Only the raw body of a successful (2xx, JSON,
extractable) answer is cached, never headers; a failure stores nothing. Concurrent misses for one key make one
upstream call: the first caller takes a short lock and fills the entry, the others poll for it, and a caller that
waits too long makes its own call rather than fail. A hit on a body this process has already extracted reuses those
options (extracted.py) instead of parsing the JSON again.

Stale-if-error (opt-in per datasource): each good answer is also kept, with the time it was stored, under the same
key plus ":last-good" for the datasource's stale_max_age_seconds. When a call through the cache fails in a way that
allows it (datasources.services.protection.allows_stale: the API failing or throttling, or Connect holding calls
back), that answer is served instead, marked stale with its age. A fresh hit is unchanged.

Each item chooses how long its answers are kept (Item.cache_seconds, default CONNECT_CACHE_TTL_SECONDS); 0 means
never: every resolution calls the API and nothing is read from or written to the cache.
"""

import time
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings

from datasources.services import errors, protection
from datasources.services.redaction import redaction_for_datasource

from . import cache
from .errors import ExtractionError, ItemError
from .evaluation import Evaluated, evaluate_call
from .extracted import extracted_options
from .fetching import fetch_options, options_from_cached

POLL_SECONDS = 0.05

HIT, MISS, BYPASSED, UNAVAILABLE, WAIT_TIMEOUT = "hit", "miss", "bypassed", "unavailable", "wait_timeout"
STALE, NOT_CACHED = "stale", "not_cached"
CACHE_NOTES = {
    STALE: "Stale answer: the API call failed, so the last good answer for this query, stored {age} seconds ago, "
    "was served instead (stale-if-error is on for this datasource).",
    HIT: "Cache hit: the answer was read from the cache, where it was stored less than {ttl} seconds ago.",
    MISS: "Cache miss: the API was called and its answer is cached for {ttl} seconds.",
    BYPASSED: "Cache bypassed: the API was called and nothing was read from or written to the cache.",
    NOT_CACHED: "Not cached: this item keeps no answers (its cache lifetime is 0 seconds), so every request calls "
    "the API.",
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
    cache_seconds: int = 300  # the item's cache lifetime, for the note

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
        return CACHE_NOTES.get(self.cache_status, "").format(ttl=self.cache_seconds, age=self.age_seconds)


def resolve_item(
    *, item, user_input: str = "", current_user="", values: dict | None = None, use_cache: bool = True
) -> Resolution:
    """Options for one call of an item. `current_user` is an evaluation.CurrentUser (or just a username).

    Raises ItemError or DatasourceError, with `.resolution` when the query could be evaluated."""
    started = time.monotonic()
    datasource = item.datasource
    evaluated = evaluate_call(item=item, user_input=user_input, current_user=current_user, values=values)
    resolution = Resolution(
        datasource=datasource, raw_query=evaluated.query, method=evaluated.method, cache_seconds=item.cache_seconds
    )
    try:
        if not use_cache:
            _fill_from_upstream(item, evaluated, resolution, status=BYPASSED)
        elif not item.cache_seconds:
            _fill_from_upstream(item, evaluated, resolution, status=NOT_CACHED)
        elif not cache.health.is_available():
            _fill_from_upstream(item, evaluated, resolution, status=UNAVAILABLE)
        else:
            try:
                _fill_through_cache(item, evaluated, resolution)
            except cache.CacheUnavailable:
                _fill_from_upstream(item, evaluated, resolution, status=UNAVAILABLE)
            except errors.DatasourceError as exc:
                if not _fill_from_last_good(item, evaluated, resolution, exc):
                    raise
    except (ItemError, errors.DatasourceError) as exc:
        resolution.total_seconds = time.monotonic() - started
        exc.resolution = resolution
        raise
    resolution.total_seconds = time.monotonic() - started
    return resolution


def _fill_through_cache(item, evaluated: Evaluated, resolution: Resolution) -> None:
    """Raises cache.CacheUnavailable only before this caller has called the API."""
    key = cache.cache_key_for(item, evaluated.query, method=evaluated.method, body=evaluated.body)
    if _fill_from_cache(item, key, resolution):
        return
    give_up_at = time.monotonic() + _lock_wait_seconds()
    while True:
        token = cache.acquire_fill_lock(key, _lock_seconds())
        if token:
            try:
                # Another caller may have filled the entry between our read and our lock.
                if _fill_from_cache(item, key, resolution):
                    return
                _fill_from_upstream(item, evaluated, resolution, status=MISS)
                _store(item, key, resolution)
                return
            finally:
                cache.release_fill_lock(key, token)
        if time.monotonic() >= give_up_at:
            _fill_from_upstream(item, evaluated, resolution, status=WAIT_TIMEOUT)
            _store(item, key, resolution)
            return
        time.sleep(POLL_SECONDS)
        if _fill_from_cache(item, key, resolution):
            return


def _fill_from_cache(item, key: str, resolution: Resolution) -> bool:
    body = cache.read_body(key)
    if body is None:
        return False
    resolution.raw_body = body
    resolution.cached = True
    resolution.cache_status = HIT
    resolution.options = extracted_options.options_for(
        item=item, key=key, body=body, extract=lambda: options_from_cached(item, body)
    )
    return True


def _fill_from_last_good(item, evaluated: Evaluated, resolution: Resolution, error: errors.DatasourceError) -> bool:
    """Stale-if-error: serve the last good answer instead of `error` when the datasource allows it."""
    datasource = item.datasource
    if not datasource.stale_if_error or not protection.allows_stale(error):
        return False
    key = cache.cache_key_for(item, evaluated.query, method=evaluated.method, body=evaluated.body)
    kept = cache.read_last_good(key)
    if kept is None:
        return False
    stored_at, body = kept
    age = max(0, int(time.time() - stored_at))
    if age > datasource.stale_max_age_seconds:
        return False
    resolution.options = extracted_options.options_for(
        item=item, key=cache.last_good_key(key), body=body, extract=lambda: options_from_cached(item, body)
    )
    resolution.raw_body, resolution.cached, resolution.cache_status = body, True, STALE
    resolution.stale, resolution.age_seconds, resolution.stale_error = True, age, error
    return True


def _fill_from_upstream(item, evaluated: Evaluated, resolution: Resolution, *, status: str) -> None:
    resolution.cache_status = status
    resolution.cached = False
    try:
        fetched = fetch_options(item=item, evaluated=evaluated, pages=resolution.pages)
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
    if not cache.store_body(key, resolution.raw_body, item.cache_seconds):
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
