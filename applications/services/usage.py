"""An application's "last used" time: written at most about once a minute per application, not once per request.

Each process remembers when it last wrote for an application and skips the write within the interval; the write
itself only changes rows older than the interval, so several processes add at most one row change per minute.
"""

import threading
import time
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import Application

INTERVAL_SECONDS = 60

_written_at: dict[int, float] = {}
_lock = threading.Lock()


def note_application_use(*, application_id: int) -> None:
    now = time.monotonic()
    with _lock:
        last = _written_at.get(application_id)
        if last is not None and now - last < INTERVAL_SECONDS:
            return
        _written_at[application_id] = now
    moment = timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=moment - timedelta(seconds=INTERVAL_SECONDS))
    # update(), not save(): the last use is not configuration, so cached copies stay valid.
    Application.objects.filter(stale, pk=application_id).update(last_used_at=moment)


def forget_uses() -> None:
    """Tests: the next use of every application is written."""
    with _lock:
        _written_at.clear()
