"""Retry-After: an answer 429 or 503 with Retry-After (delay-seconds or an HTTP-date, capped at
CONNECT_RETRY_AFTER_MAX_SECONDS; anything else ignored) pauses calls to its API until then, for every process: one
key per datasource whose expiry is the end of the pause (never shortened). Callers meanwhile get UpstreamPaused."""

import email.utils
import time
from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone

from datasources.services.errors import UpstreamPaused

PAUSING_STATUSES = (429, 503)
MAX_HEADER_CHARS = 64

# Admission (store.py): refuse while the key lives.
ADMIT_LUA = """
local paused_ms = redis.call('PTTL', K_PAUSE)
if paused_ms > 0 then
  count_refusal('paused')
  return {'paused', tostring(paused_ms / 1000)}
end
"""
# After a call: start (or lengthen) the pause.
FINISH_LUA = """
if retry_ms > 0 and redis.call('PTTL', K_PAUSE) < retry_ms then
  redis.call('SET', K_PAUSE, '1', 'PX', retry_ms)
end
"""


def retry_after_seconds(*, status_code: int | None, header: str | None, now: float | None = None) -> float:
    """How long an answer asks Connect to wait (capped); 0 for another status or a missing or unreadable value."""
    if status_code not in PAUSING_STATUSES or not header or len(header) > MAX_HEADER_CHARS:
        return 0.0
    value = header.strip()
    if value.isdigit():
        seconds = float(int(value))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(seconds, float(settings.CONNECT_RETRY_AFTER_MAX_SECONDS)))


def admit_locally(state, now: float):
    """The per-process version of ADMIT_LUA: seconds left of the pause, or None."""
    left = state.paused_until - now
    if left > 0:
        state.count_refusal("paused", now)
        return left
    return None


def finish_locally(state, now: float, retry_after: float) -> None:
    if retry_after > 0:
        state.paused_until = max(state.paused_until, now + retry_after)


def refusal(seconds_left: float) -> UpstreamPaused:
    until = timezone.localtime(timezone.now() + timedelta(seconds=seconds_left))
    return UpstreamPaused(
        f"The API answered with Retry-After: Connect does not call it until {until:%H:%M:%S} "
        f"({max(1, round(seconds_left))} s left), from any process.",
        retry_after=seconds_left,
    )
