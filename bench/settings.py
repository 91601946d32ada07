"""Connect's own settings for `make bench`, with two changes: the URL map adds the bench's constant view, and the
log goes to a file (BENCH_LOG_FILE) instead of the terminal, so INFO lines still cost what they cost in production."""

import os

from connect_project.settings import *  # noqa: F403
from connect_project.settings import LOGGING

ROOT_URLCONF = "bench.urls"
LOGGING["handlers"]["console"] = {
    "class": "logging.FileHandler",
    "filename": os.environ["BENCH_LOG_FILE"],
    "formatter": "plain",
}
