"""The outbound proxy (SPEC 12): the operator's CONNECT_OUTBOUND_PROXY and a datasource's own proxy, through a real
local CONNECT proxy (tests/support/connect_proxy.py). Connect resolves and checks the API's address itself, asks the
proxy to CONNECT to that address and speaks TLS with the API's name inside the tunnel; token requests go through it
too; a proxy refusing or failing is `proxy_failure`, never showing the proxy's password."""

import json
import logging
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from datasources.models import Datasource, NetworkConfig
from datasources.services import client, errors
from tests.conftest import ALL_SECRETS, SECRET_CLIENT_SECRET, SECRET_PASSWORD, assert_no_secret, make_datasource
from tests.support import https_server as srv
from tests.support.login_api import LoginAPI

from .conftest import errors_next_to, form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

API_HOST = "api.connect.test"
PROXY_PASSWORD = "s3cr3t-PROXY-PASSWORD-2f8e"


@pytest.fixture
def api(start_server, fake_dns):
    fake_dns[API_HOST] = ["127.0.0.1"]
    return start_server(
        {"/api/ok": srv.answer(body=b'{"through": "proxy"}'), "/api/echo": srv.echo_json},
        hostnames=(API_HOST, "127.0.0.1"),
    )


def datasource_for(api, name="Tunnelled", **auth):
    return make_datasource(name=name, base_url=api.url("/api", host=API_HOST), **auth)


def with_proxy(datasource, proxy_url, password=""):
    NetworkConfig.objects.create(datasource=datasource, proxy_url=proxy_url, proxy_password=password)
    return Datasource.objects.get(pk=datasource.pk)


def call(datasource, path="/ok"):
    return client.call_datasource(datasource=Datasource.objects.get(pk=datasource.pk), path_and_query=path)


def with_credentials(proxy_url: str, user: str, password: str) -> str:
    return proxy_url.replace("http://", f"http://{user}:{password}@")


# --- through the operator's proxy ----------------------------------------------------------------------------


def test_calls_go_through_the_operators_proxy_to_the_checked_address(api, connect_proxy, settings):
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    datasource = datasource_for(api)
    assert call(datasource).json() == {"through": "proxy"}
    assert proxy.connects == 1
    assert proxy.targets == [f"127.0.0.1:{api.port}"]  # the address Connect checked, never the name
    assert api.sni_names == [API_HOST]  # TLS with the API's name inside the tunnel
    assert api.requests[0]["headers"]["Host"] == f"{API_HOST}:{api.port}"


def test_warm_calls_reuse_the_tunnel(api, connect_proxy, settings):
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    datasource = datasource_for(api)
    for _ in range(3):
        call(datasource)
    assert proxy.connects == 1 and api.counts["handshakes"] == 1


def test_a_name_resolving_to_a_refused_address_is_refused_before_the_proxy_is_asked(
    api, connect_proxy, settings, fake_dns
):
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    fake_dns[API_HOST] = ["10.20.30.40"]
    with pytest.raises(errors.AddressRefused, match="a private address"):
        call(datasource_for(api))
    fake_dns[API_HOST] = ["169.254.169.254"]
    with pytest.raises(errors.AddressRefused, match="cloud metadata"):
        call(datasource_for(api, name="Metadata"))
    assert proxy.connects == 0


def test_a_certificate_for_another_name_is_refused_through_the_proxy(start_server, connect_proxy, settings, fake_dns):
    other = start_server({"/api/ok": srv.answer()}, hostnames=("other.connect.test",))
    fake_dns[API_HOST] = ["127.0.0.1"]
    settings.CONNECT_OUTBOUND_PROXY = connect_proxy().url
    with pytest.raises(errors.TLSFailure, match=API_HOST):
        call(make_datasource(base_url=other.url("/api", host=API_HOST)))


@pytest.mark.parametrize("exception", [API_HOST, ".connect.test", "*.connect.test", "API.Connect.Test."])
def test_hosts_listed_as_exceptions_are_reached_directly(api, connect_proxy, settings, exception):
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    settings.CONNECT_OUTBOUND_PROXY_EXCEPTIONS = ["intranet.example.com", exception]
    assert call(datasource_for(api)).status_code == 200
    assert proxy.connects == 0


@pytest.mark.parametrize("exception, direct", [("127.0.0.0/8", True), ("127.0.0.1", True), ("10.0.0.0/8", False)])
def test_an_ip_address_host_is_matched_against_listed_networks(api, connect_proxy, settings, exception, direct):
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    settings.CONNECT_OUTBOUND_PROXY_EXCEPTIONS = [exception]
    assert call(make_datasource(base_url=api.url("/api"))).status_code == 200
    assert proxy.connects == (0 if direct else 1)


def test_the_operators_proxy_is_trusted_on_a_private_address_a_datasources_is_not(api, connect_proxy, settings):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = [API_HOST]  # the API, not the proxy's loopback address
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    assert call(datasource_for(api)).status_code == 200
    own = with_proxy(datasource_for(api, name="Own proxy"), proxy.url)
    with pytest.raises(errors.AddressRefused, match="loopback"):
        call(own)
    assert proxy.connects == 1


# --- failures: proxy_failure, never the password ------------------------------------------------------------


def test_a_proxy_asking_for_credentials_is_a_proxy_failure(api, connect_proxy, settings):
    proxy = connect_proxy(credentials=("connect", PROXY_PASSWORD))
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    with pytest.raises(errors.ProxyFailure) as caught:
        call(datasource_for(api))
    assert caught.value.code == "proxy_failure"
    assert caught.value.message == (
        f"The proxy {proxy.url} asks for credentials (HTTP 407 Proxy Authentication Required): check the proxy user "
        "name and password."
    )
    assert caught.value.status_code == 407


def test_wrong_proxy_credentials_are_named_without_the_password(api, connect_proxy, settings, caplog):
    caplog.set_level(logging.DEBUG)
    proxy = connect_proxy(credentials=("connect", PROXY_PASSWORD))
    settings.CONNECT_OUTBOUND_PROXY = with_credentials(proxy.url, "connect", "wrong-" + PROXY_PASSWORD)
    with pytest.raises(errors.ProxyFailure) as caught:
        call(datasource_for(api))
    assert caught.value.message.startswith(f"The proxy {proxy.url} refused Connect's proxy credentials (HTTP 407")
    assert PROXY_PASSWORD not in caught.value.message + caught.value.shown_url + caplog.text


def test_the_right_proxy_credentials_are_sent_as_basic_proxy_authorization(api, connect_proxy, settings, caplog):
    caplog.set_level(logging.DEBUG)
    proxy = connect_proxy(credentials=("connect", PROXY_PASSWORD))
    settings.CONNECT_OUTBOUND_PROXY = with_credentials(proxy.url, "connect", PROXY_PASSWORD)
    datasource = datasource_for(api)
    assert call(datasource).status_code == 200
    assert proxy.authorizations[0].startswith("Basic ")
    assert "Proxy-Authorization" not in api.requests[0]["headers"]  # only the proxy sees it
    echoed = call(datasource, "/echo")
    assert PROXY_PASSWORD not in caplog.text and PROXY_PASSWORD not in echoed.redacted_url


def test_a_proxy_that_is_down_is_a_proxy_failure(api, connect_proxy, settings):
    proxy = connect_proxy()
    proxy.stop()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    with pytest.raises(errors.ProxyFailure) as caught:
        call(datasource_for(api))
    assert caught.value.message == f"Could not connect to the proxy {proxy.url} — connection refused."


def test_a_proxy_refusing_the_tunnel_is_a_proxy_failure_with_its_status(api, connect_proxy, settings):
    proxy = connect_proxy()
    proxy.refuse_with = 403
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    with pytest.raises(errors.ProxyFailure) as caught:
        call(datasource_for(api))
    assert caught.value.message == (
        f"The proxy {proxy.url} refused the tunnel to {API_HOST} (127.0.0.1:{api.port}): HTTP 403 Refused."
    )


def test_something_that_is_not_an_http_proxy_is_named(api, settings):
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_like_ssh():
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n\r\n")

    thread = threading.Thread(target=answer_like_ssh, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    settings.CONNECT_OUTBOUND_PROXY = f"http://127.0.0.1:{port}"
    try:
        with pytest.raises(errors.ProxyFailure) as caught:
            call(datasource_for(api))
    finally:
        listener.close()
    assert caught.value.message == (
        f"The proxy http://127.0.0.1:{port} did not answer the tunnel request with HTTP: check that it is an HTTP "
        "proxy."
    )


def test_the_options_api_says_the_proxy_failed_and_nothing_more(api, connect_proxy, settings):
    proxy = connect_proxy(credentials=("connect", PROXY_PASSWORD))
    settings.CONNECT_OUTBOUND_PROXY = with_credentials(proxy.url, "connect", "wrong")
    with pytest.raises(errors.ProxyFailure) as caught:
        call(datasource_for(api))
    assert caught.value.public_text() == "Connect's outbound proxy failed or refused the connection to the API."


def test_test_connection_shows_a_proxy_failure(api, connect_proxy, settings, staff_client):
    proxy = connect_proxy(credentials=("connect", PROXY_PASSWORD))
    settings.CONNECT_OUTBOUND_PROXY = with_credentials(proxy.url, "connect", "wrong-" + PROXY_PASSWORD)
    datasource = datasource_for(api)
    page = staff_client.post(f"/datasources/{datasource.pk}/test/", follow=True).content.decode()
    assert "Failed: Proxy failure" in page and "refused Connect&#x27;s proxy credentials" in page
    assert PROXY_PASSWORD not in page
    detail = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    assert f'the operator\'s proxy, <span class="url">{proxy.url}</span>' in detail


# --- a datasource's own proxy -------------------------------------------------------------------------------


def test_a_datasources_own_proxy_is_used_instead_of_the_operators(api, connect_proxy, settings):
    operators, own = connect_proxy(), connect_proxy(credentials=("connect", PROXY_PASSWORD))
    settings.CONNECT_OUTBOUND_PROXY = operators.url
    datasource = with_proxy(datasource_for(api), own.url.replace("http://", "http://connect@"), PROXY_PASSWORD)
    assert call(datasource).status_code == 200
    assert (operators.connects, own.connects) == (0, 1)


def test_a_datasources_proxy_password_never_shows(api, connect_proxy, staff_client, caplog):
    caplog.set_level(logging.DEBUG)
    proxy = connect_proxy(credentials=("connect", "another-password"))
    datasource = with_proxy(datasource_for(api), proxy.url.replace("http://", "http://connect@"), PROXY_PASSWORD)
    with pytest.raises(errors.ProxyFailure) as caught:
        call(datasource)
    pages = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    pages += staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode()
    pages += json.dumps(staff_client.get(f"/api/datasources/{datasource.pk}/").json())
    for text in (caught.value.message, caplog.text, pages):
        assert PROXY_PASSWORD not in text
    assert "password stored" in pages


# --- token requests go through the proxy too -------------------------------------------------------------


def test_a_login_call_goes_through_the_proxy(start_server, connect_proxy, settings, fake_dns):
    login_api = LoginAPI(password=SECRET_PASSWORD)
    fake_dns[API_HOST] = ["127.0.0.1"]
    server = start_server(login_api.routes(), hostnames=(API_HOST,))
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    datasource = make_datasource(
        base_url=server.url("/api", host=API_HOST),
        mode="login_token",
        login_url=server.url("/login", host=API_HOST),
        login_body='{"user": "$username", "secret": "$password"}',
        username="connect",
        password=SECRET_PASSWORD,
        login_token_path="$.data.token",
        login_header_name="X-Auth-Token",
        login_header_prefix="Token",
    )
    assert call(datasource, "/items").status_code == 200
    assert login_api.logins == 1
    assert proxy.connects == 2  # the login call's own session, then the API's pooled one
    assert [r["path"] for r in server.requests] == ["/login", "/api/items"]


def test_an_oauth_token_request_goes_through_the_proxy(start_server, connect_proxy, settings, fake_dns):
    token = {"access_token": ALL_SECRETS[3], "token_type": "Bearer", "expires_in": 3600}
    fake_dns["auth.connect.test"] = ["127.0.0.1"]
    server = start_server(
        {"/oauth/token": srv.answer(body=json.dumps(token).encode()), "/api/ok": srv.answer()},
        hostnames=("auth.connect.test",),
    )
    proxy = connect_proxy()
    settings.CONNECT_OUTBOUND_PROXY = proxy.url
    datasource = make_datasource(
        base_url=server.url("/api", host="auth.connect.test"),
        mode="oauth2_client_credentials",
        token_url=server.url("/oauth/token", host="auth.connect.test"),
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
    )
    assert call(datasource).status_code == 200
    assert [r["path"] for r in server.requests] == ["/oauth/token", "/api/ok"]
    assert proxy.connects == 2 and set(proxy.targets) == {f"127.0.0.1:{server.port}"}


# --- the form: bad proxy URLs, the password ---------------------------------------------------------------


def edit(client, datasource, **changes):
    data = form_data(client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update({f"network-{name}": value for name, value in changes.items()})
    return client.post(f"/datasources/{datasource.pk}/edit/", data)


def snapshot(datasource):
    network = NetworkConfig.objects.filter(datasource=datasource).first()
    fields = [(f.name, getattr(network, f.name)) for f in NetworkConfig._meta.fields] if network else None
    return Datasource.objects.get(pk=datasource.pk).config_version, fields


@pytest.mark.parametrize(
    "proxy_url, message",
    [
        ("ftp://proxy.example.com:21", "A proxy URL is http://host:port (got ftp://)."),
        ("socks5://proxy.example.com:1080", "A proxy URL is http://host:port (got socks5://)."),
        ("proxy.example.com:3128", "A proxy URL is http://host:port (got proxy.example.com://)."),
        (
            "https://proxy.example.com:3128",
            "Use the proxy's http:// address: Connect opens a CONNECT tunnel through it and the API's traffic stays "
            "TLS from end to end inside the tunnel (https:// proxies are not supported).",
        ),
        ("http://proxy.example.com:3128/path", "Remove the path: a proxy URL is only http://host:port."),
        ("http://proxy.example.com:3128/?x=1", "Remove the path: a proxy URL is only http://host:port."),
        ("http://proxy.example.com:3128#top", "Remove the #fragment: a proxy URL is only http://host:port."),
        ("http://proxy.example.com:99999", "The port must be a number from 1 to 65535."),
        ("http://proxy.example.com:0", "The port must be a number from 1 to 65535."),
        (
            f"http://connect:{PROXY_PASSWORD}@proxy.example.com:3128",
            "Do not put the proxy password in the URL: enter it in the proxy password field, where it is kept "
            "encrypted and never shown.",
        ),
        ("http://proxy example.com:3128", "The proxy URL contains spaces, backslashes or control characters."),
    ],
)
def test_a_bad_proxy_url_is_refused_next_to_its_field_and_nothing_changes(staff_client, proxy_url, message):
    datasource = make_datasource()
    before = snapshot(datasource)
    response = edit(staff_client, datasource, proxy_url=proxy_url)
    assert response.status_code == 200
    assert errors_next_to(response, "network-proxy_url") == [message]
    assert snapshot(datasource) == before
    assert PROXY_PASSWORD not in response.content.decode()


def test_a_proxy_url_with_a_user_and_a_password_is_saved_write_only(staff_client):
    datasource = make_datasource()
    response = edit(
        staff_client, datasource, proxy_url="http://connect@proxy.example.com:3128", proxy_password=PROXY_PASSWORD
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    network = NetworkConfig.objects.get(datasource=datasource)
    assert (network.proxy_url, network.proxy_password) == ("http://connect@proxy.example.com:3128", PROXY_PASSWORD)
    assert network.proxy.shown == "http://proxy.example.com:3128"
    form = staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode()
    assert PROXY_PASSWORD not in form and "Currently stored" in form
    assert edit(staff_client, datasource).status_code == 302  # blank keeps it
    assert NetworkConfig.objects.get(datasource=datasource).proxy_password == PROXY_PASSWORD


def test_a_proxy_password_needs_a_user_name_in_the_url(staff_client):
    datasource = make_datasource()
    response = edit(staff_client, datasource, proxy_url="http://proxy.example.com:3128", proxy_password="pw-1")
    assert errors_next_to(response, "network-proxy_password") == [
        "Put the proxy user name in the proxy URL (http://user@proxy.example.com:3128) to use a password."
    ]
    assert "pw-1" not in response.content.decode()


def test_a_new_proxy_host_needs_the_password_again_and_no_proxy_drops_it(staff_client):
    datasource = with_proxy(make_datasource(), "http://connect@proxy.example.com:3128", PROXY_PASSWORD)
    before = snapshot(datasource)
    response = edit(staff_client, datasource, proxy_url="http://connect@elsewhere.example.net:3128")
    assert errors_next_to(response, "network-proxy_password") == [
        "The proxy's host changed: enter the proxy password again (or clear it), so a stored secret never follows "
        "a datasource to another host."
    ]
    assert snapshot(datasource) == before
    assert edit(staff_client, datasource, proxy_url="").status_code == 302
    network = NetworkConfig.objects.get(datasource=datasource)
    assert (network.proxy_url, network.proxy_password) == ("", "")


# --- the operator's setting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [
        ("https://proxy.internal:3128", "Use the proxy's http:// address"),
        ("http://proxy.internal:3128/x", "Remove the path"),
        (f"socks5://user:{PROXY_PASSWORD}@proxy.internal:1080", "A proxy URL is http://host:port (got socks5://)."),
    ],
)
def test_a_bad_operator_proxy_stops_connect_with_a_message_without_the_password(tmp_path, value, message):
    project = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(project),
            "DJANGO_SETTINGS_MODULE": "connect_project.settings",
            "DEBUG": "true",
            "SECRET_KEY": "x",
            "FERNET_KEYS": "8ZtnDmfiZsbROkeQCmr9WAx3rXqOcxNDTi8NAC2zOfs=",
            "CONNECT_OUTBOUND_PROXY": value,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"ImproperlyConfigured: CONNECT_OUTBOUND_PROXY is not valid: {message}" in result.stderr
    assert PROXY_PASSWORD not in result.stderr
    assert_no_secret(result.stderr)


def test_a_proxy_change_is_audited_with_its_password_only_as_changed(staff_client):
    from audit.models import AuditEntry

    datasource = make_datasource()
    AuditEntry.objects.all().delete()
    edit(staff_client, datasource, proxy_url="http://connect@proxy.example.com:3128", proxy_password=PROXY_PASSWORD)
    [entry] = AuditEntry.objects.filter(object_type="datasource", object_id=str(datasource.pk))
    assert {"field": "network.proxy_password", "secret": True} in entry.changes
    assert any(c.get("field") == "network.proxy_url" for c in entry.changes)
    assert PROXY_PASSWORD not in str(entry.changes)
