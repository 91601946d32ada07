"""Helpers for the tests of the API's protection: calls released at once, windows of arrival times, other Connect
processes (tests/support/protected_caller.py) sharing the same Redis, and a Redis of a test's own.

Its fixtures (other_process, own_redis) are registered for the whole suite through pytest_plugins (tests/conftest.py).
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from datasources.services import client, errors, sessions
from tests.support import https_server as srv
from tests.support.connect_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PROTECTION_SETTINGS = (
    "CONNECT_RATE_LIMIT_WAIT_SECONDS",
    "CONNECT_RETRY_AFTER_MAX_SECONDS",
    "CONNECT_BREAKER_FAILURES",
    "CONNECT_BREAKER_OPEN_SECONDS",
    "CONNECT_CALL_DEADLINE_SECONDS",
)


def call(datasource, path: str):
    """One call; returns "ok" or the error's code (and keeps the error on the result list's side)."""
    try:
        client.call_datasource(datasource=datasource, path_and_query=path)
        return "ok"
    except errors.DatasourceError as exc:
        return exc


def code_of(result) -> str:
    return result if isinstance(result, str) else result.code


def at_once(count: int, work, *, before_release=None) -> list:
    """work() in `count` threads released together (after before_release(), if given); results in finishing order."""
    barrier, results, lock = threading.Barrier(count + 1), [], threading.Lock()

    def one():
        barrier.wait()
        result = work()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    if before_release is not None:
        before_release()
    barrier.wait()
    for thread in threads:
        thread.join(timeout=60)
    return results


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of `times` within any window [t, t + seconds]."""
    ordered, best, first = sorted(times), 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] > seconds:
            first += 1
        best = max(best, last - first + 1)
    return best


def warm(datasource) -> None:
    """Build the datasource's session and call plan in this thread (threads then need no database)."""
    sessions.session_for(datasource)


def limited_datasource(base_url: str, *, calls_per_second: float = 0, concurrent_calls: int = 0, **fields):
    """A datasource at base_url with these limits (0: none), warmed; `fields` as make_datasource takes them."""
    from datasources.models import Datasource
    from tests.conftest import make_datasource

    datasource = make_datasource(base_url=base_url, **fields)
    Datasource.objects.filter(pk=datasource.pk).update(
        calls_per_second=calls_per_second, concurrent_calls=concurrent_calls
    )
    datasource.refresh_from_db()
    warm(datasource)
    return datasource


class OtherProcess:
    """A Connect process started by `other_process(...)`: ready to call, waiting for go()."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.kill()
            raise RuntimeError(f"the other process did not start: {line!r} {process.stderr.read()[-2000:]}")

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def results(self, timeout: float = 60) -> list[dict]:
        out, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, err[-3000:]
        return json.loads(out.strip().splitlines()[-1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def other_process(tmp_path, trust_test_ca):
    """other_process(datasource, path, threads=..., calls=..., interval=..., for_seconds=..., env_extra=...) -> a
    started OtherProcess (stopped at teardown), with this test's Redis db (or env_extra's Redis settings), CA bundle
    and protection settings."""
    started = []

    def start(
        datasource, path: str, *, threads=1, calls=1, interval=0.0, for_seconds=0.0, env_extra=None
    ) -> OtherProcess:
        spec = {
            "datasource": {
                "id": datasource.pk,
                "base_url": datasource.base_url,
                "calls_per_second": datasource.calls_per_second,
                "concurrent_calls": datasource.concurrent_calls,
            },
            "path": path,
            "threads": threads,
            "calls": calls,
            "interval": interval,
            "for_seconds": for_seconds,
        }
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "connect_project.settings",
            "DEBUG": "true",
            "SECRET_KEY": "other-process-test-key",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "REDIS_URL": settings.CACHES["default"]["LOCATION"] if env_extra is None else "",
            "CONNECT_CA_BUNDLE": str(trust_test_ca),
            "CONNECT_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1",
            "CONNECT_LOG_LEVEL": "WARNING",
        }
        env.update({name: str(getattr(settings, name)) for name in PROTECTION_SETTINGS}, **(env_extra or {}))
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.protected_caller", json.dumps(spec)],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        other = OtherProcess(process)
        started.append(other)
        return other

    yield start
    for other in started:
        other.stop()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class OwnRedis:
    """A redis-server of the test's own (`own_redis`: Django's cache points to it), on a free port, without
    persistence; it can be stopped and started again on the same port, and is stopped at teardown."""

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

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

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
