"""What the bench starts on 127.0.0.1, each in its own process group so that stop() ends it and all its children:
the upstream HTTPS API (bench/upstream.py, a trustme certificate) and Connect under gunicorn with the repository's
gunicorn.conf.py, as `make serve` runs it (workers and threads given by the bench)."""

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
    log = open(workdir / "upstream.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.upstream", str(cert), str(key)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    line = process.stdout.readline()
    if not line.strip().isdigit():
        Started(process, 0).stop()
        raise RuntimeError(f"the upstream server did not start; see {workdir / 'upstream.log'}")
    return Started(process, int(line))


def start_gunicorn(workdir: Path, env: dict, *, workers: int = 2, threads: int = 4, name: str = "gunicorn") -> Started:
    """Connect's WSGI app (bench.settings) under gunicorn.conf.py: gthread, so clients keep their connections alive;
    its access log (stdout) is discarded, its error log goes to `<name>.log` in the work directory."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # gunicorn inherits the bound socket: no race for the port
    listener.listen(128)
    port = listener.getsockname()[1]
    env = {
        **env,
        "CONNECT_BIND": f"fd://{listener.fileno()}",
        "CONNECT_WORKERS": str(workers),
        "CONNECT_THREADS": str(threads),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
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
