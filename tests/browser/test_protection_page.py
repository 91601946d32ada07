"""The datasource page's protection and health panel, and the limits on the edit page, as a person sees them."""

import pytest

from datasources.models import Datasource
from tests.conftest import make_datasource
from tests.support import https_server as srv
from tests.support.protection import call, code_of, limited_datasource

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("trust_test_ca")]


def test_the_health_panel_and_an_open_breaker_are_readable(signed_in, live_server, start_server, settings, screenshot):
    settings.CONNECT_BREAKER_FAILURES = 3
    boom = srv.switchable(srv.answer())
    server = start_server({"/api/issues": boom})
    datasource = limited_datasource(server.url("/api"), calls_per_second=6, concurrent_calls=2, name="Issue tracker")
    assert [call(datasource, "/issues") for _ in range(5)] == ["ok"] * 5
    boom.use(srv.answer(502, b'{"error": "gateway"}'))
    codes = [code_of(call(datasource, "/issues")) for _ in range(5)]
    assert codes == ["http_status"] * 3 + ["circuit_open"] * 2

    page = signed_in
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/")
    panel = page.locator("#protection")
    panel.scroll_into_view_if_needed()
    assert panel.get_by_role("heading", name="Protection and health").is_visible()
    assert "Open until" in panel.locator("[data-breaker]").inner_text()
    assert panel.get_by_role("img", name="Calls per 5 minutes, last hour").is_visible()
    assert "8 calls in the last hour, 3 of them failed; 2 held back" in panel.locator("svg desc").text_content()
    panel.get_by_text("The figures per 5 minutes").click()
    assert panel.locator("details table").is_visible()
    shot = screenshot("health-panel")
    assert shot.exists()


def test_the_edit_page_shows_a_bad_limit_next_to_its_field(signed_in, live_server, screenshot):
    datasource = make_datasource(name="Issue tracker")
    page = signed_in
    page.goto(f"{live_server.url}/datasources/{datasource.pk}/edit/")
    page.get_by_label("Calls per second").fill("-4")
    page.get_by_label("Serve the last good answer when the API fails").check()
    page.get_by_role("button", name="Save").click()
    field = page.locator(".field", has=page.locator("[name='calls_per_second']"))
    assert "from 0 (no limit) to 10,000" in field.locator(".errorlist").inner_text()
    assert page.get_by_label("Serve the last good answer when the API fails").is_checked()  # kept as typed
    page.locator("#protection").scroll_into_view_if_needed()
    screenshot("bad-limit")
    assert Datasource.objects.get(pk=datasource.pk).calls_per_second == 10
