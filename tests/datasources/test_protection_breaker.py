"""The circuit breaker, shared through real Redis by threads and processes, against a real local HTTPS API."""

import socket
import time
from collections import Counter

import pytest

from datasources.protection_status import breaker_state
from datasources.services import errors
from tests.conftest import make_datasource
from tests.support import https_server as srv
from tests.support.protection import at_once, call, code_of, limited_datasource, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca", "redis")]


@pytest.fixture(autouse=True)
def _breaker_settings(settings):
    settings.CONNECT_BREAKER_FAILURES = 5
    settings.CONNECT_BREAKER_OPEN_SECONDS = 30


def unlimited(server):
    return limited_datasource(server.url("/api"))


def open_breaker(datasource):
    for _ in range(5):
        assert isinstance(call(datasource, "/flaky"), errors.HTTPStatusError)


def state(datasource) -> str:
    return breaker_state(datasource).state


def test_five_failures_open_it_and_calls_then_fail_fast_without_calling(start_server, settings):
    server = start_server({"/api/flaky": srv.answer(500, b'{"error": "down"}')})
    datasource = unlimited(server)
    for _ in range(4):
        assert isinstance(call(datasource, "/flaky"), errors.HTTPStatusError)
        assert state(datasource) == "closed"
    assert isinstance(call(datasource, "/flaky"), errors.HTTPStatusError)
    assert state(datasource) == "open"

    started = time.monotonic()
    refused = call(datasource, "/flaky")
    assert isinstance(refused, errors.CircuitOpen)
    assert time.monotonic() - started < settings.CONNECT_CALL_DEADLINE_SECONDS / 4
    assert len(server.arrivals("/api/flaky")) == 5  # nothing sent
    assert "5 times in a row" in refused.message and 29 <= refused.retry_after <= 30


def test_timeouts_and_connection_errors_count_as_failures(settings):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1"]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket is closed
    datasource = make_datasource(base_url=f"https://127.0.0.1:{port}/api")
    for _ in range(5):
        assert isinstance(call(datasource, "/x"), errors.ConnectFailure)
    assert isinstance(call(datasource, "/x"), errors.CircuitOpen)


def test_4xx_answers_and_the_callers_own_errors_do_not_open_it(start_server):
    server = start_server({"/api/missing": srv.answer(404, b"{}"), "/api/busy": srv.answer(429, b"{}")})
    datasource = unlimited(server)
    for _ in range(6):
        assert isinstance(call(datasource, "/missing"), errors.HTTPStatusError)
        assert isinstance(call(datasource, "/busy"), errors.HTTPStatusError)
        assert isinstance(call(datasource, "/../escape"), errors.InvalidURL)
    assert state(datasource) == "closed"
    assert len(server.arrivals("/api/missing")) == 6


def test_an_answer_resets_the_count_of_consecutive_failures(start_server):
    server = start_server({"/api/flaky": srv.answer(500, b"{}"), "/api/ok": srv.answer()})
    datasource = unlimited(server)
    for _ in range(4):
        call(datasource, "/flaky")
    assert call(datasource, "/ok") == "ok"
    for _ in range(4):
        call(datasource, "/flaky")
    assert state(datasource) == "closed"
    assert breaker_state(datasource).failures == 4


def test_after_the_open_time_one_probe_across_processes_decides_and_its_success_closes_it(
    start_server, other_process, settings
):
    settings.CONNECT_BREAKER_OPEN_SECONDS = 1
    flaky = srv.switchable(srv.answer(500, b"{}"))
    server = start_server({"/api/flaky": flaky})
    datasource = unlimited(server)
    open_breaker(datasource)
    flaky.use(srv.working(srv.answer(), seconds=1.0))  # the API is back, and slow: the others arrive meanwhile
    other = other_process(datasource, "/flaky", threads=10)
    assert wait_for(lambda: breaker_state(datasource).probe_due, timeout=5)

    results = at_once(10, lambda: code_of(call(datasource, "/flaky")), before_release=other.go)
    codes = Counter(results) + Counter(r["code"] for r in other.results())
    assert codes == {"ok": 1, "circuit_open": 19}  # one probe; the others failed fast while it ran
    assert len(server.arrivals("/api/flaky")) == 5 + 1
    assert state(datasource) == "closed"
    assert call(datasource, "/flaky") == "ok"


def test_a_failed_probe_opens_it_again_for_the_same_time(start_server, settings):
    settings.CONNECT_BREAKER_OPEN_SECONDS = 0.5
    server = start_server({"/api/flaky": srv.answer(503, b"{}")})
    datasource = unlimited(server)
    open_breaker(datasource)
    assert wait_for(lambda: breaker_state(datasource).probe_due, timeout=5)
    assert isinstance(call(datasource, "/flaky"), errors.HTTPStatusError)  # the probe, and it failed
    assert state(datasource) == "open"
    assert isinstance(call(datasource, "/flaky"), errors.CircuitOpen)
    assert len(server.arrivals("/api/flaky")) == 6


def test_a_probe_that_says_nothing_about_the_api_gives_its_claim_back(start_server, settings):
    settings.CONNECT_BREAKER_OPEN_SECONDS = 0.5
    flaky = srv.switchable(srv.answer(500, b"{}"))
    server = start_server({"/api/flaky": flaky})
    datasource = unlimited(server)
    open_breaker(datasource)
    assert wait_for(lambda: breaker_state(datasource).probe_due, timeout=5)
    assert isinstance(call(datasource, "/../escape"), errors.InvalidURL)  # was the probe: neutral
    flaky.use(srv.answer())
    assert call(datasource, "/flaky") == "ok"  # the next caller probes, instead of failing fast
    assert state(datasource) == "closed"


def test_the_last_failure_is_kept_without_url_query_or_answer_text(start_server):
    server = start_server({"/api/flaky": srv.echo_request(502)})
    datasource = unlimited(server)
    call(datasource, "/flaky?q=typed-text-4411")
    last = breaker_state(datasource).last_failure
    assert last.code == "http_502" and last.status_code == 502 and last.label == "HTTP 502"
    assert "typed-text-4411" not in repr(last)
