"""A datasource's limits (calls per second, concurrent calls), shared by threads and processes through real Redis,
against a real local HTTPS API that records when each call arrives and how many it works on at once."""

import math
import os
import signal
import time
from collections import Counter

import pytest

from datasources.models import Datasource
from datasources.protection import limits
from datasources.protection_status import status_for
from datasources.services import client, errors
from tests.support import https_server as srv
from tests.support.protection import at_once, call, code_of, limited_datasource, most_in_any_window

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca", "redis")]

RATE, BURST, AT_ONCE = 10, 10, 3  # the burst is one second's worth of calls (limits.py)


def limited(server, *, calls_per_second=RATE, concurrent_calls=AT_ONCE, name="Limited API"):
    return limited_datasource(
        server.url("/api"), calls_per_second=calls_per_second, concurrent_calls=concurrent_calls, name=name
    )


def timed(datasource, path):
    started = time.monotonic()
    result = call(datasource, path)
    return {
        "code": code_of(result),
        "started": started,
        "ended": time.monotonic(),
        "message": "" if isinstance(result, str) else result.message,
    }


def test_100_calls_at_once_from_two_processes_keep_to_the_rate_and_the_concurrency(
    start_server, other_process, settings
):
    server = start_server({"/api/work": srv.working(srv.answer(), seconds=0.05)})
    datasource = limited(server)
    other = other_process(datasource, "/work", threads=50)
    mine = at_once(50, lambda: timed(datasource, "/work"), before_release=other.go)
    results = mine + other.results()

    codes = Counter(r["code"] for r in results)
    arrivals = sorted(server.arrivals("/api/work"))
    assert set(codes) == {"ok", "rate_limited"}, codes
    assert codes["ok"] == len(arrivals)  # each admitted call reached the API once; a refused one never did
    assert codes["ok"] >= BURST and codes["rate_limited"] >= 1
    # Never more than 3 at once, although the first second's burst alone is 10 calls.
    assert server.max_in_flight <= AT_ONCE
    # The token bucket: by any moment, at most burst + rate × the time since the callers started (the machine's
    # monotonic clock is the same in both processes and the server; +1 for rounding at the edges).
    began = min(r["started"] for r in results)
    for count, moment in enumerate(arrivals, start=1):
        assert count <= BURST + RATE * (moment - began) + 1, (count, moment - began)
    assert most_in_any_window(arrivals, 1.0) <= BURST + RATE + 2  # +2: arrivals lag their admissions unevenly
    # The callers beyond the bound waited for it (well inside the deadline), then got rate_limited.
    bound = settings.CONNECT_RATE_LIMIT_WAIT_SECONDS
    for result in results:
        if result["code"] == "rate_limited":
            assert bound - 0.05 <= result["ended"] - result["started"] < settings.CONNECT_CALL_DEADLINE_SECONDS / 4
            assert "10 calls per second, 3 at once" in result["message"]


def test_a_killed_process_s_slot_frees_itself_within_its_lease(start_server, other_process, settings):
    """A slot is leased for LEASE_SECONDS and renewed while its call runs: the slot of a process killed mid-call
    (its release lost) frees itself within the lease, not at its call's 30-second deadline."""
    server = start_server({"/api/hang": srv.working(srv.answer(), seconds=30), "/api/ok": srv.answer()})
    datasource = limited(server, concurrent_calls=1)
    settings.CONNECT_CALL_DEADLINE_SECONDS = 30
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    other = other_process(datasource, "/hang")
    other.go()
    assert srv.wait_until(lambda: server.in_flight == 1, timeout=10)
    time.sleep(limits.LEASE_SECONDS + 1)  # past its first lease: renewed, the running call still holds the slot
    assert code_of(call(datasource, "/ok")) == "rate_limited"
    os.kill(other.process.pid, signal.SIGKILL)  # dies holding the only slot
    other.process.wait(timeout=10)
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 10

    started = time.monotonic()
    assert call(datasource, "/ok") == "ok"  # admitted once the dead holder's lease ended
    assert len(server.arrivals("/api/ok")) == 1
    assert time.monotonic() - started < limits.LEASE_SECONDS + 1


def test_over_the_rate_with_no_wait_the_caller_is_refused_at_once(start_server, settings):
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    server = start_server({"/api/ok": srv.answer()})
    datasource = limited(server, calls_per_second=5, concurrent_calls=0)
    began = time.monotonic()
    codes = [code_of(call(datasource, "/ok")) for _ in range(12)]
    elapsed = time.monotonic() - began
    ok = codes.count("ok")
    assert 5 <= ok <= 5 + math.ceil(5 * elapsed)  # the burst, and what the bucket refilled meanwhile
    assert set(codes) == {"ok", "rate_limited"} and codes[:5] == ["ok"] * 5
    assert len(server.arrivals("/api/ok")) == ok


def test_zero_means_no_limit(start_server, settings):
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0  # any call over a limit would be refused at once
    server = start_server({"/api/work": srv.working(srv.answer(), seconds=0.05)})
    datasource = limited(server, calls_per_second=0, concurrent_calls=0)
    results = at_once(30, lambda: code_of(call(datasource, "/work")))
    assert results == ["ok"] * 30
    assert len(server.arrivals("/api/work")) == 30


def test_the_slot_is_given_back_on_every_path(start_server, settings):
    """One slot and no wait: each call is only admitted if the one before gave its slot back."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    settings.CONNECT_BREAKER_FAILURES = 0
    settings.CONNECT_CALL_DEADLINE_SECONDS = 0.5
    server = start_server(
        {
            "/api/ok": srv.answer(),
            "/api/boom": srv.answer(500, b"{}"),
            "/api/slow": srv.slow_body(length=10, interval=1),
            "/api/gone": srv.answer(404, b"{}"),
        }
    )
    datasource = limited(server, calls_per_second=0, concurrent_calls=1)
    assert isinstance(call(datasource, "/boom"), errors.HTTPStatusError)
    assert isinstance(call(datasource, "/slow"), errors.UpstreamTimeout)
    assert isinstance(call(datasource, "/gone"), errors.HTTPStatusError)
    assert isinstance(call(datasource, "/../x"), errors.InvalidURL)

    with pytest.raises(TypeError):  # not a DatasourceError: a bug in the caller (a body that is not bytes)
        client.call_datasource(datasource=datasource, path_and_query="/ok", method="POST", body=7)
    assert call(datasource, "/ok") == "ok"
    assert status_for(datasource).in_flight == 0


def test_waiting_counts_inside_the_call_deadline(start_server, settings):
    """A caller never waits for a turn longer than its deadline leaves, whatever the wait bound."""
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 30
    settings.CONNECT_CALL_DEADLINE_SECONDS = 1
    server = start_server({"/api/ok": srv.answer()})
    datasource = limited(server, calls_per_second=0.1, concurrent_calls=0)  # one call, then one every 10 s
    assert call(datasource, "/ok") == "ok"
    started = time.monotonic()
    assert code_of(call(datasource, "/ok")) == "rate_limited"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "per-process"])
def test_the_same_limits_hold_with_redis_and_per_process(start_server, settings, shared):
    if not shared:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    server = start_server({"/api/work": srv.working(srv.answer(), seconds=0.05)})
    datasource = limited(server, calls_per_second=0, concurrent_calls=2)
    assert all(code == "ok" for code in at_once(12, lambda: code_of(call(datasource, "/work"))))
    assert server.max_in_flight <= 2
    assert status_for(datasource).shared is shared


def test_a_limit_set_meanwhile_applies_to_the_next_call(start_server, settings):
    settings.CONNECT_RATE_LIMIT_WAIT_SECONDS = 0
    server = start_server({"/api/ok": srv.answer()})
    datasource = limited(server, calls_per_second=0, concurrent_calls=0)
    assert [call(datasource, "/ok") for _ in range(3)] == ["ok"] * 3
    Datasource.objects.filter(pk=datasource.pk).update(calls_per_second=1)
    datasource.refresh_from_db()
    assert [code_of(call(datasource, "/ok")) for _ in range(2)] == ["ok", "rate_limited"]
    assert len(server.arrivals("/api/ok")) == 4
