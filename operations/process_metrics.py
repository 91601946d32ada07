"""The process metrics (process_*: CPU time, memory, open files, start time) of one gunicorn instance, for /metrics:
prometheus_client's ProcessCollector reads one process, and its multiprocess mode reads none. Here they are summed
over the instance's master and its workers, read from /proc at each scrape; the start time and the file limit are
the master's (when the instance started, and the limit it runs under).
"""

import os

from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

MASTERS_OWN = frozenset({"process_start_time_seconds", "process_max_fds"})


class InstanceProcesses(Collector):
    def __init__(self, master_pid: int):
        self.master_pid = master_pid

    def collect(self):
        merged: dict[str, Metric] = {}
        for pid in [self.master_pid, *children_of(self.master_pid)]:
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                total = merged.get(family.name)
                if total is None:
                    merged[family.name] = total = Metric(family.name, family.documentation, family.type)
                    total.samples = [sample._replace(value=0.0) for sample in family.samples]
                if family.name in MASTERS_OWN and pid != self.master_pid:
                    continue
                total.samples = [
                    mine._replace(value=mine.value + theirs.value)
                    for mine, theirs in zip(total.samples, family.samples, strict=True)
                ]
        yield from merged.values()


def children_of(pid: int) -> list[int]:
    """The processes `pid` started (Linux: /proc/PID/task/PID/children); none where that cannot be read."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except (OSError, ValueError):
        return []


def gunicorn_master_pid() -> int | None:
    """The pid of the gunicorn master of this worker (gunicorn.conf.py records it), or None outside gunicorn."""
    value = os.environ.get("CONNECT_GUNICORN_MASTER_PID", "")
    return int(value) if value.isdigit() else None
