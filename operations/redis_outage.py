"""Redis outages, reported once per interval per process on "connect.cache" (operations/reports.py), whoever noticed
them: the item cache, Django's cache through django-redis (sessions), the OAuth renewal lock, or the readiness probe.

An outage is expected (Connect goes on without Redis), so the report is one warning without a traceback, naming only
the error's class (its text can carry Redis' address). Every error is still counted (connect_cache_errors_total).
"""

import logging

from django.conf import settings

from . import metrics
from .reports import IntervalReports

logger = logging.getLogger("connect.cache")

NOTICED_BY = {
    "item_cache": "the item answer cache",
    "django_cache": "Django's cache (sessions)",
    "oauth_lock": "the OAuth renewal lock",
    "readiness": "the readiness probe",
}


class OutageReport:
    """Per process: one warning per interval, counting the errors noticed since the last one."""

    def __init__(self):
        self.lines = IntervalReports(lambda: settings.CONNECT_CACHE_WARNING_INTERVAL_SECONDS)

    def report(self, exc: BaseException, *, noticed_by: str) -> None:
        metrics.record_cache_error(noticed_by=noticed_by)
        held = self.lines.note("redis", NOTICED_BY.get(noticed_by, noticed_by))
        if held is None:
            return
        logger.warning(
            "Redis cache unavailable (%s, noticed by %s): Connect goes on without it (item answers are "
            "fetched uncached, sessions read from the database, OAuth renewals serialised per process). "
            "Reported at most once every %g s per process%s.",
            type(exc).__name__,
            NOTICED_BY.get(noticed_by, noticed_by),
            settings.CONNECT_CACHE_WARNING_INTERVAL_SECONDS,
            "" if held.since_seconds is None else f"; errors since the last report: {held.describe()}",
        )

    def reset(self) -> None:
        self.lines.reset()


outage = OutageReport()


def report_redis_failure(exc: BaseException, *, noticed_by: str) -> None:
    """Count a Redis error and warn about the outage unless this process did within the interval."""
    outage.report(exc, noticed_by=noticed_by)


class ReportIgnoredRedisErrors(logging.Filter):
    """On the logger django-redis writes its ignored errors to (DJANGO_REDIS_LOGGER, an ERROR with a traceback
    for every session read during an outage): each record becomes a report, and the record itself is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            report_redis_failure(exc.__cause__ or exc, noticed_by="django_cache")
        return False
