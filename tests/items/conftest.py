"""Item test helpers: an item factory, stubbed upstream answers and direct access to the suite's Redis."""
import pytest
import responses
from django.core.cache import caches

from items.models import Item
from items.services import cache as item_cache

BASE_URL = "https://api.example.com/rest"
ISSUES = {"issues": [
    {"id": "1", "key": "OPS-1", "fields": {"summary": "Printer on fire"}},
    {"id": "2", "key": "OPS-2", "fields": {"summary": "Coffee machine empty"}},
]}


def make_item(datasource, *, name="Issues", query="/search?q=$userInput", dependencies=(), list_path="issues",
              key_field="key", label_template="{key} - {fields.summary}", max_options=100,
              user_input_optional=False, **fields):
    item = Item(name=name, datasource=datasource, query=query, list_path=list_path, key_field=key_field,
                label_template=label_template, max_options=max_options, user_input_optional=user_input_optional,
                dependencies=[{"name": n.rstrip("?"), "optional": n.endswith("?")} for n in dependencies], **fields)
    item.full_clean()
    item.save()
    return Item.objects.select_related("datasource", "datasource__auth").get(pk=item.pk)


@pytest.fixture
def item_factory(db):
    return make_item


@pytest.fixture
def upstream():
    """`responses` standing in for every datasource; unmatched requests fail the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


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
