"""The datasource page's protection panel (breaker closed / open until HH:MM:SS / probing, last failure, pause) and
Test connection, which always makes its call, counts like any call and reports the breaker."""

import re
import threading

import pytest
from django.utils import timezone

from datasources.models import Datasource
from datasources.protection_status import breaker_state
from tests.conftest import SECRET_API_KEY, assert_no_secret
from tests.support import https_server as srv
from tests.support.protection import call, code_of, limited_datasource, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca", "redis")]


@pytest.fixture(autouse=True)
def _breaker(settings):
    settings.CONNECT_BREAKER_FAILURES = 2
    settings.CONNECT_BREAKER_OPEN_SECONDS = 60


def secret_datasource(server):
    """An API key in every URL: an echoing API sends it back in its errors."""
    return limited_datasource(
        server.url("/api"),
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )


def page_of(staff_client, datasource) -> str:
    response = staff_client.get(f"/datasources/{datasource.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def breaker_cell(page: str) -> str:
    found = re.search(r'<dd data-breaker="(\w+)">(.*?)</dd>', page, re.S)
    return found.group(1), " ".join(re.sub(r"<[^>]+>", "", found.group(2)).split())


def test_the_page_shows_a_closed_breaker_and_no_failure(start_server, staff_client):
    server = start_server({"/api/ok": srv.answer()})
    datasource = secret_datasource(server)
    call(datasource, "/ok")
    page = page_of(staff_client, datasource)
    assert breaker_cell(page) == ("closed", "Closed (0 consecutive failures; opens at 2)")
    assert "none recorded" in page
    assert "10 calls per second" not in page and "no rate limit" in page


def test_the_page_shows_an_open_breaker_until_when_and_the_last_failure(start_server, staff_client):
    server = start_server({"/api/echo": srv.echo_request(500)})
    datasource = secret_datasource(server)
    call(datasource, "/echo?q=typed-4411"), call(datasource, "/echo?q=typed-4411")
    state = breaker_state(datasource)
    page = page_of(staff_client, datasource)
    until = timezone.localtime(state.open_until).strftime("%H:%M:%S")
    assert breaker_cell(page) == ("open", f"Open until {until} (2 consecutive failures; opens at 2)")
    assert re.search(r"<dt>Last failure</dt>\s*<dd>HTTP 500 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d</dd>", page)
    assert "typed-4411" not in page
    assert_no_secret(page)


def test_the_page_shows_probing_while_the_probe_runs(start_server, staff_client, settings):
    settings.CONNECT_BREAKER_OPEN_SECONDS = 0.3
    flaky = srv.switchable(srv.answer(500))
    server = start_server({"/api/flaky": flaky})
    datasource = secret_datasource(server)
    call(datasource, "/flaky"), call(datasource, "/flaky")
    flaky.use(srv.working(srv.answer(), seconds=1.0))
    assert wait_for(lambda: breaker_state(datasource).probe_due)
    probe = threading.Thread(target=call, args=(datasource, "/flaky"))
    probe.start()
    assert srv.wait_until(lambda: server.in_flight == 1)
    page = page_of(staff_client, datasource)
    probe.join()
    assert breaker_cell(page)[0] == "probing"
    assert "Probing (one call is testing the API)" in page
    assert breaker_cell(page_of(staff_client, datasource))[0] == "closed"


def test_test_connection_calls_through_an_open_breaker_and_its_success_closes_it(start_server, staff_client):
    health = srv.switchable(srv.answer(503))
    server = start_server({"/api/health": health, "/api/items": srv.answer()})
    datasource = secret_datasource(server)
    Datasource.objects.filter(pk=datasource.pk).update(test_url="/health")
    datasource.refresh_from_db()
    call(datasource, "/health"), call(datasource, "/health")
    assert code_of(call(datasource, "/items")) == "circuit_open"

    response = staff_client.post(f"/datasources/{datasource.pk}/test/", follow=True)
    page = response.content.decode()
    assert len(server.arrivals("/api/health")) == 3  # made, although the breaker is open
    assert "<dt>Circuit breaker</dt><dd>open until" in page
    assert_no_secret(page)

    health.use(srv.answer())
    page = staff_client.post(f"/datasources/{datasource.pk}/test/", follow=True).content.decode()
    assert "<dt>Circuit breaker</dt><dd>closed</dd>" in page
    assert call(datasource, "/items") == "ok"  # its success closed the breaker for everyone


def test_test_connection_calls_during_a_retry_after_pause(start_server, staff_client):
    server = start_server({"/api": srv.answer(429, b"{}", headers=[("Retry-After", "120")])})
    datasource = secret_datasource(server)
    call(datasource, "")
    assert code_of(call(datasource, "")) == "upstream_paused"
    page = staff_client.post(f"/datasources/{datasource.pk}/test/", follow=True).content.decode()
    assert len(server.arrivals("/api")) == 2  # the base URL, called although calls are paused
    assert "Paused: the API asked Connect to wait" in page
