"""A cache hit's options: always those of the body in the cache now, and each caller's own."""

import json

from items.services import cache as item_cache
from items.services import cache_key_for, resolve_item

from .conftest import BASE_URL, ISSUES


def test_a_hit_reads_a_replaced_cache_entry(item_factory, datasource_factory, upstream, fake_dns, redis):
    item = item_factory(datasource_factory(base_url=BASE_URL))
    upstream.get(f"{BASE_URL}/search", json=ISSUES)
    resolve_item(item=item, user_input="printer")
    assert resolve_item(item=item, user_input="printer").options[0]["key"] == "OPS-1"
    replaced = {"issues": [{"key": "OPS-9", "fields": {"summary": "Replaced"}}]}
    item_cache.store_body(cache_key_for(item, "/search?q=printer"), json.dumps(replaced).encode())
    hit = resolve_item(item=item, user_input="printer")
    assert hit.cache_status == "hit"
    assert hit.options == [{"key": "OPS-9", "label": "OPS-9 - Replaced"}]


def test_a_caller_changing_its_options_does_not_change_the_next_hit(
    item_factory, datasource_factory, upstream, fake_dns, redis
):
    item = item_factory(datasource_factory(base_url=BASE_URL))
    upstream.get(f"{BASE_URL}/search", json=ISSUES)
    expected = resolve_item(item=item, user_input="printer").options
    first = resolve_item(item=item, user_input="printer").options
    first[0]["label"] = "changed"
    first.append({"key": "x", "label": "x"})

    again = resolve_item(item=item, user_input="printer")
    assert again.cache_status == "hit" and again.options == expected and again.options[0]["label"] != "changed"
