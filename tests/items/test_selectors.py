"""The options endpoint's item lookup: rows kept per process, checked against the database on every request."""

import pytest

from items.models import Item
from items.selectors import ItemLookup


@pytest.fixture
def lookup():
    return ItemLookup()


@pytest.fixture
def item(item_factory, datasource_factory):
    return item_factory(datasource_factory())


def test_finds_the_item_with_its_datasource(lookup, item):
    found = lookup.find_item(item.pk)

    assert (found.pk, found.name, found.query, found.config_version) == (
        item.pk,
        "Issues",
        item.query,
        item.config_version,
    )
    assert (found.datasource.pk, found.datasource.base_url) == (item.datasource.pk, item.datasource.base_url)
    assert found.dependencies == item.dependencies


def test_an_unknown_item_is_none(lookup, db):
    assert lookup.find_item(987654) is None


def test_a_known_item_costs_one_small_query(lookup, item, django_assert_num_queries):
    lookup.find_item(item.pk)

    with django_assert_num_queries(1) as captured:
        found = lookup.find_item(item.pk)
        assert found.datasource.name == "Jira"  # no lazy load either
    assert "config_version" in captured.captured_queries[0]["sql"]


def test_an_edited_item_is_loaded_again(lookup, item):
    lookup.find_item(item.pk)
    stored = Item.objects.get(pk=item.pk)
    stored.label_template = "{fields.summary}"
    stored.save()

    assert lookup.find_item(item.pk).label_template == "{fields.summary}"


def test_an_edited_datasource_is_loaded_again(lookup, item):
    lookup.find_item(item.pk)
    datasource = item.datasource
    datasource.base_url = "https://other.example.com/api"
    datasource.save()

    assert lookup.find_item(item.pk).datasource.base_url == "https://other.example.com/api"


def test_a_datasource_change_through_its_headers_is_seen(lookup, item):
    before = lookup.find_item(item.pk).datasource.config_version
    item.datasource.bump_config_version()  # what saving a header or the auth settings does

    assert lookup.find_item(item.pk).datasource.config_version not in ("", before)


def test_a_deleted_item_is_gone(lookup, item):
    lookup.find_item(item.pk)
    Item.objects.filter(pk=item.pk).delete()

    assert lookup.find_item(item.pk) is None


def test_callers_never_share_instances(lookup, item_factory, datasource_factory):
    item = item_factory(datasource_factory(), query="/cities?c=$country", dependencies=["country"])
    first = lookup.find_item(item.pk)
    first.dependencies.append({"name": "changed", "optional": True})
    first.datasource.name = "changed"

    second = lookup.find_item(item.pk)
    assert second is not first and second.datasource is not first.datasource
    assert second.dependency_names == ["country"] and second.datasource.name == "Jira"


def test_the_datasource_credentials_are_not_loaded(lookup, item, django_assert_num_queries):
    found = lookup.find_item(item.pk)

    assert "auth" not in found.datasource._state.fields_cache
    with django_assert_num_queries(1):  # loaded only when a cache miss needs them
        assert found.datasource.auth.mode == "none"


def test_keeps_at_most_max_entries(item_factory, datasource_factory, django_assert_num_queries):
    """A remembered item costs one version query; the least recently used one beyond the bound is loaded again."""
    lookup = ItemLookup(max_entries=2)
    datasource = datasource_factory()
    items = [item_factory(datasource, name=f"Item {n}") for n in range(3)]
    for item in items:
        lookup.find_item(item.pk)

    with django_assert_num_queries(1):
        assert lookup.find_item(items[2].pk).name == "Item 2"
    with django_assert_num_queries(2):  # evicted: versions, then the rows
        assert lookup.find_item(items[0].pk).name == "Item 0"
