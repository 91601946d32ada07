"""Item test helpers: an item factory, stubbed upstream answers and direct access to the suite's Redis."""

import pytest
import responses

from items.models import Item

BASE_URL = "https://api.example.com/rest"
ISSUES = {
    "issues": [
        {"id": "1", "key": "OPS-1", "fields": {"summary": "Printer on fire"}},
        {"id": "2", "key": "OPS-2", "fields": {"summary": "Coffee machine empty"}},
    ]
}


def make_item(
    datasource,
    *,
    name="Issues",
    query="/search?q=$userInput",
    dependencies=(),
    list_path="issues",
    key_field="key",
    label_template="{key} - {fields.summary}",
    max_options=100,
    user_input_optional=False,
    **fields,
):
    item = Item(
        name=name,
        datasource=datasource,
        query=query,
        list_path=list_path,
        key_field=key_field,
        label_template=label_template,
        max_options=max_options,
        user_input_optional=user_input_optional,
        dependencies=[{"name": n.rstrip("?"), "optional": n.endswith("?")} for n in dependencies],
        **fields,
    )
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


# Helpers of the suite's Redis, where item tests have always found them.
from tests.support.redis_store import item_keys, redis_dump  # noqa: E402

__all__ = ["item_keys", "make_item", "redis_dump"]
