"""Outcomes that no caller waits for, written to Redis by one background thread per process.

A call that ends with an answer while its datasource's breaker is clean, and that did not take the last free slot,
changes nothing the next admission decides: its slot release and health counts are written here, off the caller's
path (many calls in one pipelined round trip under load). Everything that changes a decision (failures, Retry-After,
probes, a breaker to reset, the last free slot, Test connection) is written by the caller itself before it returns.

A slot given back here is free a moment later (one Redis round trip); if the process ends first, the slot expires
by its deadline and the counts are lost: the health figures are for people, not accounting.
"""
import collections
import logging
import os
import threading

logger = logging.getLogger("connect.protection")

MAX_BATCH = 200
MAX_QUEUED = 10_000


class Recorder:
    def __init__(self, write_many):
        self._write_many = write_many  # called with a list of outcomes, on the writer thread
        self._pid = None
        self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._busy = False
        self._dropped = 0
        self._thread: threading.Thread | None = None

    def submit(self, outcome) -> None:
        if self._pid != os.getpid():  # a forked worker: the parent's thread does not exist here
            self._start()
        with self._cond:
            if len(self._queue) >= MAX_QUEUED:
                self._dropped += 1
                return
            self._queue.append(outcome)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="connect-protection-recorder", daemon=True)
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted outcome is written (tests; an orderly shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue)
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH))]
                self._busy = True
                dropped, self._dropped = self._dropped, 0
            if dropped:
                logger.warning("%d call outcomes were not recorded: the queue to Redis was full.", dropped)
            try:
                self._write_many(batch)
            except Exception:  # never let the thread die; the store has logged what it could
                logger.warning("Recording call outcomes failed (%d dropped).", len(batch))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
