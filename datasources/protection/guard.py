"""Guarding one outbound call (SPEC 8): admitted unless a Retry-After pause (pause.py), the circuit breaker
(breaker.py) or the limits (limits.py) refuse it (a caller over a limit waits briefly first, inside the call's
deadline); while it runs, its slot and a probe's claim are renewed (Leases); then finished: the slot given back, the
outcome recorded. In Redis (store.py), or in this process (local.py) without Redis or while it fails: each failure is
counted and logged once per interval, and Redis tried again within RETRY_SECONDS (shared limits soon after a
failover)."""

import logging
import os
import random
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import caches
from django_redis.cache import RedisCache

from datasources.services import transport
from datasources.services.errors import DatasourceError
from operations.metrics import record_cache_error, record_protection_event

from . import breaker, limits, outcomes, pause
from .local import LocalStore
from .store import OK, OPEN, PAUSED, PROBE, PROBING, Call, RedisStore, StoreUnavailable

logger = logging.getLogger("connect.protection")
RETRY_SECONDS = 1.0


class Stores:
    """Redis when it is configured and answering, else this process's LocalStore (said once per interval)."""

    def __init__(self):
        self.redis, self.local, self.down_until, self.warned_at = RedisStore(), LocalStore(), 0.0, None
        self._lock = threading.Lock()

    def current(self):
        if not isinstance(caches["default"], RedisCache):
            self._warn("no Redis is configured (REDIS_URL is unset)")
            return self.local
        return self.local if time.monotonic() < self.down_until else self.redis

    def failed(self, error: StoreUnavailable) -> None:
        record_cache_error(noticed_by="protection")
        self.down_until = time.monotonic() + min(settings.CONNECT_CACHE_RETRY_SECONDS, RETRY_SECONDS)
        self._warn(str(error))

    def _warn(self, why: str) -> None:
        now, interval = time.monotonic(), settings.CONNECT_CACHE_WARNING_INTERVAL_SECONDS
        with self._lock:
            if self.warned_at is not None and now - self.warned_at < interval:
                return
            self.warned_at = now
        logger.warning(
            "Call limits, Retry-After pauses and circuit breakers are kept per process for now: %s. "
            "Each process enforces the datasources' limits on its own meanwhile.",
            why,
        )


class Leases:
    """The Redis slots and probe claims of this process's running calls, renewed by one thread every RENEW_SECONDS."""

    def __init__(self):
        self.running, self.pid, self._lock = set(), None, threading.Lock()

    def hold(self, call: Call) -> None:
        with self._lock:
            self.running.add(call)
            if self.pid != os.getpid():  # the first in this process (a forked worker starts its own)
                self.pid = os.getpid()
                threading.Thread(target=self._renew_forever, name="protection-leases", daemon=True).start()

    def release(self, call: Call) -> None:
        with self._lock:
            self.running.discard(call)

    def forget_all(self) -> None:
        with self._lock:
            self.running.clear()

    def _renew_forever(self) -> None:
        while True:
            time.sleep(limits.RENEW_SECONDS)
            with self._lock:
                running = list(self.running)
            for call in running:
                try:
                    call.store.renew(call)
                except StoreUnavailable:
                    # Counted only: a lease not renewed ends by itself, and the next admission finds out whether
                    # Redis is down (a late renewal of a call from before a failover must not send every new call
                    # to this process's store).
                    record_cache_error(noticed_by="protection")
                except Exception as exc:  # a bug: said, and the other renewals (and the next rounds) go on
                    logger.error("A slot's renewal failed (%s)", type(exc).__name__)


stores, leases = Stores(), Leases()


def guarded_call(*, datasource, send, enforce: bool = True):
    """send() makes the call (returns the answer or raises DatasourceError) once admitted; enforce=False (Test
    connection) skips the pause, the breaker and the limits but still records the outcome."""
    if datasource.pk is None:  # a datasource being created has no shared state yet
        return send()
    with transport.call_deadline() as deadline:  # the wait for a turn counts inside the call's deadline
        call = Call(datasource.pk, stores.current(), deadline)
        if enforce:
            _admit(call, limits.Limits.of(datasource))
        started = time.monotonic()  # the latency counts from the admission, not from the wait for a turn
        try:
            answer = send()
        except DatasourceError as error:
            _finish(call, started, error=error)
            raise
        except BaseException:
            _finish(call, started, unexpected=True)
            raise
        _finish(call, started, answer=answer)
        return answer


def _admit(call: Call, rules: limits.Limits) -> None:
    began = time.monotonic()
    give_up_at = began + max(0.0, min(float(settings.CONNECT_RATE_LIMIT_WAIT_SECONDS), call.deadline - began))
    call.holder = uuid.uuid4().hex if rules.concurrent_calls > 0 else ""
    while True:
        try:
            kind, seconds = call.store.admit(call, rules)
        except StoreUnavailable as exc:
            stores.failed(exc)
            call.store = stores.local  # this call goes on in this process's memory
            continue
        if kind in (OK, PROBE):
            call.probe, call.admitted_at = kind == PROBE, seconds
            if call.store.shared and (call.holder or call.probe):
                leases.hold(call)
            return
        if kind == PAUSED:
            raise pause.refusal(seconds)
        if kind in (OPEN, PROBING):
            raise breaker.refusal(kind, seconds)
        left = give_up_at - time.monotonic()  # WAIT
        if left <= 0:
            _write(Call(call.datasource_id, call.store, refusal="rate_limited"))
            raise limits.refusal(rules, waited=time.monotonic() - began, retry_in=seconds)
        # A little jitter, so that waiting callers do not all come back at the same instant.
        time.sleep(min(left, max(seconds, 0.005) * random.uniform(1.0, 1.3)))
        call.store = stores.current()


def _finish(call: Call, started: float, *, answer=None, error=None, unexpected=False) -> None:
    leases.release(call)
    status = answer.status_code if answer is not None else getattr(error, "status_code", None)
    call.kind = outcomes.NEUTRAL if unexpected else outcomes.classify(error=error, status_code=status)
    call.code = "unexpected_error" if unexpected else outcomes.health_code(error=error, status_code=status)
    call.status = str(status) if status is not None and call.kind == outcomes.FAILURE else ""
    call.latency_ms = (time.monotonic() - started) * 1000
    if status in pause.PAUSING_STATUSES:  # Retry-After means nothing with another status
        header = answer.header("Retry-After") if answer is not None else getattr(error, "retry_after_header", None)
        call.retry_after = pause.retry_after_seconds(status_code=status, header=header)
    if call.retry_after > 0:
        record_protection_event(datasource_id=call.datasource_id, event="retry_after")
    _write(call)


def _write(call: Call) -> None:
    """In the store the call was admitted in; if Redis fails, here (a release lost there ends with its lease)."""
    try:
        call.store.finish(call)
    except StoreUnavailable as exc:
        stores.failed(exc)
        stores.local.finish(call)


def read_state(datasource) -> tuple[dict, bool]:
    """The datasource's raw state (the stores' read) and whether it is shared (Redis) or this process's own."""
    store = stores.current()
    try:
        return store.read(datasource.pk), store.shared
    except StoreUnavailable as exc:
        stores.failed(exc)
        return stores.local.read(datasource.pk), False


def reset() -> None:
    """Forget this process's own state, Redis's down-time and the leases of calls still running (tests: no test
    inherits another's)."""
    stores.__init__()
    leases.forget_all()
