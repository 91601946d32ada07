"""`make bench`: Connect measured against its floors, as ratios of runs made in turns in one process (issue 6).

It configures Django itself (bench.settings: a temporary SQLite database, Redis db 8 flushed before and after, a
throwaway CA as CONNECT_CA_BUNDLE, 127.0.0.1 allowed, static files collected as `make serve` does), starts the
upstream HTTPS API and Connect under gunicorn with the repository's gunicorn.conf.py on 127.0.0.1 (one instance with
2 workers, then two more with 1 worker each), prints one table and writes bench/results.json. Every process it
started is stopped at the end.
"""

import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report, servers  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
RESULTS = ROOT / "bench" / "results.json"


def environment(workdir: Path, ca_file: Path) -> dict:
    """The process environment for this run and gunicorn: nothing of Connect's own configuration leaks in."""
    from cryptography.fernet import Fernet

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CONNECT_") and k not in ("OAUTHLIB_INSECURE_TRANSPORT", "DATABASE_URL")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FERNET_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "REDIS_URL": REDIS_URL,
            "CONNECT_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1",
            "CONNECT_CA_BUNDLE": str(ca_file),
            "BENCH_LOG_FILE": str(workdir / "connect.log"),
            "STATIC_ROOT": str(workdir / "static"),
        }
    )
    return env


def make_item(datasource, name: str, query: str, **fields):
    from items.models import Item

    fields = {"list_path": "issues", "key_field": "key", "label_template": "{key} - {fields.summary}", **fields}
    item = Item(name=name, datasource=datasource, query=query, **fields)
    item.full_clean()
    item.save()
    return Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)


def prepare(upstream_url: str, ca_file: Path, proxy_url: str):
    """Database, a signed-in user, the datasources (no auth, limits 0; limits on; pair 7's limits; OAuth2 client
    credentials; through the local proxy), their items and an application allowed to use the first one (embedding
    tokens)."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from applications.models import Application
    from bench import pairs
    from datasources.models import AuthConfig, AuthMode, Datasource, NetworkConfig
    from items.models import ApiFilter

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)  # what WhiteNoise serves under make serve
    client = Client()
    client.force_login(User.objects.create_user("bench", password=secrets.token_urlsafe()))
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    # Limits off (0): pairs 1-5 call the API far faster than a datasource's default limits allow; pair 7 compares.
    plain = Datasource.objects.create(name="Bench API", base_url=upstream_url, calls_per_second=0, concurrent_calls=0)
    AuthConfig.objects.create(datasource=plain)
    limits_on = Datasource.objects.create(
        name="Bench API, limits on", base_url=upstream_url, calls_per_second=10_000, concurrent_calls=1_000
    )
    AuthConfig.objects.create(datasource=limits_on)
    typed = Datasource.objects.create(
        name="Bench typed API", base_url=upstream_url, calls_per_second=20, concurrent_calls=5
    )
    AuthConfig.objects.create(datasource=typed)
    guarded = Datasource.objects.create(
        name="Bench OAuth API", base_url=upstream_url, calls_per_second=0, concurrent_calls=0
    )
    auth = AuthConfig.objects.create(
        datasource=guarded,
        mode=AuthMode.OAUTH2_CLIENT_CREDENTIALS,
        token_url=f"{upstream_url}/token",
        client_id="bench",
        client_secret=secrets.token_urlsafe(),
    )
    proxied = Datasource.objects.create(
        name="Bench API, through a proxy", base_url=upstream_url, calls_per_second=0, concurrent_calls=0
    )
    AuthConfig.objects.create(datasource=proxied)
    NetworkConfig.objects.create(datasource=proxied, proxy_url=proxy_url)
    items = {name: make_item(plain, name, f"/{name}?q=$userInput") for name in ("options", "slow", "large")}
    items["miss20"] = make_item(plain, "options in 20 ms", "/options?delay=20&q=$userInput")
    items["capacity"] = make_item(plain, "options in 200 ms", "/options?delay=200&q=$userInput")
    items["proxied"] = make_item(proxied, "options through a proxy", "/options?q=$userInput")
    cities = []
    for number in range(3):  # pair 10: a fresh item (empty cache) per round and side
        on, off = (
            make_item(plain, f"cities {number} {side}", "/cities?delay=20&q=$userInput", list_path="cities",
                      key_field="code", label_template="{name}", api_filter=api_filter)
            for side, api_filter in (("on", ApiFilter.LABEL_CONTAINS), ("off", ApiFilter.NOTHING))
        )  # fmt: skip
        cities.append((on, off))
    application = Application.objects.create(name="Bench app", allowed_origins=["https://forms.bench.invalid"])
    application.items.add(items["options"])
    items["limits_on"] = make_item(limits_on, "options, limits on", "/options?q=$userInput")
    items["typist"] = make_item(typed, "typed", "/typist?q=$userInput")
    stats_session = pairs.raw_session(str(ca_file))

    def upstream_stats(**params):
        return stats_session.get(f"{upstream_url}/_stats", params=params).json()

    return pairs.Context(
        upstream_url=upstream_url,
        ca_file=str(ca_file),
        redis_url=REDIS_URL,
        items={"small": items["options"], **items, "cities": cities},
        oauth_auth=auth,
        upstream_stats=upstream_stats,
        cookie=cookie,
        application=application,
    )


def measure(ctx, workdir: Path, env: dict, started: list) -> list[dict]:
    """Every pair of the table, each server started when its pairs need it and stopped after them."""
    from bench import felt, pages, pairs, protection_pairs

    rows = [pairs.large_answer(ctx)]  # first: the process's peak RSS is still the setup's
    rows += [
        pairs.cache_hit_in_process(ctx),
        pairs.warm_miss(ctx),
        felt.warm_miss_20ms(ctx),
        felt.limiter(ctx),
        felt.through_proxy(ctx),
        pairs.cold_vs_warm(ctx),
        pairs.stampede(ctx),
        pairs.token_stampede(ctx),
        pages.three_pages(ctx),
    ]
    gunicorn = servers.start_gunicorn(workdir, env)
    started.append(gunicorn)
    ctx.gunicorn_port = gunicorn.port
    rows += pairs.cache_hit_over_http(ctx)
    rows.append(felt.selections_vs_options(ctx))
    rows.append(felt.typing_a_word(ctx))
    for number in (1, 2):
        started.append(servers.start_gunicorn(workdir, env, workers=1, name=f"instance-{number}"))
    ctx.instance_ports = tuple(instance.port for instance in started[-2:])
    rows.append(pairs.instances_vs_one(ctx))
    for process in (gunicorn, *started[-2:]):
        process.stop()
    # Callers over a limit wait up to 2 s for their turn, each holding a server thread meanwhile: 200 typists get
    # 64 threads (2 workers × 32), as a deployment expecting them would.
    typing = servers.start_gunicorn(workdir, env, threads=32, name="typing")
    started.append(typing)
    rows.append(protection_pairs.typists(ctx, typing.port))
    typing.stop()
    # Pair 8: make serve's own numbers of workers and threads (gunicorn.conf.py's defaults).
    defaults = servers.start_gunicorn(workdir, env, workers=None, threads=None, name="defaults")
    started.append(defaults)
    rows.append(felt.capacity(ctx, defaults, threads_note=servers.defaults_note(env)))
    defaults.stop()
    rows.append(felt.widget_size())
    return rows


def main() -> int:
    began = time.monotonic()
    info = report.machine()  # before the bench adds its own load
    started = []
    with tempfile.TemporaryDirectory(prefix="connect-bench-") as tmp:
        workdir = Path(tmp)
        ca_file, cert, key = servers.write_certificates(workdir)
        env = environment(workdir, ca_file)
        for name in set(os.environ) - set(env):
            del os.environ[name]
        os.environ.update(env)
        import django
        import redis

        django.setup()
        from bench import ablation_run as ablation

        bench_redis = redis.Redis.from_url(REDIS_URL)
        bench_redis.flushdb()  # the bench's own db number only
        try:
            upstream = servers.start_upstream(workdir, cert, key)
            started.append(upstream)
            proxy = servers.start_proxy(workdir)
            started.append(proxy)
            ctx = prepare(f"https://127.0.0.1:{upstream.port}", ca_file, f"http://127.0.0.1:{proxy.port}")
            if "--ablation" in sys.argv:
                rows = ablation.run(ctx, workdir, env, started)
            else:
                rows = measure(ctx, workdir, env, started)
        except BaseException:
            for log in sorted(path.name for path in workdir.glob("*.log")):
                if (workdir / log).exists():
                    print(
                        f"--- last lines of {log}:\n"
                        + "\n".join((workdir / log).read_text(errors="replace").splitlines()[-15:]),
                        file=sys.stderr,
                    )
            raise
        finally:
            for process in reversed(started):
                process.stop()
            bench_redis.flushdb()
            bench_redis.close()
    rows.sort(key=lambda r: pair_order(r["pair"]))
    seconds = time.monotonic() - began
    print(f"\nConnect vs its floors — {report.describe(info)}; {seconds:.0f} s\n")
    print(report.table(rows))
    ablation_run = "--ablation" in sys.argv
    results = RESULTS.with_name("results-ablation.json") if ablation_run else RESULTS
    report.write_results(results, info, rows, seconds)
    after = report.machine()["load_average_1min"]
    if ablation_run:
        figures = (
            f"{report.describe(info)}, {after} at the end; {seconds:.0f} s. Each layer serves pair 2, pair 2c or both: "
            "a layer's figure on a pair it does not serve (the user backend on 2c, the application and token memos "
            f"on 2) is noise.\n\n{report.ablation_table(rows)}"
        )
    else:
        figures = (
            f"{report.describe(info)}, {after} at the end; {seconds:.0f} s. The load generator shares the cores "
            f"with the servers; other load on the machine hits both sides of a pair alike.\n\n{report.table(rows)}"
        )
    report.write_readme_block(ROOT / "bench" / "README.md", "ablation" if ablation_run else "figures", figures)
    missed = [r["pair"].split(" ", 1)[0] for r in rows if r["met"] is False]
    print(f"\nTargets missed: {', '.join(missed)}" if missed else "\nEvery target is met.")
    print(f"Written to {results.relative_to(ROOT)}")
    return 0  # a measurement, not a test: a missed target is reported, it does not fail `make bench`


def pair_order(title: str) -> tuple:
    number = title.split(".", 1)[0]
    digits = "".join(c for c in number if c.isdigit())
    return int(digits or 0), number


if __name__ == "__main__":
    sys.exit(main())
