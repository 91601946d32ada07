"""Without Redis (none configured, or Redis down), every rule still holds, per process, and the log says so once
per interval, without a traceback; when Redis answers again it is used again."""

import logging
import socket
import subprocess
import time

import pytest

from datasources import protection
from datasources.services import errors
from tests.support import https_server as srv
from tests.support.protection import at_once, call, code_of, limited_datasource

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

LOGGER = "connect.protection"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server of this test's own, on a free port, without persistence; stopped at teardown."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self) -> "OwnRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert srv.wait_until(self._answers, timeout=10), "redis-server did not start"
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(settings):
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0:
        pytest.skip("needs redis-server")
    server = OwnRedis().start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{server.port}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 2,
            },
            "KEY_PREFIX": "connect",
        }
    }
    try:
        yield server
    finally:
        server.stop()


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
    assert protection.status_for(datasource).health.calls == 12
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
    assert protection.status_for(datasource).shared is True

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
    assert protection.status_for(datasource).shared is False

    own_redis.start()  # the same port
    time.sleep(0.35)
    assert call(datasource, "/work") == "ok"
    assert protection.status_for(datasource).shared is True


def test_a_connection_redis_closed_is_opened_again_and_nothing_is_lost(start_server, redis, caplog):
    from datasources.protection import store
    from datasources.services import connection_check

    server = start_server({"/api/work": srv.answer(), "/api": srv.answer()})
    datasource = limited(server)
    assert call(datasource, "/work") == "ok"
    own = store._thread_client(redis)  # this thread's connection, as the calls above used it
    redis.client_kill_filter(_id=own.client_id())  # only that connection: Redis closes it, as an idle timeout would
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert connection_check.check_connection(datasource=datasource).ok  # its finish is the first use
        assert call(datasource, "/work") == "ok"
    assert warnings_of(caplog) == []
    status = protection.status_for(datasource)
    assert status.shared is True and status.health.calls == 3
