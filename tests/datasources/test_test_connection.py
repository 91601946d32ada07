"""Test connection: a staff-only POST that calls the test URL once, shows the result on the page and changes nothing."""

import logging

import pytest
import responses
from django.test import Client

from datasources.models import AuthConfig, Datasource
from datasources.services import connection_check
from tests.conftest import SECRET_API_KEY, SECRET_CLIENT_SECRET, assert_no_secret, make_datasource
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_dns")]

BASE = "https://api.example.com/rest"


def post_url(datasource) -> str:
    return f"/datasources/{datasource.pk}/test/"


def run_test(client, datasource):
    return client.post(post_url(datasource), follow=True)


def page_text(response) -> str:
    return response.content.decode()


# --- access --------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.post(post_url(make_datasource()))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_non_staff_users_are_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("visitor", password="pw-visitor-123"))
    assert client.post(post_url(make_datasource())).status_code == 403


def test_only_post_is_accepted(staff_client):
    assert staff_client.get(post_url(make_datasource())).status_code == 405


def test_a_post_without_csrf_token_is_refused(staff_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    assert browser.post(post_url(make_datasource())).status_code == 403


@responses.activate
def test_the_page_form_posts_with_a_csrf_token_and_a_busy_label(staff_client):
    datasource = make_datasource()
    html = page_text(staff_client.get(f"/datasources/{datasource.pk}/"))
    assert f'action="{post_url(datasource)}"' in html
    assert 'data-busy="Testing…"' in html
    assert "csrfmiddlewaretoken" in html
    assert "Not tested yet." in html


# --- results -------------------------------------------------------------------------------------------------


@responses.activate
def test_success_shows_status_time_and_url_and_a_message(staff_client):
    responses.get(BASE, json={})
    response = run_test(staff_client, make_datasource())
    html = page_text(response)
    assert 'data-test-result="success"' in html
    assert "HTTP status</dt><dd>200" in html
    assert " ms</dd>" in html
    assert BASE in html
    assert [str(m) for m in response.context["messages"]][0].startswith("Test connection succeeded: HTTP 200")


@responses.activate
def test_a_relative_test_url_is_called_below_the_base_url(staff_client):
    responses.get(f"{BASE}/serverInfo", json={})
    datasource = make_datasource()
    Datasource.objects.filter(pk=datasource.pk).update(test_url="/serverInfo")
    run_test(staff_client, datasource)
    assert responses.calls[0].request.url == f"{BASE}/serverInfo"


@responses.activate
def test_an_absolute_test_url_on_the_same_host_gets_the_credentials(staff_client):
    responses.get("https://api.example.com/health", json={})
    datasource = make_datasource(mode="basic", username="elements", password="connect")
    Datasource.objects.filter(pk=datasource.pk).update(test_url="https://api.example.com/health")
    run_test(staff_client, datasource)
    assert responses.calls[0].request.headers["Authorization"] == "Basic ZWxlbWVudHM6Y29ubmVjdA=="


@responses.activate
def test_an_absolute_test_url_on_another_host_gets_no_credentials(staff_client):
    responses.get("https://status.example.org/ping", json={})
    datasource = make_datasource(mode="basic", username="elements", password="connect", headers=[("X-Tenant", "a")])
    Datasource.objects.filter(pk=datasource.pk).update(test_url="https://status.example.org/ping")
    assert 'data-test-result="success"' in page_text(run_test(staff_client, datasource))
    assert not {"Authorization", "X-Tenant"} & set(responses.calls[0].request.headers)


@responses.activate
@pytest.mark.parametrize("status", [204, 301, 401, 500])
def test_anything_but_http_200_is_a_failure_with_its_status(staff_client, status):
    responses.get(BASE, status=status, body="")
    html = page_text(run_test(staff_client, make_datasource()))
    assert 'data-test-result="failure"' in html
    assert "Unexpected HTTP status" in html
    assert f"HTTP status</dt><dd>{status}" in html


@pytest.mark.parametrize("dns_answer, label", [([], "DNS failure"), (["10.0.0.1"], "Address refused")])
def test_a_failure_shows_its_category_and_message(staff_client, fake_dns, connect_attempts, dns_answer, label):
    fake_dns["api.example.com"] = dns_answer
    response = run_test(staff_client, make_datasource())
    html = page_text(response)
    assert f"Failed: {label}" in html
    assert "no answer" in html
    assert str(list(response.context["messages"])[0]).startswith(f"Test connection failed ({label})")
    assert connect_attempts == []


@responses.activate
def test_the_last_result_stays_on_the_page_for_that_datasource_only(staff_client):
    responses.get(BASE, json={})
    tested, untested = make_datasource(name="A"), make_datasource(name="B")
    run_test(staff_client, tested)
    assert "Last test result" in page_text(staff_client.get(f"/datasources/{tested.pk}/"))
    assert "Not tested yet." in page_text(staff_client.get(f"/datasources/{untested.pk}/"))


@responses.activate
def test_a_result_from_before_a_configuration_change_says_so(staff_client):
    responses.get(BASE, json={})
    datasource = make_datasource()
    run_test(staff_client, datasource)
    datasource.bump_config_version()
    assert "the configuration has changed since" in page_text(staff_client.get(f"/datasources/{datasource.pk}/"))


@responses.activate
def test_testing_never_changes_the_configuration(staff_client):
    responses.get(BASE, status=500)
    datasource = make_datasource(
        mode="api_key",
        api_key_location="header",
        api_key_name="X-Key",
        api_key_value=SECRET_API_KEY,
        headers=[("X-Tenant", "acme")],
    )
    before = (datasource.config_version, datasource.updated_at, list(AuthConfig.objects.values()))
    run_test(staff_client, datasource)
    datasource.refresh_from_db()
    assert (datasource.config_version, datasource.updated_at, list(AuthConfig.objects.values())) == before


# --- nothing secret on the page, in the session or in the logs ------------------------------------------------


def key_in_query_datasource(base_url=BASE):
    return make_datasource(
        base_url=base_url,
        mode="api_key",
        api_key_location="query",
        api_key_name="token_id",
        api_key_value=SECRET_API_KEY,
    )


def assert_nothing_leaked(response, client, caplog):
    assert_no_secret(page_text(response))
    assert_no_secret(str(client.session.get(connection_check.SESSION_KEY)))
    assert_no_secret(caplog.text)


@responses.activate
@pytest.mark.parametrize("status, body", [(500, "error for /rest?token_id="), (200, "<html>not json ")])
def test_the_api_key_never_appears_on_the_page_for_an_error_status_or_a_non_json_body(
    staff_client, caplog, status, body
):
    caplog.set_level(logging.DEBUG)
    responses.get(BASE, status=status, body=body + SECRET_API_KEY)
    response = run_test(staff_client, key_in_query_datasource())
    assert "token_id=***" in page_text(response)
    assert_nothing_leaked(response, staff_client, caplog)


def test_the_api_key_never_appears_on_the_page_for_a_dns_failure(staff_client, caplog, fake_dns):
    caplog.set_level(logging.DEBUG)
    fake_dns["api.example.com"] = []
    response = run_test(staff_client, key_in_query_datasource())
    assert "DNS failure" in page_text(response)
    assert_nothing_leaked(response, staff_client, caplog)


@pytest.mark.usefixtures("trust_test_ca")
def test_the_api_key_never_appears_on_the_page_for_a_timeout(staff_client, caplog, settings, start_server):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    settings.CONNECT_CALL_DEADLINE_SECONDS = 1
    server = start_server({"/rest": srv.slow_body(interval=1.0)})
    response = run_test(staff_client, key_in_query_datasource(server.url("/rest")))
    assert "Failed: Timed out" in page_text(response)
    assert SECRET_API_KEY in server.requests[0]["path"]
    assert_nothing_leaked(response, staff_client, caplog)


# --- OAuth authorization code, not connected yet ---------------------------------------------------------------


@responses.activate
def test_an_authorization_code_datasource_not_yet_connected_says_so_plainly(staff_client):
    datasource = make_datasource(
        name="Graph",
        base_url=BASE,
        mode="oauth2_authorization_code",
        authorization_url="https://login.example.com/authorize",
        token_url="https://login.example.com/token",
        client_id="connect-client",
        client_secret=SECRET_CLIENT_SECRET,
    )

    response = run_test(staff_client, datasource)

    check = connection_check.last_check(staff_client.session, datasource=datasource)
    assert check.category == "not_connected" and check.category_label == "Not connected"
    assert check.message.startswith("Not connected: use Connect to sign in first")
    assert "Not connected: use Connect to sign in first" in page_text(response)
    assert "reconnect" not in check.message.lower()
    assert len(responses.calls) == 0  # nothing sent, to the provider or the API
    auth = AuthConfig.objects.get(datasource=datasource)
    assert not auth.reconnect_needed and auth.last_error == ""
    assert_no_secret(page_text(response))
