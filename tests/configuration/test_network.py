"""Configuration files carry a datasource's network (SPEC 12): its proxy URL and client certificate as values, the
proxy password, private key and passphrase as ${env:NAME} references only; they are checked as the edit page checks
them, and what changed is in the audit log with the secrets only as changed."""

import datetime

import pytest
import trustme
import yaml

from audit.models import AuditEntry
from configuration.applier import apply_configuration
from configuration.exporter import dump, export_configuration
from datasources.models import Datasource, NetworkConfig
from tests.conftest import assert_no_secret, make_datasource

pytestmark = pytest.mark.django_db

PROXY_PASSWORD = "s3cr3t-PROXY-PASSWORD-2f8e"


@pytest.fixture(scope="module")
def leaf():
    now = datetime.datetime.now(datetime.UTC)
    return trustme.CA().issue_cert(
        "connect@example.com",
        common_name="connect-client",
        not_before=now - datetime.timedelta(days=1),
        not_after=now + datetime.timedelta(days=90),
    )


def pems(leaf) -> tuple[str, str]:
    return "".join(b.bytes().decode() for b in leaf.cert_chain_pems), leaf.private_key_pem.bytes().decode()


def stored_network(name="Internal"):
    return NetworkConfig.objects.get(datasource__name=name)


def document(network: dict) -> str:
    entry = {"name": "Internal", "base_url": "https://internal.example.com/api", "network": network}
    return yaml.safe_dump({"connect": 1, "datasources": [entry]})


def test_the_export_writes_the_network_with_references_never_secrets(leaf):
    certificate, key = pems(leaf)
    datasource = make_datasource(name="Internal", base_url="https://internal.example.com/api")
    network = NetworkConfig(
        datasource=datasource,
        proxy_url="http://connect@proxy.example.com:3128",
        proxy_password=PROXY_PASSWORD,
        client_certificate=certificate,
        client_key=key,
    )
    network.full_clean()
    network.save()
    make_datasource(name="Direct")
    text = dump(export_configuration())
    exported = {d["name"]: d for d in yaml.safe_load(text)["datasources"]}
    assert exported["Internal"]["network"] == {
        "proxy_url": "http://connect@proxy.example.com:3128",
        "client_certificate": certificate,
        "proxy_password": "${env:CONNECT_INTERNAL_PROXY_PASSWORD}",
        "client_key": "${env:CONNECT_INTERNAL_CLIENT_KEY}",
    }
    assert "network" not in exported["Direct"]  # nothing set: nothing written
    assert_no_secret(text, (PROXY_PASSWORD, key.splitlines()[1]))


def test_a_file_sets_the_proxy_and_certificate_from_the_environment(leaf):
    certificate, key = pems(leaf)
    environ = {"PROXY_PASSWORD": PROXY_PASSWORD, "CLIENT_KEY": key}
    content = document(
        {
            "proxy_url": "http://connect@proxy.example.com:3128",
            "proxy_password": "${env:PROXY_PASSWORD}",
            "client_certificate": certificate,
            "client_key": "${env:CLIENT_KEY}",
        }
    )
    result = apply_configuration(content, environ=environ)
    assert result.errors == [] and result.applied
    network = stored_network()
    assert (network.proxy_password, network.client_key) == (PROXY_PASSWORD, key)
    assert network.certificate_subject.startswith("CN=connect-client")
    entry = AuditEntry.objects.filter(object_type="datasource").first()
    secrets = [c for c in entry.changes if c.get("secret")]
    assert {"field": "network.proxy_password", "secret": True} in secrets
    assert_no_secret(str(entry.changes), (PROXY_PASSWORD, key.splitlines()[1]))
    again = apply_configuration(content, environ=environ, dry_run=True)
    assert again.changes == [] and again.unchanged == 1


def test_a_secret_value_in_the_network_section_is_refused():
    result = apply_configuration(
        document({"proxy_url": "http://connect@proxy.example.com:3128", "proxy_password": PROXY_PASSWORD}),
        environ={},
    )
    assert not result.applied
    assert result.errors[0].startswith("datasources[0].network.proxy_password: a secret is written as a reference")
    assert PROXY_PASSWORD not in "\n".join(result.errors)
    assert not Datasource.objects.exists()


@pytest.mark.parametrize(
    "network, expected",
    [
        (
            {"proxy_url": "https://proxy.example.com:3128"},
            "datasources[0].network.proxy_url: Use the proxy's http:// address",
        ),
        (
            {"client_certificate": "not a certificate", "client_key": "${env:CLIENT_KEY}"},
            "datasources[0].network.client_certificate: The certificate is not PEM",
        ),
        ({"unknown": 1}, "datasources[0].network.unknown: unknown key"),
    ],
)
def test_a_bad_network_is_named_by_its_place_and_nothing_is_applied(leaf, network, expected):
    result = apply_configuration(document(network), environ={"CLIENT_KEY": pems(leaf)[1]})
    assert not result.applied
    assert any(error.startswith(expected) for error in result.errors), result.errors
    assert not Datasource.objects.exists()


def test_a_new_proxy_host_in_a_file_needs_the_password_again():
    datasource = make_datasource(name="Internal", base_url="https://internal.example.com/api")
    NetworkConfig.objects.create(
        datasource=datasource, proxy_url="http://connect@proxy.example.com:3128", proxy_password=PROXY_PASSWORD
    )
    result = apply_configuration(document({"proxy_url": "http://connect@elsewhere.example.net:3128"}), environ={})
    assert result.errors == [
        "datasources[0].network.proxy_password: the proxy's host changed, so the stored proxy password is not kept: "
        "give it again as ${env:NAME}."
    ]
    assert stored_network().proxy_url == "http://connect@proxy.example.com:3128"


def test_the_exported_network_applies_again_with_its_variables_unset(leaf):
    certificate, key = pems(leaf)
    datasource = make_datasource(name="Internal", base_url="https://internal.example.com/api")
    network = NetworkConfig(
        datasource=datasource,
        proxy_url="http://connect@proxy.example.com:3128",
        proxy_password=PROXY_PASSWORD,
        client_certificate=certificate,
        client_key=key,
    )
    network.full_clean()
    network.save()

    result = apply_configuration(dump(export_configuration()), environ={})

    assert result.errors == [] and result.counts() == "0 created, 0 changed, 0 deleted, 1 unchanged"
    assert "    network.proxy_password: kept" in result.report()
    assert "    network.client_key: kept" in result.report()
    assert stored_network().proxy_password == PROXY_PASSWORD and stored_network().client_key == key
    assert_no_secret(result.report(), (PROXY_PASSWORD, key))
