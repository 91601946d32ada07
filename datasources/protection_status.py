"""What people see of a datasource's protection (SPEC 8): the datasource page's panel (limits, the circuit breaker
and its last failure, a Retry-After pause, the last hour's health with its chart) and Test connection's breaker line.

Read from where the protection keeps its state (`protection.read_state`: Redis, or this process's memory), in the
fields the rules write (datasources/protection/breaker.py and health.py).
"""

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from .protection import health, limits, read_state
from .services.errors import label_for


@dataclass(frozen=True)
class LastFailure:
    code: str
    status_code: int | None
    at: datetime

    @property
    def label(self) -> str:
        return f"HTTP {self.code[5:]}" if self.code.startswith("http_") else label_for(self.code)


@dataclass(frozen=True)
class BreakerState:
    state: str  # "closed", "open" or "probing"
    failures: int
    threshold: int
    open_until: datetime | None = None
    last_failure: LastFailure | None = None

    @property
    def probe_due(self) -> bool:
        """Open, but its time is over: the next call admitted is the probe."""
        return self.state == "open" and self.open_until is not None and self.open_until <= timezone.now()

    @property
    def text(self) -> str:
        if self.state == "closed":
            return "closed"
        if self.state == "probing":
            return "probing (one call is testing the API)"
        until = f"{timezone.localtime(self.open_until):%H:%M:%S}"
        return f"open until {until} (the next call tests the API)" if self.probe_due else f"open until {until}"


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


@dataclass(frozen=True)
class ProtectionStatus:
    limits: limits.Limits
    breaker: BreakerState
    paused_for: float  # seconds left of a Retry-After pause (0: none)
    in_flight: int
    health: HealthSummary
    shared: bool  # read from Redis (every process); False: this process only


def status_for(datasource) -> ProtectionStatus:
    raw, shared = read_state(datasource)
    return ProtectionStatus(
        limits=limits.Limits.of(datasource),
        breaker=breaker_from(raw["breaker"], now=raw["now"]),
        paused_for=raw["paused_for"],
        in_flight=raw["in_flight"],
        health=health_from(raw["health"]),
        shared=shared,
    )


def breaker_state(datasource) -> BreakerState:
    raw, _shared = read_state(datasource)
    return breaker_from(raw["breaker"], now=raw["now"])


def breaker_from(raw: dict, *, now: float) -> BreakerState:
    """The breaker as read from the store (field -> text or number) at the store's time `now`."""
    open_until, probe_until = float(raw.get("open_until") or 0), float(raw.get("probe_until") or 0)
    last = None
    if raw.get("last_at"):
        status = str(raw.get("last_status") or "")
        last = LastFailure(
            code=str(raw.get("last_code") or ""),
            status_code=int(status) if status.isdigit() else None,
            at=_moment(float(raw["last_at"])),
        )
    if open_until <= 0:
        state = "closed"
    elif open_until <= now < probe_until:
        state = "probing"
    else:
        state = "open"
    return BreakerState(
        state=state,
        failures=int(float(raw.get("failures") or 0)),
        threshold=settings.CONNECT_BREAKER_FAILURES,
        open_until=_moment(open_until) if open_until > 0 else None,
        last_failure=last,
    )


def health_from(raw_buckets: list[tuple[int, dict, list]]) -> HealthSummary:
    """raw_buckets: (bucket number, counters {field: count}, latencies in ms), oldest first."""
    summary = HealthSummary(buckets=[])
    codes, latencies = Counter(), []
    for number, counts, samples in raw_buckets:
        counts = {k: int(float(v)) for k, v in counts.items()}
        bucket = Bucket(
            start=_moment(number * health.BUCKET_SECONDS),
            calls=counts.get("calls", 0),
            errors=counts.get("errors", 0),
            refused=sum(counts.get(name, 0) for name in health.REFUSALS),
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


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
