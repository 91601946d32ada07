"""The pairs: each runs Connect and its floor in turns, in this process, and returns one row of the table (pair 2
returns three: the session path, its floor after the reads, and the embedding-token path).

A row: {"pair", "connect", "floor", "ratio", "target", "met", "detail"}; "connect" and "floor" are display texts,
the numbers behind them are in "detail". Timings are medians over rounds; a round is a batch of calls per side.
"""

import gc
import itertools
import json
import resource
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import redis
import requests
from django.db import connection
from django.utils import timezone

from datasources.models import AuthConfig
from datasources.services import oauth, sessions
from items.services import resolve_item

from .load import run_load


@dataclass
class Context:
    upstream_url: str
    ca_file: str
    redis_url: str
    items: dict  # "small", "slow", "large", ... -> Item (datasource and auth loaded); "cities": [(on, off), ...]
    oauth_auth: AuthConfig
    upstream_stats: Callable[[], dict]
    gunicorn_port: int = 0  # one instance, 2 workers (make serve's configuration)
    instance_ports: tuple[int, ...] = ()  # two more instances, 1 worker each
    cookie: str = ""  # a signed-in user's session cookie, "sessionid=..."
    application: object = None  # an Application granted items["small"], for embedding tokens


def alternate(connect, floor, *, rounds: int, calls: int) -> tuple[list[float], list[float]]:
    """Seconds per call of each side, one batch of `calls` per side and round, the sides taking turns."""
    times = ([], [])
    for _ in range(rounds):
        for side, run in enumerate((connect, floor)):
            began = time.perf_counter()
            for _ in range(calls):
                run()
            times[side].append((time.perf_counter() - began) / calls)
    return times


def paired_ratio(connect: list[float], floor: list[float]) -> float:
    """The median of each round's Connect/floor ratio: both sides of a round ran seconds apart, under the same load."""
    return statistics.median(c / f for c, f in zip(connect, floor, strict=True))


def raw_session(ca_file: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    return session


def row(pair, connect, floor, ratio, target, met, **detail) -> dict:
    return {
        "pair": pair,
        "connect": connect,
        "floor": floor,
        "ratio": ratio,
        "target": target,
        "met": met,
        "detail": detail,
    }


def micros(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


# --- 1. cache hit in process ---------------------------------------------------------------------------------


def cache_hit_in_process(ctx: Context, *, rounds: int = 15, calls: int = 200) -> dict:
    item = ctx.items["small"]
    body = resolve_item(item=item, user_input="printer").raw_body  # fills the cache
    assert resolve_item(item=item, user_input="printer").cache_status == "hit"
    raw = redis.Redis.from_url(ctx.redis_url)
    raw.set("bench:raw-body", body)
    connect, floor = alternate(
        lambda: resolve_item(item=item, user_input="printer"),
        lambda: json.loads(raw.get("bench:raw-body")),
        rounds=rounds,
        calls=calls,
    )
    raw.close()
    c, f, ratio = statistics.median(connect), statistics.median(floor), paired_ratio(connect, floor)
    return row(
        "1. Cache hit, in process (resolve_item vs redis GET + json.loads)",
        micros(c),
        micros(f),
        ratio,
        "≤ 1.5",
        ratio <= 1.5,
        connect_s=c,
        floor_s=f,
        body_bytes=len(body),
    )


# --- 2. cache hit over HTTP ----------------------------------------------------------------------------------


def embedding_token(ctx: Context, item) -> str:
    """A token of the bench's application for `item`, as an application's server signs one (valid 1 hour)."""
    import jwt

    now = int(time.time())
    return jwt.encode(
        {
            "iss": str(ctx.application.pk),
            "sub": "bench",
            "aud": f"http://127.0.0.1:{ctx.gunicorn_port}",
            "iat": now,
            "exp": now + 3600,
            "items": [item.pk],
        },
        ctx.application.secret,
        algorithm="HS256",
    )


def cache_hit_over_http(ctx: Context, *, rounds: int = 3, seconds: float = 2.5, connections: int = 8) -> list[dict]:
    """Three rows: the session path vs the constant view (the target); vs the constant view after the reads any
    signed-in cache hit needs (context: Connect's own work, apart from that I/O); and the embedding-token path (a
    page of another origin: bearer token and Origin header, CORS answered) vs the constant view, beside the
    session path. Every side runs on the same server with the same load, in turns."""
    from django.core.cache import cache

    from .urls import CACHED_ANSWER_KEY

    item = ctx.items["small"]
    session = {"Cookie": ctx.cookie}
    token = {"Authorization": f"Bearer {embedding_token(ctx, item)}", "Origin": ctx.application.allowed_origins[0]}
    body = resolve_item(item=item, user_input="printer").raw_body
    cache.set(CACHED_ANSWER_KEY, body, None)  # the floor's cached answer: the same bytes
    options_path = f"/api/items/{item.pk}/options?q=printer"
    sides = (
        (options_path, session),
        ("/bench/constant", session),
        (f"/bench/constant-after-reads?item={item.pk}", session),
        (options_path, token),
    )
    for path, headers in sides:
        check = requests.get(f"http://127.0.0.1:{ctx.gunicorn_port}{path}", headers=headers, timeout=10)
        assert check.status_code == 200, (path, check.text[:300])
    for headers in (session, token):
        assert (
            requests.get(f"http://127.0.0.1:{ctx.gunicorn_port}{options_path}", headers=headers, timeout=10).json()[
                "cached"
            ]
            is True
        )
    for path, headers in sides:  # warm-up: both workers started, connections to Redis and the database open
        run_load(port=ctx.gunicorn_port, path=path, headers=headers, connections=connections, seconds=0.5)
    runs = tuple([] for _ in sides)
    for _ in range(rounds):
        for side, (path, headers) in enumerate(sides):
            runs[side].append(
                run_load(port=ctx.gunicorn_port, path=path, headers=headers, connections=connections, seconds=seconds)
            )
    connect, plain, after_reads, with_token = (
        {key: statistics.median(r[key] for r in side) for key in ("rps", "p50_ms", "p99_ms")} for side in runs
    )
    failures = sum(r["failures"] for side in runs for r in side)
    load = {"connections": connections, "seconds_per_run": seconds, "failures": failures}

    def shown(m):
        return f"{m['rps']:,.0f} req/s (p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms)"

    rps = [[r["rps"] for r in side] for side in runs]
    session_vs_reads, reads_vs_plain = paired_ratio(rps[0], rps[2]), paired_ratio(rps[2], rps[1])
    token_vs_plain, token_vs_session = paired_ratio(rps[3], rps[1]), paired_ratio(rps[3], rps[0])
    return [
        row(
            "2. Cache hit over HTTP, session path: options endpoint vs the constant JSON view after the reads a "
            "signed-in hit must make (make serve's gunicorn.conf.py and WhiteNoise, 2 workers)",
            shown(connect),
            shown(after_reads),
            session_vs_reads,
            "≥ 0.8",
            session_vs_reads >= 0.8 and failures == 0,
            connect_http=connect,
            floor_http=after_reads,
            session_vs_plain=paired_ratio(rps[0], rps[1]),
            **load,
        ),
        row(
            "2b. The reads a signed-in hit must make (session, user, item versions, answer): the constant view after "
            "them vs the plain constant view",
            shown(after_reads),
            shown(plain),
            reads_vs_plain,
            "(context)",
            None,
            connect_http=after_reads,
            floor_http=plain,
            **load,
        ),
        row(
            "2c. Cache hit over HTTP, embedding-token path (bearer token, Origin, CORS) vs the plain constant JSON "
            "view; the session path beside it",
            f"token {shown(with_token)}; session {shown(connect)} (token/session {token_vs_session:.2f})",
            shown(plain),
            token_vs_plain,
            "faster than the session path",
            token_vs_session > 1 and not failures,
            connect_http=with_token,
            session_http=connect,
            floor_http=plain,
            token_vs_session=token_vs_session,
            **load,
        ),
    ]


def instances_vs_one(ctx: Context, *, rounds: int = 3, seconds: float = 2.5, connections: int = 8) -> dict:
    """Cache-hit throughput of two independent instances (1 worker each, the connections split over both ports)
    beside one instance with the same 2 workers: what running on several hosts costs per request (shared Redis and
    database, nothing shared in process)."""
    item = ctx.items["small"]
    headers, path = {"Cookie": ctx.cookie}, f"/api/items/{item.pk}/options?q=printer"
    sides = ((ctx.gunicorn_port,), ctx.instance_ports)
    for ports in sides:
        for port in ports:
            check = requests.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)
            assert check.status_code == 200 and check.json()["cached"] is True, (port, check.text[:300])
        run_load(ports=ports, path=path, headers=headers, connections=connections, seconds=0.5)  # warm-up
    runs = ([], [])
    for _ in range(rounds):
        for side, ports in enumerate(sides):
            runs[side].append(
                run_load(ports=ports, path=path, headers=headers, connections=connections, seconds=seconds)
            )
    one, two = ({key: statistics.median(r[key] for r in side) for key in ("rps", "p50_ms", "p99_ms")} for side in runs)
    failures = sum(r["failures"] for side in runs for r in side)
    ratio = paired_ratio([r["rps"] for r in runs[1]], [r["rps"] for r in runs[0]])

    def shown(m):
        return f"{m['rps']:,.0f} req/s (p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms)"

    return row(
        "2d. Several instances: cache hit over HTTP, two instances of 1 worker (Connect) vs one of 2 workers (floor)",
        shown(two),
        shown(one),
        ratio,
        "≥ 0.9",
        ratio >= 0.9 and failures == 0,
        two_instances_http=two,
        one_instance_http=one,
        connections=connections,
        seconds_per_run=seconds,
        failures=failures,
    )


# --- 3. warm miss, and cold vs warm --------------------------------------------------------------------------


def miss_vs_pooled_get(ctx: Context, item, url: str, *, rounds: int, calls: int) -> tuple[float, float, float]:
    """A warm miss through Connect (resolve_item, cache off) vs a pooled requests GET + json of the same URL, both
    warmed first (pooled connection, TLS done): Connect's and the floor's median seconds per call, and the ratio."""
    session = raw_session(ctx.ca_file)
    session.get(url).json()
    resolve_item(item=item, user_input="printer", use_cache=False)
    connect, floor = alternate(
        lambda: resolve_item(item=item, user_input="printer", use_cache=False),
        lambda: session.get(url).json(),
        rounds=rounds,
        calls=calls,
    )
    session.close()
    return statistics.median(connect), statistics.median(floor), paired_ratio(connect, floor)


def warm_miss(ctx: Context, *, rounds: int = 15, calls: int = 50) -> dict:
    c, f, ratio = miss_vs_pooled_get(
        ctx, ctx.items["small"], f"{ctx.upstream_url}/options?q=printer", rounds=rounds, calls=calls
    )
    return row(
        "3. Warm miss against a 1 ms loopback API (resolve_item, cache off, vs pooled requests GET + json; context)",
        micros(c),
        micros(f),
        ratio,
        "(context)",
        None,
        connect_s=c,
        floor_s=f,
    )


def cold_vs_warm(ctx: Context, *, rounds: int = 9, calls: int = 20) -> dict:
    item = ctx.items["small"]

    def cold():
        sessions.close_all()  # the next call builds a new session: new connection, new TLS handshake
        resolve_item(item=item, user_input="printer", use_cache=False)

    def warm():
        resolve_item(item=item, user_input="printer", use_cache=False)

    before = ctx.upstream_stats()["handshakes"]
    warm_times, cold_times = alternate(warm, cold, rounds=rounds, calls=calls)
    handshakes = ctx.upstream_stats()["handshakes"] - before
    w, c, ratio = statistics.median(warm_times), statistics.median(cold_times), paired_ratio(cold_times, warm_times)
    return row(
        "3b. Pooling: cold (new TLS handshake per call) vs warm, both through Connect",
        f"warm {micros(w)}",
        f"cold {micros(c)}",
        ratio,
        "cold/warm ≥ 3",
        ratio >= 3,
        warm_s=w,
        cold_s=c,
        handshakes=handshakes,
        cold_calls=rounds * calls,
    )


# --- 4. stampedes --------------------------------------------------------------------------------------------


def together(count: int, work) -> list:
    """Run work() in `count` threads released at once; returns results (exceptions included)."""
    barrier, results = threading.Barrier(count), []

    def one():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # reported as a result: a thread's exception would otherwise vanish
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def stampede(ctx: Context, *, rounds: int = 3) -> dict:
    item, counts, errors = ctx.items["slow"], [], 0
    for number in range(rounds):
        before = ctx.upstream_stats()["requests"].get("/slow", 0)
        results = together(50, lambda number=number: resolve_item(item=item, user_input=f"cold-{number}"))
        errors += sum(isinstance(r, Exception) for r in results)
        counts.append(ctx.upstream_stats()["requests"].get("/slow", 0) - before)
    met = all(c == 1 for c in counts) and errors == 0
    return row(
        "4a. Stampede: 50 concurrent resolve_item, one cold key",
        f"upstream calls {counts}",
        "1 per round",
        max(counts),
        "1",
        met,
        upstream_calls=counts,
        errors=errors,
    )


def token_stampede(ctx: Context, *, rounds: int = 3) -> dict:
    auth, counts, errors = ctx.oauth_auth, [], 0
    for _ in range(rounds):
        AuthConfig.objects.filter(pk=auth.pk).update(
            access_token="expired-token", token_expires_at=timezone.now() - timedelta(minutes=5)
        )
        copies = iter([AuthConfig.objects.get(pk=auth.pk) for _ in range(20)])
        lock = threading.Lock()

        def call(lock=lock, copies=copies):
            with lock:
                mine = next(copies)
            return oauth.bearer_token_for(mine)

        before = ctx.upstream_stats()["requests"].get("/token", 0)
        results = together(20, call)
        errors += sum(isinstance(r, Exception) for r in results)
        counts.append(ctx.upstream_stats()["requests"].get("/token", 0) - before)
    met = all(c == 1 for c in counts) and errors == 0
    return row(
        "4b. Token stampede: 20 concurrent bearer_token_for, expired client-credentials token",
        f"token requests {counts}",
        "1 per round",
        max(counts),
        "1",
        met,
        token_requests=counts,
        errors=errors,
    )


# --- 5. large answer -----------------------------------------------------------------------------------------


def large_answer(ctx: Context, *, rounds: int = 3) -> dict:
    """Peak memory of one call (tracemalloc), Connect (a cache miss, stored) vs requests GET + json."""
    item, inputs = ctx.items["large"], itertools.count()
    session = raw_session(ctx.ca_file)
    url = f"{ctx.upstream_url}/large"
    body_bytes = len(session.get(url).content)

    def connect():
        return resolve_item(item=item, user_input=f"large-{next(inputs)}")

    def floor():
        return session.get(url).json()

    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    connect()  # first: the process's high-water mark grows by what this call needed
    rss_delta = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024
    peaks, seconds = ([], []), ([], [])
    tracemalloc.start()
    try:
        for _ in range(rounds):
            for side, run in enumerate((connect, floor)):
                gc.collect()
                tracemalloc.reset_peak()
                base = tracemalloc.get_traced_memory()[0]
                began = time.perf_counter()
                result = run()
                seconds[side].append(time.perf_counter() - began)
                peaks[side].append(tracemalloc.get_traced_memory()[1] - base)
                del result
    finally:
        tracemalloc.stop()
        session.close()
    c, f = statistics.median(peaks[0]), statistics.median(peaks[1])
    mib = 1024 * 1024
    return row(
        f"5. Large answer ({body_bytes / mib:.1f} MiB JSON): peak memory during one call",
        f"{c / mib:.1f} MiB = {c / body_bytes:.1f}× body (max RSS +{rss_delta / mib:.1f} MiB at the first call)",
        f"{f / mib:.1f} MiB = {f / body_bytes:.1f}× body",
        c / f,
        "Connect < 4× body",
        c < 4 * body_bytes,
        connect_peak_bytes=c,
        floor_peak_bytes=f,
        body_bytes=body_bytes,
        first_call_maxrss_delta_bytes=rss_delta,
        connect_s_under_tracemalloc=statistics.median(seconds[0]),
        floor_s_under_tracemalloc=statistics.median(seconds[1]),
    )
