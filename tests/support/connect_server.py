"""Connect itself in real processes, for tests where serving, workers or several instances are what is tested.

    env = connect_env(workdir, database_url=..., redis_url=..., CONNECT_CALL_DEADLINE_SECONDS="2")
    run_connect_task(env, "migrate")                      # a task of tests/support/connect_tasks.py, in a new process
    user, item = run_connect_tasks(env, ("sign_in", {}), ("create_item", {...}))   # several, in one process
    with running_connect(workdir, env) as server:         # gunicorn -c gunicorn.conf.py (the repository's file)
        server.get("/readyz"), server.url("/login/"), server.output()

The environment is built from nothing (like `make serve` on a fresh host): DEBUG=false, fixed test keys (several
instances share a database, so they share SECRET_KEY and FERNET_KEYS), the given database and Redis, 127.0.0.1
allowed for outbound calls. gunicorn gets an already bound socket (CONNECT_BIND=fd://N): no race for a port.
"""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.processes import stop_process_group

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONFIG = REPO_ROOT / "gunicorn.conf.py"
TEST_SECRET_KEY = "connect-serving-tests-secret-key-3f1b5a2c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
TEST_FERNET_KEY = "i8f6r7V2xR5bq0yJ5m7o3h9Q1n2Z4wX6c8E0t2U4k6M="


def connect_env(
    workdir: Path,
    *,
    database_url: str,
    redis_url: str = "",
    static_root: Path | None = None,
    ca_bundle: Path | None = None,
    **extra: str,
) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "connect_project.settings",
        "DEBUG": "false",
        "SECRET_KEY": TEST_SECRET_KEY,
        "FERNET_KEYS": TEST_FERNET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STATIC_ROOT": str(static_root or workdir / "staticfiles"),
        "CONNECT_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1",
        # Plain http:// in tests: cookies must not be Secure-only, or no client sends them back.
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "CONNECT_WORKERS": "2",
        "CONNECT_THREADS": "8",
    }
    if ca_bundle is not None:
        env["CONNECT_CA_BUNDLE"] = str(ca_bundle)
    env.update(extra)
    return env


def run_connect_tasks(env: dict, *tasks: tuple[str, dict]) -> list:
    """Run tasks of tests/support/connect_tasks.py (migrate, sign_in, create_item, ...) in order, in one new
    Connect process with `env`; returns their JSON results."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.connect_tasks", json.dumps(tasks)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"connect tasks {[t for t, _ in tasks]} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_connect_task(env: dict, task: str, **arguments):
    return run_connect_tasks(env, (task, arguments))[0]


def http_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy or CA variables of this machine
    return session


@dataclass
class ConnectServer:
    port: int
    workdir: Path
    env: dict
    process: subprocess.Popen | None = None
    session: requests.Session = field(default_factory=http_session)

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"gunicorn-{self.port}.out"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"gunicorn-{self.port}.err"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.url(path), **kwargs)

    def output(self) -> str:
        """Everything the server wrote so far: access log (stdout), then error log and Connect's log (stderr)."""
        return "".join(p.read_text(errors="replace") for p in (self.stdout_path, self.stderr_path) if p.exists())

    def worker_pids(self) -> set[int]:
        done = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return {int(pid) for pid in done.stdout.split()}

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the master), then SIGKILL to its process group for anything left."""
        process, self.process = self.process, None
        if process is None:
            return
        stop_process_group(process, grace=15)
        self.session.close()


def start_connect(
    workdir: Path, env: dict, *, ready_path: str = "/healthz", timeout: float = 60, command: list[str] | None = None
) -> ConnectServer:
    """gunicorn -c gunicorn.conf.py (or `command`, run in the repository) on a free 127.0.0.1 port; returns once
    `ready_path` answers 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    env = {**env, "CONNECT_BIND": f"fd://{listener.fileno()}"}
    server = ConnectServer(port=port, workdir=workdir, env=env)
    try:
        with open(server.stdout_path, "ab") as out, open(server.stderr_path, "ab") as err:
            server.process = subprocess.Popen(
                command or [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(listener.fileno(),),
                start_new_session=True,
            )
    finally:
        listener.close()
    try:
        _wait_until_answering(server, ready_path, timeout)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running_connect(workdir: Path, env: dict, **options):
    server = start_connect(workdir, env, **options)
    try:
        yield server
    finally:
        server.stop()


def _wait_until_answering(server: ConnectServer, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"Connect under gunicorn exited with {server.process.returncode}:\n{server.output()[-4000:]}"
            )
        try:
            if server.get(path, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Connect under gunicorn did not answer {path} within {timeout} s:\n{server.output()[-4000:]}")


# --- extra Redis servers, stopped by the test that started them ---------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen
    password: str = ""

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries: a command to a server that just stopped must fail at once (SHUTDOWN's own answer included).
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password or None,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
        )

    def shutdown(self) -> None:
        """SHUTDOWN NOSAVE, as a crash would leave it; then the process is reaped."""
        if self.process.poll() is None:
            try:
                self.client().shutdown(nosave=True)
            except Exception:  # the connection drops as the server exits
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_redis(workdir: Path, *args: str, password: str = "", sentinel_config: Path | None = None) -> RedisServer:
    """redis-server on a free port, nothing persisted; `args` are extra options (e.g. --replicaof)."""
    import redis

    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    command = ["redis-server"] + ([str(sentinel_config), "--sentinel"] if sentinel_config else [])
    command += [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        *args,
    ]
    if password and not sentinel_config:
        command += ["--requirepass", password]
    log = open(workdir / f"redis-{port}.log", "ab")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = RedisServer(port=port, process=process, password="" if sentinel_config else password)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if server.client().ping():
                return server
        except redis.RedisError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"redis-server did not start: {(workdir / f'redis-{port}.log').read_text()[-2000:]}")
