"""What the bench starts on 127.0.0.1, each in its own process group so that stop() ends it and all its children:
the upstream HTTPS API (bench/upstream.py, a trustme certificate) and Connect under gunicorn with the repository's
gunicorn.conf.py, as `make serve` runs it (workers and threads given by the bench)."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import trustme

from tests.support.processes import stop_process_group

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Started:
    process: subprocess.Popen
    port: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process's children so far (gunicorn: its workers), from /proc."""
        total, ticks = 0, os.sysconf("SC_CLK_TCK")
        for child in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split():
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a worker that just exited
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        stop_process_group(self.process, grace=5)


def write_certificates(workdir: Path) -> tuple[Path, Path, Path]:
    """(CA file, server certificate, server key): a throwaway CA and a certificate for 127.0.0.1."""
    ca = trustme.CA()
    paths = workdir / "ca.pem", workdir / "server.pem", workdir / "server.key"
    ca.cert_pem.write_to_path(str(paths[0]))
    server = ca.issue_cert("127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(paths[1]))
    server.private_key_pem.write_to_path(str(paths[2]))
    return paths


def start_upstream(workdir: Path, cert: Path, key: Path) -> Started:
    return _start_module(workdir, "upstream", "bench.upstream", str(cert), str(key))


def start_proxy(workdir: Path) -> Started:
    """The local HTTP CONNECT proxy (bench/proxy.py)."""
    return _start_module(workdir, "proxy", "bench.proxy")


def _start_module(workdir: Path, name: str, module: str, *args: str) -> Started:
    log = open(workdir / f"{name}.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    line = process.stdout.readline()
    if not line.strip().isdigit():
        Started(process, 0).stop()
        raise RuntimeError(f"the {name} server did not start; see {workdir / f'{name}.log'}")
    return Started(process, int(line))


def start_gunicorn(
    workdir: Path,
    env: dict,
    *,
    workers: int | None = 2,
    threads: int | None = 4,
    name: str = "gunicorn",
    without: tuple[str, ...] = (),
) -> Started:
    """Connect's WSGI app (bench.settings) under gunicorn.conf.py: gthread, so clients keep their connections alive;
    its access log (stdout) is discarded, its error log goes to `<name>.log` in the work directory. `workers` or
    `threads` None: gunicorn.conf.py's defaults, as `make serve` has them. `without`: the speed layers this instance
    runs without (bench/ablation.py; the ablation only)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # gunicorn inherits the bound socket: no race for the port
    listener.listen(128)
    port = listener.getsockname()[1]
    env = {**env, "CONNECT_BIND": f"fd://{listener.fileno()}"}
    for name_of, value in (("CONNECT_WORKERS", workers), ("CONNECT_THREADS", threads)):
        env.pop(name_of, None)
        if value is not None:
            env[name_of] = str(value)
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
    if without:
        env["BENCH_WITHOUT"] = ",".join(without)
        command.append("bench.ablation:application")  # gunicorn.conf.py's app, with those layers bypassed
    with open(workdir / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            pass_fds=[listener.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    listener.close()
    started = Started(process, port)
    try:
        _wait_until_answering(f"http://127.0.0.1:{port}/bench/constant", process)
    except BaseException:
        started.stop()
        raise
    return started


def _wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    session = requests.Session()
    session.trust_env = False
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited at start; see its log in the bench's work directory")
        try:
            if session.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {timeout} s")


def defaults_note(env: dict) -> str:
    """What gunicorn.conf.py gives without CONNECT_WORKERS and CONNECT_THREADS, as `make serve` on this machine."""
    env = {k: v for k, v in env.items() if k not in ("CONNECT_WORKERS", "CONNECT_THREADS")}
    code = "import runpy; c = runpy.run_path('gunicorn.conf.py'); print(c['workers'], c['threads'])"
    workers, threads = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return f"{workers} workers × {threads} threads"
