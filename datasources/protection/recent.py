"""Admissions reused: a process's last "ok" for each datasource without limits, which its next
calls to that datasource may go on for a short time instead of asking Redis again."""

import threading
import time

from connect_project import hot_settings


class Recent:
    """This process's last admission of each datasource without limits, reused by its calls for a short time
    (protection.RUN_FRESH_SECONDS) from when it was sent: such an admission counts nothing (no token, no slot), it
    only asks the pause and the breaker, and their answer is then as old as a run's. Only a plain "ok" from Redis
    is kept (never a probe's). This process's own outcome that decides something (a failure, a pause, a probe's
    result) forgets it before it is written and again once it is in Redis (so an admission Redis ran before that
    outcome is not kept either), and so does a refusal: only other processes' changes are seen up to that time
    late."""

    def __init__(self):
        self._by_datasource: dict[int, tuple[float, float | None, int]] = {}
        self._epochs: dict[int, int] = {}  # per datasource: changed by every forget()
        self._lock = threading.Lock()  # keep() and forget() (rare); reuse() reads without it

    def epoch(self, datasource_id: int) -> int:
        """Taken when an admission is sent, given to keep(): one sent before a forget() is not kept."""
        return self._epochs.get(datasource_id, 0)

    def reuse(self, datasource_id: int, rules, store, *, fresh_seconds: float):
        """(the admission's time on the store's clock,) when a call to the datasource (its `rules`: limits.Limits)
        may go on it now, else None."""
        entry = self._by_datasource.get(datasource_id)
        if entry is None or rules.any or not store.shared:
            return None
        sent_at, clock, generation = entry
        if time.monotonic() - sent_at > fresh_seconds or generation != hot_settings.generation():
            return None
        return (clock,)

    def keep(self, datasource_id: int, clock: float | None, *, sent_at: float, epoch: int, generation: int) -> None:
        """An "ok" for an admission sent at `sent_at` (monotonic), under settings `generation`."""
        with self._lock:
            if epoch == self.epoch(datasource_id):
                self._by_datasource[datasource_id] = (sent_at, clock, generation)

    def forget(self, datasource_id: int) -> None:
        with self._lock:
            self._epochs[datasource_id] = self.epoch(datasource_id) + 1
            self._by_datasource.pop(datasource_id, None)

    def clear(self) -> None:
        with self._lock:
            self._by_datasource.clear()
            self._epochs.clear()


recent = Recent()
