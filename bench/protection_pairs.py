"""The pairs of the API's protection (issue 15): people typing against a datasource's limits, and what the limiter
costs on a warm miss. Same row format as pairs.py."""

import collections
import statistics
from contextlib import contextmanager

from items.services import resolve_item

from .load import run_typists
from .pairs import Context, alternate, micros, paired_ratio, row

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


def limiter_overhead(ctx: Context, *, rounds: int = 15, calls: int = 50) -> list[dict]:
    """A warm miss through Connect with the datasource's limits on (high enough never to make a call wait) vs off.
    Row 3c: the limiter's own cost, the token bucket and the slot in the same admission round trip and the slot's
    release, against limits off with an admission for every call too. Row 3e (context): against limits off as
    deployed, where this process reuses its last admission for 0.25 s (protection/recent.py), so the difference also
    holds the round trip a datasource without limits skips."""
    from datasources import protection

    on, off = ctx.items["limits_on"], ctx.items["small"]
    assert off.datasource.calls_per_second == 0 and on.datasource.calls_per_second > 0

    def limited():
        resolve_item(item=on, user_input="printer", use_cache=False)

    def free():
        resolve_item(item=off, user_input="printer", use_cache=False)

    fresh = protection.RUN_FRESH_SECONDS
    protection.RUN_FRESH_SECONDS = 0  # no admission is reused: each call of both sides is admitted in Redis
    try:
        each_admitted = alternate(limited, free, rounds=rounds, calls=calls)
    finally:
        protection.RUN_FRESH_SECONDS = fresh
    as_deployed = alternate(limited, free, rounds=rounds, calls=calls)
    rows = []
    for (on_times, off_times), pair, scored in (
        (
            each_admitted,
            "3c. Limiter on a warm miss (limits on, never binding, vs limits 0, every call admitted "
            "in Redis on both sides)",
            True,
        ),
        (
            as_deployed,
            "3e. Limits on vs limits 0 as deployed (limits 0 reuses its process's admission for 0.25 s; context)",
            False,
        ),
    ):
        c, f, ratio = statistics.median(on_times), statistics.median(off_times), paired_ratio(on_times, off_times)
        rows.append(
            row(
                pair,
                micros(c),
                micros(f),
                ratio,
                "≤ 1.1" if scored else "≤ 1.1 (context)",
                ratio <= 1.1 if scored else None,
                limits_on_s=c,
                limits_off_s=f,
            )
        )
    return rows


@contextmanager
def protection_bypassed():
    """The client without the API's protection (no admission, no finish): what its Redis round trips cost."""
    from datasources import protection

    guarded = protection.guarded_call
    protection.guarded_call = lambda *, datasource, send, enforce=True: send(gate=lambda: None)
    try:
        yield
    finally:
        protection.guarded_call = guarded


def without_protection(ctx: Context) -> list[dict]:
    """Pairs 3 and 6 again with the protection bypassed (context rows: they show how much of those pairs' gap is
    the per-call Redis round trip of SPEC 8, which every call of a real deployment makes)."""
    from . import pages, pairs

    with protection_bypassed():
        rows = [pairs.warm_miss(ctx), pages.three_pages(ctx)]
    names = (
        "3d. Warm miss as pair 3, the API's protection bypassed (context)",
        "6b. Pagination as pair 6, the API's protection bypassed (context)",
    )
    return [
        {**r, "pair": name, "target": f"{r['target']} (context)", "met": None}
        for r, name in zip(rows, names, strict=True)
    ]
