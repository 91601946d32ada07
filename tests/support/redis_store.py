"""The suite's Redis as a fixture (`redis`, registered through pytest_plugins), and helpers that read it."""

import pytest
from django.core.cache import caches

from items.services import cache as item_cache


@pytest.fixture
def redis():
    """The raw Redis connection behind Django's cache (the suite's REDIS_URL), to look at keys and TTLs."""
    from django_redis import get_redis_connection
    from django_redis.cache import RedisCache

    if not isinstance(caches["default"], RedisCache):
        pytest.skip("needs REDIS_URL: the cache tests run against real Redis")
    return get_redis_connection("default")


def redis_dump(redis) -> str:
    """Every key of the test database with its value, TTL and encoding, as one text to search for secrets."""
    parts = []
    for key in redis.keys("*"):
        value = redis.get(key) if redis.type(key) == b"string" else repr(redis.dump(key))
        parts.append(f"{key!r} {value!r} ttl={redis.ttl(key)} {redis.object('encoding', key)!r}")
    return "\n".join(parts)


def item_keys(redis) -> list[bytes]:
    return [k for k in redis.keys(f"*{item_cache.KEY_PREFIX}:*") if not k.endswith(b":lock")]
