"""The environment Connect is configured from: the process environment, then the project's .env for what it leaves
unset. Read by settings.py and by gunicorn.conf.py, which must agree on the call deadline (the worker timeout)."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CALL_DEADLINE_SECONDS = 60.0

env = environ.Env()
if (BASE_DIR / ".env").exists():
    # Variables already in the environment win over the file.
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def call_deadline_seconds() -> float:
    """CONNECT_CALL_DEADLINE_SECONDS: the limit of one outbound call, from connect to the last byte."""
    return env.float("CONNECT_CALL_DEADLINE_SECONDS", default=DEFAULT_CALL_DEADLINE_SECONDS)
