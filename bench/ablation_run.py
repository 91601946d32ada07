"""`python bench/run.py --ablation` (issue 23 §2): each per-request speed layer measured on the HTTP pairs it
serves, with and without it (bench/ablation.py bypasses it), the sides taking turns in rounds as in pairs 2 and 2c.

One instance runs as deployed ("with"); for each layer, an instance without it ("without") is started beside it,
and cache hits are sent to each in turn: the session path (pair 2) and the embedding-token path (pair 2c). The first
row bypasses nothing: the same comparison between two identical instances, which shows the noise. Saving = 1 -
(requests/s without) / (requests/s with), the median of the rounds'.
"""

import statistics

import requests

from . import ablation, servers
from .load import run_load
from .pairs import embedding_token, paired_ratio, row

ROUNDS, SECONDS, CONNECTIONS = 5, 2.0, 8


def run(ctx, workdir, env, started) -> list[dict]:
    with_layers = servers.start_gunicorn(workdir, env, name="with-layers")
    started.append(with_layers)
    ctx.gunicorn_port = with_layers.port
    item = ctx.items["small"]
    path = f"/api/items/{item.pk}/options?q=printer"
    paths = {
        "2 (session)": {"Cookie": ctx.cookie},
        "2c (token)": {
            "Authorization": f"Bearer {embedding_token(ctx, item)}",
            "Origin": ctx.application.allowed_origins[0],
        },
    }
    rows = []
    for layer in ("", *ablation.LAYERS):
        bypassed = (layer,) if layer else ()
        without = servers.start_gunicorn(workdir, env, name=f"without-{layer or 'nothing'}", without=bypassed)
        started.append(without)
        for port in (with_layers.port, without.port):
            for headers in paths.values():
                answer = requests.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)
                assert answer.status_code == 200 and answer.json()["cached"] is True, answer.text[:300]
                run_load(port=port, path=path, headers=headers, connections=CONNECTIONS, seconds=0.5)
        measured = {}
        for pair, headers in paths.items():
            sides = ([], [])
            for _ in range(ROUNDS):
                for side, port in enumerate((with_layers.port, without.port)):
                    sides[side].append(
                        run_load(port=port, path=path, headers=headers, connections=CONNECTIONS, seconds=SECONDS)["rps"]
                    )
            measured[pair] = {
                "with_rps": statistics.median(sides[0]),
                "without_rps": statistics.median(sides[1]),
                "saving": 1 - paired_ratio(sides[1], sides[0]),
            }
        without.stop()
        shown = "; ".join(
            f"pair {pair}: with {m['with_rps']:,.0f} req/s, without {m['without_rps']:,.0f} req/s, "
            f"saving {m['saving']:+.1%}"
            for pair, m in measured.items()
        )
        rows.append(
            row(
                f"A. {layer or 'nothing bypassed (noise: two identical instances)'}",
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
