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


def make_item(datasource, name: str, query: str):
    from items.models import Item

    item = Item(
        name=name,
        datasource=datasource,
        query=query,
        list_path="issues",
        key_field="key",
        label_template="{key} - {fields.summary}",
    )
    item.full_clean()
    item.save()
    return Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)


def prepare(upstream_url: str, ca_file: Path):
    """Database, a signed-in user, two datasources (no auth; OAuth2 client credentials), three items and an
    application allowed to use the first one (embedding tokens)."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from applications.models import Application
    from bench import pairs
    from datasources.models import AuthConfig, AuthMode, Datasource

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
    items = {name: make_item(plain, name, f"/{name}?q=$userInput") for name in ("options", "slow", "large")}
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
        items={
            "small": items["options"],
            "slow": items["slow"],
            "large": items["large"],
            "limits_on": items["limits_on"],
            "typist": items["typist"],
        },
        oauth_auth=auth,
        upstream_stats=upstream_stats,
        cookie=cookie,
        application=application,
    )


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
        from bench import pages, pairs, protection_pairs

        bench_redis = redis.Redis.from_url(REDIS_URL)
        bench_redis.flushdb()  # the bench's own db number only
        try:
            upstream = servers.start_upstream(workdir, cert, key)
            started.append(upstream)
            ctx = prepare(f"https://127.0.0.1:{upstream.port}", ca_file)
            rows = [pairs.large_answer(ctx)]  # first: the process's peak RSS is still the setup's
            rows += [
                pairs.cache_hit_in_process(ctx),
                pairs.warm_miss(ctx),
                pairs.cold_vs_warm(ctx),
                pairs.stampede(ctx),
                pairs.token_stampede(ctx),
                pages.three_pages(ctx),
            ]
            gunicorn = servers.start_gunicorn(workdir, env)
            started.append(gunicorn)
            ctx.gunicorn_port = gunicorn.port
            rows += pairs.cache_hit_over_http(ctx)
            for number in (1, 2):
                started.append(servers.start_gunicorn(workdir, env, workers=1, name=f"instance-{number}"))
            ctx.instance_ports = tuple(instance.port for instance in started[-2:])
            rows.append(pairs.instances_vs_one(ctx))
            for process in (gunicorn, *started[-2:]):
                process.stop()
            # Callers over a limit wait up to 2 s for their turn, each holding a server thread meanwhile: 200
            # typists get 64 threads (2 workers × 32), as a deployment expecting them would.
            typing = servers.start_gunicorn(workdir, env, threads=32)
            started.append(typing)
            rows.append(protection_pairs.typists(ctx, typing.port))
        except BaseException:
            for log in ("connect.log", "upstream.log", "gunicorn.log", "instance-1.log", "instance-2.log"):
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
    rows.sort(key=lambda r: r["pair"])
    seconds = time.monotonic() - began
    print(f"\nConnect vs its floors — {report.describe(info)}; {seconds:.0f} s\n")
    print(report.table(rows))
    report.write_results(RESULTS, info, rows, seconds)
    missed = [r["pair"].split(" ", 1)[0] for r in rows if r["met"] is False]
    print(f"\nTargets missed: {', '.join(missed)}" if missed else "\nEvery target is met.")
    print(f"Written to {RESULTS.relative_to(ROOT)}")
    return 0  # a measurement, not a test: a missed target is reported, it does not fail `make bench`


if __name__ == "__main__":
    sys.exit(main())
