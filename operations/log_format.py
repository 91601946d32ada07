"""JSON log lines (CONNECT_LOG_FORMAT=json): one object per line with time, level, logger, message (and the
process id, and the traceback when there is one). Messages arrive already redacted: redaction happens where a
message is built and in the filters of the HTTP stack's loggers, before any formatter. Standard library only:
gunicorn's master process uses it too (gunicorn.conf.py)."""

import datetime
import json
import logging


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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


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
