"""A datasource's health over the last hour, in 5-minute buckets that every process adds to: per bucket a hash of
counters (calls, errors by code, the calls Connect held back) and the latest SAMPLE_CAP latencies, expiring an hour
after their bucket. Codes are Connect's error codes or http_<status>: nothing comes from a URL, a query, a person's
input or a secret. The datasource page reads them through datasources/protection_status.py."""

import time

BUCKET_SECONDS = 300
BUCKETS = 12  # one hour
SAMPLE_CAP = 500
TTL_SECONDS = BUCKET_SECONDS * (BUCKETS + 1) + 60
REFUSALS = ("rate_limited", "circuit_open", "paused")

# Defined before the admission rules, which count their refusals with it.
REFUSAL_LUA = """
local function count_refusal(field)
  redis.call('HINCRBY', K_HEALTH, field, 1)
  redis.call('EXPIRE', K_HEALTH, HEALTH_TTL)
end
"""
FINISH_LUA = """
if latency_ms ~= '' then
  redis.call('HINCRBY', K_HEALTH, 'calls', 1)
  if code ~= '' then
    redis.call('HINCRBY', K_HEALTH, 'errors', 1)
    redis.call('HINCRBY', K_HEALTH, 'error:' .. code, 1)
  end
  redis.call('LPUSH', K_LATENCY, latency_ms)
  redis.call('LTRIM', K_LATENCY, 0, SAMPLE_CAP - 1)
  redis.call('EXPIRE', K_LATENCY, HEALTH_TTL)
end
if refusal ~= '' then redis.call('HINCRBY', K_HEALTH, refusal, 1) end
if latency_ms ~= '' or refusal ~= '' then redis.call('EXPIRE', K_HEALTH, HEALTH_TTL) end
"""


def current_bucket(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // BUCKET_SECONDS)


def last_hour(now: float | None = None) -> list[int]:
    newest = current_bucket(now)
    return list(range(newest - BUCKETS + 1, newest + 1))


def finish_locally(state, now: float, call) -> None:
    """The per-process version of FINISH_LUA, for a finished or refused call (store.Call)."""
    bucket = current_bucket(now)
    counts = state.health_counts(bucket)
    if call.latency_ms is not None:
        counts["calls"] += 1
        if call.code:
            counts["errors"] += 1
            counts[f"error:{call.code}"] += 1
        samples = state.latencies.setdefault(bucket, [])
        samples.insert(0, call.latency_ms)
        del samples[SAMPLE_CAP:]
    if call.refusal:
        counts[call.refusal] += 1
