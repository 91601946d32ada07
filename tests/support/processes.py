"""Stopping a server process started in its own session (gunicorn and its workers), used by the test servers and the
bench alike."""

import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen | None, *, grace: float) -> None:
    """SIGTERM to the process (a graceful stop, `grace` seconds for running requests), then SIGKILL to its process
    group for anything left: only the server and its workers, which run in their own session."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait(timeout=10)
