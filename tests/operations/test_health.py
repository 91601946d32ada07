"""/healthz and /readyz: no sign-in, tiny JSON, only the names of failing parts. (Redis stopped:
tests/operations/test_redis_outage.py; under gunicorn with both answering: tests/operations/test_serving.py.)"""

import logging

import pytest

from tests.support.connect_server import connect_env, free_port, running_connect


def test_healthz_answers_without_sign_in(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_200_when_the_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def test_health_endpoints_answer_only_get(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_readyz_names_the_database_when_it_does_not_answer(tmp_path, suite_redis_url):
    # A PostgreSQL address where nothing listens: the database is unreachable, Redis answers.
    env = connect_env(
        tmp_path, database_url=f"postgres://connect@127.0.0.1:{free_port()}/connect", redis_url=suite_redis_url
    )
    with running_connect(tmp_path, env) as server:
        response = server.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "failing": ["database"]}
        assert server.get("/healthz").status_code == 200
        assert "Service Unavailable" not in server.output()  # the probe's answer is not a django.request ERROR


def test_favicon_ico_is_the_shipped_icon_without_a_not_found_line(client, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and "max-age=86400" in response["Cache-Control"]
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert caplog.records == []


@pytest.mark.django_db
def test_pages_link_the_icon(client):
    page = client.get("/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.ico"' in page
