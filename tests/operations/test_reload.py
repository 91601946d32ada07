"""A reload (`kill -HUP` to gunicorn's master, the unit file's ExecReload) reads the .env file again: new workers
start with its current lines, edited, added or removed; the process environment still wins over the file."""

import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from tests.support.connect_server import REPO_ROOT, connect_env, running_connect, start_connect

FIRST_TOKEN = "s3cr3t-METRICS-TOKEN-first-81c2"
SECOND_TOKEN = "s3cr3t-METRICS-TOKEN-second-93d4"


def metrics_status(server, token: str) -> int:
    return server.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code


def reload_until(server, token: str, status: int, *, timeout: float = 60) -> None:
    """SIGHUP to the master, then wait until a new worker answers /metrics with `token` as `status`."""
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if metrics_status(server, token) == status:
            return
        time.sleep(0.2)
    pytest.fail(f"after a reload /metrics did not answer {status} for {token!r}:\n{server.output()[-3000:]}")


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / "connect.env"
    path.write_text(f"# Connect's configuration\nCONNECT_METRICS_TOKEN={FIRST_TOKEN}\n")
    return path


def test_a_reload_applies_an_edited_then_a_removed_line_of_the_env_file(tmp_path, env_file, sqlite_url):
    env = connect_env(tmp_path, database_url=sqlite_url, CONNECT_ENV_FILE=str(env_file))
    with running_connect(tmp_path, env) as server:
        assert metrics_status(server, FIRST_TOKEN) == 200
        workers = server.worker_pids()
        env_file.write_text(f"CONNECT_METRICS_TOKEN={SECOND_TOKEN}\n")
        reload_until(server, SECOND_TOKEN, 200)
        assert metrics_status(server, FIRST_TOKEN) == 401
        assert server.worker_pids().isdisjoint(workers)  # new workers, same master
        env_file.write_text("# no metrics token any more\n")
        reload_until(server, SECOND_TOKEN, 404)  # unset: /metrics is absent
        assert server.process.poll() is None


def test_the_process_environment_still_wins_over_the_file_after_a_reload(tmp_path, env_file, sqlite_url):
    env = connect_env(
        tmp_path, database_url=sqlite_url, CONNECT_ENV_FILE=str(env_file), CONNECT_METRICS_TOKEN=SECOND_TOKEN
    )
    with running_connect(tmp_path, env) as server:
        assert metrics_status(server, SECOND_TOKEN) == 200
        env_file.write_text(f"CONNECT_METRICS_TOKEN={FIRST_TOKEN}-edited\n")
        workers = server.worker_pids()
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while server.worker_pids() & workers and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not server.worker_pids() & workers, "the reload replaced the workers"
        assert metrics_status(server, SECOND_TOKEN) == 200


def readme_unit() -> dict[str, str]:
    """The [Service] lines of the README's systemd unit file."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text[text.index("# /etc/systemd/system/connect.service") :]
    block = block[: block.index("```")]
    lines = [line.strip() for line in block.splitlines()]
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_the_readme_unit_runs_gunicorn_as_its_main_process_and_its_exec_reload_applies_the_env_file(
    tmp_path, env_file, sqlite_url
):
    unit = readme_unit()
    assert unit["WorkingDirectory"] == "/srv/connect" and unit["ExecStartPre"] == "/usr/bin/make prepare"
    command = shlex.split(unit["ExecStart"])
    assert command[0] == "/srv/connect/.venv/bin/python"
    command[0] = sys.executable  # this checkout's environment stands in for /srv/connect/.venv
    env = connect_env(tmp_path, database_url=sqlite_url, CONNECT_ENV_FILE=str(env_file))
    server = start_connect(tmp_path, env, command=command)  # in the repository: the unit's WorkingDirectory
    try:
        main_pid = server.process.pid  # what systemd calls $MAINPID
        assert metrics_status(server, FIRST_TOKEN) == 200
        env_file.write_text(f"CONNECT_METRICS_TOKEN={SECOND_TOKEN}\n")
        subprocess.run(shlex.split(unit["ExecReload"].replace("$MAINPID", str(main_pid))), check=True)
        deadline = time.monotonic() + 60
        while metrics_status(server, SECOND_TOKEN) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert metrics_status(server, SECOND_TOKEN) == 200 and server.process.poll() is None
    finally:
        server.stop()
