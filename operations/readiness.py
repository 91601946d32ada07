"""Is this process ready to serve? Ready while the database answers (SPEC 5). Redis is shared by every host and
Connect serves without it (uncached calls, sessions from the database): Redis down is *degraded*, never unready, or a
load balancer would take every host out at once for a cache outage.

Only the names of parts leave this module: no error text, host or version (they would help an attacker more than an
operator, who has the logs).
"""

from dataclasses import dataclass, field

from django.core.cache import caches
from django.db import connections
from django_redis.cache import RedisCache

from .redis_outage import report_redis_failure


@dataclass(frozen=True)
class Readiness:
    failing: list[str] = field(default_factory=list)  # what makes this process unready: ["database"] or []
    degraded: list[str] = field(default_factory=list)  # what it serves without: ["redis"] or []

    @property
    def ready(self) -> bool:
        return not self.failing


def readiness() -> Readiness:
    return Readiness(
        failing=[] if database_answers() else ["database"],
        degraded=[] if redis_answers() else ["redis"],
    )


def database_answers() -> bool:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() is not None
    except Exception:  # any failure means "not ready"; the request that needs the database logs its own error
        return False


def redis_answers() -> bool:
    """True when Redis answers a PING, or when Connect runs without Redis (the in-process cache)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return True
    try:
        return bool(backend.client.get_client(write=True).ping())
    except Exception as exc:
        report_redis_failure(exc, noticed_by="readiness")
        return False
