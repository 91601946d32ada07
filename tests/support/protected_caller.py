"""Another Connect process calling a datasource, for tests of what is shared between processes (tests/support).

`python -m tests.support.protected_caller SPEC_JSON` with Connect's settings (the parent passes its Redis db, CA
bundle and protection settings in the environment) builds the datasource in memory (the same id and limits as the
parent's: the protection state is keyed by id in Redis, so no database is needed), prints "ready", waits for a line
on stdin, then makes the calls: `threads` threads released at once, each making `calls` calls `interval` seconds
apart (or, with "for_seconds", calls until that many seconds have passed). It prints one JSON list of results,
{"code": "ok" or an error code, "message", "started", "ended"} (time.monotonic(), the machine's clock), and exits.

SPEC_JSON: {"datasource": {"id", "base_url", "calls_per_second", "concurrent_calls"}, "path", "threads", "calls",
"interval", "for_seconds" (optional)}.
"""

import json
import os
import sys
import threading
import time


def build_datasource(spec: dict):
    from datasources.models import AuthConfig, Datasource, Header, NetworkConfig

    datasource = Datasource(
        pk=spec["id"],
        name=f"Datasource {spec['id']}",
        base_url=spec["base_url"],
        calls_per_second=spec["calls_per_second"],
        concurrent_calls=spec["concurrent_calls"],
        config_version=spec.get("config_version", "subprocess"),
    )
    datasource._prefetched_objects_cache = {"headers": Header.objects.none()}
    datasource.auth = AuthConfig(mode="none")
    datasource.network = NetworkConfig()
    return datasource


def main(spec: dict) -> None:
    import django

    django.setup()
    from datasources.services import client, errors

    datasource = build_datasource(spec["datasource"])
    results, lock = [], threading.Lock()
    barrier = threading.Barrier(spec["threads"] + 1)

    def caller():
        barrier.wait()
        until = time.monotonic() + spec.get("for_seconds", 0)
        number = 0
        while number < spec["calls"] or time.monotonic() < until:
            if number:
                time.sleep(spec["interval"])
            number += 1
            started = time.monotonic()
            try:
                client.call_datasource(datasource=datasource, path_and_query=spec["path"])
                code, message = "ok", ""
            except errors.DatasourceError as exc:
                code, message = exc.code, exc.message
            with lock:
                results.append({"code": code, "message": message, "started": started, "ended": time.monotonic()})

    threads = [threading.Thread(target=caller) for _ in range(spec["threads"])]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    sys.stdin.readline()
    barrier.wait()
    for thread in threads:
        thread.join()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connect_project.settings")
    main(json.loads(sys.argv[1]))
