"""Settings read on every outbound call (the deadline, the size cap, the rate limit's wait), kept per process.

Each `settings.X` goes through Django's LazySettings and costs about as much as a small function; a call reads a
handful of them, several times per page. Values are read from settings on first use and forgotten whenever any
setting changes (`setting_changed`, sent by override_settings and pytest-django's `settings`), so a test or an
operator's settings still take effect at once. Only values that are plain and settings-only belong here; what a
module builds from settings per process (protection/store.py's store per thread) compares `generation()` instead.
"""

import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_values: dict[str, object] = {}
_lock = threading.Lock()
_generation = [0]  # bumped by every change, so a value read before a change is never kept after it


def hot_setting(name: str):
    """settings.<name>, read once until a setting changes."""
    try:
        return _values[name]
    except KeyError:
        generation = _generation[0]
        value = getattr(settings, name)
        with _lock:
            if generation == _generation[0]:
                _values[name] = value
        return value


def generation() -> int:
    """Changes whenever a setting changes (or forget() is called): what was built from settings before is stale."""
    return _generation[0]


def forget() -> None:
    """Forget every kept value, and make everything built from settings stale (tests reset it this way too)."""
    with _lock:
        _generation[0] += 1
        _values.clear()


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    forget()
