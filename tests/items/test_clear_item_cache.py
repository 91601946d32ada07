"""The clear_item_cache command: old entries become unreachable and their keys are deleted."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from items.models import Item
from items.services import resolve_item

from .conftest import BASE_URL, ISSUES, item_keys


@pytest.fixture
def two_datasources(item_factory, datasource_factory, upstream, fake_dns):
    first = datasource_factory(name="First", base_url=BASE_URL)
    second = datasource_factory(name="Second", base_url="https://other.example.com/api")
    upstream.get(f"{BASE_URL}/search", json=ISSUES)
    upstream.get("https://other.example.com/api/search", json=ISSUES)
    items = [item_factory(first, name="A"), item_factory(first, name="B"), item_factory(second, name="C")]
    for item in items:
        resolve_item(item=item, user_input="x")
    return items


def run(*args) -> str:
    out = StringIO()
    call_command("clear_item_cache", *args, stdout=out)
    return out.getvalue()


def fresh(item):
    return Item.objects.select_related("datasource").get(pk=item.pk)


def test_clearing_one_item(two_datasources, redis, upstream):
    a, b, c = two_datasources
    output = run("--item", str(a.pk))
    assert "1 item(s) got a new config version" in output and "Deleted 1 cache key(s)" in output
    assert len(item_keys(redis)) == 2
    assert resolve_item(item=fresh(a), user_input="x").cached is False
    assert resolve_item(item=fresh(b), user_input="x").cached is True


def test_clearing_a_datasource_clears_its_items_only(two_datasources, redis):
    a, b, c = two_datasources
    output = run("--datasource", str(a.datasource.pk))
    assert "2 item(s)" in output and "Deleted 2 cache key(s)" in output
    assert resolve_item(item=fresh(a), user_input="x").cached is False
    assert resolve_item(item=fresh(b), user_input="x").cached is False
    assert resolve_item(item=fresh(c), user_input="x").cached is True


def test_clearing_all(two_datasources, redis):
    output = run("--all")
    assert "3 item(s)" in output and "Deleted 3 cache key(s)" in output
    assert item_keys(redis) == []


def test_unknown_item_is_an_error(db):
    with pytest.raises(CommandError, match="no item 424242"):
        run("--item", "424242")


def test_one_scope_is_required(db):
    with pytest.raises(CommandError):
        run()
