"""A Redis outage: requests are still answered (uncached, sessions from the database), /readyz names "redis", and
the log says so once per interval per process on "connect.cache", whoever noticed it, without a traceback."""

import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model

from connect_project.caches import redis_caches
from datasources.services import oauth
from items.models import Item
from tests.conftest import make_datasource
from tests.support import https_server as srv
from tests.support.connect_server import connect_env, http_session, run_connect_tasks, start_connect, start_redis

from .answers import ISSUES_BODY


def warnings_of(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "connect.cache" and r.levelno == logging.WARNING]


@pytest.fixture
def stopped_redis(tmp_path):
    """A Redis of this test's own, started and stopped again: its port no longer answers."""
    server = start_redis(tmp_path / "redis")
    server.shutdown()
    return server


@pytest.fixture
def redis_down(settings, stopped_redis):
    settings.CACHES = redis_caches(url=stopped_redis.url)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    return stopped_redis


@pytest.fixture
def item(db, start_server, trust_test_ca):
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
    return item


@pytest.fixture
def member_client(client, db):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


def test_an_outage_noticed_by_the_item_cache_sessions_and_oauth_lock_is_one_warning(
    member_client, item, redis_down, caplog
):
    caplog.set_level(logging.DEBUG)
    answer = member_client.get(f"/api/items/{item.pk}/options", {"q": "printer"})  # session and item cache
    with oauth.renewal_lock(item.datasource_id):  # the OAuth renewal lock
        pass
    assert answer.status_code == 200 and answer.json()["options"] and answer.json()["cached"] is False
    warnings = warnings_of(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "Redis cache unavailable (ConnectionError" in warnings[0].getMessage()
    assert str(redis_down.port) not in warnings[0].getMessage()
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("noticer", ["session", "oauth_lock"])
def test_each_noticer_alone_reports_the_outage(member_client, item, redis_down, caplog, noticer):
    caplog.set_level(logging.WARNING)
    if noticer == "session":
        member_client.get("/datasources/")  # reads the session only
    else:
        with oauth.renewal_lock(item.datasource_id):
            pass
    assert len(warnings_of(caplog)) == 1


def test_django_redis_own_error_records_are_dropped_after_being_reported(member_client, redis_down, caplog):
    caplog.set_level(logging.WARNING)
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    ignored = logging.getLogger("connect.cache.ignored")
    ignored.addHandler(handler)
    try:
        member_client.get("/datasources/")
    finally:
        ignored.removeHandler(handler)
    assert seen == []
    assert [r.getMessage() for r in warnings_of(caplog)][0].startswith(
        "Redis cache unavailable (ConnectionError, noticed by Django's cache (sessions))"
    )


def test_the_warning_comes_again_after_the_interval_counting_what_it_held_back(
    member_client, item, redis_down, settings, caplog
):
    settings.CONNECT_CACHE_WARNING_INTERVAL_SECONDS = 0.2
    caplog.set_level(logging.WARNING)
    member_client.get("/datasources/")
    member_client.get("/datasources/")
    assert len(warnings_of(caplog)) == 1
    time.sleep(0.3)
    member_client.get("/datasources/")
    warnings = warnings_of(caplog)
    assert len(warnings) == 2
    assert re.search(
        r"errors since the last report: (\d+) in the last 0\.\d s \(Django's cache \(sessions\) ×\1\)\.$",
        warnings[1].getMessage(),
    ), warnings[1].getMessage()


# --- real gunicorn workers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outage_server(tmp_path_factory, sqlite_url, static_root, ca_file, module_upstream):
    """Two Connect instances (JSON log lines) sharing a Redis of their own, which is stopped after one cached answer."""
    workdir = tmp_path_factory.mktemp("outage")
    api = module_upstream({"/search": srv.answer(200, ISSUES_BODY)})
    redis_server = start_redis(workdir / "redis")
    servers = []
    try:
        env = connect_env(
            workdir,
            database_url=sqlite_url,
            redis_url=redis_server.url,
            static_root=static_root,
            ca_bundle=ca_file,
            CONNECT_LOG_FORMAT="json",
        )
        cookie, item = run_connect_tasks(
            env,
            ("sign_in", {"username": "filler"}),
            (
                "create_item",
                {
                    "base_url": api.url("/"),
                    "query": "/search?q=$userInput",
                    "limits": {"calls_per_second": 0, "concurrent_calls": 0},  # the load below is not refused
                },
            ),
        )
        for number in range(2):
            servers.append(start_connect(workdir / f"instance-{number}", env))
            servers[-1].session.cookies.set(cookie["name"], cookie["value"])
        path = f"/api/items/{item['item']}/options"
        servers[0].get(path, params={"q": "printer"})
        assert servers[1].get(path, params={"q": "printer"}).json()["cached"] is True
        assert [server.get("/readyz").json() for server in servers] == [{"status": "ready"}] * 2
        redis_server.shutdown()
        yield {"server": servers[0], "servers": servers, "path": path}
    finally:
        for server in servers:
            server.stop()
        redis_server.stop()


def test_readyz_is_200_degraded_naming_redis_when_it_is_stopped(outage_server):
    response = outage_server["server"].get("/readyz", headers={"Cookie": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "degraded": ["redis"]}


def test_under_load_in_an_outage_every_instance_stays_ready_degraded(outage_server):
    """The load balancer's view of a Redis outage: every host answers /readyz 200 while options are asked."""
    servers, stop = outage_server["servers"], threading.Event()

    def load(number):
        answers = []
        with http_session() as session:
            session.cookies.update(servers[0].session.cookies)
            while not stop.is_set():
                url = servers[number % 2].url(outage_server["path"])
                answers.append(session.get(url, params={"q": f"load-{number}-{len(answers)}"}, timeout=30).status_code)
        return answers

    def probe(server):
        answers = []
        with http_session() as session:
            for _ in range(20):
                response = session.get(server.url("/readyz"), timeout=30)
                answers.append((response.status_code, response.json()))
                time.sleep(0.1)
        return answers

    with ThreadPoolExecutor(6) as pool:
        loads = [pool.submit(load, number) for number in range(4)]
        probes = [pool.submit(probe, server) for server in servers]
        ready = [probe.result() for probe in probes]
        stop.set()
        options = [status for answers in loads for status in answers.result()]
    degraded = (200, {"status": "degraded", "degraded": ["redis"]})
    assert ready == [[degraded] * 20, [degraded] * 20]
    assert options and set(options) == {200}
    for server in servers:
        assert "/readyz" not in server.stderr_path.read_text()  # no django.request line for the probe


def test_fifty_requests_in_an_outage_are_answered_and_logged_once_per_process(outage_server):
    server = outage_server["server"]

    def ask(number):
        with http_session() as session:  # a connection each: the requests spread over the workers
            session.cookies.update(server.session.cookies)
            return session.get(server.url(outage_server["path"]), params={"q": f"outage-{number % 5}"}, timeout=30)

    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(ask, range(50)))
    assert [a.status_code for a in answers] == [200] * 50
    assert all(a.json()["options"] and a.json()["cached"] is False for a in answers)
    time.sleep(0.2)
    lines = [json.loads(line) for line in server.stderr_path.read_text().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message", "process"} <= set(lines[0])
    warnings = [line for line in lines if line["logger"] == "connect.cache" and line["level"] == "WARNING"]
    per_process = {}
    for line in warnings:
        per_process[line["process"]] = per_process.get(line["process"], 0) + 1
    assert warnings and max(per_process.values()) == 1, warnings
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert "Traceback" not in server.output()
