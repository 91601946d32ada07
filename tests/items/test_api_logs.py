"""What the options endpoint logs when calls are refused or fail: no django.request line and no connect.client line
per request, but one summary per interval per datasource and process (operations/call_failures.py); every call is
still counted in /metrics (tests/operations/test_metrics.py). Under gunicorn with real load:
tests/operations/test_served_logs.py."""

import logging
import re
import time

import pytest
from django.contrib.auth import get_user_model

from datasources.models import Datasource
from tests.conftest import SECRET_API_KEY, assert_no_secret

from .conftest import BASE_URL, ISSUES

SEARCH_URL = f"{BASE_URL}/search"
TYPED = "typed-QUERY-e41a"


@pytest.fixture
def item(item_factory, datasource_factory):
    datasource = datasource_factory(
        base_url=BASE_URL,
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
    )
    return item_factory(datasource)


@pytest.fixture
def member_client(client, db):
    client.force_login(get_user_model().objects.create_user("filler", password="pw-filler-123"))
    return client


def ask(member_client, item, count: int, prefix: str = TYPED) -> list[int]:
    return [
        member_client.get(f"/api/items/{item.pk}/options", {"q": f"{prefix}-{n}"}).status_code for n in range(count)
    ]


def lines(caplog, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


@pytest.fixture
def rate_limited(item, upstream, fake_dns, redis, settings):
    """One call per two seconds at most, and no wait for a turn: every request after the first is refused."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    Datasource.objects.filter(pk=item.datasource_id).update(calls_per_second=0.5, concurrent_calls=0)
    upstream.get(SEARCH_URL, json=ISSUES)
    return item


def test_refused_calls_are_one_summary_not_a_line_per_request(rate_limited, member_client, caplog):
    caplog.set_level(logging.INFO)
    assert ask(member_client, rate_limited, 10) == [200] + [429] * 9
    assert lines(caplog, "django.request") == []
    client_lines = [(r.levelname, r.getMessage()) for r in lines(caplog, "connect.client")]
    assert len(client_lines) == 2, client_lines  # the answered call, and the first refusal's summary
    level, summary = client_lines[1]
    assert level == "INFO"
    assert summary.startswith(f"Datasource {rate_limited.datasource_id}: calls refused or failed: 1 (rate_limited); ")
    assert "the last one: GET https://api.example.com/rest/search?q=…&api_key=…. " in summary
    assert "summarised at most once every 60 s per datasource and process" in summary
    assert TYPED not in caplog.text
    assert_no_secret(caplog.text)


def test_after_the_interval_the_summary_counts_what_it_held_back(rate_limited, member_client, caplog, settings):
    settings.CONNECT_CALL_REPORT_INTERVAL_SECONDS = 0.3
    caplog.set_level(logging.INFO, logger="connect.client")
    ask(member_client, rate_limited, 6)
    time.sleep(0.4)
    ask(member_client, rate_limited, 1, prefix="later")
    summaries = [r.getMessage() for r in lines(caplog, "connect.client") if "refused or failed" in r.getMessage()]
    assert len(summaries) == 2
    assert re.search(r": calls refused or failed: 5 in the last 0\.\d s \(rate_limited ×5\); ", summaries[1]), summaries


def test_each_datasource_has_its_own_summary(rate_limited, member_client, item_factory, datasource_factory, caplog):
    other = item_factory(datasource_factory(name="Other", base_url=BASE_URL), name="Other issues")
    Datasource.objects.filter(pk=other.datasource_id).update(calls_per_second=0.5, concurrent_calls=0)
    caplog.set_level(logging.INFO, logger="connect.client")
    ask(member_client, rate_limited, 4)
    ask(member_client, other, 4)
    summaries = [r.getMessage() for r in lines(caplog, "connect.client") if "refused or failed" in r.getMessage()]
    assert [s.split(":")[0] for s in summaries] == [
        f"Datasource {rate_limited.datasource_id}",
        f"Datasource {other.datasource_id}",
    ]


def test_failed_calls_are_one_warning_naming_the_status_without_the_answer(
    item, member_client, upstream, fake_dns, redis, caplog, settings
):
    settings.CONNECT_BREAKER_FAILURES = 0
    upstream.get(SEARCH_URL, status=500, body=f"database down for {TYPED} {SECRET_API_KEY}")
    caplog.set_level(logging.INFO)
    assert ask(member_client, item, 5) == [502] * 5
    assert lines(caplog, "django.request") == []
    [summary] = lines(caplog, "connect.client")
    assert summary.levelname == "WARNING"
    assert "calls refused or failed: 1 (HTTP 500); the last one: GET https://api.example.com/rest/search?q=…" in (
        summary.getMessage()
    )
    assert "database down" not in caplog.text and TYPED not in caplog.text
    assert_no_secret(caplog.text)


def test_at_debug_each_failed_call_has_its_own_line_with_its_message(
    item, member_client, upstream, fake_dns, redis, caplog, settings
):
    settings.CONNECT_BREAKER_FAILURES = 0
    upstream.get(SEARCH_URL, status=500, body="database down")
    caplog.set_level(logging.DEBUG, logger="connect.client")
    ask(member_client, item, 3)
    debug = [r.getMessage() for r in lines(caplog, "connect.client") if r.levelno == logging.DEBUG]
    assert len(debug) == 3 and all("failed after" in line and "database down" in line for line in debug)
    assert_no_secret(caplog.text)
