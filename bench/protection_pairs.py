"""The pair of the API's protection (issue 15): people typing against a datasource's limits. Same row format as
pairs.py."""

import collections
import statistics

from .load import run_typists
from .pairs import Context, row

TYPISTS, KEYSTROKES, KEYSTROKE_PAUSE = 200, 5, 0.15


def most_in_any_second(times: list[float], *, from_time: float | None = None) -> int:
    ordered = sorted(t for t in times if from_time is None or t >= from_time)
    best, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] > 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def typists(ctx: Context, port: int) -> dict:
    """200 people typing distinct texts (5 keystrokes each, one request per keystroke: every one a cache miss)
    into a field whose datasource allows 20 calls per second and 5 at once: what the API sees, what callers wait."""
    item = ctx.items["typist"]
    datasource = item.datasource
    rate, at_once = datasource.calls_per_second, datasource.concurrent_calls
    burst = max(1, rate)
    before = len(ctx.upstream_stats(arrivals="/typist")["arrivals"])
    run = run_typists(
        port=port,
        headers={"Cookie": ctx.cookie},
        typists=TYPISTS,
        keystrokes=KEYSTROKES,
        pause=KEYSTROKE_PAUSE,
        path_for=lambda n, key: f"/api/items/{item.pk}/options?q=typist{n:03d}-{'abcde'[: key + 1]}",
    )
    stats = ctx.upstream_stats(arrivals="/typist")
    arrivals = sorted(stats["arrivals"][before:])
    peak = most_in_any_second(arrivals)
    after_burst = most_in_any_second(arrivals, from_time=arrivals[0] + 1.0) if arrivals else 0
    latencies, statuses = run["latencies"], collections.Counter(run["statuses"])
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    sustained = len(arrivals) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    # Reported, not a target: the bucket bounds admissions (burst + rate in any second), and the API sees them a
    # little unevenly later (each call's own path from admission to the API).
    return row(
        f"7. {TYPISTS} typists × {KEYSTROKES} keystrokes, distinct texts, against {rate:g} calls/s and "
        f"{at_once} at once (options endpoint, gunicorn 2 × 32 threads)",
        f"API: {sustained:.1f} calls/s over {len(arrivals)} calls, at most {peak} in any 1 s ({after_burst} "
        f"after the first second), {stats['max_in_flight']} at once; callers p50 {p50 * 1000:,.0f} ms, "
        f"p99 {p99 * 1000:,.0f} ms; answers {dict(sorted(statuses.items()))} in {run['seconds']:.0f} s",
        f"limits {rate:g}/s (burst {burst:g}: at most {burst + rate:g} in any 1 s), {at_once} at once",
        peak / (burst + rate),
        "(reported)",
        None,
        upstream_calls=len(arrivals),
        sustained_rate=sustained,
        peak_any_second=peak,
        peak_after_first_second=after_burst,
        max_in_flight=stats["max_in_flight"],
        callers_p50_ms=p50 * 1000,
        callers_p99_ms=p99 * 1000,
        statuses=dict(statuses),
        seconds=run["seconds"],
    )
