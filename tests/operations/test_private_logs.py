"""What people type is personal data: it never goes into a log line at INFO (or above), whichever page or API it went
through and whether the call answered, failed or was refused. A distinctive string is typed everywhere a person can
type one, and every line logged at INFO is searched for it, in every form a URL can carry it. (The access log:
tests/operations/test_serving.py; the full redacted URL at DEBUG: tests/items/test_post_and_pages.py.)"""

import logging
from urllib.parse import quote, quote_plus

import pytest
import responses
from django.contrib.auth import get_user_model

from datasources.models import Datasource
from tests.conftest import SECRET_API_KEY, assert_no_secret, make_datasource
from tests.items.conftest import ISSUES, make_item

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_dns")]

TYPED = "Zébra typed-93kq"
FORMS = (TYPED, quote(TYPED), quote_plus(TYPED), quote(TYPED, safe=""), "Zébra", "typed-93kq")
BASE = "https://api.example.com/rest"


@pytest.fixture
def item(db):
    datasource = make_datasource(
        base_url=BASE, mode="api_key", api_key_location="query", api_key_name="api_key", api_key_value=SECRET_API_KEY
    )
    return make_item(datasource, query="/search?q=$userInput")


@pytest.fixture
def upstream():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def member_client(client):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


@pytest.fixture
def every_line(caplog):
    """Every record logged at INFO or above, formatted as the console would (arguments and tracebacks included)."""
    caplog.set_level(logging.INFO)
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def lines() -> list[str]:
        return [formatter.format(record) for record in caplog.records if record.levelno >= logging.INFO]

    return lines


def assert_not_typed(lines: list[str]) -> None:
    for line in lines:
        for form in FORMS:
            assert form not in line, f"typed text in a log line at INFO: {line}"
    assert_no_secret("\n".join(lines))


def test_the_options_api_answered_failed_and_refused(item, member_client, upstream, redis, settings, every_line):
    settings.CONNECT_BREAKER_FAILURES = 2
    upstream.get(f"{BASE}/search", json=ISSUES)
    ask = lambda: member_client.get(f"/api/items/{item.pk}/options", {"q": TYPED})  # noqa: E731
    assert ask().status_code == 200
    upstream.replace("GET", f"{BASE}/search", status=500, body=f"no results for {TYPED}")
    for suffix in ("1", "2", "3"):
        member_client.get(f"/api/items/{item.pk}/options", {"q": TYPED + suffix})
    assert member_client.get(f"/api/items/{item.pk}/options", {"q": TYPED + "4"}).json()["error"]["code"] == (
        "circuit_open"
    )
    lines = every_line()
    assert any("connect.client" in line for line in lines)
    assert_not_typed(lines)


def test_the_preview_answered_and_failed(item, staff_client, upstream, every_line):
    upstream.get(f"{BASE}/search", json=ISSUES)
    page = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": TYPED, "current_user": "admin"})
    assert page.status_code == 200 and "OPS-1" in page.content.decode()
    upstream.replace("GET", f"{BASE}/search", status=503, body=f"no results for {TYPED}")
    staff_client.post(
        f"/items/{item.pk}/preview/", {"user_input": TYPED, "current_user": "admin", "bypass_cache": "on"}
    )
    lines = every_line()
    assert any("connect.client" in line for line in lines)
    assert_not_typed(lines)


def test_test_connection_answered_and_failed(item, staff_client, upstream, every_line):
    Datasource.objects.filter(pk=item.datasource_id).update(test_url=f"/search?q={quote(TYPED)}")
    upstream.get(f"{BASE}/search", json=ISSUES)
    assert staff_client.post(f"/datasources/{item.datasource_id}/test/").status_code == 302
    upstream.replace("GET", f"{BASE}/search", status=404, body=f"nothing for {TYPED}")
    staff_client.post(f"/datasources/{item.datasource_id}/test/")
    lines = every_line()
    assert any("connect.client" in line for line in lines)
    assert_not_typed(lines)


def test_pages_given_typed_values_in_their_query_strings(item, staff_client, client, every_line):
    assert staff_client.post(f"/items/{item.pk}/try/", {"issues": TYPED}).status_code == 200
    assert client.get("/no-such-page/", {"q": TYPED}).status_code == 404
    assert client.get("/api/no-such-url", {"q": TYPED}).status_code == 404
    client.post("/login/", {"username": TYPED, "password": TYPED})
    lines = every_line()
    assert any("Not Found: /no-such-page/" in line for line in lines)
    assert_not_typed(lines)


def test_typed_text_in_the_querys_path_is_hidden_too(item, member_client, upstream, redis, every_line):
    """A REST search by path (/countries/name/$userInput): the path's value is personal data as much as q= is."""
    item.query, item.list_path = "/countries/name/$userInput/cities", "issues"
    item.save()
    upstream.get(f"{BASE}/countries/name/{quote(TYPED, safe='')}/cities", json=ISSUES)
    upstream.get(f"{BASE}/countries/name/{quote(TYPED + 'x', safe='')}/cities", status=500, body="{}")
    assert member_client.get(f"/api/items/{item.pk}/options", {"q": TYPED}).status_code == 200
    assert member_client.get(f"/api/items/{item.pk}/options", {"q": TYPED + "x"}).status_code == 502
    lines = [line for line in every_line() if "connect.client" in line]
    assert any("/countries/name/…/cities" in line for line in lines), lines  # still says which call it was
    assert_not_typed(lines)


def test_a_key_looked_up_by_its_path_is_hidden(item, member_client, upstream, redis, every_line):
    item.lookup_query = "/issues/$key"
    item.save()
    upstream.get(f"{BASE}/issues/{quote(TYPED, safe='')}", json={"key": TYPED, "fields": {"summary": "s"}})
    response = member_client.get(f"/api/items/{item.pk}/labels", {"key": TYPED})
    assert response.status_code == 200, response.content
    lines = [line for line in every_line() if "connect.client" in line]
    assert any("/issues/…" in line for line in lines), lines
    assert_not_typed(lines)
