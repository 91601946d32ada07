"""gunicorn's configuration for Connect in production: `make serve`, or `gunicorn -c gunicorn.conf.py`.

Read from the environment (and .env, like Connect's settings; both again on a reload, `kill -HUP`):
  CONNECT_BIND                      where to listen, comma-separated (default 127.0.0.1:8000; unix:/path, fd://N)
  CONNECT_WORKERS                   worker processes (default 2 × CPU cores + 1)
  CONNECT_THREADS                   threads per worker (default 8: calls to APIs wait on the network)
  CONNECT_GRACEFUL_TIMEOUT_SECONDS  how long a stopping worker may finish its requests (default: deadline + 5 s)
  CONNECT_CALL_DEADLINE_SECONDS     Connect's limit for one API call; the worker timeout is this + 30 s, so a slow
                                    API ends in Connect's own JSON timeout error, never in a killed worker
  CONNECT_LOG_FORMAT                plain (default) or json, for gunicorn's own lines too
  PROMETHEUS_MULTIPROC_DIR          where workers share metrics, one per instance; emptied at start (default: a
                                    fresh temporary directory, removed at exit)
The access log goes to stdout without query strings (they carry what people type, and OAuth codes).
The request line and header limits sit above Connect's own (connect_project/limits.py), so an over-long token or
query string gets Connect's JSON error rather than gunicorn's HTML page.
"""

import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from connect_project import environment, limits  # noqa: E402
from connect_project.environment import call_deadline_seconds, env  # noqa: E402
from operations.log_format import ACCESS_LOG_FORMAT, gunicorn_logconfig  # noqa: E402

# gunicorn executes this file again on a reload (kill -HUP): the .env file is read again, and the new workers start
# with its current values (connect_project/environment.py).
environment.read_env_file()

WORKER_TIMEOUT_MARGIN_SECONDS = 30

wsgi_app = "connect_project.wsgi:application"
bind = env.list("CONNECT_BIND", default=["127.0.0.1:8000"])
# Threads, not processes, wait for slow APIs; the worker's main loop keeps beating while they do.
worker_class = "gthread"
workers = env.int("CONNECT_WORKERS", default=2 * len(os.sched_getaffinity(0)) + 1)
threads = env.int("CONNECT_THREADS", default=8)
_deadline = math.ceil(call_deadline_seconds())
timeout = _deadline + WORKER_TIMEOUT_MARGIN_SECONDS
graceful_timeout = env.int("CONNECT_GRACEFUL_TIMEOUT_SECONDS", default=_deadline + 5)
keepalive = 5
limit_request_line = limits.REQUEST_LINE_BYTES
limit_request_field_size = limits.REQUEST_FIELD_BYTES
accesslog = "-"
errorlog = "-"
access_log_format = ACCESS_LOG_FORMAT
# gunicornc's control socket is one path per user: several instances on one host would fight over it.
control_socket_disable = True
if env.str("CONNECT_LOG_FORMAT", default="plain").strip().lower() == "json":
    logconfig_dict = gunicorn_logconfig()


def on_starting(server):
    """A fresh metrics directory for this server's workers, before any of them (or prometheus_client) starts; and
    this master's pid, for the instance's process metrics (operations/process_metrics.py)."""
    os.environ["CONNECT_GUNICORN_MASTER_PID"] = str(os.getpid())
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # a previous server's values
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="connect-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        server.connect_metrics_dir_created = path


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    created = getattr(server, "connect_metrics_dir_created", None)
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
