"""Is this process ready to serve: does the database answer, and Redis (when Connect uses it)?

Only the names of the failing parts leave this module: no error text, host or version (they would help an attacker
more than an operator, who has the logs).
"""

from django.core.cache import caches
from django.db import connections
from django_redis.cache import RedisCache

from .redis_outage import report_redis_failure


def failing_parts() -> list[str]:
    """["database"], ["redis"], both, or [] when ready."""
    failing = []
    if not database_answers():
        failing.append("database")
    if not redis_answers():
        failing.append("redis")
    return failing


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
