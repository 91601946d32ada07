"""The pairs of what people feel (issues 21, 22, 23 §4, 26): a miss against an API with a real latency, how many
typists one `make serve` holds, the selection proof beside an options answer, a call through an outbound proxy,
typing a word with narrowing, and the widget's size. Same row format as pairs.py.
"""

import collections
import gzip
import json
import os
import statistics
import time
from pathlib import Path

import requests

from items.services import resolve_item

from .load import run_load, run_paced_typists
from .pairs import Context, alternate, embedding_token, micros, miss_vs_pooled_get, paired_ratio, raw_session, row

ROOT = Path(__file__).resolve().parent.parent


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)]


# --- 3r. warm miss against an API answering in 20 ms ---------------------------------------------------------------


def warm_miss_20ms(ctx: Context, *, rounds: int = 15, calls: int = 10) -> dict:
    c, f, ratio = miss_vs_pooled_get(
        ctx, ctx.items["miss20"], f"{ctx.upstream_url}/options?delay=20&q=printer", rounds=rounds, calls=calls
    )
    return row(
        "3r. Warm miss against an API answering in 20 ms (resolve_item, cache off, vs pooled requests GET + json)",
        ms(c),
        ms(f),
        ratio,
        "≤ 1.03",
        ratio <= 1.03,
        connect_s=c,
        floor_s=f,
    )


# --- 3c. the limiter ---------------------------------------------------------------------------------------------


def limiter(ctx: Context, *, rounds: int = 15, calls: int = 30) -> dict:
    """A warm miss (1 ms API) on a datasource with limits on (never binding: every call takes a token and a slot in
    Redis, and gives the slot back) vs the same miss on one with limits 0 (the pause and the breaker only)."""
    limited, plain = ctx.items["limits_on"], ctx.items["small"]
    for item in (limited, plain):
        resolve_item(item=item, user_input="printer", use_cache=False)
    connect, floor = alternate(
        lambda: resolve_item(item=limited, user_input="printer", use_cache=False),
        lambda: resolve_item(item=plain, user_input="printer", use_cache=False),
        rounds=rounds,
        calls=calls,
    )
    c, f, ratio = statistics.median(connect), statistics.median(floor), paired_ratio(connect, floor)
    return row(
        "3c. Limiter: warm miss with limits on (never binding) vs limits 0, both through Connect, 1 ms API (context)",
        micros(c),
        micros(f),
        ratio,
        "(context)",
        None,
        connect_s=c,
        floor_s=f,
    )


# --- 26. a warm miss through the outbound proxy ---------------------------------------------------------------------


def through_proxy(ctx: Context, *, rounds: int = 15, calls: int = 20) -> dict:
    """A warm miss (1 ms API) on a datasource reached through a local HTTP CONNECT proxy (its own process,
    tests/support/connect_proxy.py) vs the same miss on a datasource reached directly. Context: the tunnel is made
    once per pooled connection, then every call is relayed through it."""
    proxied, direct = ctx.items["proxied"], ctx.items["small"]
    for item in (proxied, direct):
        resolve_item(item=item, user_input="printer", use_cache=False)
    before = ctx.upstream_stats()["handshakes"]
    connect, floor = alternate(
        lambda: resolve_item(item=proxied, user_input="printer", use_cache=False),
        lambda: resolve_item(item=direct, user_input="printer", use_cache=False),
        rounds=rounds,
        calls=calls,
    )
    tunnels = ctx.upstream_stats()["handshakes"] - before
    c, f, ratio = statistics.median(connect), statistics.median(floor), paired_ratio(connect, floor)
    return row(
        "3p. Warm miss through a local HTTP CONNECT proxy vs direct (both through Connect, 1 ms API; context)",
        f"{micros(c)} ({tunnels} new TLS connections over {2 * rounds * calls} calls)",
        micros(f),
        ratio,
        "(context)",
        None,
        connect_s=c,
        floor_s=f,
        new_tunnels=tunnels,
    )


# --- 21. the selection proof vs an options answer -------------------------------------------------------------------


def selections_vs_options(ctx: Context, *, rounds: int = 6, seconds: float = 1.5, connections: int = 8) -> dict:
    """Both on a cache hit, same server and load, embedding-token path (a page of another origin): POST
    /selections (check the key among the cached options, sign the proof) vs GET /options."""
    item = ctx.items["small"]
    headers = {"Authorization": f"Bearer {embedding_token(ctx, item)}", "Origin": ctx.application.allowed_origins[0]}
    base = f"http://127.0.0.1:{ctx.gunicorn_port}"
    options_path, selections_path = f"/api/items/{item.pk}/options?q=printer", f"/api/items/{item.pk}/selections"
    body = json.dumps({"keys": ["OPS-3"], "q": "printer"}).encode()
    post_headers = {**headers, "Content-Type": "application/json"}
    assert requests.get(base + options_path, headers=headers, timeout=10).json()["cached"] is True
    check = requests.post(base + selections_path, data=body, headers=post_headers, timeout=10)
    assert check.status_code == 200 and "proof" in check.json(), check.text[:300]
    sides = ((selections_path, post_headers, "POST", body), (options_path, headers, "GET", None))
    for path, side_headers, method, side_body in sides:  # warm-up
        run_load(
            port=ctx.gunicorn_port, path=path, headers=side_headers, method=method, body=side_body,
            connections=connections, seconds=0.5,
        )  # fmt: skip
    runs = ([], [])
    for _ in range(rounds):
        for side, (path, side_headers, method, side_body) in enumerate(sides):
            runs[side].append(
                run_load(
                    port=ctx.gunicorn_port,
                    path=path,
                    headers=side_headers,
                    method=method,
                    body=side_body,
                    connections=connections,
                    seconds=seconds,
                )  # fmt: skip
            )
    proof, options = ({k: statistics.median(r[k] for r in side) for k in ("rps", "p50_ms", "p99_ms")} for side in runs)
    failures = sum(r["failures"] for side in runs for r in side)
    # Cost per answer: the options' throughput over the proof's, per round.
    ratio = paired_ratio([r["rps"] for r in runs[1]], [r["rps"] for r in runs[0]])

    def shown(m):
        return f"{m['rps']:,.0f} req/s (p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms)"

    return row(
        "9. Selection proof on a cache hit: POST /selections vs GET /options, both on a cache hit (embedding-token "
        "path, same server and load); ratio = time per answer",
        shown(proof),
        shown(options),
        ratio,
        "≤ 1.3",
        ratio <= 1.3 and failures == 0,
        selections_http=proof,
        options_http=options,
        connections=connections,
        seconds_per_run=seconds,
        failures=failures,
    )


# --- 22. typing a word, narrowing on vs off -------------------------------------------------------------------------

WORD = "amsterdam"


def typing_a_word(ctx: Context) -> dict:
    """9 keystrokes ("a", "am", ... "amsterdam"), one options request each, sent one after the other as the
    previous answer arrives (debounce 0), on an item whose API filters by "label contains" (20 ms per call): the
    item's narrowing rule set to that (on) vs "Nothing" (off). A fresh item per round, so every round starts with
    an empty cache. Upstream calls and the word's total time."""
    results = {True: [], False: []}
    session = requests.Session()
    session.trust_env = False
    headers = {"Cookie": ctx.cookie}
    for on_item, off_item in ctx.items["cities"]:
        for narrowing, item in ((True, on_item), (False, off_item)):
            before = ctx.upstream_stats()["requests"].get("/cities", 0)
            began = time.perf_counter()
            for length in range(1, len(WORD) + 1):
                answer = session.get(
                    f"http://127.0.0.1:{ctx.gunicorn_port}/api/items/{item.pk}/options",
                    params={"q": WORD[:length]},
                    headers=headers,
                    timeout=10,
                )
                assert answer.status_code == 200, answer.text[:300]
            seconds = time.perf_counter() - began
            calls = ctx.upstream_stats()["requests"].get("/cities", 0) - before
            results[narrowing].append((calls, seconds))
    session.close()
    on_calls, off_calls = (max(c for c, _ in results[side]) for side in (True, False))
    on_s, off_s = (statistics.median(s for _, s in results[side]) for side in (True, False))
    return row(
        f'10. Typing a word: 9 keystrokes ("{WORD}"), debounce 0, API filtering by "label contains" in 20 ms: '
        "narrowing on vs off",
        f"on: {on_calls} upstream calls, {ms(on_s)} for the word",
        f"off: {off_calls} upstream calls, {ms(off_s)}",
        on_calls,
        "calls ≤ 2 with narrowing on",
        on_calls <= 2,
        narrowing_on=results[True],
        narrowing_off=results[False],
    )


# --- 8. capacity ------------------------------------------------------------------------------------------------------

STEPS = (40, 60, 80, 100, 150, 200)
STEP_SECONDS = 8
API_SECONDS = 0.2


def floor_cpu_per_get(ctx: Context, calls: int = 300) -> float:
    """CPU seconds of one pooled requests GET + json of the small answer, in this process (the API answers at
    once, so nothing is spent waiting)."""
    session = raw_session(ctx.ca_file)
    url = f"{ctx.upstream_url}/options?q=printer"
    session.get(url).json()
    began = time.thread_time()
    for _ in range(calls):
        session.get(url).json()
    spent = (time.thread_time() - began) / calls
    session.close()
    return spent


def _step(server, item, headers: dict, typists: int, attempt: int) -> dict:
    cpu_before = server.cpu_seconds()
    run = run_paced_typists(
        port=server.port,
        headers=headers,
        typists=typists,
        seconds=STEP_SECONDS,
        path_for=lambda n, k: f"/api/items/{item.pk}/options?q=cap{typists}-{attempt}-{n}-{k}",
    )
    cpu = server.cpu_seconds() - cpu_before
    latencies, statuses = run["latencies"], collections.Counter(run["statuses"])
    answered = statuses.get(200, 0)
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    return {
        "typists": typists,
        "attempt": attempt,
        "requests": len(latencies),
        "answered_200": answered,
        "statuses": dict(statuses),
        "p50_ms": round(p50 * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "cpu_per_request_ms": round(cpu / max(1, len(latencies)) * 1000, 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "held": answered == len(latencies) and p95 <= 2 * API_SECONDS,
    }


def capacity(ctx: Context, server, *, threads_note: str) -> dict:
    """Typists each sending one options request per second with distinct texts (every request a miss), an API
    answering in 200 ms, no limits, Connect under gunicorn.conf.py's defaults: the load is stepped up until a step
    is not held (an answer missing or not 200, or p95 over 2 × the API's 200 ms)."""
    item = ctx.items["capacity"]
    headers = {"Cookie": ctx.cookie}
    steps, held = [], 0
    # Warm-up, not counted: every worker has loaded its code, the item and its pooled connections to the API.
    run_paced_typists(
        port=server.port,
        headers=headers,
        typists=STEPS[0],
        seconds=3,
        path_for=lambda n, k: f"/api/items/{item.pk}/options?q=warm-{n}-{k}",
    )
    for typists in STEPS:
        # A step not held is tried once more: a burst of other load on the shared machine fails a step it would hold.
        for attempt in (1, 2):
            step = _step(server, item, headers, typists, attempt)
            if step["held"]:
                break
        steps.append(step)
        if not step["held"]:
            break
        held = typists
    floor_cpu = floor_cpu_per_get(ctx)
    shown_steps = "; ".join(
        f"{s['typists']}: p95 {s['p95_ms']:,.0f} ms{'' if s['answered_200'] == s['requests'] else ' (unanswered)'}"
        f"{' at the 2nd try' if s['attempt'] == 2 else ''} (load {s['load_average_1min']:g})"
        for s in steps
    )
    last_held = next((s for s in reversed(steps) if s["held"]), steps[0])
    return row(
        f"8. Capacity: typists sending 1 request/s each, distinct texts (all misses), API in 200 ms, no limits, "
        f"make serve's defaults ({threads_note}); held = every request answered and p95 ≤ 400 ms",
        f"{held} typists held ({shown_steps}); Connect CPU {last_held['cpu_per_request_ms']:.2f} ms per miss",
        f"pooled requests GET + json: CPU {floor_cpu * 1000:.2f} ms per call",
        held,
        "≥ 100 typists",
        held >= 100,
        steps=steps,
        floor_cpu_per_get_ms=round(floor_cpu * 1000, 3),
        step_seconds=STEP_SECONDS,
    )


# --- widget size ------------------------------------------------------------------------------------------------------

# Measured once from the npm packages (npm pack; dist/*.min.js + *.min.css, gzip -9), 2026-12-07.
REFERENCES = {
    "GOV.UK accessible-autocomplete 3.0.1 (JS + CSS)": 19_637,
    "Tom Select 2.6.2, base build (JS + CSS)": 16_650,
}


def widget_size() -> dict:
    """gzip -9 size of the widget's script and style sheet (whichever of them exist), beside two accessible
    autocompletes' published builds."""
    files = [ROOT / "static" / name for name in ("connect-field.js", "connect-field.css")]
    present = [path for path in files if path.exists()]
    data = b"".join(path.read_bytes() for path in present)
    size = len(gzip.compress(data, 9))
    smallest = min(REFERENCES.values())
    return row(
        "11. Widget size, gzip: " + " + ".join(path.name for path in present),
        f"{size / 1024:.1f} KB gzip ({len(data) / 1024:.1f} KB)",
        "; ".join(f"{name}: {value / 1024:.1f} KB" for name, value in REFERENCES.items()),
        size / smallest,
        "below both",
        size < smallest,
        gzip_bytes=size,
        raw_bytes=len(data),
        files=[path.name for path in present],
        references_gzip_bytes=REFERENCES,
    )
