"""An answer nested deeper than Connect reads (datasources/services/response.py, MAX_JSON_DEPTH) is invalid_json with
a clear message on the options endpoint and the preview, never a RecursionError or a 500; depth up to the limit, and
brackets inside strings, are read as usual."""

import pytest
from django.contrib.auth import get_user_model

from datasources.services.response import MAX_JSON_DEPTH

from .conftest import BASE_URL

SEARCH_URL = f"{BASE_URL}/search"
HUNDRED_THOUSAND_DEEP = b"[" * 100_000 + b"]" * 100_000
TOO_DEEP = f"The API answered with JSON nested more than {MAX_JSON_DEPTH} levels deep for"


@pytest.fixture
def item(item_factory, datasource_factory):
    return item_factory(datasource_factory(base_url=BASE_URL), list_path="", key_field="id", label_template="{id}")


@pytest.fixture
def member_client(client, db):
    client.force_login(get_user_model().objects.create_user("filler", "filler@example.com", "pw-filler-123"))
    return client


def _nested(depth: int) -> bytes:
    """A list of one option whose "deep" field holds lists nested so that the whole answer is `depth` deep."""
    inner = b"[" * (depth - 2) + b"]" * (depth - 2)
    return b'[{"id": "A", "deep": ' + inner + b"}]"


def test_an_answer_nested_100000_deep_is_invalid_json_on_the_options_endpoint(item, member_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, body=HUNDRED_THOUSAND_DEEP, content_type="application/json")

    response = member_client.get(f"/api/items/{item.pk}/options?q=x")

    assert response.status_code == 502
    assert response.json()["error"] == {
        "code": "invalid_json",
        "message": "The API answered with a body that is not JSON.",
    }


def test_an_answer_nested_100000_deep_is_a_clear_message_on_the_preview(item, staff_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, body=HUNDRED_THOUSAND_DEEP, content_type="application/json")

    response = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "x", "current_user": "admin"})

    assert response.status_code == 200
    assert TOO_DEEP in response.content.decode()


def test_an_answer_one_level_too_deep_is_refused(item, staff_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, body=_nested(MAX_JSON_DEPTH + 1), content_type="application/json")

    response = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "x", "current_user": "admin"})

    assert TOO_DEEP in response.content.decode()


def test_an_answer_at_the_depth_limit_is_read_and_previewed(item, member_client, staff_client, upstream, fake_dns):
    upstream.get(SEARCH_URL, body=_nested(MAX_JSON_DEPTH), content_type="application/json")

    assert member_client.get(f"/api/items/{item.pk}/options?q=x").json()["options"] == [{"key": "A", "label": "A"}]
    preview = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "y", "current_user": "admin"})
    assert TOO_DEEP not in preview.content.decode() and "A" in preview.context["resolution"].options[0]["key"]


def test_brackets_inside_strings_do_not_count_as_nesting(item, member_client, upstream, fake_dns):
    label = "[" * 500 + "{" * 500
    upstream.get(SEARCH_URL, json=[{"id": label}])

    response = member_client.get(f"/api/items/{item.pk}/options?q=x")

    assert response.json()["options"] == [{"key": label, "label": label}]
