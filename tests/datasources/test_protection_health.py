"""A datasource's health over the last hour: what the page shows matches the calls made, and what is kept for it in
Redis holds no query text, input, URL or secret."""

import re
import threading

import pytest

from datasources.models import AuthConfig
from datasources.protection import health
from datasources.protection_status import status_for
from datasources.services import connection_check, errors
from items.services import resolve_item
from tests.conftest import ALL_SECRETS, SECRET_API_KEY, SECRET_PASSWORD, assert_no_secret, make_datasource
from tests.items.conftest import make_item
from tests.support import https_server as srv
from tests.support.protection import call, code_of, limited_datasource

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca", "redis")]

TYPED = "typed-by-a-person-7731"


def figure(page: str, name: str) -> str:
    found = re.search(rf"<dd data-health-{name}>(.*?)</dd>", page, re.S)
    assert found, name
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def test_the_health_panel_shows_the_calls_made(start_server, settings, staff_client):
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    settings.CONNECT_BREAKER_FAILURES = 3
    server = start_server(
        {
            "/api/ok": srv.answer(),
            "/api/hold": srv.working(srv.answer(), seconds=0.5),
            "/api/missing": srv.answer(404, b"{}"),
            "/api/boom": srv.answer(500, b"{}"),
            "/api/wait": srv.answer(503, b"{}", headers=[("Retry-After", "60")]),
        }
    )
    datasource = limited_datasource(server.url("/api"), concurrent_calls=1)

    assert [call(datasource, "/ok") for _ in range(3)] == ["ok"] * 3
    holding = threading.Thread(target=call, args=(datasource, "/hold"))
    holding.start()
    assert srv.wait_until(lambda: server.in_flight == 1)
    assert [code_of(call(datasource, "/ok")) for _ in range(2)] == ["rate_limited"] * 2  # the only slot is taken
    holding.join()
    assert [code_of(call(datasource, "/missing")) for _ in range(2)] == ["http_status"] * 2
    assert [code_of(call(datasource, "/boom")) for _ in range(3)] == ["http_status"] * 3  # the breaker opens
    assert [code_of(call(datasource, "/ok")) for _ in range(2)] == ["circuit_open"] * 2
    datasource.test_url = "/wait"
    assert connection_check.check_connection(datasource=datasource).status_code == 503  # made: an admin checking
    assert code_of(call(datasource, "/ok")) == "upstream_paused"  # the pause is checked first

    page = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    assert figure(page, "calls") == "10"  # 3 + 1 held + 2 missing + 3 failing + Test connection's
    assert figure(page, "errors") == "6: http_500 3, http_404 2, http_503 1"
    assert figure(page, "rate-limited") == "2"
    assert figure(page, "circuit-open") == "2"
    assert figure(page, "paused") == "1"
    assert re.fullmatch(r"p50 \d+ ms, p95 \d+ ms \(10 calls sampled\)", figure(page, "latency"))
    summary = status_for(datasource).health
    assert summary.p50_ms <= summary.p95_ms
    assert summary.p95_ms >= 500 * 0.9  # of 10 samples, p95 is the slowest: the call that held the slot 0.5 s
    # The chart and its text alternatives.
    assert '<svg role="img" aria-labelledby="health-chart-title health-chart-desc"' in page
    assert "10 calls in the last hour, 6 of them failed; 5 held back by Connect" in page
    assert re.search(r"<tr><td>\d\d:\d\d</td><td>10</td><td>6</td><td>5</td></tr>", page)
    assert len(re.findall(r"<tr><td>\d\d:\d\d</td>", page)) == health.BUCKETS
    assert 'data-breaker="open"' in page and "Open until" in page
    assert "HTTP 503 at" in page  # the last failure: Test connection's answer
    assert "Paused: the API asked Connect to wait" in page


def test_nothing_kept_for_protection_holds_query_text_input_urls_or_secrets(
    start_server, redis, settings, staff_client
):
    settings.CONNECT_BREAKER_FAILURES = 2
    server = start_server({"/api/search": srv.switchable(srv.echo_request(500)), "/api/pause": srv.echo_request(429)})
    datasource = make_datasource(
        base_url=server.url("/api"),
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
        headers=[("X-Team", "blue")],
    )
    AuthConfig.objects.filter(datasource=datasource).update(password=SECRET_PASSWORD)
    item = make_item(
        datasource, query="/search?q=$userInput&who=$currentUser", list_path="", key_field="", label_template=""
    )
    for _ in range(3):  # two failures open the breaker, the third is refused
        with pytest.raises(errors.DatasourceError):
            resolve_item(item=item, user_input=TYPED, current_user="someone@example.com")

    keys = [k.decode() for k in redis.keys("*protection*")]
    assert keys and all(
        re.fullmatch(
            rf"connect:1:protection:\{{{datasource.pk}\}}:"
            r"(breaker|slots|bucket|pause|health:\d+|latency:\d+)",
            k,
        )
        for k in keys
    ), keys
    stored = "\n".join(f"{key} {dump_value(redis, key)}" for key in keys)
    for forbidden in (
        TYPED,
        "someone@example.com",
        "search",
        "api_key",
        "https",
        "127.0.0.1",
        "X-Team",
        "blue",
        str(server.port),
        *ALL_SECRETS,
    ):
        assert forbidden not in stored, forbidden
    assert "http_500" in stored  # what is kept: codes and numbers
    page = staff_client.get(f"/datasources/{datasource.pk}/").content
    assert_no_secret(page)
    assert TYPED.encode() not in page


def dump_value(redis, key: str) -> str:
    kind = redis.type(key).decode()
    if kind == "hash":
        return repr(redis.hgetall(key))
    if kind == "list":
        return repr(redis.lrange(key, 0, -1))
    if kind == "zset":
        return repr(redis.zrange(key, 0, -1, withscores=True))
    return repr(redis.get(key))


def test_what_is_kept_is_bounded(start_server, redis, monkeypatch):
    monkeypatch.setattr(health, "SAMPLE_CAP", 4)
    server = start_server({"/api/ok": srv.answer()})
    datasource = limited_datasource(server.url("/api"))
    for _ in range(7):
        assert call(datasource, "/ok") == "ok"
    (latency,) = redis.keys(f"*protection:{{{datasource.pk}}}:latency:*")
    (counts,) = redis.keys(f"*protection:{{{datasource.pk}}}:health:*")
    assert redis.llen(latency) == 4  # the latest samples only
    assert redis.hgetall(counts) == {b"calls": b"7"}
    assert 0 < redis.ttl(counts) <= health.TTL_SECONDS
    assert 0 < redis.ttl(latency) <= health.TTL_SECONDS
    assert status_for(datasource).health.calls == 7


def test_a_calls_latency_is_counted_from_its_admission_not_from_its_wait_for_a_turn(start_server, settings):
    """A caller that waited for the only slot does not make the API look slower than it is."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 5
    server = start_server({"/api/hold": srv.working(srv.answer(), seconds=1.0)})
    datasource = limited_datasource(server.url("/api"), concurrent_calls=1)
    first = threading.Thread(target=call, args=(datasource, "/hold"))
    first.start()
    assert srv.wait_until(lambda: server.in_flight == 1)
    assert call(datasource, "/hold") == "ok"  # waited about 1 s for the slot, then took about 1 s
    first.join()
    summary = status_for(datasource).health
    assert summary.samples == 2 and summary.p95_ms < 1700  # a wait counted in would make it about 2,000 ms
