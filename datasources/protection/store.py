"""The protection state in Redis, shared by every process and host: three scripts run as redis-py Script objects
(loaded again when Redis has forgotten them) over django-redis' connection pool (connected again after a restart or
a Sentinel failover): `admit` before a call, `renew` while it runs, `finish` after it. Each is put together from the
rules' fragments (pause.py, breaker.py, limits.py, health.py) and uses Redis's clock. Keys: the cache's prefix and
version (make_key), then protection:{<datasource id>}:<part> (the braces keep a datasource's keys in one Redis
Cluster slot); ids and bucket numbers only."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection
from redis.exceptions import RedisError, ResponseError

from . import breaker, health, limits, pause

OK, PROBE, PAUSED, OPEN, PROBING, WAIT = "ok", "probe", "paused", "open", "probing", "wait"


@dataclass(eq=False)
class Call:
    """One call as the protection sees it: where it was admitted, its slot, its probe, then what it came to."""

    datasource_id: int
    store: object = None
    deadline: float = 0.0  # time.monotonic()
    holder: str = ""  # its concurrency slot ("": none)
    probe: bool = False
    admitted_at: float | None = None  # on the store's clock
    kind: str = ""  # outcomes.SUCCESS, FAILURE or NEUTRAL
    code: str = ""  # health code ("" for an answer)
    status: str = ""  # HTTP status of a failure, as text
    latency_ms: float | None = None  # None: not made
    retry_after: float = 0.0
    refusal: str = ""  # "rate_limited": gave up waiting for a turn

    def lease(self) -> float:
        return min(limits.LEASE_SECONDS, max(self.deadline - time.monotonic(), 0.0) + limits.MARGIN_SECONDS)


class StoreUnavailable(Exception):
    """Redis failed; the message says how (the error's class only: its text can carry Redis's address)."""


HEAD = """local K_PAUSE, K_BREAKER, K_BUCKET, K_SLOTS, K_HEALTH, K_LATENCY = unpack(KEYS)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""
SCRIPTS = {
    "admit": [
        "local rate, burst, max_concurrent = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])",
        "local HEALTH_TTL, holder, lease = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])",
        f"local PROBING_RETRY = {breaker.PROBING_RETRY_SECONDS}",
        *(health.REFUSAL_LUA, limits.LEASE_LUA, pause.ADMIT_LUA, breaker.ADMIT_LUA, limits.ADMIT_LUA),
        "if max_concurrent > 0 then lease_slot('NX') end",
        breaker.CLAIM_LUA,
        "return {probe and 'probe' or 'ok', tostring(now)}",
    ],
    "renew": [
        "local holder, lease, probe = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'",
        limits.LEASE_LUA,
        "if holder ~= '' then lease_slot('XX') end",
        breaker.RENEW_LUA,
    ],
    "finish": [
        "local threshold, open_seconds = tonumber(ARGV[1]), tonumber(ARGV[2])",
        "local HEALTH_TTL, SAMPLE_CAP, holder = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]",
        "local outcome, code, status, latency_ms, probe = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]",
        "local retry_ms, refusal, admitted_at = tonumber(ARGV[11]), ARGV[12], tonumber(ARGV[13])",
        *(limits.RELEASE_LUA, health.FINISH_LUA, pause.FINISH_LUA, breaker.FINISH_LUA),
    ],
}


def keys_of(datasource_id: int, bucket: int | None = None) -> dict:
    """The datasource's keys by part, in the scripts' order; health and latency: `bucket`'s (by default, now)."""
    bucket = health.current_bucket() if bucket is None else bucket
    parts = {"pause": "pause", "breaker": "breaker", "bucket": "bucket", "slots": "slots"}
    parts |= {"health": f"health:{bucket}", "latency": f"latency:{bucket}"}
    make_key = caches["default"].make_key
    return {part: make_key(f"protection:{{{int(datasource_id)}}}:{name}") for part, name in parts.items()}


class RedisStore:
    shared = True
    scripts = None  # registered on first use

    def admit(self, call: Call, rules: limits.Limits) -> tuple[str, float]:
        """(OK or PROBE, the store's time) when admitted; else (PAUSED, OPEN or PROBING: seconds left; or WAIT:
        seconds until the next try)."""
        fixed = [rules.calls_per_second, rules.burst, rules.concurrent_calls, health.TTL_SECONDS]
        kind, value = self._run("admit", call, [*fixed, call.holder, round(call.lease(), 3)])
        return kind.decode(), float(value)

    def renew(self, call: Call) -> None:
        self._run("renew", call, [call.holder, round(call.lease(), 3), int(call.probe)])

    def finish(self, c: Call) -> None:
        fixed = [settings.CONNECT_BREAKER_FAILURES, settings.CONNECT_BREAKER_OPEN_SECONDS]
        fixed += [health.TTL_SECONDS, health.SAMPLE_CAP]
        latency = "" if c.latency_ms is None else f"{c.latency_ms:.2f}"
        admitted = "" if c.admitted_at is None else f"{c.admitted_at:.6f}"
        outcome = [c.holder, c.kind, c.code, c.status, latency, int(c.probe), int(c.retry_after * 1000), c.refusal]
        self._run("finish", c, [*fixed, *outcome, admitted])

    def read(self, datasource_id: int) -> dict:
        """The breaker, the pause, the slots in use and the last hour's health buckets, with Redis's time."""
        buckets, k = health.last_hour(), keys_of(datasource_id)
        try:
            pipe = get_redis_connection("default").pipeline(transaction=False)
            pipe.time().hgetall(k["breaker"]).pttl(k["pause"]).zcount(k["slots"], time.time(), "+inf")
            for bucket_keys in (keys_of(datasource_id, bucket) for bucket in buckets):
                pipe.hgetall(bucket_keys["health"]).lrange(bucket_keys["latency"], 0, -1)
            (seconds, micros), raw_breaker, pause_ms, in_flight, *rest = pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(_why(exc)) from exc
        decoded = [{k.decode(): v.decode() for k, v in raw.items()} for raw in (raw_breaker, *rest[::2])]
        return {
            "now": seconds + micros / 1e6,
            "breaker": decoded[0],
            "paused_for": max(pause_ms, 0) / 1000,
            "in_flight": in_flight,
            "health": [(b, decoded[1 + i], [float(v) for v in rest[2 * i + 1]]) for i, b in enumerate(buckets)],
        }

    def _run(self, name: str, call: Call, args: list):
        try:
            client = get_redis_connection("default")
            if self.scripts is None:
                self.scripts = {n: client.register_script(HEAD + "\n".join(lua)) for n, lua in SCRIPTS.items()}
            return self.scripts[name](keys=list(keys_of(call.datasource_id).values()), args=args, client=client)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(_why(exc)) from exc


def _why(error: Exception) -> str:
    if isinstance(error, ResponseError):  # Redis answered with an error: out of memory, read-only, a script's bug
        return f"Redis refused a protection script ({type(error).__name__})"
    return f"Redis did not answer ({type(error).__name__})"
