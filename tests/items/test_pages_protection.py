"""The pages of one resolution are one run for the API's protection (protection.calls_in_a_run): one slot, tokens
taken once for the pages that may follow and the unused ones given back, each page still counted, a pause or an
open breaker still seen once the run's admission is old. Real Redis (per process where named) and a real local
HTTPS API."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from datasources import protection
from datasources.protection import store
from datasources.services import errors
from items.services import resolve_item
from tests.conftest import make_datasource
from tests.items.conftest import make_item
from tests.support import https_server as srv
from tests.support.protection import call, limited_datasource

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]


def numbered_pages(count: int, *, failing: int | None = None, on_page=None):
    """/api/items?page=N: two entries per page up to `count`, then an empty page; page `failing` answers 500."""

    def route(handler):
        page = int(parse_qs(urlsplit(handler.path).query)["page"][0])
        if on_page is not None:
            on_page(page)
        if page == failing:
            return srv.send(handler, 500, b'{"error": "down"}')
        results = [{"id": f"{page}{letter}"} for letter in "ab"] if page <= count else []
        srv.send(handler, 200, json.dumps({"results": results}).encode())

    return route


def limited_item(server, *, calls_per_second=10, concurrent_calls=1, max_pages=5, name="Paged"):
    datasource = limited_datasource(
        server.url("/api"), calls_per_second=calls_per_second, concurrent_calls=concurrent_calls, name=f"{name} API"
    )
    return make_item(
        datasource,
        name=name,
        query="/items",
        list_path="results",
        key_field="id",
        label_template="id",
        pagination="page",
        page_parameter="page",
        page_start=1,
        page_step=1,
        max_pages=max_pages,
    )


def tokens_left(redis, datasource) -> float:
    return float(redis.hget(store.keys_of(datasource.pk)["bucket"], "tokens"))


def test_a_run_takes_its_tokens_once_and_gives_back_those_it_did_not_use(start_server, redis):
    server = start_server({"/api/items": numbered_pages(2)})  # pages 1, 2 and the empty page 3: 3 of 5 used
    item = limited_item(server, calls_per_second=10, max_pages=5)
    resolution = resolve_item(item=item, use_cache=False)
    assert [o["key"] for o in resolution.options] == ["1a", "1b", "2a", "2b"]
    assert len(server.requests) == 3
    # 10 tokens, 3 calls: 7 left (plus what refilled meanwhile), not 5 (the 5 taken for the run, kept).
    assert 7 <= tokens_left(redis, item.datasource) < 8
    assert redis.zcard(store.keys_of(item.datasource.pk)["slots"]) == 0  # the run's slot is given back


def test_each_page_is_counted_in_the_health_figures(start_server, redis):
    server = start_server({"/api/items": numbered_pages(2)})
    item = limited_item(server)
    resolve_item(item=item, use_cache=False)
    health = protection.status_for(item.datasource).health
    assert health.calls == 3 and health.samples == 3 and health.errors == 0


def test_the_run_holds_one_slot_and_never_waits_for_its_own(start_server, redis, settings, monkeypatch):
    """One call at once and no wait: a page asking for a slot of its own would be refused while the run holds it.
    Every page is admitted again here (no fresh window), so each admission runs while the run holds its slot."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    monkeypatch.setattr(protection, "RUN_FRESH_SECONDS", 0)
    in_use = []
    server = start_server({})
    item = limited_item(server, concurrent_calls=1, max_pages=4)
    slots = store.keys_of(item.datasource.pk)["slots"]
    server.routes["/api/items"] = numbered_pages(3, on_page=lambda page: in_use.append(redis.zcard(slots)))
    resolution = resolve_item(item=item, use_cache=False)
    assert len(resolution.options) == 6 and len(server.requests) == 4
    assert in_use == [1, 1, 1, 1]  # one slot, the run's, while each page was being answered
    assert redis.zcard(slots) == 0


def test_a_pause_set_between_pages_stops_the_run_once_its_admission_is_old(start_server, redis, monkeypatch):
    """Another process is told to pause (Retry-After) while page 1 is answered: page 2, admitted again because
    the run's admission is no longer fresh, is refused without being sent, and the error names page 2."""
    monkeypatch.setattr(protection, "RUN_FRESH_SECONDS", 0)
    server = start_server({})
    item = limited_item(server)
    pause_key = store.keys_of(item.datasource.pk)["pause"]
    server.routes["/api/items"] = numbered_pages(3, on_page=lambda page: redis.set(pause_key, "1", px=30_000))
    with pytest.raises(errors.UpstreamPaused) as raised:
        resolve_item(item=item, use_cache=False)
    assert len(server.requests) == 1
    assert raised.value.message.startswith("Page 2 failed:")
    assert 8 <= tokens_left(redis, item.datasource) < 9.5  # one call made: the others' tokens were given back


def test_within_the_fresh_window_the_next_pages_ask_nothing(start_server, redis, monkeypatch):
    """What the fresh window is for: pages that follow at once are sent on the run's first admission."""
    asked = []
    admit_soon = store.RedisStore.admit_soon
    monkeypatch.setattr(
        store.RedisStore, "admit_soon", lambda self, *a, **kw: asked.append(kw["want"]) or admit_soon(self, *a, **kw)
    )
    server = start_server({"/api/items": numbered_pages(2)})
    item = limited_item(server, max_pages=5)
    resolve_item(item=item, use_cache=False)
    assert asked == [5] and len(server.requests) == 3


def test_a_failing_page_is_counted_after_the_pages_before_it(start_server, redis, settings):
    """The breaker sees page 1's answer, then page 2's failure, in that order: one failure in a row (the other
    order would leave none, the answer resetting the count)."""
    settings.CONNECT_BREAKER_FAILURES = 3
    server = start_server({"/api/items": numbered_pages(3, failing=2)})
    item = limited_item(server)
    with pytest.raises(errors.HTTPStatusError):
        resolve_item(item=item, use_cache=False)
    breaker = protection.breaker_state(item.datasource)
    assert breaker.state == "closed" and breaker.failures == 1
    health = protection.status_for(item.datasource).health
    assert health.calls == 2 and health.errors == 1
    assert redis.zcard(store.keys_of(item.datasource.pk)["slots"]) == 0


def test_over_the_rate_a_run_takes_what_the_bucket_holds_and_asks_again_for_the_rest(start_server, redis, settings):
    """A bucket of 2 (2 calls per second) and 4 pages: a run never takes more than half the bucket, so each page
    asks for its token; page 3 waits for its turn (the bucket refills), and the rate holds across the run."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 5
    server = start_server({"/api/items": numbered_pages(3)})
    item = limited_item(server, calls_per_second=2, concurrent_calls=0, max_pages=4)
    started = time.monotonic()
    resolution = resolve_item(item=item, use_cache=False)
    assert len(resolution.options) == 6 and len(server.requests) == 4
    arrivals = server.arrivals("/api/items")
    assert arrivals[2] - started >= 0.4  # page 3 had to wait for a token: 2 per second, 2 at first
    assert arrivals[3] - arrivals[2] >= 0.4


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-process"])
def test_runs_keep_the_limits_with_redis_and_per_process(start_server, settings, shared):
    if not shared:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    server = start_server({"/api/items": numbered_pages(2)})
    item = limited_item(server, calls_per_second=4, concurrent_calls=1, max_pages=5)
    assert len(resolve_item(item=item, use_cache=False).options) == 4  # 3 calls of the 4 tokens
    # One token left: the next run's page 1 goes, its page 2 is refused (no wait), naming the page.
    with pytest.raises(errors.RateLimited) as raised:
        resolve_item(item=item, use_cache=False)
    assert raised.value.message.startswith("Page 2 failed:") and len(server.requests) == 4
    assert protection.status_for(item.datasource).shared is shared
    assert protection.status_for(item.datasource).in_flight == 0


def test_a_run_takes_at_most_half_the_bucket(start_server, redis, settings):
    """Others are not kept waiting by a run's reservation: with 3 calls per second, a run of up to 5 pages holds
    no token beyond its own call's, so another caller with no wait is still admitted during the run."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    others = []
    server = start_server({"/api/one": srv.answer()})
    item = limited_item(server, calls_per_second=3, concurrent_calls=0, max_pages=5)

    def on_page(page):
        if page == 1:
            others.append(call(item.datasource, "/one"))

    server.routes["/api/items"] = numbered_pages(1, on_page=on_page)
    resolve_item(item=item, use_cache=False)
    assert others == ["ok"]


def open_breaker_elsewhere(datasource, shared: bool, redis=None):
    """What another process's failures leave: the breaker open from now, for 30 s."""
    now = time.time()
    state = {"failures": 3, "open_until": now + 30, "opened_at": now}
    if shared:
        redis.hset(store.keys_of(datasource.pk)["breaker"], mapping={k: str(v) for k, v in state.items()})
    else:
        store.stores.local._state(datasource.pk).breaker.update(state)


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-process"])
def test_an_answer_from_before_the_breaker_opened_does_not_close_it(start_server, settings, shared):
    """Page 1 answers; while page 2 is on its way the breaker opens (other processes' failures); page 2 fails.
    Page 1's answer, sent with page 2's failure when it came, must not close the breaker the others opened."""
    if not shared:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CONNECT_BREAKER_FAILURES = 3
    raw = None
    if shared:
        from django_redis import get_redis_connection

        raw = get_redis_connection("default")
    server = start_server({})
    item = limited_item(server)
    server.routes["/api/items"] = numbered_pages(
        3, failing=2, on_page=lambda page: page == 2 and open_breaker_elsewhere(item.datasource, shared, raw)
    )
    with pytest.raises(errors.HTTPStatusError):
        resolve_item(item=item, use_cache=False)
    assert protection.breaker_state(item.datasource).state == "open"


def test_a_slow_answer_from_before_the_breaker_opened_does_not_close_it(start_server, redis, settings):
    settings.CONNECT_BREAKER_FAILURES = 3
    server = start_server({})
    datasource = make_datasource(name="Slow API", base_url=server.url("/api"))

    def slow_ok(handler):
        open_breaker_elsewhere(datasource, True, redis)
        srv.send(handler, 200, b'{"ok": true}')

    server.routes["/api/slow"] = slow_ok
    assert call(datasource, "/slow") == "ok"
    assert protection.breaker_state(datasource).state == "open"


def test_redis_gone_during_a_run_gives_nothing_of_it_to_this_process(start_server, redis, settings):
    """Redis stops answering after page 1 (here: marked down): the run goes on in this process's memory, with its
    own slot and tokens there; the tokens it took in Redis are not given back to this process's bucket."""
    server = start_server({})
    item = limited_item(server, calls_per_second=10, concurrent_calls=1, max_pages=5)
    server.routes["/api/items"] = numbered_pages(
        2, on_page=lambda page: page == 1 and store.stores.failed("test: Redis marked down")
    )
    resolution = resolve_item(item=item, use_cache=False)
    assert len(resolution.options) == 4 and len(server.requests) == 3
    local = store.stores.local._state(item.datasource.pk)
    assert local.tokens == 10 - 4 + 2  # pages 2 and 3 here: 4 taken (the pages left), 2 used, 2 given back
    assert local.slots == {}
    assert tokens_left(redis, item.datasource) == 5  # what page 1 took in Redis stays taken


def test_redis_forgetting_the_scripts_is_not_an_outage(start_server, redis):
    """SCRIPT FLUSH (or a restart that kept the connection's place): the next admission loads the scripts again
    and the call, its slot and its outcome stay in Redis; nothing falls back to this process's memory."""
    server = start_server({"/api/ok": srv.answer(), "/api/items": numbered_pages(2)})
    item = limited_item(server, calls_per_second=10, concurrent_calls=2)
    redis.script_flush()
    assert call(item.datasource, "/ok") == "ok"
    redis.script_flush()
    assert [o["key"] for o in resolve_item(item=item, use_cache=False).options] == ["1a", "1b", "2a", "2b"]
    assert store.stores.current().shared  # Redis was never taken for down
    status = protection.status_for(item.datasource)
    assert status.shared and status.health.calls == 4 and status.in_flight == 0
