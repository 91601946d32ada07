"""The protection state in this process's memory, while Redis is not configured or not answering: the rules' Python
twins of the scripts (store.py), under one lock, on this process's clock. Every limit then holds per process, and a
slot lasts until its call ends (its deadline at most): a process loses no release, so nothing is renewed."""

import threading
import time
from collections import Counter, defaultdict

from . import breaker, health, limits, pause
from .store import OK, PAUSED, PROBE, WAIT, Call


class LocalState:
    """One datasource's state in this process: what its Redis keys hold, as attributes."""

    def __init__(self):
        self.paused_until, self.breaker = 0.0, {}
        self.tokens, self.tokens_at, self.slots = None, 0.0, {}
        self.counts: dict[int, Counter] = {}
        self.latencies: dict[int, list] = {}

    def health_counts(self, bucket: int) -> Counter:
        for old in [b for b in self.counts if b <= bucket - health.BUCKETS]:
            self.counts.pop(old, None)
            self.latencies.pop(old, None)
        return self.counts.setdefault(bucket, Counter())

    def count_refusal(self, field: str, now: float) -> None:
        self.health_counts(health.current_bucket(now))[field] += 1


class LocalStore:
    shared = False

    def __init__(self):
        self._lock = threading.Lock()
        self._states: defaultdict[int, LocalState] = defaultdict(LocalState)

    def admit(self, call: Call, rules: limits.Limits) -> tuple[str, float]:
        now = time.time()
        with self._lock:
            state = self._states[call.datasource_id]
            paused = pause.admit_locally(state, now)
            if paused is not None:
                return PAUSED, paused
            refused, probe = breaker.admit_locally(state, now)
            if refused:
                return refused, probe
            wait = limits.admit_locally(state, rules, now)
            if wait is not None:
                return WAIT, wait
            hold = max(call.deadline - time.monotonic(), 0.0) + limits.MARGIN_SECONDS  # nothing is lost here
            if rules.concurrent_calls > 0:
                state.slots[call.holder] = now + hold
            if probe:
                state.breaker["probe_until"] = now + hold
            return (PROBE if probe else OK), now

    def finish(self, c: Call) -> None:
        now = time.time()
        with self._lock:
            state = self._states[c.datasource_id]
            state.slots.pop(c.holder, None)
            health.finish_locally(state, now, c)
            pause.finish_locally(state, now, c.retry_after)
            breaker.finish_locally(state, now, c)

    def read(self, datasource_id: int) -> dict:
        now = time.time()
        with self._lock:
            state = self._states[datasource_id]
            return {
                "now": now,
                "breaker": dict(state.breaker),
                "paused_for": max(0.0, state.paused_until - now),
                "in_flight": sum(1 for end in state.slots.values() if end > now),
                "health": [
                    (bucket, dict(state.counts.get(bucket, {})), list(state.latencies.get(bucket, [])))
                    for bucket in health.last_hour(now)
                ],
            }
