"""Without Redis (none configured, or Redis down), every rule still holds, per process, and the log says so once
per interval, without a traceback; when Redis answers again it is used again."""

import logging
import threading
import time

import pytest
from prometheus_client import REGISTRY

from datasources.protection import limits
from datasources.protection_status import status_for
from datasources.services import connection_check, errors
from tests.conftest import SECRET_API_KEY, assert_no_secret
from tests.support import https_server as srv
from tests.support.protection import at_once, call, code_of, limited_datasource, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

LOGGER = "connect.protection"


def limited(server, *, concurrent_calls=2):
    return limited_datasource(server.url("/api"), concurrent_calls=concurrent_calls)


def warnings_of(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_without_redis_the_limits_hold_per_process_and_the_log_says_so_once(
    start_server, settings, caplog, staff_client
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CONNECT_BREAKER_FAILURES = 2
    server = start_server({"/api/work": srv.working(srv.answer(), seconds=0.05), "/api/boom": srv.answer(500)})
    datasource = limited(server)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert at_once(10, lambda: code_of(call(datasource, "/work"))) == ["ok"] * 10
        assert server.max_in_flight <= 2
        call(datasource, "/boom"), call(datasource, "/boom")
        assert isinstance(call(datasource, "/boom"), errors.CircuitOpen)  # the breaker too, in this process
    logged = warnings_of(caplog)
    assert len(logged) == 1 and logged[0].exc_info is None and "Traceback" not in caplog.text
    assert "kept per process" in logged[0].getMessage() and "no Redis is configured" in logged[0].getMessage()
    assert status_for(datasource).health.calls == 12
    page = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    assert "Redis is not available, so these figures and the limits are this server process's own" in page
    assert "<dd data-health-calls>12</dd>" in page


def test_when_redis_goes_down_the_limits_hold_per_process_then_redis_is_used_again(
    start_server, own_redis, settings, caplog
):
    settings.CONNECT_CACHE_RETRY_SECONDS = 0.3
    server = start_server({"/api/work": srv.working(srv.answer(), seconds=0.05)})
    datasource = limited(server)
    assert call(datasource, "/work") == "ok"
    assert status_for(datasource).shared is True

    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            assert at_once(8, lambda: code_of(call(datasource, "/work"))) == ["ok"] * 8
            time.sleep(0.35)  # past the retry time: Redis is tried again, and fails again
    assert server.max_in_flight <= 2
    logged = warnings_of(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]  # once per interval, not once per call
    assert logged[0].exc_info is None and "Traceback" not in caplog.text
    assert "Redis did not answer (ConnectionError)" in logged[0].getMessage()
    assert f"127.0.0.1:{own_redis.port}" not in caplog.text
    assert status_for(datasource).shared is False

    own_redis.start()  # the same port
    time.sleep(0.35)
    assert call(datasource, "/work") == "ok"
    assert status_for(datasource).shared is True


def test_a_connection_redis_closed_is_opened_again_and_nothing_is_lost(start_server, own_redis, caplog):
    server = start_server({"/api/work": srv.answer(), "/api": srv.answer()})
    datasource = limited(server)
    assert call(datasource, "/work") == "ok"
    own_redis.client().client_kill_filter(_type="normal", skipme=True)  # as an idle timeout would
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert connection_check.check_connection(datasource=datasource).ok
        assert call(datasource, "/work") == "ok"
    assert warnings_of(caplog) == []
    status = status_for(datasource)
    assert status.shared is True and status.health.calls == 3


def test_a_finish_redis_refuses_is_logged_once_and_counted_and_kept_here(start_server, own_redis, caplog):
    """Redis runs out of memory while a call is on its way: its finish is refused. The outcome is kept in this
    process's memory, the error logged (once per interval) and counted, and the next calls go on here."""
    counted = lambda: REGISTRY.get_sample_value("connect_cache_errors_total", {"noticed_by": "protection"}) or 0  # noqa: E731

    def full(handler):
        own_redis.client().config_set("maxmemory", 1)  # every write refused from now on (OOM)
        srv.send(handler, 200, b"{}")

    server = start_server({"/api/full": full, "/api/work": srv.answer()})
    datasource = limited(server, concurrent_calls=0)  # its finish's first write is the health count: refused
    before = counted()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert call(datasource, "/full") == "ok"
        assert call(datasource, "/work") == "ok"
    logged = warnings_of(caplog)
    assert len(logged) == 1 and "Redis refused a protection script (OutOfMemoryError)" in logged[0].getMessage()
    assert counted() - before == 1
    status = status_for(datasource)
    assert status.shared is False and status.health.calls == 2 and status.in_flight == 0


def test_a_renewal_that_fails_unexpectedly_is_said_without_a_secret_and_the_call_goes_on(
    start_server, redis, settings, caplog
):
    """The cache is no longer Redis while a call holding a slot runs (a settings change): its renewal cannot work.
    That is logged with the error's class only, and the call, the renewals and the finish go on."""
    server = start_server({"/api/hold": srv.working(srv.answer(), seconds=limits.RENEW_SECONDS + 2)})
    datasource = limited_datasource(
        server.url("/api"), concurrent_calls=1, mode="api_key", api_key_name="key", api_key_value=SECRET_API_KEY
    )
    redis_caches, results = settings.CACHES, []
    holding = threading.Thread(target=lambda: results.append(call(datasource, "/hold")))
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        holding.start()
        assert srv.wait_until(lambda: server.in_flight == 1)
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        assert wait_for(lambda: "renewal failed" in caplog.text, timeout=limits.RENEW_SECONDS + 1.5)
        settings.CACHES = redis_caches
        holding.join(timeout=10)
    assert results == ["ok"]
    assert "A slot's renewal failed (NotImplementedError)" in caplog.text
    assert_no_secret(caplog.text)
    assert status_for(datasource).in_flight == 0
