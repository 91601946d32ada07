"""A datasource without limits (protection/recent.py): this process's calls reuse its last admission for
RUN_FRESH_SECONDS, as a run's pages do; its own failures, pauses and probes are seen at once, other processes'
pause or breaker once that admission is old. Real Redis and a real local HTTPS API."""

import threading
import time

import pytest

from datasources import protection
from datasources.protection import store
from datasources.services import errors
from tests.support import https_server as srv
from tests.support.protection import call, limited_datasource, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca", "redis")]

FRESH = 0.6  # the window in these tests (longer than the default 0.25 s: a few HTTPS calls fit in it)


@pytest.fixture
def admissions(monkeypatch):
    """The admissions sent to Redis, as the datasource ids they were for."""
    asked = []
    admit_soon, admit = store.RedisStore.admit_soon, store.RedisStore.admit
    monkeypatch.setattr(
        store.RedisStore,
        "admit_soon",
        lambda self, datasource_id, *a, **kw: asked.append(datasource_id) or admit_soon(self, datasource_id, *a, **kw),
    )
    monkeypatch.setattr(
        store.RedisStore,
        "admit",
        lambda self, datasource_id, *a, **kw: asked.append(datasource_id) or admit(self, datasource_id, *a, **kw),
    )
    monkeypatch.setattr(protection, "RUN_FRESH_SECONDS", FRESH)
    return asked


def test_calls_soon_after_an_admission_ask_nothing_and_are_each_counted(start_server, admissions):
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    assert [call(datasource, "/items") for _ in range(3)] == ["ok"] * 3
    assert admissions == [datasource.pk] and len(server.requests) == 3
    health = protection.status_for(datasource).health
    assert health.calls == 3 and health.samples == 3 and health.errors == 0

    time.sleep(FRESH + 0.05)
    assert call(datasource, "/items") == "ok"
    assert admissions == [datasource.pk] * 2  # an old admission is asked again


@pytest.mark.parametrize(
    "limits", [{"calls_per_second": 1000}, {"concurrent_calls": 50}, {"calls_per_second": 1000, "concurrent_calls": 50}]
)
def test_a_datasource_with_a_limit_asks_redis_for_every_call(start_server, admissions, limits):
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"), **limits)
    assert [call(datasource, "/items") for _ in range(3)] == ["ok"] * 3
    assert admissions == [datasource.pk] * 3


def test_one_datasource_s_admission_is_not_another_s(start_server, admissions):
    server = start_server({"/api/items": srv.answer()})
    first, second = (limited_datasource(server.url("/api"), name=name) for name in ("First", "Second"))
    assert [call(first, "/items"), call(second, "/items"), call(first, "/items")] == ["ok"] * 3
    assert admissions == [first.pk, second.pk]


def test_another_process_s_pause_is_seen_once_the_admission_is_old(start_server, redis, admissions):
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    assert call(datasource, "/items") == "ok"
    redis.set(store.keys_of(datasource.pk)["pause"], "1", px=30_000)  # another process was told Retry-After: 30
    time.sleep(FRESH + 0.05)
    refused = call(datasource, "/items")
    assert isinstance(refused, errors.UpstreamPaused) and 29 <= refused.retry_after <= 30
    assert len(server.requests) == 1
    # Refused: the next call asks again at once (still paused), not on an admission of its own from before.
    assert isinstance(call(datasource, "/items"), errors.UpstreamPaused)
    assert admissions == [datasource.pk] * 3


def test_another_process_s_open_breaker_is_seen_once_the_admission_is_old(start_server, redis, admissions):
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    assert call(datasource, "/items") == "ok"
    seconds, micros = redis.time()
    now = seconds + micros / 1e6
    redis.hset(
        store.keys_of(datasource.pk)["breaker"], mapping={"failures": 5, "open_until": now + 30, "opened_at": now}
    )
    time.sleep(FRESH + 0.05)
    assert isinstance(call(datasource, "/items"), errors.CircuitOpen)
    assert len(server.requests) == 1


def test_this_process_s_own_failure_is_seen_by_its_next_call_at_once(start_server, settings, admissions):
    settings.CONNECT_BREAKER_FAILURES = 1
    route = srv.once_then(srv.answer(500, b'{"error": "down"}'), srv.answer())
    server = start_server({"/api/items": route})
    datasource = limited_datasource(server.url("/api"))
    assert isinstance(call(datasource, "/items"), errors.HTTPStatusError)
    assert isinstance(call(datasource, "/items"), errors.CircuitOpen)  # within the window: asked again, refused
    assert len(server.requests) == 1


def test_this_process_s_own_retry_after_pauses_its_next_call_at_once(start_server, admissions):
    route = srv.once_then(srv.answer(200), srv.answer(429, b'{"error": "slow down"}', headers=[("Retry-After", "5")]))
    server = start_server({"/api/items": route})
    datasource = limited_datasource(server.url("/api"))
    assert call(datasource, "/items") == "ok"
    answered = call(datasource, "/items")  # admitted on the first call's admission, answered 429
    assert isinstance(answered, errors.HTTPStatusError) and answered.status_code == 429
    paused = call(datasource, "/items")
    assert isinstance(paused, errors.UpstreamPaused) and 4 <= paused.retry_after <= 5
    assert len(server.requests) == 2 and admissions == [datasource.pk] * 2


def test_a_probe_s_admission_is_not_reused(start_server, redis, admissions):
    """The breaker's open time is over: the next call is its one probe. While the probe is on its way, this
    process's other calls are refused (they ask Redis, which is waiting for the probe); once its success closes the
    breaker, calls go again."""
    server = start_server({"/api/items": srv.working(srv.answer(), seconds=0.5)})
    datasource = limited_datasource(server.url("/api"))
    seconds, micros = redis.time()
    now = seconds + micros / 1e6
    redis.hset(
        store.keys_of(datasource.pk)["breaker"], mapping={"failures": 5, "open_until": now - 1, "opened_at": now - 31}
    )
    probe = threading.Thread(target=lambda: results.append(call(datasource, "/items")))
    results = []
    probe.start()
    assert wait_for(lambda: server.in_flight == 1)  # the probe is being answered
    during = call(datasource, "/items")  # another thread's call, within the probe's admission's window
    probe.join(timeout=10)
    assert isinstance(during, errors.CircuitOpen) and results == ["ok"]
    assert protection.breaker_state(datasource).state == "closed"
    assert call(datasource, "/items") == "ok"
    assert len(server.requests) == 2 and admissions == [datasource.pk] * 3


def test_a_changed_setting_or_a_reset_forgets_the_admission(start_server, settings, admissions):
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    assert call(datasource, "/items") == "ok"
    settings.CONNECT_BREAKER_FAILURES = 7
    assert call(datasource, "/items") == "ok"
    protection.reset()
    assert call(datasource, "/items") == "ok"
    assert admissions == [datasource.pk] * 3


def test_the_pages_of_a_run_reuse_it_too(start_server, admissions, monkeypatch):
    """The second resolution's pages are sent on the first's admission (a window long enough for both here)."""
    from items.services import resolve_item
    from tests.items.conftest import make_item
    from tests.items.test_pages_protection import numbered_pages

    server = start_server({"/api/items": numbered_pages(2)})
    datasource = limited_datasource(server.url("/api"))
    item = make_item(
        datasource,
        name="Paged",
        query="/items",
        list_path="results",
        key_field="id",
        label_template="id",
        pagination="page",
        page_parameter="page",
        page_start=1,
        page_step=1,
        max_pages=5,
    )
    monkeypatch.setattr(protection, "RUN_FRESH_SECONDS", 30)
    for _ in range(2):
        assert len(resolve_item(item=item, use_cache=False).options) == 4
    assert admissions == [datasource.pk] and len(server.requests) == 6
    assert protection.status_for(datasource).health.calls == 6


def test_an_admission_sent_before_this_process_s_own_failure_is_not_kept(start_server, admissions):
    """Another thread's call failed while this admission was on its way: its "ok" predates the failure, so the
    next call asks again."""
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    admission = protection.Admission(datasource)  # sent
    protection.recent.forget(datasource.pk)  # what a failing call of another thread does meanwhile
    admission.wait()
    assert call(datasource, "/items") == "ok"
    assert admissions == [datasource.pk] * 2


def test_a_refusal_forgets_the_admission(start_server, redis, admissions):
    """A call refused by Redis (paused) while this process still has a fresh "ok" (another thread's, kept after
    this call's admission was sent): the next call asks again, and is refused too."""
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    redis.set(store.keys_of(datasource.pk)["pause"], "1", px=30_000)
    refused = protection.Admission(datasource)  # sent: Redis answers "paused"
    seconds, micros = redis.time()
    protection.recent.keep(
        datasource.pk,
        seconds + micros / 1e6,
        sent_at=time.monotonic(),
        epoch=protection.recent.epoch(datasource.pk),
        generation=refused.generation,
    )
    with pytest.raises(errors.UpstreamPaused):
        refused.wait()
    assert isinstance(call(datasource, "/items"), errors.UpstreamPaused)
    assert len(server.requests) == 0 and admissions == [datasource.pk] * 2


def test_an_ok_redis_gave_before_this_process_s_failure_was_written_is_not_kept(
    start_server, settings, monkeypatch, admissions
):
    """A failure opens the breaker (threshold 1). Before its outcome reaches Redis, another thread's admission is
    sent and answered "ok" (Redis ran it first): that "ok" is not kept, so the next call asks and is refused."""
    settings.CONNECT_BREAKER_FAILURES = 1
    server = start_server({"/api/items": srv.answer(500, b'{"error": "down"}')})
    datasource = limited_datasource(server.url("/api"))
    finish = store.RedisStore.finish

    def admitted_meanwhile(self, *outcomes, wait=False):
        if wait:
            protection.Admission(datasource).wait()  # "another thread", between the forget and the write
        return finish(self, *outcomes, wait=wait)

    monkeypatch.setattr(store.RedisStore, "finish", admitted_meanwhile)
    assert isinstance(call(datasource, "/items"), errors.HTTPStatusError)
    assert isinstance(call(datasource, "/items"), errors.CircuitOpen)
    assert len(server.requests) == 1 and admissions == [datasource.pk] * 3


def test_while_redis_is_down_the_admission_is_not_reused(start_server, monkeypatch, admissions):
    """Redis stops answering: this process keeps the rules in its own memory, and asks it on every call."""
    asked_here = []
    admit_soon = store.LocalStore.admit_soon
    monkeypatch.setattr(
        store.LocalStore,
        "admit_soon",
        lambda self, datasource_id, *a, **kw: (
            asked_here.append(datasource_id) or admit_soon(self, datasource_id, *a, **kw)
        ),
    )
    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    assert call(datasource, "/items") == "ok"
    store.stores.failed("test")
    assert [call(datasource, "/items"), call(datasource, "/items")] == ["ok", "ok"]
    assert admissions == [datasource.pk] and asked_here == [datasource.pk] * 2


def test_a_limit_set_meanwhile_is_enforced_at_once(start_server, admissions):
    from datasources.models import Datasource

    server = start_server({"/api/items": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    assert call(datasource, "/items") == "ok"
    Datasource.objects.filter(pk=datasource.pk).update(calls_per_second=1000)
    datasource.refresh_from_db()
    assert call(datasource, "/items") == "ok"
    assert admissions == [datasource.pk] * 2
