"""Connect's logs under gunicorn as an operator keeps them: JSON lines (CONNECT_LOG_FORMAT=json), behind a trusted
proxy (CONNECT_BEHIND_TLS_PROXY), an API over its rate limit under load. Refusals are counted in /metrics and
summarised at most once per interval per datasource and process (a short interval here stands in for 30 s of load
against the default 60 s); the access line is structured and names the client the proxy forwarded."""

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import https_server as srv
from tests.support.connect_server import connect_env, http_session, run_connect_tasks, start_connect, start_redis

from .answers import ISSUES_BODY

METRICS_TOKEN = "s3cr3t-METRICS-TOKEN-4d1e"
INTERVAL_SECONDS = 2
LOAD_SECONDS = 6
CLIENT = "203.0.113.7"


@pytest.fixture(scope="module")
def served(tmp_path_factory, sqlite_url, static_root, ca_file, module_upstream):
    workdir = tmp_path_factory.mktemp("served-logs")
    api = module_upstream({"/search": srv.answer(200, ISSUES_BODY)})
    redis_server = start_redis(workdir / "redis")
    env = connect_env(
        workdir,
        database_url=sqlite_url,
        redis_url=redis_server.url,
        static_root=static_root,
        ca_bundle=ca_file,
        CONNECT_LOG_FORMAT="json",
        CONNECT_BEHIND_TLS_PROXY="true",
        CONNECT_CALL_REPORT_INTERVAL_SECONDS=str(INTERVAL_SECONDS),
        CONNECT_RATE_LIMIT_WAIT_SECONDS="0",
        CONNECT_METRICS_TOKEN=METRICS_TOKEN,
    )
    cookie, item = run_connect_tasks(
        env,
        ("sign_in", {"username": "filler"}),
        (
            "create_item",
            {
                "base_url": api.url("/"),
                "query": "/search?q=$userInput",
                "limits": {"calls_per_second": 2, "concurrent_calls": 0},
            },
        ),
    )
    server = start_connect(workdir, env)
    server.session.cookies.set(cookie["name"], cookie["value"])
    try:
        yield {"server": server, "item": item}
    finally:
        server.stop()
        redis_server.stop()


def json_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rate_limited_count(server) -> float:
    text = server.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "connect_protection_events_total" and sample.labels.get("event") == "rate_limited"
    )


def test_rate_limited_load_writes_a_few_summary_lines_and_counts_every_refusal(served):
    server, path = served["server"], f"/api/items/{served['item']['item']}/options"
    before, stop = rate_limited_count(server), threading.Event()

    def load(number):
        statuses = []
        with http_session() as session:
            session.cookies.update(server.session.cookies)
            while not stop.is_set():
                answer = session.get(server.url(path), params={"q": f"load-{number}-{len(statuses)}"}, timeout=30)
                statuses.append(answer.status_code)
        return statuses

    with ThreadPoolExecutor(6) as pool:
        loads = [pool.submit(load, number) for number in range(6)]
        time.sleep(LOAD_SECONDS)
        stop.set()
        statuses = [status for done in loads for status in done.result()]
    refused = statuses.count(429)
    assert refused >= 50 and set(statuses) <= {200, 429}, statuses
    time.sleep(0.3)
    lines = json_lines(server.stderr_path)
    assert [line for line in lines if line["logger"] == "django.request"] == []
    summaries = [
        line for line in lines if line["logger"] == "connect.client" and "refused or failed" in line["message"]
    ]
    per_process: dict[int, int] = {}
    for line in summaries:
        per_process[line["process"]] = per_process.get(line["process"], 0) + 1
    assert summaries and max(per_process.values()) <= math.ceil(LOAD_SECONDS / INTERVAL_SECONDS) + 1, per_process
    assert all(line["level"] == "INFO" and "rate_limited" in line["message"] for line in summaries)
    assert rate_limited_count(server) - before == refused


def test_the_access_line_is_structured_and_names_the_forwarded_client(served):
    server = served["server"]
    path = f"/api/items/{served['item']['item']}/options"
    assert server.get(path, params={"q": "typed-ACCESS-2c9f"}, headers={"X-Forwarded-For": CLIENT}).status_code in (
        200,
        429,
    )
    time.sleep(0.3)
    [line] = [
        line for line in json_lines(server.stdout_path) if line.get("path") == path and line.get("client") == CLIENT
    ]
    assert line["logger"] == "gunicorn.access" and line["method"] == "GET" and line["status"] in (200, 429)
    assert isinstance(line["duration_ms"], float) and line["bytes"] > 0
    assert "typed-ACCESS-2c9f" not in server.stdout_path.read_text()


def test_without_a_forwarded_header_the_access_line_names_the_peer(served):
    server = served["server"]
    assert server.get("/healthz").status_code == 200
    time.sleep(0.3)
    health = [line for line in json_lines(server.stdout_path) if line.get("path") == "/healthz"]
    assert health and health[-1]["client"] == "127.0.0.1" and health[-1]["status"] == 200


def test_connects_own_line_about_a_request_names_the_forwarded_client(served):
    server = served["server"]
    answer = server.get("/login/", headers={"Host": "scanner.example", "X-Forwarded-For": CLIENT})
    assert answer.status_code == 400
    time.sleep(0.3)
    [line] = [line for line in json_lines(server.stderr_path) if line["logger"] == "django.security.DisallowedHost"]
    assert (line["level"], line["client"]) == ("WARNING", CLIENT) and "exception" not in line
    assert "Traceback" not in server.output()
