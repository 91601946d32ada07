"""Retry-After: an API answering 429 or 503 with Retry-After pauses calls to it, for every process, until then."""

import email.utils
import time

import pytest

from datasources.protection import pause
from datasources.protection_status import status_for
from datasources.services import connection_check, errors
from tests.support import https_server as srv
from tests.support.protection import call, code_of, limited_datasource

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca", "redis")]


def unlimited(server):
    return limited_datasource(server.url("/api"))


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "status, header, seconds",
    [
        (429, "2", 2),
        (503, "120", 120),
        (429, "0", 0),
        (429, " 7 ", 7),
        (503, email.utils.formatdate(NOW + 30, usegmt=True), 30),
        (429, email.utils.formatdate(NOW - 30, usegmt=True), 0),  # a date in the past: no pause
        (429, "100000", 300),  # capped (CONNECT_RETRY_AFTER_MAX_SECONDS)
        (429, "soon", 0),
        (429, "-5", 0),
        (429, "1.5", 0),
        (429, "", 0),
        (429, None, 0),
        (429, "9" * 100, 0),
        (500, "10", 0),
        (200, "10", 0),
        (404, "10", 0),  # only 429 and 503 pause
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date_and_capped(status, header, seconds):
    assert pause.retry_after_seconds(status_code=status, header=header, now=NOW) == pytest.approx(seconds)


def test_429_with_retry_after_2_pauses_every_process_for_2_seconds_then_calls_resume(start_server, other_process):
    route = srv.once_then(srv.answer(429, b'{"error": "slow down"}', headers=[("Retry-After", "2")]), srv.answer())
    server = start_server({"/api/items": route})
    datasource = unlimited(server)
    other = other_process(datasource, "/items", calls=25, interval=0.1)  # 2.5 s of calls, one every 0.1 s

    answered = call(datasource, "/items")
    assert isinstance(answered, errors.HTTPStatusError) and answered.status_code == 429
    paused_at = server.arrivals("/api/items")[0]
    other.go()
    mine = call(datasource, "/items")
    assert isinstance(mine, errors.UpstreamPaused) and 1 <= mine.retry_after <= 2
    assert "s left" in mine.message

    theirs = other.results()
    codes = [r["code"] for r in theirs]
    assert codes[0] == "upstream_paused" and codes[-1] == "ok"
    assert set(codes) == {"upstream_paused", "ok"}
    assert codes == sorted(codes, key=lambda c: c == "ok")  # paused first, then resumed, never paused again
    assert all("s left" in r["message"] for r in theirs if r["code"] == "upstream_paused")
    later = server.arrivals("/api/items")[1:]
    assert later and min(later) >= paused_at + 2 - 0.05  # no call reached the API for 2 s, from any process
    assert len(later) == codes.count("ok")


def test_503_with_an_http_date_pauses_until_then(start_server):
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    server = start_server({"/api/items": srv.answer(503, b"{}", headers=[("Retry-After", when)])})
    datasource = unlimited(server)
    call(datasource, "/items")
    refused = call(datasource, "/items")
    assert isinstance(refused, errors.UpstreamPaused) and 55 <= refused.retry_after <= 60
    assert len(server.arrivals("/api/items")) == 1


def test_a_shorter_retry_after_never_shortens_a_pause(start_server):
    server = start_server(
        {
            "/api/long": srv.answer(429, b"{}", headers=[("Retry-After", "60")]),
            "/api/short": srv.answer(503, b"{}", headers=[("Retry-After", "1")]),
        }
    )
    datasource = unlimited(server)
    call(datasource, "/long")
    datasource.test_url = "/short"
    check = connection_check.check_connection(datasource=datasource)  # made during the pause: an admin checking
    assert check.status_code == 503
    assert len(server.arrivals("/api/short")) == 1
    assert status_for(datasource).paused_for > 50


def test_a_retry_after_on_another_status_pauses_nothing(start_server):
    server = start_server({"/api/items": srv.answer(500, b"{}", headers=[("Retry-After", "60")])})
    datasource = unlimited(server)
    call(datasource, "/items")
    assert isinstance(call(datasource, "/items"), errors.HTTPStatusError)
    assert code_of(call(datasource, "/items")) == "http_status"
    assert status_for(datasource).paused_for == 0
