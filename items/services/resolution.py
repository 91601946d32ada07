"""Resolving an item: evaluate its query, read the answer through the shared cache, extract the options.

The one path used by the options endpoint and the preview page. Only the raw body of a successful (2xx, JSON,
extractable) answer is cached, never headers; a failure stores nothing. Concurrent misses for one key make one
upstream call: the first caller takes a short lock and fills the entry, the others poll for it, and a caller that
waits too long makes its own call rather than fail. A hit on a body this process has already extracted reuses those
options (extracted.py) instead of parsing the JSON again.

A paginated item's entry holds the pages read so far and where the next one is (cache.Entry): a caller that needs
more options than it holds (`want`, an offset further down the list) extends it under the same lock, reading only
the pages after it, and the entry keeps the lifetime of its first page; a page that fails stores nothing. With the
item's narrowing rule set (narrowing.py), a miss first looks for the complete answer of a shorter text the typed
one starts with, and filters it on Connect instead of calling the API.

An item's key lookup (labels.py) is resolved the same way, as a Reading of its own: one call, never paginated or
narrowed, its entries in the cache apart from the query's (`kind` is in the key).

Stale-if-error (opt-in per datasource): each good answer is also kept, with the time it was stored, under the same
key plus ":last-good" for the datasource's stale_max_age_seconds. When a call through the cache fails in a way that
allows it (datasources.protection.allows_stale: the API failing or throttling, or Connect holding calls
back), that answer is served instead, marked stale with its age. A fresh hit is unchanged.

Each item chooses how long its answers are kept (Item.cache_seconds, default CONNECT_CACHE_TTL_SECONDS; read through
cache.ttl_seconds); 0 means never: every resolution calls the API and nothing is read from or written to the cache.
"""

import functools
import json
import time
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings

from datasources import protection
from datasources.services import errors
from datasources.services.redaction import redaction_for_datasource

from ..models import Pagination
from . import cache, label_match, narrowing
from .errors import ExtractionError, ItemError
from .evaluation import Evaluated, evaluate_call, evaluate_lookup
from .extracted import extracted_options
from .fetching import fetch_lookup, fetch_options, lookup_from_cached, options_from_cached

POLL_SECONDS = 0.05

HIT, MISS, BYPASSED, UNAVAILABLE, WAIT_TIMEOUT = "hit", "miss", "bypassed", "unavailable", "wait_timeout"
STALE, NARROWED, NOT_CACHED = "stale", "narrowed", "not_cached"
CACHE_NOTES = {
    NARROWED: "Narrowed: computed on Connect from the cached complete answer for a shorter text this one starts "
    "with (the item's API filters by its label), without calling the API; cached like any answer.",
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
    narrowed: bool = False  # computed from a shorter text's complete answer (and served so from the cache)
    complete: bool = False  # the options are all the API has for this call: no next page, under the maximum
    more_upstream: bool = False  # a paginated item: later pages may be read (an offset further down asks for them)
    entry: cache.Entry | None = field(default=None, repr=False)  # what the cache keeps of this answer
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
    *,
    item,
    user_input: str = "",
    current_user="",
    values: dict | None = None,
    use_cache: bool = True,
    want: int | None = None,
) -> Resolution:
    """Options for one call of an item. `current_user` is an evaluation.CurrentUser (or just a username). `want`:
    how many options from the start of the list the caller needs (None: all of them, up to the maximum); a
    paginated item reads its pages only that far.

    Raises ItemError or DatasourceError, with `.resolution` when the query could be evaluated."""
    started = time.monotonic()
    evaluated = evaluate_call(item=item, user_input=user_input, current_user=current_user, values=values)
    sources = None
    if narrowing.applies(item):
        sources = functools.partial(
            narrowing.source_keys, item=item, user_input=user_input, current_user=current_user, values=values
        )
    return _resolve(
        item, evaluated, QUERY, started=started, use_cache=use_cache, want=want, typed=user_input, sources=sources
    )


def resolve_lookup(*, item, key: str, current_user="", values: dict | None = None) -> Resolution:
    """The entries the item's key lookup answers for `key` (as options), through the same cache and single flight
    as its query. Raises ItemError or DatasourceError like resolve_item."""
    started = time.monotonic()
    evaluated = evaluate_lookup(item=item, key=key, current_user=current_user, values=values)
    return _resolve(item, evaluated, LOOKUP, started=started, use_cache=True, want=None, typed="", sources=None)


def _resolve(item, evaluated: Evaluated, reading: Reading, *, started, use_cache, want, typed, sources) -> Resolution:
    resolution = Resolution(
        datasource=item.datasource,
        raw_query=evaluated.query,
        method=evaluated.method,
        cache_seconds=cache.ttl_seconds(item),
    )
    try:
        if not use_cache:
            _fill_from_upstream(item, evaluated, reading, resolution, status=BYPASSED, want=want)
        elif not resolution.cache_seconds:
            _fill_from_upstream(item, evaluated, reading, resolution, status=NOT_CACHED, want=want)
        elif not cache.health.is_available():
            _fill_from_upstream(item, evaluated, reading, resolution, status=UNAVAILABLE, want=want)
        else:
            try:
                _fill_through_cache(item, evaluated, reading, resolution, want=want, typed=typed, sources=sources)
            except cache.CacheUnavailable:
                _fill_from_upstream(item, evaluated, reading, resolution, status=UNAVAILABLE, want=want)
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


def _fill_through_cache(
    item, evaluated: Evaluated, reading: Reading, resolution: Resolution, *, want, typed: str, sources
) -> None:
    """Raises cache.CacheUnavailable only before this caller has called the API."""
    key = _cache_key(item, evaluated, reading)
    entry = _fill_from_cache(item, key, reading, resolution)
    if entry is not None and _enough(resolution, want):
        return
    if entry is None and sources is not None and _fill_by_narrowing(item, key, resolution, typed, sources()):
        return
    give_up_at = time.monotonic() + _lock_wait_seconds()
    while True:
        lock = cache.acquire_fill_lock(key, _lock_seconds())
        if lock is not None:
            try:
                # Another caller may have filled (or extended) the entry between our read and our lock.
                entry = _fill_from_cache(item, key, reading, resolution)
                if entry is not None and _enough(resolution, want):
                    return
                _fill_from_upstream(item, evaluated, reading, resolution, status=MISS, want=want, after=entry)
                _store(item, key, resolution, extended=entry is not None and entry.following is not None)
                return
            finally:
                cache.release_fill_lock(lock)
        if time.monotonic() >= give_up_at:
            _fill_from_upstream(item, evaluated, reading, resolution, status=WAIT_TIMEOUT, want=want)
            _store(item, key, resolution, extended=False)
            return
        time.sleep(POLL_SECONDS)
        entry = _fill_from_cache(item, key, reading, resolution)
        if entry is not None and _enough(resolution, want):
            return


def _enough(resolution: Resolution, want: int | None) -> bool:
    """The answer read holds what the caller needs: all the API has (as far as the caps allow), or `want`."""
    return not resolution.more_upstream or (want is not None and len(resolution.options) >= want)


def _fill_from_cache(item, key: str, reading: Reading, resolution: Resolution) -> cache.Entry | None:
    entry = cache.read_entry(key)
    if entry is None:
        return None
    resolution.options = _options_of(item, key, entry, reading)
    resolution.raw_body, resolution.entry = entry.body, entry
    resolution.cached, resolution.cache_status, resolution.narrowed = True, HIT, entry.narrowed
    _note_extent(item, resolution, entry)
    return entry


def _options_of(item, key: str, entry: cache.Entry, reading: Reading) -> list:
    body = entry.body
    if entry.narrowed:
        return extracted_options.options_for(item=item, key=key, body=body, extract=lambda: json.loads(body))
    return extracted_options.options_for(item=item, key=key, body=body, extract=lambda: reading.from_cached(item, body))


def _is_complete(item, entry: cache.Entry, options: list) -> bool:
    """The options are all the API has for the call: no next page, and fewer than the item's maximum (the one rule
    for narrowing's sources and the endpoint's `complete`)."""
    return entry.end and len(options) < item.max_options


def _note_extent(item, resolution: Resolution, entry: cache.Entry) -> None:
    """Whether the answer is complete, and whether a paginated item could read more pages (has_more)."""
    resolution.complete = _is_complete(item, entry, resolution.options)
    resolution.more_upstream = (
        item.pagination != Pagination.NONE
        and not entry.end
        and len(resolution.options) < item.max_options
        and entry.pages < item.max_pages
    )


def _fill_by_narrowing(item, key: str, resolution: Resolution, typed: str, source_keys: list[str]) -> bool:
    """The answer computed from the longest shorter text whose cached answer is complete; False when none is."""
    found = cache.read_entries(source_keys)
    for source_key in source_keys:
        source = found.get(source_key)
        if source is None:
            continue
        try:
            options = _options_of(item, source_key, source, QUERY)
        except (ItemError, errors.DatasourceError):  # a cached body that no longer reads: not a source
            continue
        if not _is_complete(item, source, options):  # a narrowed answer is: it comes from a complete one
            continue
        options = label_match.filter_options(options, typed, item.api_filter)
        body = json.dumps(options, ensure_ascii=False).encode("utf-8")
        entry = cache.Entry(body=body, narrowed=True)
        left = cache.seconds_left(item, source_key)
        if left is not None:  # it never outlives the answer it comes from
            cache.store_entry(key, entry, left)
        resolution.options, resolution.raw_body, resolution.entry = options, body, entry
        resolution.cached, resolution.cache_status, resolution.narrowed = True, NARROWED, True
        _note_extent(item, resolution, entry)
        narrowing.count_saved_call(item_id=item.pk)
        return True
    return False


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
    # What the last good answer held; a paginated one is neither continued nor called complete (where its pages
    # ended is not kept with it).
    resolution.narrowed, resolution.more_upstream = False, False
    resolution.complete = _is_complete(
        item, cache.Entry(body, end=item.pagination == Pagination.NONE), resolution.options
    )
    return True


def _fill_from_upstream(
    item,
    evaluated: Evaluated,
    reading: Reading,
    resolution: Resolution,
    *,
    status: str,
    want=None,
    after: cache.Entry | None = None,
) -> None:
    """Call the API. `after`: the cached pages of a paginated item, continued from where they stopped when they
    can be (the options read from them are already in the resolution), otherwise read again from page 1."""
    resuming = after is not None and after.following is not None
    known = resolution.options if resuming else []
    resolution.cache_status, resolution.cached, resolution.narrowed = status, False, False
    try:
        fetched = reading.fetch(
            item=item,
            evaluated=evaluated,
            pages=resolution.pages,
            start=after.following if resuming else None,
            known=len(known),
            want=want,
        )
    except (errors.DatasourceError, ItemError) as exc:
        _note_calls(resolution)
        if isinstance(exc, ExtractionError) and getattr(exc, "raw_text", None) is not None:
            resolution.raw_body = exc.raw_text.encode("utf-8", "surrogatepass")  # shown even when extraction fails
        raise
    _note_calls(resolution)
    resolution.options = known + fetched.options
    if resuming:  # the pages read before, then these: one JSON list again
        added = ",".join(fetched.page_texts).encode("utf-8", "surrogatepass")
        body, pages = after.body[:-1] + b"," + added + b"]", after.pages + len(fetched.page_texts)
    else:
        body, pages = fetched.text.encode(fetched.encoding, "surrogatepass"), len(fetched.page_texts)
    paged = reading is QUERY and item.pagination != Pagination.NONE  # a lookup is one call
    resolution.raw_body = body
    resolution.entry = cache.Entry(body=body, paged=paged, pages=pages, following=fetched.following, end=fetched.end)
    _note_extent(item, resolution, resolution.entry)


def _note_calls(resolution: Resolution) -> None:
    """The first call's status and URL, and the time of all of them, for the preview's summary."""
    if resolution.pages:
        first = resolution.pages[0]
        resolution.upstream_status = resolution.pages[-1].status
        resolution.called_url = first.url
        resolution.elapsed_seconds = sum(page.seconds or 0 for page in resolution.pages)


def _store(item, key: str, resolution: Resolution, *, extended: bool) -> None:
    """Cache the answer: for its lifetime, or, for pages added to a cached entry, for what the entry had left (its
    first page is that old)."""
    seconds = cache.seconds_left(item, key) if extended else cache.ttl_seconds(item)
    if seconds is None:
        return  # the entry extended expired meanwhile: its pages would outlive it
    if not cache.store_entry(key, resolution.entry, seconds):
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
