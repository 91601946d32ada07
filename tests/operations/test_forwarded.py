"""The client's address behind the trusted proxy (CONNECT_BEHIND_TLS_PROXY, FORWARDED_ALLOW_IPS): what Django, the
log lines and gunicorn's access log see. (Under gunicorn: tests/operations/test_served_logs.py.)"""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured

from operations.forwarded import TrustedProxies, client_address

LOCAL = TrustedProxies(["127.0.0.1", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # what the client wrote itself stays on the left
        ("127.0.0.1", "203.0.113.7, 127.0.0.1", "203.0.113.7"),  # two trusted proxies in a row
        ("127.0.0.1", "not-an-address, 203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", "203.0.113.7, not-an-address", "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("192.0.2.9", "203.0.113.7", "192.0.2.9"),  # an untrusted peer's header is not believed
        ("::1", "2001:db8::5", "2001:db8::5"),
        ("", "203.0.113.7", "203.0.113.7"),  # a UNIX socket: the local proxy
    ],
)
def test_the_client_is_the_first_untrusted_address_from_the_right(peer, forwarded_for, client):
    assert client_address(peer, forwarded_for, LOCAL) == client


def test_networks_and_any_address_are_trusted_as_gunicorn_reads_them():
    assert client_address("10.1.2.3", "203.0.113.7", TrustedProxies(["10.0.0.0/8"])) == "203.0.113.7"
    assert client_address("192.0.2.9", "203.0.113.7", TrustedProxies(["*"])) == "203.0.113.7"


def test_a_malformed_trusted_address_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="FORWARDED_ALLOW_IPS"):
        TrustedProxies(["10.0.0.0/33"])


def remote_addr_seen(client, caplog, **extra) -> str:
    """REMOTE_ADDR as Connect's request log line sees it (the line's request)."""
    caplog.set_level(logging.WARNING, logger="django.request")
    assert client.get("/no-such-page/", **extra).status_code == 404
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    return record.request.META["REMOTE_ADDR"]


def test_behind_the_proxy_requests_carry_the_forwarded_client(client, settings, caplog):
    settings.CONNECT_BEHIND_TLS_PROXY = True
    assert remote_addr_seen(client, caplog, HTTP_X_FORWARDED_FOR="203.0.113.7") == "203.0.113.7"


def test_without_the_opt_in_the_forwarded_header_is_not_believed(client, caplog):
    assert remote_addr_seen(client, caplog, HTTP_X_FORWARDED_FOR="203.0.113.7") == "127.0.0.1"


def test_a_proxy_not_in_forwarded_allow_ips_is_not_believed(client, settings, caplog):
    settings.CONNECT_BEHIND_TLS_PROXY = True
    settings.CONNECT_FORWARDED_ALLOW_IPS = ["10.0.0.1"]
    assert remote_addr_seen(client, caplog, HTTP_X_FORWARDED_FOR="203.0.113.7") == "127.0.0.1"
