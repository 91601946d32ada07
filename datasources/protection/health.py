"""A datasource's health over the last hour, in 5-minute buckets that every process adds to (Redis).

Per bucket: a hash of counters (calls made, errors, errors by code, and the calls Connect held back: rate_limited,
circuit_open, paused) and a list of the latest SAMPLE_CAP latencies in milliseconds. Both expire an hour after
their bucket, so what is kept is bounded (at most 13 buckets of a few counters and SAMPLE_CAP numbers each).
Codes are Connect's error codes or http_<status>; nothing in these keys or values comes from a URL, a query, a
person's input or a secret.
"""

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

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


def finish_locally(state, now: float, *, code: str, latency_ms: float | None, refusal: str) -> None:
    bucket = current_bucket(now)
    counts = state.health_counts(bucket)
    if latency_ms is not None:
        counts["calls"] += 1
        if code:
            counts["errors"] += 1
            counts[f"error:{code}"] += 1
        samples = state.latencies.setdefault(bucket, [])
        samples.insert(0, latency_ms)
        del samples[SAMPLE_CAP:]
    if refusal:
        counts[refusal] += 1


# --- the summary the datasource page shows -----------------------------------------------------------------


@dataclass
class Bucket:
    start: datetime
    calls: int = 0
    errors: int = 0
    refused: int = 0

    @property
    def ok(self) -> int:
        return self.calls - self.errors


@dataclass
class HealthSummary:
    buckets: list[Bucket]
    calls: int = 0
    errors: int = 0
    errors_by_code: list[tuple[str, int]] = field(default_factory=list)
    rate_limited: int = 0
    circuit_open: int = 0
    paused: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    samples: int = 0

    @property
    def refused(self) -> int:
        return self.rate_limited + self.circuit_open + self.paused

    @property
    def empty(self) -> bool:
        return self.calls == 0 and self.refused == 0

    @property
    def text(self) -> str:
        """One sentence for the chart's description and screen readers."""
        if self.empty:
            return "No calls in the last hour."
        latency = (
            f"; median latency {self.p50_ms:.0f} ms, 95th percentile {self.p95_ms:.0f} ms"
            if self.p50_ms is not None
            else ""
        )
        return (
            f"{self.calls} calls in the last hour, {self.errors} of them failed; {self.refused} held back by "
            f"Connect ({self.rate_limited} rate limited, {self.circuit_open} circuit open, {self.paused} "
            f"paused){latency}."
        )

    def chart(self, *, width: int = 600, height: int = 120) -> dict:
        """Bar geometry for the template's SVG: per bucket, stacked answered / failed / held back."""
        top = max([b.calls + b.refused for b in self.buckets] + [1])
        slot = width / len(self.buckets)
        bars = []
        for index, bucket in enumerate(self.buckets):
            y, parts = float(height), []
            for kind, count in (("ok", bucket.ok), ("error", bucket.errors), ("refused", bucket.refused)):
                size = height * count / top
                y -= size
                parts.append({"kind": kind, "y": round(y, 1), "height": round(size, 1), "count": count})
            bars.append(
                {
                    "x": round(index * slot + 2, 1),
                    "width": round(slot - 4, 1),
                    "parts": parts,
                    "bucket": bucket,
                    "label_x": round(index * slot + slot / 2, 1),
                    "labelled": index % 3 == 0 or index == len(self.buckets) - 1,
                }
            )
        return {"width": width, "height": height, "top": top, "bars": bars, "axis_y": height + 14}


def summary_from(raw_buckets: list[tuple[int, dict, list]]) -> HealthSummary:
    """raw_buckets: (bucket number, counters {field: count}, latencies in ms), oldest first."""
    summary = HealthSummary(buckets=[])
    codes, latencies = Counter(), []
    for number, counts, samples in raw_buckets:
        counts = {k: int(float(v)) for k, v in counts.items()}
        bucket = Bucket(
            start=datetime.fromtimestamp(number * BUCKET_SECONDS, tz=UTC),
            calls=counts.get("calls", 0),
            errors=counts.get("errors", 0),
            refused=sum(counts.get(name, 0) for name in REFUSALS),
        )
        summary.buckets.append(bucket)
        summary.calls += bucket.calls
        summary.errors += bucket.errors
        summary.rate_limited += counts.get("rate_limited", 0)
        summary.circuit_open += counts.get("circuit_open", 0)
        summary.paused += counts.get("paused", 0)
        codes.update({k.removeprefix("error:"): v for k, v in counts.items() if k.startswith("error:")})
        latencies += [float(v) for v in samples]
    summary.errors_by_code = sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))
    if latencies:
        latencies.sort()
        summary.samples = len(latencies)
        summary.p50_ms, summary.p95_ms = percentile(latencies, 0.50), percentile(latencies, 0.95)
    return summary


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted, non-empty list."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
