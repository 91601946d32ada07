"""POST with a JSON body template, and pagination, against a real local HTTPS server that records what it gets."""

import html
import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError

from datasources.services import errors
from items.models import Item
from items.services import resolve_item
from tests.conftest import SECRET_API_KEY, assert_no_secret, make_datasource
from tests.items.conftest import item_keys, make_item
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]


def entries(*keys):
    return [{"id": key, "name": f"Name {key}"} for key in keys]


@pytest.fixture
def api(start_server):
    """A server with routes added by each test; `api.datasource(**auth)` points a datasource at it."""
    server = start_server({})
    server.datasource = lambda **auth: make_datasource(name="Paged API", base_url=server.url("/api"), **auth)
    return server


def paged_item(datasource, **fields):
    defaults = dict(query="/items?q=$userInput", list_path="results", key_field="id", label_template="name")
    defaults.update(fields)
    return make_item(datasource, name="Paged", user_input_optional=True, **defaults)


# --- POST ----------------------------------------------------------------------------------------------------


def test_the_exact_body_goes_on_the_wire_with_quotes_unicode_and_numbers(api):
    api.routes["/api/search"] = srv.answer(body=json.dumps({"results": entries("a")}).encode())
    item = paged_item(
        api.datasource(),
        query="/search",
        method="POST",
        body_template='{"q": "$userInput", "raw": $userInput, "limit": 20, "tag": "x-$userInput"}',
    )
    typed = 'say "hi" \\ ünï 12.5'
    resolve_item(item=item, user_input=typed)
    sent = api.requests[0]
    assert sent["method"] == "POST" and sent["headers"]["Content-Type"] == "application/json"
    assert json.loads(sent["body"]) == {"q": typed, "raw": typed, "limit": 20, "tag": f"x-{typed}"}
    assert (
        sent["body"]
        == (
            '{"q": "say \\"hi\\" \\\\ ünï 12.5", "raw": "say \\"hi\\" \\\\ ünï 12.5", "limit": 20, '
            '"tag": "x-say \\"hi\\" \\\\ ünï 12.5"}'
        ).encode()
    )


def test_the_body_is_part_of_the_cache_key(api, redis):
    api.routes["/api/search"] = srv.answer(body=json.dumps({"results": entries("a")}).encode())
    item = paged_item(api.datasource(), query="/search", method="POST", body_template='{"q": "$userInput"}')
    for text in ("one", "two", "one"):
        resolve_item(item=item, user_input=text)
    assert [json.loads(r["body"])["q"] for r in api.requests] == ["one", "two"]
    assert len(item_keys(redis)) == 2


def test_a_secret_in_the_body_is_redacted_in_the_preview_and_logs(api, staff_client, caplog):
    api.routes["/api/search"] = srv.answer(status=500, body=b'{"error": "nope"}')
    datasource = api.datasource(
        mode="api_key", api_key_location="header", api_key_name="X-Key", api_key_value=SECRET_API_KEY
    )
    item = paged_item(datasource, query="/search", method="POST", body_template='{"q": "$userInput"}')
    caplog.set_level(logging.DEBUG)
    page = html.unescape(
        staff_client.post(
            f"/items/{item.pk}/preview/", {"user_input": f"leak {SECRET_API_KEY}", "current_user": "admin"}
        ).content.decode()
    )
    assert SECRET_API_KEY in api.requests[0]["body"].decode()  # it really was sent
    assert "Calls made (1)" in page and '{"q": "leak ***"}' in page
    assert_no_secret(page)
    assert_no_secret(caplog.text)


def test_a_post_is_never_redirected(api):
    api.routes["/api/search"] = srv.redirect(api.url("/api/other"), status=307)
    api.routes["/api/other"] = srv.answer(body=json.dumps({"results": entries("a")}).encode())
    item = paged_item(api.datasource(), query="/search", method="POST", body_template='{"q": "$userInput"}')
    with pytest.raises(errors.RedirectRefused, match="never sends a body elsewhere"):
        resolve_item(item=item, user_input="x")
    assert [r["path"] for r in api.requests] == ["/api/search"]


@pytest.mark.parametrize(
    "method, body, message",
    [
        ("POST", '{"q": "$userInput",}', "The body is not valid JSON"),
        ("POST", '{"q": $nope}', "Unknown variable $nope"),
        ("GET", '{"q": 1}', "A body is only sent with POST"),
    ],
)
def test_a_bad_body_is_refused_at_save_with_a_message(datasource_factory, method, body, message):
    candidate = Item(name="P", datasource=datasource_factory(), query="/s", method=method, body_template=body)
    with pytest.raises(ValidationError) as caught:
        candidate.full_clean()
    assert message in caught.value.message_dict["body_template"][0]


# --- pagination ------------------------------------------------------------------------------------------------


def link_pages(server, count):
    """Pages 1..count at /api/items?page=N, each linking to the next with a Link header."""

    def route(handler):
        page = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        headers = []
        if page < count:
            headers.append(("Link", f'<{server.url("/api/items")}?page={page + 1}>; rel="next", <x>; rel="first"'))
        srv.send(handler, 200, json.dumps({"results": entries(f"{page}a", f"{page}b")}).encode(), headers=headers)

    return route


def test_three_pages_through_the_link_header(api):
    api.routes["/api/items"] = link_pages(api, 3)
    resolution = resolve_item(item=paged_item(api.datasource(), pagination="link"), user_input="")
    assert [o["key"] for o in resolution.options] == ["1a", "1b", "2a", "2b", "3a", "3b"]
    assert [page.status for page in resolution.pages] == [200, 200, 200] and len(api.requests) == 3


def test_three_pages_through_a_next_url_in_the_answer(api):
    def route(handler):
        page = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        following = f"/api/items?page={page + 1}" if page < 3 else None  # relative to the page
        srv.send(handler, 200, json.dumps({"results": entries(page), "links": {"next": following}}).encode())

    api.routes["/api/items"] = route
    item = paged_item(api.datasource(), pagination="next_url", next_url_path="$.links.next")
    assert [o["key"] for o in resolve_item(item=item).options] == [1, 2, 3]


def test_three_pages_through_page_numbers_until_an_empty_page(api):
    def route(handler):
        page = int(parse_qs(urlsplit(handler.path).query)["offset"][0]) // 10
        srv.send(handler, 200, json.dumps({"results": entries(page) if page < 3 else []}).encode())

    api.routes["/api/items"] = route
    item = paged_item(api.datasource(), pagination="page", page_parameter="offset", page_start=0, page_step=10)
    assert [o["key"] for o in resolve_item(item=item, user_input="x").options] == [0, 1, 2]
    assert [parse_qs(urlsplit(r["path"]).query)["offset"] for r in api.requests] == [["0"], ["10"], ["20"], ["30"]]
    assert all(parse_qs(urlsplit(r["path"]).query)["q"] == ["x"] for r in api.requests)


def test_pages_stop_at_max_options(api):
    api.routes["/api/items"] = link_pages(api, 5)
    resolution = resolve_item(item=paged_item(api.datasource(), pagination="link", max_options=3))
    assert [o["key"] for o in resolution.options] == ["1a", "1b", "2a"] and len(api.requests) == 2


def test_pages_stop_at_the_page_cap(api):
    api.routes["/api/items"] = link_pages(api, 9)
    resolution = resolve_item(item=paged_item(api.datasource(), pagination="link", max_pages=2))
    assert len(resolution.options) == 4 and len(api.requests) == 2


def test_a_complete_resolution_is_cached_as_one_entry_and_read_back(api, redis):
    api.routes["/api/items"] = link_pages(api, 3)
    item = paged_item(api.datasource(), pagination="link")
    first = resolve_item(item=item)
    again = resolve_item(item=item)
    assert again.cached and again.options == first.options and len(api.requests) == 3
    assert len(item_keys(redis)) == 1


def test_a_next_link_to_another_host_is_refused_and_nothing_is_cached(api, redis):
    def route(handler):
        srv.send(
            handler,
            200,
            json.dumps({"results": entries(1)}).encode(),
            headers=[("Link", '<https://evil.example.com/api/items?page=2>; rel="next"')],
        )

    api.routes["/api/items"] = route
    with pytest.raises(errors.InvalidURL) as caught:
        resolve_item(item=paged_item(api.datasource(), pagination="link"))
    assert "Page 2 failed" in caught.value.message and "another host" in caught.value.message
    assert len(api.requests) == 1 and item_keys(redis) == []


def test_a_next_link_outside_the_base_path_is_refused(api):
    api.routes["/api/items"] = lambda handler: srv.send(
        handler, 200, json.dumps({"results": entries(1)}).encode(), headers=[("Link", '</admin/x>; rel="next"')]
    )
    with pytest.raises(errors.InvalidURL, match="not under the base URL's path"):
        resolve_item(item=paged_item(api.datasource(), pagination="link"))


def linked_pages_failing_at(api, failing: int):
    """/api/items?page=N: one entry and a Link to page N + 1, until page `failing`, which answers 500."""

    def route(handler):
        page = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        if page == failing:
            return srv.send(handler, 500, b'{"error": "boom"}')
        srv.send(
            handler,
            200,
            json.dumps({"results": entries(page)}).encode(),
            headers=[("Link", f'<{api.url("/api/items")}?page={page + 1}>; rel="next"')],
        )

    return route


def test_a_failing_page_caches_nothing_and_the_error_names_the_page(api, redis, staff_client):
    api.routes["/api/items"] = linked_pages_failing_at(api, 2)
    item = paged_item(api.datasource(), pagination="link")
    with pytest.raises(errors.HTTPStatusError) as caught:
        resolve_item(item=item)
    assert caught.value.message.startswith("Page 2 failed: The API answered HTTP 500")
    assert item_keys(redis) == []
    page = staff_client.post(f"/items/{item.pk}/preview/", {"user_input": "", "current_user": "admin"})
    assert "Page 2 failed" in page.content.decode() and "Calls made (2)" in page.content.decode()


def test_the_deadline_covers_all_the_pages(api, settings):
    settings.CONNECT_CALL_DEADLINE_SECONDS = 1.0

    def slow(handler):
        time.sleep(0.5)
        page = int(parse_qs(urlsplit(handler.path).query).get("page", ["1"])[0])
        srv.send(
            handler,
            200,
            json.dumps({"results": entries(page)}).encode(),
            headers=[("Link", f'<{api.url("/api/items")}?page={page + 1}>; rel="next"')],
        )

    api.routes["/api/items"] = slow
    started = time.monotonic()
    with pytest.raises(errors.UpstreamTimeout):
        resolve_item(item=paged_item(api.datasource(), pagination="link", max_pages=3))
    assert time.monotonic() - started < 2.5  # ended at the deadline, not after three half-second pages each
    assert len(api.requests) <= 2


def test_the_size_cap_covers_all_the_pages(api, settings):
    settings.CONNECT_MAX_RESPONSE_BYTES = 1500
    body = json.dumps({"results": entries(*range(20))}).encode()  # ~700 bytes a page
    api.routes["/api/items"] = lambda handler: srv.send(
        handler, 200, body, headers=[("Link", f'<{api.url("/api/items")}?page=2>; rel="next"')]
    )
    assert len(body) < settings.CONNECT_MAX_RESPONSE_BYTES < 3 * len(body)
    with pytest.raises(errors.ResponseTooLarge) as caught:
        resolve_item(item=paged_item(api.datasource(), pagination="link", max_pages=3, max_options=1000))
    assert "Page 3 failed" in caught.value.message


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"pagination": "next_url"}, "next_url_path", "Enter where the answer holds the next page's URL"),
        ({"pagination": "next_url", "next_url_path": "$.links["}, "next_url_path", "Not a valid JSONPath"),
        ({"pagination": "page"}, "page_parameter", "Enter the query parameter"),
        ({"pagination": "page", "page_parameter": "a&b"}, "page_parameter", "Use letters, digits"),
        ({"pagination": "link", "max_pages": 21}, "max_pages", "less than or equal to 20"),
    ],
)
def test_bad_pagination_settings_are_refused_at_save(datasource_factory, fields, field, message):
    candidate = Item(name="P", datasource=datasource_factory(), query="/s", **fields)
    with pytest.raises(ValidationError) as caught:
        candidate.full_clean()
    assert message in caught.value.message_dict[field][0]


def client_lines(caplog):
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "connect.client"]


def test_the_pages_of_a_resolution_are_one_log_line_without_the_api_key(api, caplog):
    """The API key travels as a query parameter on every page: the one line lists the pages, each URL masked (at
    INFO without any query value: they carry what people type)."""
    datasource = api.datasource(
        mode="api_key", api_key_location="query", api_key_name="appid", api_key_value=SECRET_API_KEY
    )
    api.routes["/api/items"] = link_pages(api, 3)
    caplog.set_level(logging.INFO, logger="connect.client")
    resolve_item(item=paged_item(datasource, pagination="link"), user_input="typed-Q-51b7")
    assert SECRET_API_KEY in api.requests[0]["path"]  # it really was sent
    [(level, line)] = client_lines(caplog)
    assert level == "INFO" and line.startswith("3 calls in one run, ")
    assert line.count(" -> HTTP 200 in ") == 3 and line.count("page=…") == 2 and line.count("appid=…") == 3
    assert "typed-Q-51b7" not in line
    assert_no_secret(caplog.text)


def test_at_debug_the_line_of_the_pages_has_their_full_redacted_urls(api, caplog):
    datasource = api.datasource(
        mode="api_key", api_key_location="query", api_key_name="appid", api_key_value=SECRET_API_KEY
    )
    api.routes["/api/items"] = link_pages(api, 3)
    caplog.set_level(logging.DEBUG, logger="connect.client")
    resolve_item(item=paged_item(datasource, pagination="link"), user_input="typed-Q-51b7")
    [(level, line)] = client_lines(caplog)
    assert level == "DEBUG" and line.startswith("3 calls in one run, ")
    assert "page=2" in line and "page=3" in line and line.count("appid=***") == 3 and "q=typed-Q-51b7" in line
    assert_no_secret(caplog.text)


def test_the_pages_answered_before_a_failing_one_are_logged_before_its_summary(api, caplog):
    api.routes["/api/items"] = linked_pages_failing_at(api, 3)
    caplog.set_level(logging.INFO, logger="connect.client")
    with pytest.raises(errors.HTTPStatusError):
        resolve_item(item=paged_item(api.datasource(), pagination="link"))
    (first_level, first), (second_level, second) = client_lines(caplog)
    assert first_level == "INFO" and first.startswith("2 calls in one run, ") and "page=… -> HTTP 200" in first
    assert second_level == "WARNING" and "calls refused or failed: 1 (HTTP 500); the last one: GET https://" in second
    assert "page=…" in second


def test_a_one_page_resolution_logs_the_line_of_one_call(api, caplog):
    api.routes["/api/items"] = link_pages(api, 1)
    caplog.set_level(logging.INFO, logger="connect.client")
    resolve_item(item=paged_item(api.datasource(), pagination="link"))
    [(_level, line)] = client_lines(caplog)
    assert line.startswith("GET https://127.0.0.1:") and "/api/items?q= -> HTTP 200 in " in line


def test_a_refused_next_link_never_shows_the_api_key_and_is_its_own_page(api):
    """The API echoes the key in its next link, to another host: the refusal names page 2, masks the key, and the
    API's answer of page 1 stays recorded as a success."""
    datasource = api.datasource(
        mode="api_key", api_key_location="query", api_key_name="appid", api_key_value=SECRET_API_KEY
    )
    api.routes["/api/items"] = lambda handler: srv.send(
        handler,
        200,
        json.dumps({"results": entries(1)}).encode(),
        headers=[("Link", f'<https://other.example.com/v1/x?appid={SECRET_API_KEY}&page=2>; rel="next"')],
    )
    item = paged_item(datasource, pagination="link")
    with pytest.raises(errors.NextPageRefused) as caught:
        resolve_item(item=item)
    assert "Page 2 failed" in caught.value.message and "appid=***" in caught.value.message
    assert_no_secret(caught.value.message)
    resolution = caught.value.resolution
    assert [(p.number, p.status, bool(p.error)) for p in resolution.pages] == [(1, 200, False), (2, None, True)]
    assert resolution.upstream_status is None


def test_the_options_endpoint_names_a_refused_next_link(api, client, django_user_model):
    api.routes["/api/items"] = lambda handler: srv.send(
        handler,
        200,
        json.dumps({"results": entries(1)}).encode(),
        headers=[("Link", '<https://other.example.com/x>; rel="next"')],
    )
    item = paged_item(api.datasource(), pagination="link")
    client.force_login(django_user_model.objects.create_user("filler", password="pw-filler-123"))
    error = client.get(f"/api/items/{item.pk}/options").json()["error"]
    assert error["code"] == "next_page_refused" and "next page" in error["message"] and "(page 2)" in error["message"]
