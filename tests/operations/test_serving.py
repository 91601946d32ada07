"""Connect as `make serve` runs it: gunicorn with the repository's gunicorn.conf.py, DEBUG=false, collected static
files through WhiteNoise, a short call deadline (2 s), metrics enabled. One server for the module."""

import importlib.metadata
import os
import re
import runpy
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gunicorn.config import Config
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SECRET_API_KEY, assert_no_secret
from tests.support.connect_server import (
    GUNICORN_CONFIG,
    connect_env,
    http_session,
    run_connect_tasks,
    running_connect,
    start_connect,
)
from tests.support.https_server import answer, slow_body

from .answers import ISSUES_BODY

METRICS_TOKEN = "s3cr3t-METRICS-TOKEN-6c0d"
DISTINCTIVE_QUERY = "zebra-QUERY-5e1d"


@pytest.fixture(scope="module")
def served(tmp_path_factory, sqlite_url, suite_redis_url, static_root, ca_file, module_upstream):
    api = module_upstream({"/search": answer(200, ISSUES_BODY), "/slow": slow_body(length=100, interval=1.0)})
    workdir = tmp_path_factory.mktemp("serving")
    env = connect_env(
        workdir,
        database_url=sqlite_url,
        redis_url=suite_redis_url,
        static_root=static_root,
        ca_bundle=ca_file,
        CONNECT_CALL_DEADLINE_SECONDS="2",
        CONNECT_METRICS_TOKEN=METRICS_TOKEN,
    )
    cookie, search, slow = run_connect_tasks(
        env,
        ("sign_in", {"username": "filler"}),
        # The API key goes in the query string: the one secret that is part of every URL Connect calls.
        (
            "create_item",
            {
                "base_url": api.url("/"),
                "query": "/search?q=$userInput",
                "auth": {
                    "mode": "api_key",
                    "api_key_location": "query",
                    "api_key_name": "api_key",
                    "api_key_value": SECRET_API_KEY,
                },
            },
        ),
        (
            "create_item",
            {
                "base_url": api.url("/"),
                "query": "/slow?q=$userInput",
                "datasource_name": "Slow API",
                "item_name": "Slow",
            },
        ),
    )
    server = start_connect(workdir, env)
    server.session.cookies.set(cookie["name"], cookie["value"])
    try:
        yield {"server": server, "api": api, "search": search, "slow": slow}
    finally:
        server.stop()


def options(served, item: str, q: str, **kwargs):
    return served["server"].get(f"/api/items/{served[item]['item']}/options", params={"q": q}, **kwargs)


def test_a_page_links_its_stylesheet_by_a_hashed_name_served_for_a_year(served):
    server = served["server"]
    page = server.get("/login/")
    assert page.status_code == 200
    stylesheet = re.search(r'href="(/static/connect\.[0-9a-f]{12}\.css)"', page.text)
    script = re.search(r'src="(/static/connect\.[0-9a-f]{12}\.js)"', page.text)
    assert stylesheet and script, page.text[:1000]
    css = server.get(stylesheet[1])
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert "max-age=315360000" in css.headers["Cache-Control"] and "immutable" in css.headers["Cache-Control"]
    assert ".topbar" in css.text
    assert server.get(script[1]).status_code == 200


def test_the_stylesheet_has_a_compressed_variant(served):
    server = served["server"]
    name = re.search(r'href="(/static/connect\.[0-9a-f]{12}\.css)"', server.get("/login/").text)[1]
    compressed = server.get(name, headers={"Accept-Encoding": "gzip"}, stream=True)
    plain = server.get(name, headers={"Accept-Encoding": "identity"}, stream=True)
    assert compressed.headers.get("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in compressed.headers.get("Vary", "")
    assert int(compressed.headers["Content-Length"]) < int(plain.headers["Content-Length"])
    assert "Content-Encoding" not in plain.headers


def test_favicon_ico_leads_to_the_hashed_icon(served):
    server = served["server"]
    response = server.get("/favicon.ico", allow_redirects=False)
    assert response.status_code == 302
    assert re.fullmatch(r"/static/favicon\.[0-9a-f]{12}\.ico", response.headers["Location"])
    icon = server.get(response.headers["Location"])
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
    assert '<link rel="icon" href="' + response.headers["Location"] + '"' in server.get("/login/").text


def test_an_unhashed_static_name_still_answers_but_is_cached_briefly(served):
    response = served["server"].get("/static/connect.css")
    assert response.status_code == 200
    assert "immutable" not in response.headers["Cache-Control"]


def test_a_slow_api_ends_in_connects_json_timeout_error_not_a_killed_worker(served):
    server = served["server"]
    workers = server.worker_pids()
    began = time.monotonic()
    response = options(served, "slow", "printer")
    elapsed = time.monotonic() - began
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    assert elapsed < 15  # the 2-second deadline, well before any worker timeout
    assert server.worker_pids() == workers
    assert "WORKER TIMEOUT" not in server.output()


GUNICORN_VARIABLES = (
    "CONNECT_CALL_DEADLINE_SECONDS",
    "CONNECT_WORKERS",
    "CONNECT_THREADS",
    "CONNECT_BIND",
    "CONNECT_GRACEFUL_TIMEOUT_SECONDS",
    "CONNECT_LOG_FORMAT",
)


def gunicorn_config(monkeypatch, **env) -> Config:
    """gunicorn.conf.py evaluated and validated as gunicorn does it (its names set on a gunicorn Config)."""
    for name in GUNICORN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config()
    for name, value in runpy.run_path(str(GUNICORN_CONFIG)).items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_the_worker_timeout_is_the_call_deadline_plus_a_margin(monkeypatch):
    short = gunicorn_config(monkeypatch, CONNECT_CALL_DEADLINE_SECONDS="2")
    assert (short.timeout, short.graceful_timeout) == (32, 7)
    default = gunicorn_config(monkeypatch)
    assert (default.timeout, default.graceful_timeout) == (90, 65)
    assert default.worker_class_str == "gthread" and default.bind == ["127.0.0.1:8000"]
    assert default.accesslog == "-" and default.wsgi_app == "connect_project.wsgi:application"


def test_workers_threads_bind_and_graceful_timeout_come_from_the_environment(monkeypatch):
    config = gunicorn_config(
        monkeypatch,
        CONNECT_WORKERS="3",
        CONNECT_THREADS="16",
        CONNECT_BIND="0.0.0.0:9000,unix:/run/c.sock",
        CONNECT_GRACEFUL_TIMEOUT_SECONDS="20",
    )
    assert (config.workers, config.threads, config.graceful_timeout) == (3, 16, 20)
    assert config.bind == ["0.0.0.0:9000", "unix:/run/c.sock"]


def test_each_server_start_gets_a_fresh_metrics_directory_removed_at_exit(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    hooks, server = runpy.run_path(str(GUNICORN_CONFIG)), types.SimpleNamespace()
    try:
        hooks["on_starting"](server)
        created = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert created.is_dir() and list(created.iterdir()) == []
        hooks["on_exit"](server)
        assert not created.exists()
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def test_a_configured_metrics_directory_is_emptied_of_a_previous_servers_values(monkeypatch, tmp_path):
    (tmp_path / "counter_4242.db").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    hooks, server = runpy.run_path(str(GUNICORN_CONFIG)), types.SimpleNamespace()
    hooks["on_starting"](server)
    hooks["on_exit"](server)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_json_log_format_applies_to_gunicorns_own_lines(monkeypatch):
    config = gunicorn_config(monkeypatch, CONNECT_LOG_FORMAT="json")
    formatter = config.logconfig_dict["formatters"]["json"]["()"]
    assert formatter == "operations.log_format.JSONFormatter"
    assert config.logconfig_dict["loggers"]["gunicorn.access"]["propagate"] is False


def test_health_and_readiness_answer_without_sign_in(served):
    server = served["server"]
    anonymous = {"Cookie": ""}
    health, ready = server.get("/healthz", headers=anonymous), server.get("/readyz", headers=anonymous)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def scrape(served, token=METRICS_TOKEN):
    return served["server"].get("/metrics", headers={"Authorization": f"Bearer {token}", "Cookie": ""})


def samples(text: str, name: str, **labels) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_count_the_requests_of_every_worker(served):
    server, item = served["server"], str(served["search"]["item"])
    before = scrape(served).text
    assert options(served, "search", "metrics-probe").json()["cached"] is False

    def hit(_):
        # A new session (connection) each: the requests spread over the workers.
        with http_session() as session:
            session.cookies.update(server.session.cookies)
            answer = session.get(server.url(f"/api/items/{item}/options"), params={"q": "metrics-probe"}, timeout=30)
            return answer.json()["cached"]

    with ThreadPoolExecutor(8) as pool:
        cached = list(pool.map(hit, range(40)))
    time.sleep(0.2)  # access lines are written after the answers
    assert len(served_by(server, f"/api/items/{item}/options")) == 2, "both workers answered"
    after = scrape(served)
    assert after.status_code == 200 and after.headers["Content-Type"].startswith("text/plain")
    text, name = after.text, "connect_options_requests_total"
    moved = {
        status: samples(text, name, item=item, cache_status=status)
        - samples(before, name, item=item, cache_status=status)
        for status in ("hit", "miss", "unavailable")
    }
    assert moved["hit"] == cached.count(True) > 0, server.output()[-3000:]
    assert sum(moved.values()) == 41
    datasource, calls = str(served["search"]["datasource"]), "connect_upstream_calls_total"
    upstream_calls = 41 - moved["hit"]
    assert (
        samples(text, calls, datasource=datasource, outcome="ok")
        - samples(before, calls, datasource=datasource, outcome="ok")
        == upstream_calls
    )
    assert (
        samples(text, "connect_upstream_call_seconds_count", datasource=datasource)
        - samples(before, "connect_upstream_call_seconds_count", datasource=datasource)
        == upstream_calls
    )


def served_by(server, path: str) -> set[str]:
    """The worker pids of the access log lines for `path`."""
    return set(re.findall(r"<(\d+)> \"GET " + re.escape(path) + " ", server.stdout_path.read_text()))


def test_metrics_carry_the_build_info_and_the_process_metrics_of_the_whole_instance(served):
    server = served["server"]
    text = scrape(served).text
    assert samples(text, "connect_build_info", version=importlib.metadata.version("connect")) == 1
    memory = samples(text, "process_resident_memory_bytes")
    one_worker = Path(f"/proc/{min(server.worker_pids())}/statm").read_text().split()[1]
    assert memory > int(one_worker) * os.sysconf("SC_PAGE_SIZE")  # the master's and both workers' memory
    assert samples(text, "process_cpu_seconds_total") > 0 and samples(text, "process_open_fds") > 0
    assert 0 < samples(text, "process_start_time_seconds") <= time.time()


def test_metrics_are_not_empty_after_a_restart(tmp_path, sqlite_url, suite_redis_url, static_root):
    env = connect_env(
        tmp_path,
        database_url=sqlite_url,
        redis_url=suite_redis_url,
        static_root=static_root,
        CONNECT_METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    for start in ("first", "restarted"):
        with running_connect(tmp_path / start, env) as server:
            answer = server.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert answer.status_code == 200
            version = importlib.metadata.version("connect")
            assert samples(answer.text, "connect_build_info", version=version) == 1, (start, answer.text)
            assert samples(answer.text, "process_resident_memory_bytes") > 0, start


def test_metrics_need_the_bearer_token(served):
    assert scrape(served, token="wrong-token").status_code == 401
    assert served["server"].get("/metrics").status_code == 401
    assert scrape(served, token=METRICS_TOKEN + "x").status_code == 401


def test_metrics_show_no_secret_url_or_query(served):
    options(served, "search", DISTINCTIVE_QUERY)
    options(served, "slow", DISTINCTIVE_QUERY)
    text = scrape(served).text
    assert_no_secret(
        text,
        secrets=(SECRET_API_KEY, METRICS_TOKEN, DISTINCTIVE_QUERY, "127.0.0.1", str(served["api"].port), "https://"),
    )
    assert 'outcome="timeout"' in text


def test_the_access_log_goes_to_stdout_without_query_strings(served):
    options(served, "search", DISTINCTIVE_QUERY)
    server = served["server"]
    time.sleep(0.2)  # the access line is written after the answer
    access = server.stdout_path.read_text()
    assert f'"GET /api/items/{served["search"]["item"]}/options HTTP/1.1" 200' in access
    assert_no_secret(access, secrets=(DISTINCTIVE_QUERY,))
    assert_no_secret(server.output(), secrets=(SECRET_API_KEY, METRICS_TOKEN))
