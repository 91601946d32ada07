"""`make serve` itself, as an operator runs it: collectstatic, migrate, then gunicorn with gunicorn.conf.py."""

import os
import re
import signal
import subprocess
import time

import requests

from tests.support.connect_server import REPO_ROOT, connect_env, free_port, http_session


def test_make_serve_collects_migrates_and_serves_a_styled_page(tmp_path, suite_redis_url):
    port = free_port()
    env = connect_env(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        redis_url=suite_redis_url,
        CONNECT_BIND=f"127.0.0.1:{port}",
    )
    # -o: the suite runs with the project installed already; never reinstall it under running tests.
    process = subprocess.Popen(
        ["make", "--no-print-directory", "-o", ".venv/.installed-run", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=open(tmp_path / "serve.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    session = http_session()
    try:
        deadline, ready = time.monotonic() + 120, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = session.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        log = (tmp_path / "serve.log").read_text(errors="replace")
        assert ready is not None and ready.status_code == 200, log[-3000:]
        page = session.get(f"http://127.0.0.1:{port}/login/", timeout=10)
        stylesheet = re.search(r'href="(/static/connect\.[0-9a-f]{12}\.css)"', page.text)
        assert stylesheet, page.text[:500]
        assert session.get(f"http://127.0.0.1:{port}{stylesheet[1]}", timeout=10).status_code == 200
        assert (tmp_path / "staticfiles" / "staticfiles.json").exists()  # collectstatic's manifest
        assert "Listening at: http://127.0.0.1:" in log and "Using worker: gthread" in log
    finally:
        session.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
