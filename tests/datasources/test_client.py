"""The datasource client with `responses` and stubbed DNS: auth, headers, URL rules, redirects, errors, sessions."""

import logging
import threading

import pytest
import requests
import responses
from requests_oauthlib import OAuth2Session

from datasources.models import Datasource
from datasources.services import client, errors, oauth, outbound_errors, sessions, transport
from tests.conftest import (
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    assert_no_secret,
    make_datasource,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_dns")]

BASE = "https://api.example.com/rest"
OTHER = "https://cdn.example.net/files"


def call(datasource, path_and_query="/issue", **kwargs):
    return client.call_datasource(datasource=datasource, path_and_query=path_and_query, **kwargs)


def sent(index=0) -> requests.PreparedRequest:
    return responses.calls[index].request


# --- authentication and headers ------------------------------------------------------------------------------


@responses.activate
def test_no_auth_sends_no_credentials():
    responses.get(f"{BASE}/issue", json={})
    call(make_datasource())
    assert "Authorization" not in sent().headers
    assert sent().url == f"{BASE}/issue"


@responses.activate
def test_basic_auth_sends_the_seed_example_header():
    responses.get(f"{BASE}/issue", json={})
    call(make_datasource(mode="basic", username="elements", password="connect"))
    assert sent().headers["Authorization"] == "Basic ZWxlbWVudHM6Y29ubmVjdA=="


@responses.activate
def test_api_key_in_a_header_is_sent_on_every_call():
    responses.get(f"{BASE}/issue", json={})
    datasource = make_datasource(
        mode="api_key", api_key_location="header", api_key_name="X-API-Key", api_key_value=SECRET_API_KEY
    )
    call(datasource)
    call(datasource)
    assert [c.request.headers["X-API-Key"] for c in responses.calls] == [SECRET_API_KEY] * 2
    assert all("Authorization" not in c.request.headers and "?" not in c.request.url for c in responses.calls)


@responses.activate
def test_api_key_in_the_query_is_added_once_and_replaces_a_value_in_the_query():
    responses.get(f"{BASE}/issue", json={})
    datasource = make_datasource(
        mode="api_key", api_key_location="query", api_key_name="api_key", api_key_value=SECRET_API_KEY
    )
    call(datasource, "/issue?jql=project%3DABC&api_key=guess")
    assert sent().url == f"{BASE}/issue?jql=project%3DABC&api_key={SECRET_API_KEY}"
    assert "Authorization" not in sent().headers


@responses.activate
def test_custom_headers_are_sent_on_every_call():
    responses.get(f"{BASE}/issue", json={})
    responses.get(f"{BASE}/other", json={})
    datasource = make_datasource(headers=[("X-Tenant", "acme"), ("Accept-Language", "de")])
    call(datasource)
    call(datasource, "/other")
    for c in responses.calls:
        assert (c.request.headers["X-Tenant"], c.request.headers["Accept-Language"]) == ("acme", "de")


@responses.activate
def test_every_call_sends_the_default_headers_and_a_custom_header_replaces_one_whatever_its_case():
    responses.get(f"{BASE}/issue", json={})
    call(make_datasource(headers=[("accept", "application/vnd.api+json")]))
    assert sent().headers["User-Agent"] == sessions.DEFAULT_HEADERS["User-Agent"]
    assert sent().headers["Accept-Encoding"] == "gzip, deflate"
    assert [value for name, value in sent().headers.items() if name.lower() == "accept"] == ["application/vnd.api+json"]


@responses.activate
def test_custom_headers_and_basic_auth_travel_together():
    responses.get(f"{BASE}/issue", json={})
    call(make_datasource(mode="basic", username="elements", password="connect", headers=[("X-Tenant", "acme")]))
    assert sent().headers["X-Tenant"] == "acme"
    assert sent().headers["Authorization"].startswith("Basic ")


# --- the query can only add a path and a query string --------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    "path_and_query, url",
    [
        ("", BASE),
        ("issue", f"{BASE}/issue"),
        ("/issue/ABC-1?fields=summary", f"{BASE}/issue/ABC-1?fields=summary"),
        ("?jql=reporter%3Dme%40example.com", f"{BASE}?jql=reporter%3Dme%40example.com"),
        ("/search?user=me@example.com", f"{BASE}/search?user=me@example.com"),
        ("/projects/group%2Fproject", f"{BASE}/projects/group%2Fproject"),
    ],
)
def test_the_query_is_appended_to_the_base_url(path_and_query, url):
    responses.get(url, json={})
    assert call(make_datasource(), path_and_query).status_code == 200
    assert sent().url == url


TRICKS = [
    "//evil.example/x",
    "https://evil.example/x",
    "http://evil.example",
    "HTTPS:evil.example",
    "javascript:alert(1)",
    "@evil.example/x",
    "/x@evil.example",
    "/%40evil.example",
    "\\\\evil.example",
    "/a\\b",
    "/../admin",
    "/%2e%2e/admin",
    "/%2E%2E%2Fadmin",
    "/%252e%252e/admin",
    "/.",
    "/x#@evil.example",
    "/x\r\nHost: evil",
    "/%5c..%5cadmin",
]


@responses.activate
@pytest.mark.parametrize("trick", TRICKS)
def test_the_query_cannot_change_scheme_host_port_or_leave_the_base_path(trick):
    with pytest.raises(errors.InvalidURL):
        call(make_datasource(), trick)
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/health",
        "ftp://api.example.com/",
        "https://u:p@api.example.com/",
        "https:///nohost",
        "https://api.example.com/x#frag",
        "/relative",
    ],
)
def test_an_absolute_url_must_be_plain_https(url):
    with pytest.raises(errors.InvalidURL):
        call(make_datasource(), url=url)
    assert len(responses.calls) == 0


# --- answers and errors --------------------------------------------------------------------------------------


@responses.activate
def test_an_answer_carries_status_body_timing_type_and_redacted_url():
    responses.get(f"{BASE}/issue", json={"a": 1}, headers={"X-Request-Id": "r1"})
    datasource = make_datasource(
        mode="api_key", api_key_location="query", api_key_name="key", api_key_value=SECRET_API_KEY
    )
    response = call(datasource)
    assert (response.status_code, response.json(), response.content_type) == (200, {"a": 1}, "application/json")
    assert response.headers["X-Request-Id"] == "r1"
    assert response.redacted_url == f"{BASE}/issue?key=***"
    assert 0 <= response.elapsed_seconds < 5


@responses.activate
def test_a_non_2xx_answer_raises_with_the_code_and_a_short_excerpt():
    responses.get(f"{BASE}/issue", status=503, body="Service down for maintenance " + "x" * 1000)
    with pytest.raises(errors.HTTPStatusError) as caught:
        call(make_datasource())
    assert caught.value.status_code == 503
    assert "HTTP 503 Service Unavailable" in caught.value.message
    assert "Service down for maintenance" in caught.value.message
    assert len(caught.value.message) < 400


@responses.activate
def test_expect_success_false_returns_any_status():
    responses.get(f"{BASE}/issue", status=404, json={"error": "nope"})
    assert call(make_datasource(), expect_success=False).status_code == 404


@responses.activate
def test_a_body_that_is_not_json_raises_invalid_json():
    responses.get(f"{BASE}/issue", body="<html>hello</html>", content_type="text/html")
    with pytest.raises(errors.InvalidJSON, match="not JSON"):
        call(make_datasource()).json()


@responses.activate
def test_a_body_over_the_cap_is_refused(settings):
    settings.CONNECT_MAX_RESPONSE_BYTES = 1000
    responses.get(f"{BASE}/issue", body=b"a" * 1001)
    with pytest.raises(errors.ResponseTooLarge):
        call(make_datasource())


def test_a_dns_failure_fails_closed(fake_dns, connect_attempts):
    fake_dns["api.example.com"] = []
    with pytest.raises(errors.DNSFailure, match="could not be resolved"):
        call(make_datasource())
    assert connect_attempts == []


@responses.activate
def test_connection_errors_become_connect_failures():
    responses.get(f"{BASE}/issue", body=requests.ConnectionError("boom https://api.example.com/rest?key=x"))
    with pytest.raises(errors.ConnectFailure) as caught:
        call(make_datasource())
    assert "key=x" not in caught.value.message


# --- redirects -----------------------------------------------------------------------------------------------


@responses.activate
def test_a_same_host_redirect_keeps_headers_and_credentials():
    responses.get(f"{BASE}/issue", status=301, headers={"Location": f"{BASE}/issue/"})
    responses.get(f"{BASE}/issue/", json={})
    datasource = make_datasource(
        mode="api_key",
        api_key_location="query",
        api_key_name="api_key",
        api_key_value=SECRET_API_KEY,
        headers=[("X-Tenant", "acme")],
    )
    call(datasource)
    assert sent(1).headers["X-Tenant"] == "acme"
    assert sent(1).url == f"{BASE}/issue/?api_key={SECRET_API_KEY}"


@responses.activate
@pytest.mark.parametrize(
    "auth",
    [
        dict(mode="basic", username="elements", password=SECRET_PASSWORD),
        dict(mode="api_key", api_key_location="header", api_key_name="X-API-Key", api_key_value=SECRET_API_KEY),
        dict(mode="api_key", api_key_location="query", api_key_name="api_key", api_key_value=SECRET_API_KEY),
    ],
)
def test_a_redirect_to_another_host_drops_custom_headers_and_credentials(auth):
    responses.get(f"{BASE}/issue", status=302, headers={"Location": f"{OTHER}/1?v=1"})
    responses.get(f"{OTHER}/1", json={})
    call(make_datasource(headers=[("X-Tenant", "acme")], **auth))
    hop = sent(1)
    assert hop.url == f"{OTHER}/1?v=1"
    assert not {"X-Tenant", "X-API-Key", "Authorization"} & set(hop.headers)


@responses.activate
def test_a_redirect_to_another_host_never_carries_the_api_key_parameter():
    responses.get(f"{BASE}/issue", status=302, headers={"Location": f"{OTHER}/1?api_key={SECRET_API_KEY}&v=1"})
    responses.get(f"{OTHER}/1", json={})
    call(
        make_datasource(mode="api_key", api_key_location="query", api_key_name="api_key", api_key_value=SECRET_API_KEY)
    )
    assert sent(1).url == f"{OTHER}/1?v=1"


@responses.activate
def test_a_redirect_to_another_port_counts_as_another_host():
    responses.get(f"{BASE}/issue", status=307, headers={"Location": "https://api.example.com:8443/rest/x"})
    responses.get("https://api.example.com:8443/rest/x", json={})
    call(make_datasource(mode="basic", username="elements", password="connect"))
    assert "Authorization" not in sent(1).headers


@responses.activate
def test_at_most_five_redirects_are_followed():
    for hop in range(7):
        responses.get(f"{BASE}/r{hop}", status=302, headers={"Location": f"{BASE}/r{hop + 1}"})
    with pytest.raises(errors.RedirectRefused, match="More than 5 redirects"):
        call(make_datasource(), "/r0")
    assert len(responses.calls) == 6


@responses.activate
def test_five_redirects_are_fine():
    for hop in range(5):
        responses.get(f"{BASE}/r{hop}", status=302, headers={"Location": f"{BASE}/r{hop + 1}"})
    responses.get(f"{BASE}/r5", json={"done": True})
    assert call(make_datasource(), "/r0").json() == {"done": True}


@responses.activate
@pytest.mark.parametrize(
    "location", ["http://api.example.com/rest/plain", "ftp://api.example.com/x", "https://user:pw@api.example.com/x"]
)
def test_a_redirect_to_anything_but_plain_https_is_refused(location):
    responses.get(f"{BASE}/issue", status=302, headers={"Location": location})
    with pytest.raises(errors.RedirectRefused):
        call(make_datasource())
    assert len(responses.calls) == 1


@responses.activate
def test_each_redirect_hop_goes_through_the_address_policy(fake_dns, connect_attempts):
    fake_dns["internal.example.com"] = ["10.1.2.3"]
    responses.get(f"{BASE}/issue", status=302, headers={"Location": "https://internal.example.com/admin"})
    responses.add_passthru("https://internal.example.com/")  # the real transport, where the policy is checked
    with pytest.raises(errors.AddressRefused, match="10.1.2.3"):
        call(make_datasource())
    assert len(responses.calls) == 1
    assert connect_attempts == []


# --- OAuth2 hook ---------------------------------------------------------------------------------------------


@pytest.fixture
def tokens(monkeypatch):
    """bearer_token_for stubbed: hands out token-1, token-2, ... and records how it was asked."""
    asked = []

    def bearer_token_for(auth, *, force_new=False, rejected_token=None):
        asked.append((force_new, rejected_token))
        return f"{SECRET_ACCESS_TOKEN}-{len(asked)}"

    monkeypatch.setattr(oauth, "bearer_token_for", bearer_token_for)
    return asked


def oauth_datasource():
    return make_datasource(
        mode="oauth2_client_credentials",
        token_url="https://auth.example.com/token",
        client_id="connect",
        client_secret="s",
    )


@responses.activate
def test_oauth_modes_send_the_bearer_token(tokens):
    responses.get(f"{BASE}/issue", json={})
    call(oauth_datasource())
    assert sent().headers["Authorization"] == f"Bearer {SECRET_ACCESS_TOKEN}-1"
    assert tokens == [(False, None)]


@responses.activate
def test_a_401_renews_the_token_once_and_retries(tokens):
    responses.get(f"{BASE}/issue", status=401)
    responses.get(f"{BASE}/issue", json={"ok": 1})
    assert call(oauth_datasource()).json() == {"ok": 1}
    assert tokens == [(False, None), (True, f"{SECRET_ACCESS_TOKEN}-1")]
    assert sent(1).headers["Authorization"] == f"Bearer {SECRET_ACCESS_TOKEN}-2"


@responses.activate
def test_a_second_401_is_reported_not_retried_again(tokens):
    responses.get(f"{BASE}/issue", status=401, body=f"bad token {SECRET_ACCESS_TOKEN}-2")
    with pytest.raises(errors.HTTPStatusError) as caught:
        call(oauth_datasource())
    assert len(responses.calls) == 2
    assert_no_secret(caught.value.message, secrets=(f"{SECRET_ACCESS_TOKEN}-2",))


# --- outbound sessions for other services (OAuth token requests) ---------------------------------------------


@responses.activate
def test_a_configured_session_reaches_any_public_https_host():
    responses.post("https://auth.example.com/token", json={"access_token": "t"})
    session = transport.configure_outbound_session(OAuth2Session(client_id="c"))
    assert session.post("https://auth.example.com/token").json() == {"access_token": "t"}
    assert session.trust_env is False and session.proxies == {}


def test_a_configured_session_refuses_http_and_private_hosts(fake_dns, connect_attempts):
    fake_dns["auth.internal"] = ["192.168.1.10"]
    session = transport.configure_outbound_session(requests.Session())
    with pytest.raises(errors.InvalidURL, match="only https"):
        session.post("http://auth.example.com/token")
    with pytest.raises(errors.AddressRefused):
        session.post("https://auth.internal/token")
    assert connect_attempts == []


@pytest.mark.parametrize(
    "location", ["http://auth.example.com/t", "https://auth.example.com/t", "https://elsewhere.example.com/token"]
)
@responses.activate
def test_a_configured_session_follows_no_redirect_of_a_token_endpoint(location):
    responses.post("https://auth.example.com/token", status=307, headers={"Location": location})
    responses.post(location, json={"access_token": "t"})
    session = transport.configure_outbound_session(requests.Session())
    with pytest.raises(errors.RedirectRefused, match="never redirected"):
        session.post("https://auth.example.com/token", data={"client_secret": SECRET_CLIENT_SECRET})
    assert [call.request.url for call in responses.calls] == ["https://auth.example.com/token"]


def test_translate_request_error_never_copies_library_text():
    exc = requests.exceptions.ConnectionError(f"HTTPSConnectionPool: Max retries with url: /x?api_key={SECRET_API_KEY}")
    translated = outbound_errors.translate_request_error(exc, url=f"https://h/x?api_key={SECRET_API_KEY}")
    assert isinstance(translated, errors.ConnectFailure)
    assert_no_secret(translated.message)


# --- one pooled session per datasource -----------------------------------------------------------------------


def test_the_session_is_reused_until_the_configuration_changes():
    datasource = make_datasource()
    first = sessions.session_for(datasource)
    assert sessions.session_for(datasource) is first
    datasource.bump_config_version()
    assert sessions.session_for(datasource) is not first


def test_concurrent_first_calls_build_one_session():
    # Relations loaded up front: the threads must not query the (test transaction's) database.
    datasource = Datasource.objects.select_related("auth").prefetch_related("headers").get(pk=make_datasource().pk)
    built, barrier = [], threading.Barrier(8)

    def worker():
        barrier.wait()
        built.append(sessions.session_for(datasource))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(entry) for entry in built}) == 1


def test_sessions_are_bounded_and_closed_when_evicted_or_deleted(monkeypatch):
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 2)
    closed = []
    monkeypatch.setattr(requests.Session, "close", lambda session: closed.append(session))
    datasources = [make_datasource(name=f"D{i}") for i in range(3)]
    entries = [sessions.session_for(datasource) for datasource in datasources]
    assert closed == [entries[0].session]  # the least recently used one went
    assert sessions.session_for(datasources[2]) is entries[2]  # the others are kept and reused
    datasources[1].delete()
    assert closed[-1] is entries[1].session
    assert sessions.session_for(datasources[0]) is not entries[0]  # an evicted one is built again


@responses.activate
def test_a_changed_header_is_sent_by_the_next_call():
    responses.get(f"{BASE}/issue", json={})
    datasource = make_datasource(headers=[("X-Tenant", "acme")])
    call(datasource)
    header = datasource.headers.get()
    header.value = "globex"
    header.save()
    datasource.refresh_from_db()
    call(datasource)
    assert sent(1).headers["X-Tenant"] == "globex"


# --- leaks ---------------------------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("status, body", [(500, "oops"), (200, "not json")])
def test_the_api_key_never_appears_in_messages_or_logs(caplog, status, body):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{BASE}/issue", status=status, body=f"{body} for /issue?k={SECRET_API_KEY}")
    datasource = make_datasource(
        mode="api_key", api_key_location="query", api_key_name="k", api_key_value=SECRET_API_KEY
    )
    with pytest.raises(errors.DatasourceError) as caught:
        call(datasource).json()
    assert_no_secret(caught.value.message)
    assert_no_secret(caplog.text)
    assert "k=***" in caught.value.message
