"""What Django's request loggers write, made fit for an operator (LOGGING in settings.py attaches these filters).

- An answer Connect gives on purpose and counts in /metrics (a refused or failed call to an API on the item API, an
  unready /readyz) is not a django.request WARNING or ERROR per request: the view marks the request with
  `expected_answer`, and the filter drops its line. Outages are summarised once per interval (operations/reports.py).
- A request for a host not in ALLOWED_HOSTS is one WARNING line, without a traceback (Django writes an ERROR with one).
- Lines about a request name its client: the address gunicorn saw, or behind the trusted proxy the one it forwarded
  (operations/forwarded.py).
"""

import logging

EXPECTED = "connect_expected_answer"


def expected_answer(request) -> None:
    """The answer to `request` is expected (counted in /metrics): django.request does not log it."""
    setattr(request, EXPECTED, True)


class QuietExpectedAnswers(logging.Filter):
    """On django.request: drops the line of an answer its view marked as expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(getattr(record, "request", None), EXPECTED, False)


class OneLineWarning(logging.Filter):
    """On django.security.DisallowedHost: the ERROR with a traceback becomes one WARNING line (a scanner asking for
    another host name is routine on the internet, not an incident)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


class RequestClient(logging.Filter):
    """On the console handler: a record about a request (django.request, django.security) gets `client`, the address
    of who asked, which the formatters show (operations/log_format.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        meta = getattr(request, "META", None)
        if isinstance(meta, dict) and "client" not in record.__dict__:
            record.client = meta.get("REMOTE_ADDR") or "-"
        return True
