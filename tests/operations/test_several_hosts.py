"""Several hosts: two independent gunicorn instances (the repository's gunicorn.conf.py, two workers each) on two ports,
sharing one PostgreSQL database (created here) and one Redis db, calling a real local HTTPS API. Connect's
cross-process guarantees must hold across them: single-flight misses, an edit seen at once, one token renewal.

PostgreSQL only (several servers on one SQLite file is not a deployment): these run in the suite's PostgreSQL leg
(DATABASE_URL=postgres://...) and are skipped, saying why, otherwise.
"""

import json
import os
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support import https_server as srv
from tests.support.connect_server import connect_env, http_session, run_connect_task, run_connect_tasks, start_connect

from .answers import ISSUES_BODY

SUITE_DATABASE_URL = os.environ.get("DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not SUITE_DATABASE_URL.startswith(("postgres://", "postgresql://")),
    reason="several instances share a PostgreSQL database: runs when the suite runs on PostgreSQL (DATABASE_URL)",
)


@pytest.fixture(scope="module")
def shared_database():
    """A database of this module's own on the suite's PostgreSQL server, dropped at the end."""
    import psycopg

    parts = urlsplit(SUITE_DATABASE_URL)
    server_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    try:
        admin = psycopg.connect(
            server_url.replace("postgres://", "postgresql://", 1), autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {parts.hostname}:{parts.port or 5432} does not answer: {exc}")
    name = f"connect_hosts_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def slow(body: bytes, seconds: float):
    """Answers after `seconds`: concurrent misses all arrive while the first call is still running."""

    def route(handler):
        handler.server.owner.stopping.wait(seconds)
        srv.send(handler, 200, body)

    return route


def token(handler):
    handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    handler.server.owner.stopping.wait(0.3)
    srv.send(
        handler,
        200,
        json.dumps({"access_token": f"fresh-{uuid.uuid4().hex}", "token_type": "Bearer", "expires_in": 3600}).encode(),
    )


@pytest.fixture(scope="module")
def hosts(tmp_path_factory, shared_database, suite_redis_url, static_root, ca_file, module_upstream):
    api = module_upstream(
        {"/search": slow(ISSUES_BODY, 0.5), "/guarded/search": srv.answer(200, ISSUES_BODY), "/token": token}
    )
    workdir = tmp_path_factory.mktemp("hosts")
    env = connect_env(
        workdir, database_url=shared_database, redis_url=suite_redis_url, static_root=static_root, ca_bundle=ca_file
    )
    _, cookie, plain, guarded = run_connect_tasks(
        env,
        ("migrate", {}),
        ("sign_in", {"username": "filler"}),
        ("create_item", {"base_url": api.url("/"), "query": "/search?q=$userInput"}),
        (
            "create_item",
            {
                "base_url": api.url("/guarded"),
                "query": "/search?q=$userInput",
                "datasource_name": "Guarded API",
                "item_name": "Guarded",
                "auth": {
                    "mode": "oauth2_client_credentials",
                    "token_url": api.url("/token"),
                    "client_id": "connect",
                    "client_secret": "s3cr3t-CLIENT-SECRET-4b2e",
                },
            },
        ),
    )
    servers = []
    try:
        for number in range(2):
            server = start_connect(workdir / f"instance-{number}", env)
            server.session.cookies.set(cookie["name"], cookie["value"])
            servers.append(server)
        yield {"servers": servers, "api": api, "env": env, "plain": plain, "guarded": guarded, "cookie": cookie}
    finally:
        for server in servers:
            server.stop()


def together(hosts, count: int, path_for) -> list:
    """`count` requests released at once, alternating between the instances; each on its own connection."""
    barrier, answers, lock = threading.Barrier(count), {}, threading.Lock()
    servers, cookie = hosts["servers"], hosts["cookie"]

    def one(number):
        with http_session() as session:
            session.cookies.set(cookie["name"], cookie["value"])
            url = servers[number % 2].url(path_for(number))
            barrier.wait()
            response = session.get(url, timeout=60)
        with lock:
            answers[number] = response

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return [answers[n] for n in range(count)]


def requests_to(api, path: str) -> list[dict]:
    return [r for r in api.requests if r["path"].split("?")[0] == path]


def test_forty_concurrent_identical_misses_over_two_instances_make_one_upstream_call(hosts):
    item = hosts["plain"]["item"]
    answers = together(hosts, 40, lambda n: f"/api/items/{item}/options?q=stampede")
    assert [a.status_code for a in answers] == [200] * 40
    assert all(a.json()["options"] == answers[0].json()["options"] for a in answers)
    assert len([r for r in requests_to(hosts["api"], "/search") if r["path"].endswith("q=stampede")]) == 1
    assert sum(not a.json()["cached"] for a in answers) == 1
    assert_both_answered(hosts, f"/api/items/{item}/options")


def assert_both_answered(hosts, path: str) -> None:
    time.sleep(0.2)  # access lines are written after the answers
    for server in hosts["servers"]:
        assert path in server.stdout_path.read_text(), "both instances answered"


def test_an_item_edited_through_the_database_is_seen_by_both_instances_at_their_next_request(hosts):
    first, second = hosts["servers"]
    path = f"/api/items/{hosts['plain']['item']}/options"
    labels = lambda server: [o["label"] for o in server.get(path, params={"q": "edit"}).json()["options"]]  # noqa
    assert labels(first) == labels(second) == ["OPS-1 - Printer on fire", "OPS-2 - Coffee machine empty"]
    assert second.get(path, params={"q": "edit"}).json()["cached"] is True
    run_connect_task(hosts["env"], "update_item", item=hosts["plain"]["item"], label_template="{fields.summary}")
    assert labels(second) == ["Printer on fire", "Coffee machine empty"]
    assert labels(first) == ["Printer on fire", "Coffee machine empty"]


def test_twenty_concurrent_calls_with_an_expired_token_over_two_instances_make_one_token_request(hosts):
    guarded, api = hosts["guarded"], hosts["api"]
    run_connect_task(hosts["env"], "expire_token", datasource=guarded["datasource"])
    tokens_before, calls_before = len(requests_to(api, "/token")), len(requests_to(api, "/guarded/search"))
    answers = together(hosts, 20, lambda n: f"/api/items/{guarded['item']}/options?q=token-{n}")
    assert [a.status_code for a in answers] == [200] * 20, [a.text[:200] for a in answers if a.status_code != 200]
    assert len(requests_to(api, "/token")) - tokens_before == 1
    stored = run_connect_task(hosts["env"], "stored_token", datasource=guarded["datasource"])["access_token"]
    sent = {r["headers"].get("Authorization") for r in requests_to(api, "/guarded/search")[calls_before:]}
    assert sent == {f"Bearer {stored}"}
    assert_both_answered(hosts, f"/api/items/{guarded['item']}/options")
