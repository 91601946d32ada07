"""The environment Connect is configured from: the process environment, then the .env file for what it leaves unset.
Read by settings.py and by gunicorn.conf.py, which must agree on the call deadline (the worker timeout).

The file is `.env` next to manage.py, or CONNECT_ENV_FILE. gunicorn.conf.py reads it again at every reload
(`kill -HUP`, `systemctl reload`): gunicorn executes its configuration file again, and the new workers start from
the master's environment, so an edited, added or removed line takes effect without a restart.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CALL_DEADLINE_SECONDS = 60.0

env = environ.Env()
_set_from_file: set[str] = set()  # the variables this process took from the file (the environment won elsewhere)


def env_file() -> Path:
    return Path(env.str("CONNECT_ENV_FILE", default="") or BASE_DIR / ".env")


def read_env_file() -> None:
    """(Re)read the .env file into os.environ: variables already in the environment win over the file; those the
    file set at an earlier read are forgotten first, so that the file's current lines apply."""
    for name in _set_from_file:
        os.environ.pop(name, None)
    _set_from_file.clear()
    path = env_file()
    if path.exists():
        before = set(os.environ)
        environ.Env.read_env(path, overwrite=False)
        _set_from_file.update(set(os.environ) - before)


read_env_file()


def call_deadline_seconds() -> float:
    """CONNECT_CALL_DEADLINE_SECONDS: the limit of one outbound call, from connect to the last byte."""
    return env.float("CONNECT_CALL_DEADLINE_SECONDS", default=DEFAULT_CALL_DEADLINE_SECONDS)
