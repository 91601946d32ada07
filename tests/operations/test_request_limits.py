"""Long requests to the API under real gunicorn (gunicorn.conf.py, connect_project/limits.py): a token or query string
over Connect's limits gets Connect's JSON error with its own code, not gunicorn's HTML 431 or 414 page; the longest
ones Connect accepts reach it and are judged as usual."""

import pytest

from connect_project.limits import MAX_QUERY_STRING_BYTES, MAX_TOKEN_BYTES
from tests.support.connect_server import connect_env, start_connect

OPTIONS = "/api/items/987654/options"


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_url, suite_redis_url, static_root):
    workdir = tmp_path_factory.mktemp("limits")
    started = start_connect(
        workdir, connect_env(workdir, database_url=sqlite_url, redis_url=suite_redis_url, static_root=static_root)
    )
    try:
        yield started
    finally:
        started.stop()


def _query_of(length: int) -> str:
    """A query string of exactly `length` bytes: q=aaaa..."""
    return "q=" + "a" * (length - 2)


def _bearer(length: int) -> dict:
    return {"Authorization": "Bearer " + "t" * length}


def _json_error(response) -> dict:
    assert response.headers["Content-Type"] == "application/json", response.text[:200]
    return response.json()["error"]


def test_the_longest_query_string_connect_accepts_reaches_it(server):
    response = server.get(f"{OPTIONS}?{_query_of(MAX_QUERY_STRING_BYTES)}")

    assert (response.status_code, _json_error(response)["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize("length", [MAX_QUERY_STRING_BYTES + 1, 7000])
def test_a_longer_query_string_is_refused_by_connect_as_json(server, length):
    response = server.get(f"{OPTIONS}?{_query_of(length)}")

    assert response.status_code == 414
    assert _json_error(response) == {
        "code": "query_too_long",
        "message": f"The query string is longer than {MAX_QUERY_STRING_BYTES} bytes (percent-encoded): shorten "
        f"the search text or the values sent.",
    }


def test_the_longest_token_connect_accepts_reaches_it(server):
    response = server.get(OPTIONS, headers=_bearer(MAX_TOKEN_BYTES))

    assert (response.status_code, _json_error(response)["code"]) == (401, "invalid_token")  # read, and not a JWT


@pytest.mark.parametrize("length", [MAX_TOKEN_BYTES + 1, 12_000])
def test_a_longer_token_is_refused_by_connect_as_json(server, length):
    response = server.get(OPTIONS, headers=_bearer(length))

    assert response.status_code == 431
    assert _json_error(response) == {
        "code": "token_too_long",
        "message": f"The embedding token is longer than {MAX_TOKEN_BYTES} bytes: Connect does not read it.",
    }
