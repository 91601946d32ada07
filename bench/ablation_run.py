"""`python bench/run.py --ablation [--http]` (issue 23 §2): each per-request speed layer measured on the HTTP pairs it
serves, with and without it (bench/ablation.py bypasses it), the sides taking turns in rounds as in pairs 2 and 2c.

One instance of 1 worker runs as deployed ("with"); for each layer, an instance without it ("without") is started
beside it, and cache hits are sent to each in turn: the session path (pair 2) and the embedding-token path (pair 2c).
One worker each, so that how the connections spread over workers adds no noise. The first row bypasses nothing: two
identical instances, which shows the noise. Saving = 1 - (the worker's CPU time per request with the layer) /
(without it), the median of the rounds' (CPU time, read from /proc, moves far less with the machine's other load
than requests/s, which are shown beside it).
"""

import os
import statistics
import sys
import time

import requests

from . import ablation, servers
from .load import run_load
from .pairs import embedding_token, paired_ratio, row

ROUNDS, SECONDS, CONNECTIONS = 5, 2.0, 8


IN_PROCESS_ROUNDS, IN_PROCESS_CALLS = 30, 50


def in_process(ctx) -> list[dict]:
    """The same pairs through Django's full request path in this process (middleware, caller, view, JSON answer;
    no gunicorn), one request at a time: this thread's CPU time per request, with the layer and without it
    (bypassed and put back in turns). Far less noisy than the servers' figures on a shared machine; gunicorn's own
    share of a request is missing, so a saving here is, if anything, larger than over HTTP."""
    from django.conf import settings
    from django.test import Client

    item = ctx.items["small"]
    path = f"/api/items/{item.pk}/options?q=printer"
    ctx.gunicorn_port = 8999  # the audience of the token: this "instance"
    client = Client(HTTP_HOST="127.0.0.1:8999")
    client.cookies[settings.SESSION_COOKIE_NAME] = ctx.cookie.split("=", 1)[1]
    token = {
        "HTTP_AUTHORIZATION": f"Bearer {embedding_token(ctx, item)}",
        "HTTP_ORIGIN": ctx.application.allowed_origins[0],
    }
    pairs = {"2 (session)": {}, "2c (token)": token}
    for headers in pairs.values():
        for _ in range(50):
            answer = client.get(path, **headers)
        assert answer.status_code == 200 and answer.json()["cached"] is True, answer.content[:300]
    rows = []
    for layer in ("", *ablation.LAYERS):
        if layer and layer not in os.environ.get("BENCH_LAYERS", layer).split(","):
            continue
        measured = {}
        for pair, headers in pairs.items():
            cpu = ([], [])
            for number in range(IN_PROCESS_ROUNDS):
                for side in (0, 1) if number % 2 else (1, 0):  # each side first in every other round
                    restore = ablation.bypass(layer) if side and layer else (lambda: None)
                    try:
                        for _ in range(5):  # a bypassed layer's first calls (its own warm-up) are not counted
                            client.get(path, **headers)
                        began = time.thread_time()
                        for _ in range(IN_PROCESS_CALLS):
                            answer = client.get(path, **headers)
                        cpu[side].append((time.thread_time() - began) / IN_PROCESS_CALLS)
                        assert answer.status_code == 200, answer.content[:300]
                    finally:
                        restore()
            measured[pair] = {
                "with_cpu_us": statistics.median(cpu[0]) * 1e6,
                "without_cpu_us": statistics.median(cpu[1]) * 1e6,
                "saving": 1 - paired_ratio(cpu[0], cpu[1]),
            }
        shown = "; ".join(
            f"pair {pair}: CPU per request with {m['with_cpu_us']:,.0f} µs, without {m['without_cpu_us']:,.0f} µs, "
            f"saving {m['saving']:+.1%}"
            for pair, m in measured.items()
        )
        rows.append(
            row(
                f"A. {layer or 'nothing bypassed (noise)'}, in process",
                shown,
                "",
                max(m["saving"] for m in measured.values()),
                "saving ≥ 5% to keep",
                None if not layer else any(m["saving"] >= 0.05 for m in measured.values()),
                **measured,
            )
        )
        print(rows[-1]["pair"], "|", shown, flush=True)
    return rows


def run(ctx, workdir, env, started) -> list[dict]:
    """In process; with --http, under gunicorn too (about 8 minutes more, and noisy on a shared machine).
    BENCH_LAYERS=a,b measures only those layers (and the noise row)."""
    rows = in_process(ctx)
    if "--http" in sys.argv:
        rows += over_http(ctx, workdir, env, started)
    return rows


def over_http(ctx, workdir, env, started) -> list[dict]:
    with_layers = servers.start_gunicorn(workdir, env, workers=1, name="with-layers")
    started.append(with_layers)
    ctx.gunicorn_port = with_layers.port
    item = ctx.items["small"]
    path = f"/api/items/{item.pk}/options?q=printer"

    def headers_for(pair: str, port: int) -> dict:
        if pair == "2 (session)":
            return {"Cookie": ctx.cookie}
        ctx.gunicorn_port = port  # a token's audience is the instance it is sent to
        return {"Authorization": f"Bearer {embedding_token(ctx, item)}", "Origin": ctx.application.allowed_origins[0]}

    pairs = ("2 (session)", "2c (token)")
    requests.get(f"http://127.0.0.1:{with_layers.port}{path}", headers={"Cookie": ctx.cookie}, timeout=10)  # fills
    rows = []
    for layer in ("", *ablation.LAYERS):
        if layer and layer not in os.environ.get("BENCH_LAYERS", layer).split(","):
            continue
        bypassed = (layer,) if layer else ()
        without = servers.start_gunicorn(
            workdir, env, workers=1, name=f"without-{layer or 'nothing'}", without=bypassed
        )
        started.append(without)
        headers = {(pair, port): headers_for(pair, port) for pair in pairs for port in (with_layers.port, without.port)}
        for port in (with_layers.port, without.port):
            for pair in pairs:
                answer = requests.get(f"http://127.0.0.1:{port}{path}", headers=headers[pair, port], timeout=10)
                assert answer.status_code == 200 and answer.json()["cached"] is True, answer.text[:300]
                run_load(port=port, path=path, headers=headers[pair, port], connections=CONNECTIONS, seconds=0.5)
        measured = {}
        for pair in pairs:
            rps, cpu = ([], []), ([], [])
            for _ in range(ROUNDS):
                for side, server in enumerate((with_layers, without)):
                    before = server.cpu_seconds()
                    run = run_load(
                        port=server.port, path=path, headers=headers[pair, server.port], connections=CONNECTIONS,
                        seconds=SECONDS,
                    )  # fmt: skip
                    rps[side].append(run["rps"])
                    cpu[side].append((server.cpu_seconds() - before) / run["requests"])
            measured[pair] = {
                "with_rps": statistics.median(rps[0]),
                "without_rps": statistics.median(rps[1]),
                "with_cpu_ms": statistics.median(cpu[0]) * 1000,
                "without_cpu_ms": statistics.median(cpu[1]) * 1000,
                "saving_rps": 1 - paired_ratio(rps[1], rps[0]),
                "saving": 1 - paired_ratio(cpu[0], cpu[1]),  # the workers' CPU time per request
                "rounds": {"rps": rps, "cpu_s": cpu},
            }
        without.stop()
        shown = "; ".join(
            f"pair {pair}: CPU per request with {m['with_cpu_ms']:.2f} ms, without {m['without_cpu_ms']:.2f} ms, "
            f"saving {m['saving']:+.1%} (req/s with {m['with_rps']:,.0f}, without {m['without_rps']:,.0f}: "
            f"{m['saving_rps']:+.1%})"
            for pair, m in measured.items()
        )
        rows.append(
            row(
                f"A. {layer or 'nothing bypassed (noise: two identical instances)'}, gunicorn",
                shown,
                "",
                max(m["saving"] for m in measured.values()),
                "saving ≥ 5% to keep",
                None if not layer else any(m["saving"] >= 0.05 for m in measured.values()),
                **measured,
            )
        )
        print(rows[-1]["pair"], "|", shown, flush=True)
    with_layers.stop()
    return rows
