"""Redis Sentinel, real: a primary, a replica and a Sentinel on 127.0.0.1 (password-protected), Connect's caches
configured as REDIS_SENTINELS would (connect_project/caches.py). Options are served through it, and when the primary
stops, Sentinel promotes the replica and options go on being answered: uncached during the switch, cached after."""

import logging
import threading
import time
import uuid
from collections import Counter

import pytest
import redis
from django.contrib.auth import get_user_model
from prometheus_client import REGISTRY

from connect_project.caches import redis_caches
from datasources.protection import limits
from datasources.services import oauth
from items.models import Item
from items.services import cache as item_cache
from operations import metrics
from tests.conftest import assert_no_secret, make_datasource
from tests.support import https_server as srv
from tests.support.connect_server import start_redis
from tests.support.protection import at_once, call, code_of, limited_datasource, most_in_any_window

from .answers import ISSUES_BODY

REDIS_PASSWORD = "s3cr3t-REDIS-PASSWORD-2f7a"

pytestmark = pytest.mark.django_db


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what} after {timeout} s")


class SentinelSetup:
    def __init__(self, workdir):
        self.name = f"connect-test-{uuid.uuid4().hex[:8]}"  # one per test: django-redis keeps pools per name
        self.servers = []
        # No 5-second wait before the replica's first sync (repl-diskless-sync-delay).
        self.primary = self._start(workdir / "primary", "--repl-diskless-sync-delay", "0", password=REDIS_PASSWORD)
        self.replica = self._start(
            workdir / "replica",
            "--replicaof",
            "127.0.0.1",
            str(self.primary.port),
            "--masterauth",
            REDIS_PASSWORD,
            password=REDIS_PASSWORD,
        )
        wait_for(
            lambda: self.replica.client().info("replication").get("master_link_status") == "up", "the replica to sync"
        )
        config = workdir / "sentinel.conf"
        config.write_text(
            f"sentinel monitor {self.name} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel auth-pass {self.name} {REDIS_PASSWORD}\n"
            f"sentinel down-after-milliseconds {self.name} 500\n"
            f"sentinel failover-timeout {self.name} 2000\n"
        )
        self.sentinel = self._start(workdir / "sentinel", sentinel_config=config)
        wait_for(lambda: self.known_replicas(), "Sentinel to know the replica")

    def _start(self, workdir, *args, **options):
        server = start_redis(workdir, *args, **options)
        self.servers.append(server)
        return server

    def known_replicas(self) -> list:
        replicas = self.sentinel.client().sentinel_slaves(self.name)
        return [r for r in replicas if not r.get("is_sdown") and not r.get("is_disconnected")]

    def primary_port(self) -> int:
        return int(self.sentinel.client().sentinel_get_master_addr_by_name(self.name)[1])

    def caches(self) -> dict:
        return redis_caches(
            sentinels=[f"127.0.0.1:{self.sentinel.port}"], sentinel_master=self.name, password=REDIS_PASSWORD
        )

    def stop(self):
        for server in reversed(self.servers):
            server.stop()


@pytest.fixture
def sentinel(tmp_path, settings):
    setup = SentinelSetup(tmp_path)
    try:
        settings.CACHES = setup.caches()
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
        settings.CONNECT_CACHE_RETRY_SECONDS = 0.2  # after an error, the cache is tried again soon
        yield setup
    finally:
        setup.stop()


@pytest.fixture
def ask(client, start_server, trust_test_ca, sentinel):
    """ask(q) -> the options endpoint's JSON answer, for a signed-in user; `.api` counts the upstream's requests."""
    api = start_server({"/api/search": srv.answer(200, ISSUES_BODY)})
    item = Item(
        name="Issues",
        datasource=make_datasource(base_url=api.url("/api")),
        query="/search?q=$userInput",
        list_path="issues",
        key_field="key",
        label_template="{key}",
    )
    item.full_clean()
    item.save()
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))

    def options(q: str) -> dict:
        response = client.get(f"/api/items/{item.pk}/options", {"q": q})
        assert response.status_code == 200, response.content
        assert [o["key"] for o in response.json()["options"]] == ["OPS-1", "OPS-2"]
        return response.json()

    options.api = api
    return options


def test_options_are_cached_through_sentinel(ask, sentinel):
    assert ask("printer")["cached"] is False
    assert ask("printer")["cached"] is True
    assert len(ask.api.requests) == 1
    keys = sentinel.primary.client().keys(f"*{item_cache.KEY_PREFIX}:*")
    assert keys, "the answer is stored on the primary Sentinel names"


def test_the_oauth_renewal_lock_is_held_in_redis_through_sentinel(sentinel):
    datasource = make_datasource(name="CC")
    with oauth.renewal_lock(datasource.pk):
        assert sentinel.primary.client().keys(f"*oauth-renew:{datasource.pk}")
    assert not sentinel.primary.client().keys(f"*oauth-renew:{datasource.pk}")


def test_options_go_on_through_a_failover_uncached_during_the_switch_cached_after(ask, sentinel, caplog):
    assert ask("printer")["cached"] is False
    assert ask("printer")["cached"] is True
    sentinel.primary.shutdown()
    during = []

    def cached_again_after_failover():
        during.append(ask("printer")["cached"])
        return sentinel.primary_port() == sentinel.replica.port and during[-1] is True

    wait_for(cached_again_after_failover, "options cached again after the failover", timeout=60)
    assert False in during, "answered uncached while no primary answered"
    assert ask("printer")["cached"] is True and ask("after-failover")["cached"] is False
    assert ask("after-failover")["cached"] is True
    assert_no_secret(caplog.text + metrics.exposition().decode(), secrets=(REDIS_PASSWORD,))


RATE, BURST, AT_ONCE = 10, 10, 3  # the datasource's limits (the burst: one second's worth of calls)


def most_at_once(intervals: list[tuple[float, float]], *, since: float) -> int:
    """The most calls the API worked on at once, at any moment from `since` on."""
    moments = [since] + [began for began, _ended in intervals if began >= since]
    return max(sum(1 for began, ended in intervals if began <= moment < ended) for moment in moments)


def test_after_a_failover_every_process_is_back_on_the_shared_limits_within_2_s(
    sentinel, start_server, trust_test_ca, other_process, settings, caplog
):
    """Two Connect processes (6 threads each) call a datasource limited to 10 calls per second and 3 at once, far
    over its limits, while the primary is killed. Until Sentinel has promoted the replica each process keeps the
    limits on its own; from 2 s after the promotion the API sees the shared limits again (the token bucket's bound
    from then on, never more than 3 at once), and the slots the killed primary's calls held free themselves within
    their lease: the API has 3 calls at once again."""
    settings.CONNECT_CACHE_RETRY_SECONDS = 5.0  # the default (the protection tries Redis again sooner anyway)
    intervals, lock = [], threading.Lock()

    def work(handler):
        began = time.monotonic()
        handler.server.owner.stopping.wait(0.3)
        with lock:
            intervals.append((began, time.monotonic()))
        srv.send(handler, 200, b'{"ok": true}')

    server = start_server({"/api/work": work})
    datasource = limited_datasource(server.url("/api"), calls_per_second=RATE, concurrent_calls=AT_ONCE)
    load_seconds = 12.0
    sentinel_env = {
        "REDIS_SENTINELS": f"127.0.0.1:{sentinel.sentinel.port}",
        "REDIS_SENTINEL_MASTER": sentinel.name,
        "REDIS_PASSWORD": REDIS_PASSWORD,
    }
    other = other_process(datasource, "/work", threads=6, for_seconds=load_seconds, env_extra=sentinel_env)

    def keep_calling():
        until, codes = time.monotonic() + load_seconds, Counter()
        while time.monotonic() < until:
            codes[code_of(call(datasource, "/work"))] += 1
        return codes

    mine = []
    load = threading.Thread(target=lambda: mine.extend(at_once(6, keep_calling, before_release=other.go)))
    errors_before = REGISTRY.get_sample_value("connect_cache_errors_total", {"noticed_by": "protection"}) or 0
    with caplog.at_level(logging.WARNING, logger="connect.protection"):
        load.start()
        time.sleep(2.0)
        killed_at = time.monotonic()
        sentinel.primary.shutdown()
        while not promoted(sentinel) and time.monotonic() < killed_at + 30:
            time.sleep(0.02)
        promoted_at = time.monotonic()
        load.join(timeout=60)
    theirs = other.results()

    settled = promoted_at + 2.0
    after = sorted(began for began, _ended in intervals if began >= settled)
    per_window = most_in_any_window(after, 1.0)
    switching = [began for began, _ended in intervals if killed_at <= began < settled]
    figures = (
        f"promoted {promoted_at - killed_at:.1f} s after the kill; from the kill to 2 s after the promotion, at most "
        f"{most_in_any_window(switching, 1.0)} calls in any 1 s and {most_at_once(intervals, since=killed_at)} at "
        f"once; from then on, {len(after)} calls in {max(after) - settled:.1f} s, at most {per_window} in any 1 s "
        f"and {most_at_once(intervals, since=settled)} at once"
    )
    print(figures)
    assert len(after) > 20, figures
    for count, moment in enumerate(after, start=1):  # the shared token bucket: a burst plus the rate from then on
        assert count <= BURST + RATE * (moment - settled) + 1, (count, moment - settled, figures)
    assert per_window <= BURST + RATE, figures
    assert most_at_once(intervals, since=settled) <= AT_ONCE, figures
    # The killed primary's slots, left on the replica without their release, ended with their lease.
    assert most_at_once(intervals, since=killed_at + limits.LEASE_SECONDS + 1) == AT_ONCE, figures
    codes = Counter({"ok": 0}) + sum(mine, Counter()) + Counter(r["code"] for r in theirs)
    assert set(codes) <= {"ok", "rate_limited"} and codes["ok"] == len(intervals), codes
    # Redis failing was never silent: counted, and said once (per interval) in this process.
    errors_after = REGISTRY.get_sample_value("connect_cache_errors_total", {"noticed_by": "protection"})
    assert errors_after > errors_before
    warned = [r for r in caplog.records if r.name == "connect.protection" and r.levelno == logging.WARNING]
    assert len(warned) == 1 and "kept per process" in warned[0].getMessage()


def promoted(sentinel) -> bool:
    try:
        role = sentinel.replica.client().info("replication")["role"]
        return sentinel.primary_port() == sentinel.replica.port and role == "master"
    except redis.RedisError:
        return False
