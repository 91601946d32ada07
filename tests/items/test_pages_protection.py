"""The pages of one resolution and the API's protection: each page is admitted and finished on its own (a token and
a slot each, given back before the next page), so the limits, a pause and an open breaker apply between pages, and
each page is counted. Real Redis (per process where named) and a real local HTTPS API."""

import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from datasources.protection_status import breaker_state, status_for
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


def test_each_page_is_counted_in_the_health_figures(start_server, redis):
    server = start_server({"/api/items": numbered_pages(2)})
    item = limited_item(server)
    resolve_item(item=item, use_cache=False)
    health = status_for(item.datasource).health
    assert health.calls == 3 and health.samples == 3 and health.errors == 0


def test_each_page_takes_the_only_slot_and_gives_it_back_before_the_next(start_server, redis, settings):
    """One call at once and no wait: a page still holding its slot when the next asks would get it refused."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    in_use = []
    server = start_server({})
    item = limited_item(server, concurrent_calls=1, max_pages=4)
    server.routes["/api/items"] = numbered_pages(3, on_page=lambda page: in_use.append(status_for(item.datasource)))
    resolution = resolve_item(item=item, use_cache=False)
    assert len(resolution.options) == 6 and len(server.requests) == 4
    assert [status.in_flight for status in in_use] == [1, 1, 1, 1]  # the page's own slot, while it was answered
    assert status_for(item.datasource).in_flight == 0


def test_a_pause_set_while_a_page_is_answered_stops_the_next_page(start_server, redis):
    """Another caller is told to pause (Retry-After) while page 1 is answered: page 2 is refused without being sent,
    and the error names page 2."""
    server = start_server({"/api/busy": srv.answer(429, b"{}", headers=[("Retry-After", "30")])})
    item = limited_item(server, concurrent_calls=0)
    server.routes["/api/items"] = numbered_pages(3, on_page=lambda page: call(item.datasource, "/busy"))
    with pytest.raises(errors.UpstreamPaused) as raised:
        resolve_item(item=item, use_cache=False)
    assert raised.value.message.startswith("Page 2 failed:")
    assert len(server.arrivals("/api/items")) == 1 and len(server.arrivals("/api/busy")) == 1


def test_a_failing_page_is_counted_after_the_pages_before_it(start_server, redis, settings):
    """The breaker sees page 1's answer, then page 2's failure, in that order: one failure in a row (the other
    order would leave none, the answer resetting the count)."""
    settings.CONNECT_BREAKER_FAILURES = 3
    server = start_server({"/api/items": numbered_pages(3, failing=2)})
    item = limited_item(server)
    with pytest.raises(errors.HTTPStatusError):
        resolve_item(item=item, use_cache=False)
    breaker = breaker_state(item.datasource)
    assert breaker.state == "closed" and breaker.failures == 1
    status = status_for(item.datasource)
    assert status.health.calls == 2 and status.health.errors == 1 and status.in_flight == 0


def test_over_the_rate_each_page_waits_for_its_token(start_server, redis, settings):
    """A bucket of 2 (2 calls per second) and 4 pages: page 3 waits for its turn (the bucket refills), and the rate
    holds across the resolution."""
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
def test_pages_keep_the_limits_with_redis_and_per_process(start_server, settings, shared):
    if not shared:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    server = start_server({"/api/items": numbered_pages(2)})
    item = limited_item(server, calls_per_second=4, concurrent_calls=1, max_pages=5)
    assert len(resolve_item(item=item, use_cache=False).options) == 4  # 3 calls of the 4 tokens
    # One token left: the next resolution's page 1 goes, its page 2 is refused (no wait), naming the page.
    with pytest.raises(errors.RateLimited) as raised:
        resolve_item(item=item, use_cache=False)
    assert raised.value.message.startswith("Page 2 failed:") and len(server.requests) == 4
    assert status_for(item.datasource).shared is shared
    assert status_for(item.datasource).in_flight == 0


def test_pages_do_not_keep_other_callers_waiting(start_server, redis, settings):
    """With 3 calls per second, a resolution of up to 5 pages takes one token per page sent: another caller with no
    wait is still admitted during it."""
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


def fail_elsewhere(datasource, times: int) -> None:
    """What other callers' failures do meanwhile (threshold 3: the breaker opens)."""
    for _ in range(times):
        assert isinstance(call(datasource, "/boom"), errors.HTTPStatusError)


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-process"])
def test_an_answer_from_before_the_breaker_opened_does_not_close_it(start_server, settings, shared):
    """Page 1 answers; while it is answered other callers' failures open the breaker; page 1's answer must not
    close it, and page 2 is refused."""
    if not shared:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CONNECT_BREAKER_FAILURES = 3
    server = start_server({"/api/boom": srv.answer(500, b"{}")})
    item = limited_item(server, concurrent_calls=0)
    server.routes["/api/items"] = numbered_pages(3, on_page=lambda page: fail_elsewhere(item.datasource, 3))
    with pytest.raises(errors.CircuitOpen) as raised:
        resolve_item(item=item, use_cache=False)
    assert raised.value.message.startswith("Page 2 failed:")
    assert breaker_state(item.datasource).state == "open"


def test_a_slow_answer_from_before_the_breaker_opened_does_not_close_it(start_server, redis, settings):
    settings.CONNECT_BREAKER_FAILURES = 3
    server = start_server({"/api/boom": srv.answer(500, b"{}")})
    datasource = make_datasource(name="Slow API", base_url=server.url("/api"))

    def slow_ok(handler):
        fail_elsewhere(datasource, 3)
        srv.send(handler, 200, b'{"ok": true}')

    server.routes["/api/slow"] = slow_ok
    assert call(datasource, "/slow") == "ok"
    assert breaker_state(datasource).state == "open"


def test_redis_gone_while_a_page_is_answered_the_next_pages_go_on_in_this_process(start_server, own_redis, caplog):
    """Redis stops while page 1 is answered: its finish and the next pages go to this process's memory, the
    resolution still answers, and the page says the figures are this process's own."""
    server = start_server({})
    item = limited_item(server, calls_per_second=10, concurrent_calls=1, max_pages=5)
    server.routes["/api/items"] = numbered_pages(2, on_page=lambda page: page == 1 and own_redis.stop())
    with caplog.at_level(logging.WARNING, logger="connect.protection"):
        resolution = resolve_item(item=item, use_cache=False)
    assert len(resolution.options) == 4 and len(server.requests) == 3
    assert "Redis did not answer (ConnectionError)" in caplog.text
    status = status_for(item.datasource)
    assert status.shared is False and status.health.calls == 3 and status.in_flight == 0


def test_redis_forgetting_the_scripts_is_not_an_outage(start_server, own_redis):
    """SCRIPT FLUSH (or a restart that kept the connection's place): the next admission loads the scripts again
    and the call, its slot and its outcome stay in Redis; nothing falls back to this process's memory."""
    server = start_server({"/api/ok": srv.answer(), "/api/items": numbered_pages(2)})
    item = limited_item(server, calls_per_second=10, concurrent_calls=2)
    own_redis.client().script_flush()
    assert call(item.datasource, "/ok") == "ok"
    own_redis.client().script_flush()
    assert [o["key"] for o in resolve_item(item=item, use_cache=False).options] == ["1a", "1b", "2a", "2b"]
    status = status_for(item.datasource)
    assert status.shared and status.health.calls == 4 and status.in_flight == 0
