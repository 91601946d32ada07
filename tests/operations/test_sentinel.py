"""Redis Sentinel, real: a primary, a replica and a Sentinel on 127.0.0.1 (password-protected), Connect's caches
configured as REDIS_SENTINELS would (connect_project/caches.py). Options are served through it, and when the primary
stops, Sentinel promotes the replica and options go on being answered: uncached during the switch, cached after."""

import time
import uuid

import pytest
from django.contrib.auth import get_user_model

from connect_project.caches import redis_caches
from datasources.services import oauth
from items.models import Item
from items.services import cache as item_cache
from operations import metrics
from tests.conftest import assert_no_secret, make_datasource
from tests.support import https_server as srv
from tests.support.connect_server import start_redis

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
