"""The bench's output: the machine it ran on, one Markdown table, and bench/results.json."""

import datetime
import json
import os
import platform
from pathlib import Path

MET = {True: "yes", False: "**no**", None: "—"}


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def table(rows: list[dict]) -> str:
    lines = ["| pair | Connect | floor | ratio | target | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["ratio"] if isinstance(r["ratio"], int) else f"{r['ratio']:.2f}"
        lines.append(f"| {r['pair']} | {r['connect']} | {r['floor']} | {ratio} | {r['target']} | {MET[r['met']]} |")
    return "\n".join(lines)


def describe(info: dict) -> str:
    return (
        f"{info['nproc']} cores ({info['cpu']}), Python {info['python']}, {info['date']}, "
        f"load average {info['load_average_1min']} at the start"
    )


def write_results(path: Path, info: dict, rows: list[dict], seconds: float) -> None:
    path.write_text(
        json.dumps({"machine": info, "seconds": round(seconds, 1), "pairs": rows}, indent=2, ensure_ascii=False) + "\n"
    )


def write_readme_block(path: Path, name: str, text: str) -> None:
    """Replace what is between `<!-- name: ... -->` and `<!-- /name -->` in the bench's README with `text`."""
    content = path.read_text()
    start = content.index(f"<!-- {name}:")
    start = content.index("-->", start) + 3
    end = content.index(f"<!-- /{name} -->")
    path.write_text(content[:start] + "\n" + text.strip() + "\n" + content[end:])


def ablation_table(rows: list[dict]) -> str:
    """One line per layer and pair: CPU time per cache hit with the layer and without it, and the saving."""
    lines = ["| layer | pair | with | without | saving | kept (≥ 5%) |", "|---|---|---|---|---|---|"]
    for r in rows:
        layer = r["pair"].removeprefix("A. ")
        for pair, m in r["detail"].items():
            if "with_cpu_us" in m:
                with_, without = f"{m['with_cpu_us']:,.0f} µs", f"{m['without_cpu_us']:,.0f} µs"
            else:
                with_, without = f"{m['with_cpu_ms']:.2f} ms", f"{m['without_cpu_ms']:.2f} ms"
            lines.append(f"| {layer} | {pair} | {with_} | {without} | {m['saving']:+.1%} | {MET[r['met']]} |")
    return "\n".join(lines)
