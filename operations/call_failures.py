"""Refused and failed calls to datasources' APIs, summarised on "connect.client" at most once per interval
(CONNECT_CALL_REPORT_INTERVAL_SECONDS) per datasource and process (operations/reports.py), instead of a line per
call: under load an API that refuses or fails would otherwise write a line per keystroke. Each call is counted in
/metrics where it is made (connect_protection_events_total, connect_upstream_calls_total).

A line is safe at INFO: error codes, HTTP statuses, counts, and the last URL without its query values (what people
type). Each call's own message, which can quote the API's answer, is on connect.client's DEBUG line.
A summary of refusals only (rate_limited, upstream_paused, circuit_open: Connect protecting the API) is INFO; one
with a failed call in it is a WARNING.
"""

import logging

from django.conf import settings

from .metrics import PROTECTION_REFUSALS
from .reports import IntervalReports

logger = logging.getLogger("connect.client")
lines = IntervalReports(lambda: settings.CONNECT_CALL_REPORT_INTERVAL_SECONDS)


def report_failed_call(*, datasource_id: int | None, code: str, status: int | None, method: str, url: str) -> None:
    """Count a refused or failed call; summarise the datasource's unless this process did within the interval.
    `url` must already be fit for INFO (redacted, query values hidden)."""
    kind = f"HTTP {status}" if code == "http_status" and status else code
    held = lines.note(datasource_id, kind)
    if held is None:
        return
    refusals_only = all(kind in PROTECTION_REFUSALS for kind in held.counts)
    logger.log(
        logging.INFO if refusals_only else logging.WARNING,
        "Datasource %s: calls refused or failed: %s; the last one: %s %s. Each call is counted in /metrics; "
        "summarised at most once every "
        "%g s per datasource and process.",
        datasource_id if datasource_id is not None else "(not saved yet)",
        held.describe(),
        method,
        url,
        settings.CONNECT_CALL_REPORT_INTERVAL_SECONDS,
    )
