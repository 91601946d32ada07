"""The CACHES setting: one Redis (REDIS_URL) or Redis Sentinel (REDIS_SENTINELS), both through django-redis.

With Sentinel every read and write goes to the primary Sentinel names (one server, no replica reads): the answer
cache's single-flight lock, its release and the filled answer must be read back where they were written, and a
replica lags. Replicas are there for failover: when Sentinel promotes one, new connections go to it.
"""

from django.core.exceptions import ImproperlyConfigured

# Short socket timeouts: an unreachable Redis must cost a request a second, not hang it (calls go on uncached).
SOCKET_OPTIONS = {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2}


def redis_caches(
    *,
    url: str = "",
    sentinels: list[str] | None = None,
    sentinel_master: str = "mymaster",
    db: int = 0,
    password: str = "",
    sentinel_password: str = "",
) -> dict:
    """CACHES for django-redis: from a redis:// URL, or from Sentinel addresses ("host:port")."""
    if url and sentinels:
        raise ImproperlyConfigured(
            "Set REDIS_URL or REDIS_SENTINELS, not both: with Sentinel, Connect asks the "
            "Sentinels where the Redis primary is."
        )
    options = {
        # A Redis outage degrades to cache misses instead of errors (reported once per interval on connect.cache).
        "IGNORE_EXCEPTIONS": True,
        **SOCKET_OPTIONS,
    }
    if sentinels:
        location = [f"redis://{sentinel_master}/{db}"]  # a list: the primary only (see the module docstring)
        options.update(
            {
                "CLIENT_CLASS": "django_redis.client.SentinelClient",
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": [sentinel_address(entry) for entry in sentinels],
                "SENTINEL_KWARGS": {
                    **({"password": sentinel_password} if sentinel_password else {}),
                    "socket_connect_timeout": SOCKET_OPTIONS["SOCKET_CONNECT_TIMEOUT"],
                    "socket_timeout": SOCKET_OPTIONS["SOCKET_TIMEOUT"],
                },
            }
        )
        if password:
            options["PASSWORD"] = password
    else:
        location = url
        options["CLIENT_CLASS"] = "django_redis.client.DefaultClient"
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "OPTIONS": options,
            "KEY_PREFIX": "connect",
        }
    }


def sentinel_address(entry: str) -> tuple[str, int]:
    """ "host:port" (or "host", port 26379) as django-redis wants it."""
    host, _, port = entry.strip().rpartition(":") if ":" in entry else (entry.strip(), "", "26379")
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not host or not 0 < number < 65536:
        raise ImproperlyConfigured(
            f"REDIS_SENTINELS: {entry.strip()!r} is not host:port (e.g. sentinel-1.internal:26379)."
        )
    return host.strip("[]"), number
