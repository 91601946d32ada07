"""Reports written at most once per interval per subject and process: the first event is written at once, the events
after it within the interval are counted and told with the next line. The one home of "once per interval", used by
the Redis outage report (redis_outage.py) and the summary of refused and failed calls (call_failures.py).

The caller counts every event in /metrics too: the log is the summary an operator reads, the metrics the count.
"""

import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

_every_report: "weakref.WeakSet[IntervalReports]" = weakref.WeakSet()


@dataclass(frozen=True)
class Held:
    """What a line tells: the events since the last line (the one that makes this line due included), by kind."""

    counts: dict[str, int]
    since_seconds: float | None  # since the last line; None for the first line

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """ "1 (timeout)", or "332 in the last 61 s (rate_limited ×300, timeout ×32)", the most frequent first."""
        kinds = ", ".join(f"{kind} ×{count}" for kind, count in sorted(self.counts.items(), key=lambda kc: -kc[1]))
        if self.total == 1:
            kinds = next(iter(self.counts))
        period = "" if self.since_seconds is None else f" in the last {_seconds(self.since_seconds)} s"
        return f"{self.total}{period} ({kinds})"


def _seconds(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"


class IntervalReports:
    """Per process, per subject (a datasource id, "redis"): when the last line was written, and what happened since."""

    def __init__(self, interval_seconds: Callable[[], float]):
        self.interval_seconds = interval_seconds
        self._lock = threading.Lock()
        self._last_line_at: dict = {}
        self._counts: dict = {}
        _every_report.add(self)

    def note(self, subject, kind: str) -> Held | None:
        """Count one event of `kind` for `subject`; returns what the line says when one is due, else None."""
        now = time.monotonic()
        with self._lock:
            counts = self._counts.setdefault(subject, Counter())
            counts[kind] += 1
            last = self._last_line_at.get(subject)
            if last is not None and now - last < self.interval_seconds():
                return None
            self._last_line_at[subject], self._counts[subject] = now, Counter()
        return Held(counts=dict(counts), since_seconds=None if last is None else now - last)

    def reset(self) -> None:
        with self._lock:
            self._last_line_at.clear()
            self._counts.clear()


def reset_every_report() -> None:
    """Forget every report's lines and counts (a test starts from a fresh process's state)."""
    for report in list(_every_report):
        report.reset()
