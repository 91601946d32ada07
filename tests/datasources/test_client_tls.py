"""The client against a real HTTPS server on 127.0.0.1 (trustme CA): TLS, pinning, deadline, size cap, pooling."""

import logging
import time

import pytest

from datasources.services import client, errors
from tests.conftest import SECRET_API_KEY, assert_no_secret, make_datasource
from tests.support import https_server as srv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

CAP = 64 * 1024


def datasource_for(server, *, host="127.0.0.1", path="/api", **kwargs):
    return make_datasource(base_url=server.url(path, host=host), **kwargs)


def call(datasource, path_and_query="/ok", **kwargs):
    return client.call_datasource(datasource=datasource, path_and_query=path_and_query, **kwargs)


# --- certificates and pinning --------------------------------------------------------------------------------


def test_a_certificate_from_the_configured_ca_is_accepted(start_server):
    server = start_server({"/api/ok": srv.answer(body=b'{"hello": "world"}')})
    assert call(datasource_for(server)).json() == {"hello": "world"}


def test_a_certificate_from_an_untrusted_ca_is_refused(start_server, untrusted_ca):
    server = start_server({"/api/ok": srv.answer()}, ca=untrusted_ca)
    with pytest.raises(errors.TLSFailure, match="certificate .* was refused") as caught:
        call(datasource_for(server))
    assert server.counts["handshakes"] == 0
    assert ".." not in caught.value.message and caught.value.message.endswith(").")


def test_the_environment_ca_bundle_and_proxy_are_ignored(start_server, monkeypatch, settings, trust_test_ca):
    """REQUESTS_CA_BUNDLE trusting the test CA does not matter: only CONNECT_CA_BUNDLE (or the OS store) counts."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(trust_test_ca))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    server = start_server({"/api/ok": srv.answer()})
    assert call(datasource_for(server)).status_code == 200  # no proxy used
    settings.CONNECT_CA_BUNDLE = ""
    with pytest.raises(errors.TLSFailure):
        call(datasource_for(server, name="Other"))


def test_pinned_connection_keeps_the_host_name_for_sni_host_header_and_certificate(start_server, fake_dns):
    server = start_server({"/api/ok": srv.answer()}, hostnames=("api.connect.test",))
    fake_dns["api.connect.test"] = ["127.0.0.1"]
    assert call(datasource_for(server, host="api.connect.test")).status_code == 200
    assert server.sni_names == ["api.connect.test"]
    assert server.requests[0]["headers"]["Host"] == f"api.connect.test:{server.port}"


def test_a_certificate_for_another_name_is_refused_even_at_the_right_address(start_server, fake_dns):
    server = start_server({"/api/ok": srv.answer()}, hostnames=("other.connect.test",))
    fake_dns["api.connect.test"] = ["127.0.0.1"]
    with pytest.raises(errors.TLSFailure, match="api.connect.test") as caught:
        call(datasource_for(server, host="api.connect.test"))
    assert ".." not in caught.value.message  # the library's reason ends in "." (issue 12)


def test_a_new_connection_resolves_once_and_connects_to_the_checked_address(start_server, monkeypatch):
    """api.connect.test does not exist in real DNS: the connection can only have used the checked answer."""
    from datasources.services import address_policy

    server = start_server({"/api/ok": srv.answer()}, hostnames=("api.connect.test",))
    lookups = []
    monkeypatch.setattr(address_policy, "resolve_host", lambda host, port: lookups.append(host) or ["127.0.0.1"])
    assert call(datasource_for(server, host="api.connect.test")).status_code == 200
    assert lookups == ["api.connect.test"]


def test_the_address_pin_is_what_opens_the_socket(start_server, monkeypatch):
    """Socket level: the only connect() goes to the address the policy checked, and urllib3 never resolves the host
    itself. The pin overrides urllib3 internals (PinnedHTTPSConnection._new_conn, the pool key normaliser), and
    urllib3 is pinned in pyproject.toml for that: if an upgrade stops calling them, this test fails."""
    import socket

    import urllib3

    from datasources.services import address_policy

    server = start_server({"/api/ok": srv.answer()}, hostnames=("api.connect.test",))
    monkeypatch.setattr(address_policy, "resolve_host", lambda host, port: ["127.0.0.1"])
    connects, lookups = [], []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def recording_connect(sock, address):
        connects.append(address)
        return real_connect(sock, address)

    def recording_getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    assert call(datasource_for(server, host="api.connect.test")).status_code == 200
    assert connects == [("127.0.0.1", server.port)], (
        f"urllib3 {urllib3.__version__} connected elsewhere: the SSRF pin (transport.PinnedHTTPSConnection) is no "
        "longer used; check the urllib3 upgrade before unpinning it"
    )
    assert "api.connect.test" not in lookups, "urllib3 resolved the host itself: the SSRF pin is bypassed"


def test_cookies_set_by_an_api_are_never_sent_back(start_server):
    """On the path calls really take (each request prepared by the client, no cookie jar), over a real socket."""
    server = start_server(
        {"/api/ok": srv.answer(headers=[("Set-Cookie", "session=abc; Path=/; Secure"), ("Set-Cookie", "other=1")])}
    )
    datasource = datasource_for(server)
    call(datasource)
    call(datasource)
    assert len(server.requests) == 2
    assert all("Cookie" not in request["headers"] for request in server.requests)


def test_a_reused_pooled_connection_makes_no_new_dns_lookup(start_server, fake_dns, monkeypatch):
    from datasources.services import address_policy

    server = start_server({"/api/ok": srv.answer()}, hostnames=("api.connect.test",))
    lookups = []
    monkeypatch.setattr(address_policy, "resolve_host", lambda host, port: lookups.append(host) or ["127.0.0.1"])
    datasource = datasource_for(server, host="api.connect.test")
    for _ in range(3):
        call(datasource)
    assert lookups == ["api.connect.test"]
    assert server.counts["connections"] == 1


def test_a_new_connection_after_dns_changed_to_a_private_address_is_refused(start_server, fake_dns):
    """The server closes each connection, so the second call opens a new one: it resolves and checks again."""
    server = start_server({"/api/ok": srv.answer(headers=[("Connection", "close")])}, hostnames=("api.connect.test",))
    fake_dns["api.connect.test"] = ["127.0.0.1"]
    datasource = datasource_for(server, host="api.connect.test")
    assert call(datasource).status_code == 200
    fake_dns["api.connect.test"] = ["10.1.2.3"]
    with pytest.raises(errors.AddressRefused, match="10.1.2.3"):
        call(datasource)
    assert server.counts["connections"] == 1


def test_a_warm_connection_is_not_reused_once_the_address_is_no_longer_allowed(start_server, settings):
    server = start_server({"/api/ok": srv.answer()})
    datasource = datasource_for(server)
    call(datasource)
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = []
    with pytest.raises(errors.AddressRefused):
        call(datasource)
    assert len(server.requests) == 1


def test_loopback_is_refused_without_the_operator_setting(start_server, settings):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = []
    server = start_server({"/api/ok": srv.answer()})
    with pytest.raises(errors.AddressRefused, match="loopback"):
        call(datasource_for(server))
    assert server.counts["connections"] == 0


# --- pooling -------------------------------------------------------------------------------------------------


def test_warm_calls_reuse_one_connection_and_one_handshake(start_server):
    server = start_server({"/api/ok": srv.answer()})
    datasource = datasource_for(server)
    for _ in range(3):
        assert call(datasource).status_code == 200
    assert server.counts == {"connections": 1, "handshakes": 1, "failed_handshakes": 0}


def test_a_configuration_change_starts_a_new_session(start_server):
    server = start_server({"/api/ok": srv.answer()})
    datasource = datasource_for(server)
    call(datasource)
    datasource.bump_config_version()
    call(datasource)
    assert server.counts["handshakes"] == 2


# --- deadline ------------------------------------------------------------------------------------------------


def test_a_body_dripping_one_byte_per_second_is_cut_at_the_total_deadline(start_server, settings):
    settings.CONNECT_CALL_DEADLINE_SECONDS = 2
    server = start_server({"/api/ok": srv.slow_body(length=100, interval=1.0)})
    started = time.monotonic()
    with pytest.raises(errors.UpstreamTimeout, match="within 2 seconds"):
        call(datasource_for(server))
    assert 1.8 <= time.monotonic() - started < 3.5


def test_headers_dripping_slowly_are_cut_at_the_total_deadline(start_server, settings):
    settings.CONNECT_CALL_DEADLINE_SECONDS = 1
    server = start_server({"/api/ok": srv.slow_headers(interval=0.2)})
    started = time.monotonic()
    with pytest.raises(errors.UpstreamTimeout):
        call(datasource_for(server))
    assert time.monotonic() - started < 2.5


def test_a_pooled_connection_cut_short_by_the_last_deadline_gets_the_next_calls_time(start_server, settings):
    """The first answer comes with a tenth of a second left, so its reads cut the socket's timeout that short; the
    next call reuses the connection with a whole deadline and an answer 0.5 s away, which must not time out."""
    settings.CONNECT_CALL_DEADLINE_SECONDS = 1
    server = start_server(
        {"/api/late": srv.working(srv.answer(), seconds=0.85), "/api/slow": srv.working(srv.answer(), seconds=0.5)}
    )
    datasource = datasource_for(server)
    assert call(datasource, "/late").status_code == 200
    assert call(datasource, "/slow").status_code == 200
    assert server.counts["handshakes"] == 1  # the same connection


# --- size cap ------------------------------------------------------------------------------------------------


@pytest.fixture
def small_cap(settings):
    settings.CONNECT_MAX_RESPONSE_BYTES = CAP


@pytest.mark.usefixtures("small_cap")
def test_a_chunked_body_of_twice_the_cap_is_refused(start_server):
    server = start_server({"/api/ok": srv.chunked(2 * CAP)})
    with pytest.raises(errors.ResponseTooLarge, match="65,536 bytes"):
        call(datasource_for(server))


@pytest.mark.usefixtures("small_cap")
def test_a_content_length_over_the_cap_is_refused_before_reading(start_server):
    server = start_server({"/api/ok": srv.announced_length(announced=2 * CAP, actual=10)})
    with pytest.raises(errors.ResponseTooLarge, match="announces more"):
        call(datasource_for(server))


@pytest.mark.usefixtures("small_cap")
def test_a_small_content_length_hiding_a_body_over_the_cap_is_refused(start_server):
    """gzip: the announced length is honest about the bytes sent, not about what they decode to."""
    server = start_server({"/api/ok": srv.gzip_bomb(decoded=2 * CAP)})
    with pytest.raises(errors.ResponseTooLarge):
        call(datasource_for(server))


@pytest.mark.usefixtures("small_cap")
def test_an_understated_content_length_never_delivers_more_than_announced(start_server):
    server = start_server({"/api/ok": srv.announced_length(announced=100, actual=2 * CAP)})
    assert len(call(datasource_for(server)).body) == 100


@pytest.mark.usefixtures("small_cap")
def test_a_body_ending_at_connection_close_is_counted_too(start_server):
    server = start_server({"/api/ok": srv.until_close(2 * CAP)})
    with pytest.raises(errors.ResponseTooLarge):
        call(datasource_for(server))


# --- redirects -----------------------------------------------------------------------------------------------


def test_a_redirect_to_http_is_refused(start_server):
    server = start_server({})
    server.routes["/api/ok"] = srv.redirect(f"http://127.0.0.1:{server.port}/api/plain")
    server.routes["/api/plain"] = srv.answer()
    with pytest.raises(errors.RedirectRefused, match="http://"):
        call(datasource_for(server))
    assert [r["path"] for r in server.requests] == ["/api/ok"]


def test_a_redirect_to_https_on_the_same_host_is_followed(start_server):
    server = start_server({"/api/ok": srv.redirect("/api/moved"), "/api/moved": srv.answer(body=b"[1]")})
    response = call(datasource_for(server))
    assert response.json() == [1]
    assert response.redacted_url.endswith("/api/moved")


# --- nothing secret in messages or logs -----------------------------------------------------------------------

LEAK_CASES = {
    "timeout": ({"/api/ok": srv.slow_body(interval=1.0)}, errors.UpstreamTimeout),
    "http 500": ({"/api/ok": srv.echo_request(500)}, errors.HTTPStatusError),
    "invalid json": ({"/api/ok": srv.echo_request(200)}, errors.InvalidJSON),
    "dns failure": ({}, errors.DNSFailure),
}


@pytest.mark.parametrize("key_name", ["api_key", "access"])
@pytest.mark.parametrize("case", LEAK_CASES)
def test_an_api_key_in_the_query_never_appears_in_errors_or_logs(
    start_server, settings, fake_dns, caplog, case, key_name
):
    settings.CONNECT_CALL_DEADLINE_SECONDS = 1
    routes, expected = LEAK_CASES[case]
    server = start_server(routes, hostnames=("api.connect.test",))
    fake_dns["api.connect.test"] = [] if case == "dns failure" else ["127.0.0.1"]
    datasource = datasource_for(
        server,
        host="api.connect.test",
        mode="api_key",
        api_key_location="query",
        api_key_name=key_name,
        api_key_value=SECRET_API_KEY,
    )
    for logger in (None, "urllib3", "requests", "connect"):
        caplog.set_level(logging.DEBUG, logger=logger)
    with pytest.raises(expected) as caught:
        call(datasource, "/ok?x=1").json()
    assert_no_secret(str(caught.value))
    assert_no_secret(caplog.text)
    assert_no_secret(" ".join(r.getMessage() for r in caplog.records))
    if case != "dns failure":
        assert SECRET_API_KEY in server.requests[0]["path"]  # it was sent, just never shown
    assert any("***" in r.getMessage() for r in caplog.records)


def test_a_lowered_size_cap_applies_to_the_next_call(start_server, settings):
    server = start_server({"/api/ok": srv.answer(body=b'{"data": "' + b"x" * 2000 + b'"}')})
    datasource = make_datasource(base_url=server.url("/api"))
    assert client.call_datasource(datasource=datasource, path_and_query="/ok").status_code == 200
    settings.CONNECT_MAX_RESPONSE_BYTES = 1000
    with pytest.raises(errors.ResponseTooLarge, match="1,000 bytes"):
        client.call_datasource(datasource=datasource, path_and_query="/ok")
