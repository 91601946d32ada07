"""Log lines: plain text (the default) or JSON (CONNECT_LOG_FORMAT=json), one object per line with time, level,
logger, message (and the process id, the client of a request, and the traceback when there is one). gunicorn's
access line in JSON is structured: method, path (never the query string), status, duration, client, bytes.

Messages arrive already redacted: redaction happens where a message is built and in the filters of the HTTP stack's
loggers, before any formatter. Standard library only: gunicorn's master process uses it too (gunicorn.conf.py).
"""

import datetime
import json
import logging
from collections.abc import Mapping

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# gunicorn's access line (gunicorn.conf.py): the path without the query string, which carries what people type.
ACCESS_LOG_FORMAT = '%(h)s %(t)s %(p)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'


class PlainFormatter(logging.Formatter):
    """time level logger: message, and "(client ADDRESS)" on a line about a request (operations/request_log.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(PLAIN_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        client = record.__dict__.get("client")
        return f"{line} (client {client})" if client else line


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry.update(access_fields(record.args))
        elif record.__dict__.get("client"):
            entry["client"] = record.client
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def access_fields(atoms: Mapping) -> dict:
    """The fields of gunicorn's access line, from its atoms (the names of access_log_format's %(x)s)."""
    return {
        "method": atoms["m"],
        "path": atoms["U"],
        "status": _number(atoms["s"]),
        "duration_ms": round(_number(atoms["D"], default=0) / 1000, 3),
        "client": atoms["h"],
        "bytes": _number(atoms["B"]),
        "user_agent": atoms["a"],
    }


def _number(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def gunicorn_logconfig() -> dict:
    """gunicorn's logconfig_dict for JSON lines: its error log on stderr and its access log on stdout, each once."""
    return {
        "formatters": {"json": {"()": "operations.log_format.JSONFormatter"}},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }
