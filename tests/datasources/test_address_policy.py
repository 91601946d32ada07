"""The outbound address policy (SSRF): literals, DNS answers, the operator's allow-list, metadata, failing closed.

The policy is checked when a connection is opened, so these tests use the real transport with `connect_attempts`
(connections recorded and refused): a refused address is never tried, an allowed one is tried at exactly that address.
"""

import itertools
import socket

import pytest

from datasources.services import address_policy, client, errors
from tests.conftest import make_datasource

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_dns", "connect_attempts")]


_names = itertools.count()


def call_base(base_url, **kwargs):
    datasource = make_datasource(name=f"Datasource {next(_names)}", base_url=base_url)
    return client.call_datasource(datasource=datasource, **kwargs)


# From GitLab's UrlBlocker spec and friends: every way of writing a non-public address in a URL.
REFUSED_LITERALS = [
    "127.0.0.1",
    "127.1",
    "0177.1",
    "0177.0.0.1",
    "0x7f.1",
    "0x7f000001",
    "2130706433",
    "017700000001",
    "127.000.000.001",
    "0",
    "0.0.0.0",
    "[::]",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:7f00:1]",
    "[::ffff:127.0.0.1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::ffff:0:7f00:1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[::ffff:a9fe:a9fe]",
    "169.254.169.254",
    "0xa9fea9fe",
    "2852039166",
    "169.254.0.1",
    "[fe80::1]",
    "[fe80::1%25eth0]",
    "100.64.0.1",
    "100.100.100.200",
    "[fd00:ec2::254]",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.0.1",
    "[::ffff:c0a8:1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "224.0.0.1",
    "[ff02::1]",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.1",
    "198.18.0.1",
    "[2001:db8::1]",
    "[2002:7f00:1::1]",
    "[2002:c0a8:1::1]",
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    "[100::1]",
    "[fec0::1]",
]


@pytest.mark.parametrize("host", REFUSED_LITERALS)
def test_non_public_address_literals_are_refused(host, connect_attempts):
    with pytest.raises(errors.AddressRefused):
        call_base(f"https://{host}/api")
    assert connect_attempts == []


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "[::ffff:169.254.169.254]", "[fd00:ec2::254]", "100.100.100.200", "[64:ff9b::a9fe:a9fe]"],
)
def test_cloud_metadata_is_named_as_such(host):
    with pytest.raises(errors.AddressRefused, match="cloud metadata"):
        call_base(f"https://{host}/latest/meta-data/")


@pytest.mark.parametrize(
    "host, address",
    [
        ("93.184.216.34", "93.184.216.34"),
        ("[2606:2800:220:1:248:1893:25c8:1946]", "2606:2800:220:1:248:1893:25c8:1946"),
        ("[64:ff9b::5db8:d822]", "64:ff9b::5db8:d822"),
        ("[::ffff:93.184.216.34]", "::ffff:5db8:d822"),
    ],
)
def test_public_address_literals_are_allowed(host, address, connect_attempts):
    with pytest.raises(errors.ConnectFailure):
        call_base(f"https://{host}/api")
    assert connect_attempts == [(address, 443)]


def test_a_shortened_public_ip_is_refused_as_an_unclear_url():
    with pytest.raises(errors.InvalidURL, match="usual form"):
        call_base("https://1.2.3/api")


def test_a_dns_answer_with_one_public_and_one_private_address_is_refused(fake_dns, connect_attempts):
    fake_dns["mixed.example.com"] = ["93.184.216.34", "10.0.0.7"]
    with pytest.raises(errors.AddressRefused, match="10.0.0.7"):
        call_base("https://mixed.example.com/api")
    assert connect_attempts == []


@pytest.mark.parametrize("answer", ["127.0.0.1", "::1", "::ffff:10.0.0.1", "169.254.169.254", "fe80::1%eth0"])
def test_a_name_resolving_to_a_non_public_address_is_refused(fake_dns, answer):
    fake_dns["rebind.example.com"] = [answer]
    with pytest.raises(errors.AddressRefused, match="rebind.example.com"):
        call_base("https://rebind.example.com/api")


def test_the_absolute_test_url_goes_through_the_policy_too(fake_dns):
    fake_dns["intranet.example.com"] = ["192.168.10.10"]
    with pytest.raises(errors.AddressRefused):
        call_base("https://api.example.com/rest", url="https://intranet.example.com/health")


# --- failing closed ------------------------------------------------------------------------------------------


def test_an_empty_dns_answer_fails_closed(fake_dns):
    fake_dns["gone.example.com"] = []
    with pytest.raises(errors.DNSFailure):
        call_base("https://gone.example.com/api")


def test_a_resolver_error_fails_closed(monkeypatch):
    def broken(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(address_policy, "resolve_host", broken)
    with pytest.raises(errors.DNSFailure, match="could not be resolved"):
        call_base("https://nowhere.example.com/api")


def test_a_dns_answer_that_is_not_an_address_fails_closed(fake_dns):
    fake_dns["odd.example.com"] = ["not-an-ip"]
    with pytest.raises(errors.DNSFailure):
        call_base("https://odd.example.com/api")


# --- the operator's allow-list -------------------------------------------------------------------------------


def test_an_allowed_host_name_may_resolve_to_a_private_address(settings, fake_dns, connect_attempts):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = ["jira.internal"]
    fake_dns["jira.internal"] = ["10.20.30.40"]
    fake_dns["other.internal"] = ["10.20.30.41"]
    with pytest.raises(errors.ConnectFailure):
        call_base("https://jira.internal/api")
    with pytest.raises(errors.AddressRefused):
        call_base("https://other.internal/api")
    assert connect_attempts == [("10.20.30.40", 443)]


def test_an_allowed_network_admits_its_addresses_only(settings, fake_dns, connect_attempts):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = ["10.0.0.0/8", "fd00:1234::/32"]
    fake_dns["a.internal"] = ["10.1.2.3", "fd00:1234::5"]
    fake_dns["b.internal"] = ["10.1.2.3", "192.168.1.1"]
    with pytest.raises(errors.ConnectFailure):
        call_base("https://a.internal/api")
    with pytest.raises(errors.AddressRefused, match="192.168.1.1"):
        call_base("https://b.internal/api")
    assert connect_attempts == [("10.1.2.3", 443), ("fd00:1234::5", 443)]


def test_an_allowed_address_also_admits_its_ipv4_mapped_form(settings, connect_attempts):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = ["10.0.0.0/8"]
    with pytest.raises(errors.ConnectFailure):
        call_base("https://[::ffff:10.0.0.1]/api")
    assert connect_attempts == [("::ffff:a00:1", 443)]


@pytest.mark.parametrize(
    "allowed", [["169.254.0.0/16"], ["169.254.169.254"], ["0.0.0.0/0", "::/0"], ["metadata.internal"]]
)
def test_metadata_is_never_allowed(settings, fake_dns, allowed):
    settings.CONNECT_ALLOWED_PRIVATE_NETWORKS = allowed
    fake_dns["metadata.internal"] = ["169.254.169.254"]
    with pytest.raises(errors.AddressRefused, match="cloud metadata"):
        call_base("https://metadata.internal/latest")
    with pytest.raises(errors.AddressRefused, match="cloud metadata"):
        call_base("https://[::ffff:a9fe:a9fe]/latest")


# --- the resolver itself -------------------------------------------------------------------------------------


def test_checked_addresses_are_ordered_ipv4_first_and_deduplicated(fake_dns):
    fake_dns["dual.example.com"] = ["2606:2800::1", "93.184.216.34", "93.184.216.34"]
    assert address_policy.checked_addresses("dual.example.com", 443) == ("93.184.216.34", "2606:2800::1")


def test_the_real_resolver_answers_localhost_from_the_hosts_file(monkeypatch):
    monkeypatch.undo()  # the real resolve_host, not the fake_dns stub
    assert "127.0.0.1" in address_policy.resolve_host("localhost", 443)
