"""Client certificates (mTLS, SPEC 12): a PEM certificate (chain) and private key per datasource, checked at save
(they parse, belong together, are valid now), shown as subject, issuer and expiry with a warning 30 days before,
exposed as connect_client_certificate_expiry_seconds, and presented to APIs (and token endpoints) that ask for one,
against the local HTTPS server requiring a client certificate (trustme issues both sides)."""

import datetime
import json
import os
import ssl
import tempfile

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from datasources.models import AuthConfig, Datasource, NetworkConfig
from datasources.services import client, errors
from tests.conftest import ALL_SECRETS, SECRET_CLIENT_SECRET, SECRET_PASSWORD, assert_no_secret, make_datasource
from tests.support import https_server as srv
from tests.support.https_server import HTTPSTestServer, server_context
from tests.support.login_api import LoginAPI

from .conftest import errors_next_to, form_data

PASSPHRASE = "s3cr3t-KEY-PASSPHRASE-61d0"
KEY_MARKER = "PRIVATE KEY-----"


@pytest.fixture(scope="module")
def client_ca() -> trustme.CA:
    return trustme.CA(organization_name="Connect client CA")


def client_cert(ca, *, days=365, not_before=None):
    now = datetime.datetime.now(datetime.UTC)
    return ca.issue_cert(
        "connect-client@example.com",
        common_name="connect-client",
        organization_name="Example",
        organization_unit_name="Forms",
        not_before=not_before or now - datetime.timedelta(days=1),
        not_after=now + datetime.timedelta(days=days),
    )


def pem_of(leaf) -> tuple[str, str]:
    chain = "".join(blob.bytes().decode() for blob in leaf.cert_chain_pems)
    return chain, leaf.private_key_pem.bytes().decode()


def encrypted(key_pem: str, passphrase: str = PASSPHRASE) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


@pytest.fixture
def mtls_server(trusted_ca, client_ca):
    """start(routes, tls12=False) -> an HTTPS server on 127.0.0.1 that requires a client certificate from client_ca.

    With TLS 1.3 the server judges the client certificate after the client's handshake is done, and may close the
    connection before the client reads its alert; with tls12 the refusal comes in the handshake, so the alert (the
    reason) always arrives."""
    from datasources.services import sessions

    servers = []

    def start(routes: dict, *, tls12: bool = False) -> HTTPSTestServer:
        context = server_context(trusted_ca, "127.0.0.1")
        if tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=client_ca.cert_pem.bytes().decode())
        server = HTTPSTestServer(context, routes).start()
        servers.append(server)
        return server

    yield start
    sessions.close_all()
    for server in servers:
        server.stop()


def with_certificate(datasource, leaf, *, passphrase=""):
    certificate, key = pem_of(leaf)
    if passphrase:
        key = encrypted(key, passphrase)
    network = NetworkConfig(
        datasource=datasource, client_certificate=certificate, client_key=key, client_key_passphrase=passphrase
    )
    network.full_clean()
    network.save()
    return Datasource.objects.get(pk=datasource.pk)


def call(datasource, path="/ok"):
    return client.call_datasource(datasource=Datasource.objects.get(pk=datasource.pk), path_and_query=path)


# --- calls to an API that asks for a client certificate ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_without_a_client_certificate_the_call_fails_with_tls_failure_naming_the_reason(mtls_server):
    server = mtls_server({"/api/ok": srv.answer()}, tls12=True)
    with pytest.raises(errors.TLSFailure) as caught:
        call(make_datasource(base_url=server.url("/api")))
    assert caught.value.code == "tls_failure"
    assert caught.value.message == (
        f"The TLS connection to {server.url('/api/ok')} failed (SSLV3_ALERT_HANDSHAKE_FAILURE): the server refused "
        "the handshake; if it asks for a client certificate, add one in the datasource's Network section."
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_over_tls_13_a_missing_client_certificate_is_named_too(mtls_server):
    server = mtls_server({"/api/ok": srv.answer()})
    with pytest.raises(errors.TLSFailure) as caught:
        call(make_datasource(base_url=server.url("/api")))
    # The alert (TLSV13_ALERT_CERTIFICATE_REQUIRED), or the connection closed before it could be read.
    assert "client certificate" in caught.value.message and "Network section" in caught.value.message


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_with_the_client_certificate_the_api_answers_200(mtls_server, client_ca):
    server = mtls_server({"/api/ok": srv.answer(body=b'{"hello": "mtls"}')})
    datasource = with_certificate(make_datasource(base_url=server.url("/api")), client_cert(client_ca))
    assert call(datasource).json() == {"hello": "mtls"}
    assert call(datasource).status_code == 200
    assert server.counts["handshakes"] == 1  # the pooled connection keeps its client certificate


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_an_encrypted_key_is_used_with_its_passphrase(mtls_server, client_ca):
    server = mtls_server({"/api/ok": srv.answer()})
    datasource = with_certificate(
        make_datasource(base_url=server.url("/api")), client_cert(client_ca), passphrase=PASSPHRASE
    )
    assert call(datasource).status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_a_certificate_the_server_does_not_trust_is_named(mtls_server):
    server = mtls_server({"/api/ok": srv.answer()}, tls12=True)
    datasource = with_certificate(make_datasource(base_url=server.url("/api")), client_cert(trustme.CA()))
    with pytest.raises(errors.TLSFailure) as caught:
        call(datasource)
    assert "(TLSV1_ALERT_UNKNOWN_CA): the server refused the client certificate: it does not trust its issuer" in (
        caught.value.message
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_the_server_certificate_is_still_verified_with_a_client_certificate(client_ca, untrusted_ca):
    context = server_context(untrusted_ca, "127.0.0.1")
    server = HTTPSTestServer(context, {"/api/ok": srv.answer()}).start()
    try:
        datasource = with_certificate(make_datasource(base_url=server.url("/api")), client_cert(client_ca))
        with pytest.raises(errors.TLSFailure, match="certificate .* was refused"):
            call(datasource)
    finally:
        server.stop()


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_a_login_call_to_a_token_endpoint_requiring_mtls_presents_the_certificate(mtls_server, client_ca):
    api = LoginAPI(password=SECRET_PASSWORD)
    server = mtls_server(api.routes())
    datasource = make_datasource(
        base_url=server.url("/api"),
        mode="login_token",
        login_url=server.url("/login"),
        login_body='{"user": "$username", "secret": "$password"}',
        username="connect",
        password=SECRET_PASSWORD,
        login_token_path="$.data.token",
        login_header_name="X-Auth-Token",
        login_header_prefix="Token",
    )
    datasource = with_certificate(datasource, client_cert(client_ca))
    assert call(datasource, "/items").status_code == 200
    assert api.logins == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_an_oauth_token_endpoint_requiring_mtls_gets_the_certificate(mtls_server, client_ca):
    token = {"access_token": ALL_SECRETS[3], "token_type": "Bearer", "expires_in": 3600}
    server = mtls_server(
        {"/oauth/token": srv.answer(body=json.dumps(token).encode()), "/api/ok": srv.answer(body=b'{"ok": 1}')}
    )
    datasource = make_datasource(
        base_url=server.url("/api"),
        mode="oauth2_client_credentials",
        token_url=server.url("/oauth/token"),
        client_id="connect",
        client_secret=SECRET_CLIENT_SECRET,
    )
    datasource = with_certificate(datasource, client_cert(client_ca))
    assert call(datasource).json() == {"ok": 1}
    assert [r["path"] for r in server.requests] == ["/oauth/token", "/api/ok"]


@pytest.mark.django_db
@pytest.mark.usefixtures("trust_test_ca")
def test_no_decrypted_key_is_left_in_a_file_after_use(mtls_server, client_ca):
    server = mtls_server({"/api/ok": srv.answer()})
    leaf = client_cert(client_ca)
    datasource = with_certificate(make_datasource(base_url=server.url("/api")), leaf)
    call(datasource)
    key_body = pem_of(leaf)[1].splitlines()[1]
    leftovers = []
    for root, _dirs, files in os.walk(tempfile.gettempdir()):
        if root.count(os.sep) - tempfile.gettempdir().count(os.sep) > 2:
            continue
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as file:
                    if key_body.encode() in file.read(1_000_000):
                        leftovers.append(name)
            except OSError:
                pass
    assert leftovers == []


# --- saving, showing, warning --------------------------------------------------------------------------------


def edit(client, datasource, **changes):
    data = form_data(client.get(f"/datasources/{datasource.pk}/edit/"))
    data.update({f"network-{name}": value for name, value in changes.items()})
    return client.post(f"/datasources/{datasource.pk}/edit/", data)


def snapshot(datasource):
    network = NetworkConfig.objects.filter(datasource=datasource).first()
    fields = [(f.name, getattr(network, f.name)) for f in NetworkConfig._meta.fields] if network else None
    return Datasource.objects.get(pk=datasource.pk).config_version, fields


@pytest.mark.django_db
def test_a_certificate_is_saved_from_the_edit_page_and_shown_with_subject_issuer_and_expiry(staff_client, client_ca):
    datasource = make_datasource()
    leaf = client_cert(client_ca, days=200)
    certificate, key = pem_of(leaf)
    response = edit(staff_client, datasource, client_certificate=certificate, client_key=key)
    assert response.status_code == 302, response.content.decode()[:3000]
    network = NetworkConfig.objects.get(datasource=datasource)
    assert network.client_key == key
    assert network.certificate_subject == "CN=connect-client,OU=Forms,O=Example"
    assert "Connect client CA" in network.certificate_issuer
    assert 199 <= (network.certificate_expires_at - timezone.now()).days <= 200
    page = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    assert "<strong>CN=connect-client,OU=Forms,O=Example</strong>, issued by" in page
    assert f"expires {network.certificate_expires_at:%Y-%m-%d %H:%M} UTC; private key stored" in page
    assert "expires in" not in page  # no warning 200 days ahead
    form = staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode()
    assert key.splitlines()[1] not in page + form  # the key is never shown again
    assert "Stored certificate: <strong>CN=connect-client,OU=Forms,O=Example</strong>" in form


@pytest.mark.django_db
def test_the_page_warns_30_days_before_expiry(staff_client, client_ca):
    datasource = with_certificate(make_datasource(), client_cert(client_ca, days=20))
    page = staff_client.get(f"/datasources/{datasource.pk}/").content.decode()
    assert "The client certificate expires in 19 days" in page
    form = staff_client.get(f"/datasources/{datasource.pk}/edit/").content.decode()
    assert "paste a new certificate and key before then" in form


@pytest.mark.django_db
def test_the_expiry_metric_says_how_long_each_certificate_has_left(client, settings, client_ca):
    settings.CONNECT_METRICS_TOKEN = "metrics-token-1"
    soon = with_certificate(make_datasource(name="Soon"), client_cert(client_ca, days=20))
    later = with_certificate(make_datasource(name="Later"), client_cert(client_ca, days=400))
    make_datasource(name="Without")
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-1").content.decode()
    values = {
        line.split('"')[1]: float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("connect_client_certificate_expiry_seconds{")
    }
    assert set(values) == {str(soon.pk), str(later.pk)}
    assert 19 * 86400 < values[str(soon.pk)] <= 20 * 86400
    assert 399 * 86400 < values[str(later.pk)] <= 400 * 86400
    assert "# TYPE connect_client_certificate_expiry_seconds gauge" in text


def _expired(ca):
    now = datetime.datetime.now(datetime.UTC)
    return ca.issue_cert(
        "old@example.com",
        common_name="old",
        not_before=now - datetime.timedelta(days=40),
        not_after=now - datetime.timedelta(days=2),
    )


@pytest.mark.parametrize(
    "case, field, message",
    [
        (
            "not_pem",
            "client_certificate",
            "The certificate is not PEM: paste the text from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- "
            "(the issuing certificates may follow it).",
        ),
        ("key_not_pem", "client_key", "The private key is not PEM"),
        ("expired", "client_certificate", "The certificate expired on "),
        ("other_key", "client_key", "The private key does not belong to the certificate (their public keys differ)"),
        ("no_passphrase", "client_key_passphrase", "The private key is encrypted: enter its passphrase."),
        ("wrong_passphrase", "client_key_passphrase", "The passphrase does not decrypt the private key."),
        ("no_key", "client_key", "Paste the private key that goes with the certificate."),
        ("no_certificate", "client_certificate", "Paste the certificate that goes with the private key."),
    ],
)
@pytest.mark.django_db
def test_a_bad_certificate_key_or_passphrase_is_refused_next_to_its_field(
    staff_client, client_ca, case, field, message
):
    certificate, key = pem_of(client_cert(client_ca))
    changes = {
        "not_pem": {"client_certificate": "MIIB...not a certificate", "client_key": key},
        "key_not_pem": {"client_certificate": certificate, "client_key": "not a key"},
        "expired": dict(zip(("client_certificate", "client_key"), pem_of(_expired(client_ca)), strict=True)),
        "other_key": {"client_certificate": certificate, "client_key": pem_of(client_cert(client_ca))[1]},
        "no_passphrase": {"client_certificate": certificate, "client_key": encrypted(key)},
        "wrong_passphrase": {
            "client_certificate": certificate,
            "client_key": encrypted(key),
            "client_key_passphrase": "wrong-passphrase",
        },
        "no_key": {"client_certificate": certificate},
        "no_certificate": {"client_key": key},
    }[case]
    datasource = make_datasource()
    before = snapshot(datasource)
    response = edit(staff_client, datasource, **changes)
    assert response.status_code == 200
    shown = errors_next_to(response, f"network-{field}")
    assert len(shown) == 1 and shown[0].startswith(message), shown
    assert snapshot(datasource) == before
    page = response.content.decode()
    typed_key = changes.get("client_key", "")
    if typed_key.startswith("-----"):
        assert typed_key.splitlines()[1] not in page  # a typed key is never sent back, not even after an error
    assert 'name="network-client_key"' in page
    assert PASSPHRASE not in page and "wrong-passphrase" not in page


@pytest.mark.django_db
def test_blank_keeps_the_stored_key_and_remove_drops_the_certificate(staff_client, client_ca):
    datasource = with_certificate(make_datasource(), client_cert(client_ca), passphrase=PASSPHRASE)
    stored = NetworkConfig.objects.get(datasource=datasource)
    assert edit(staff_client, datasource).status_code == 302
    kept = NetworkConfig.objects.get(datasource=datasource)
    assert (kept.client_key, kept.client_key_passphrase) == (stored.client_key, PASSPHRASE)
    assert edit(staff_client, datasource, clear_client_certificate="on").status_code == 302
    removed = NetworkConfig.objects.get(datasource=datasource)
    assert (removed.client_certificate, removed.client_key, removed.client_key_passphrase) == ("", "", "")
    assert removed.certificate_expires_at is None


@pytest.mark.django_db
def test_the_key_and_passphrase_are_stored_encrypted(client_ca):
    from django.db import connection

    datasource = with_certificate(make_datasource(), client_cert(client_ca), passphrase=PASSPHRASE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_key, client_key_passphrase FROM datasources_networkconfig WHERE datasource_id = %s",
            [datasource.pk],
        )
        key, passphrase = (bytes(value) for value in cursor.fetchone())
    assert KEY_MARKER.encode() not in key and PASSPHRASE.encode() not in passphrase


@pytest.mark.django_db
def test_the_json_api_and_admin_say_stored_never_the_key(staff_client, superuser_client, client_ca):
    datasource = with_certificate(make_datasource(), client_cert(client_ca), passphrase=PASSPHRASE)
    data = staff_client.get(f"/api/datasources/{datasource.pk}/").json()
    assert data["network"]["client_certificate"]["subject"] == "CN=connect-client,OU=Forms,O=Example"
    assert data["network"]["client_key_set"] is True and data["network"]["client_key_passphrase_set"] is True
    admin = superuser_client.get(f"/admin/datasources/datasource/{datasource.pk}/change/").content.decode()
    key = NetworkConfig.objects.get(datasource=datasource).client_key
    for text in (json.dumps(data), admin):
        assert key.splitlines()[1] not in text and PASSPHRASE not in text
    assert "CN=connect-client,OU=Forms,O=Example" in admin


@pytest.mark.django_db
def test_the_wizard_creates_a_datasource_with_a_client_certificate(staff_client, client_ca):
    from .conftest import start_wizard, step3_data

    certificate, key = pem_of(client_cert(client_ca))
    data = step3_data(start_wizard(staff_client, name="Internal"), base_url="https://internal.example.com/api")
    data.update({"network-client_certificate": certificate, "network-client_key": key})
    response = staff_client.post("/datasources/new/configuration/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    network = Datasource.objects.get(name="Internal").network
    assert network.certificate_subject == "CN=connect-client,OU=Forms,O=Example" and network.client_key == key
    assert AuthConfig.objects.filter(datasource=network.datasource).exists()
    assert_no_secret(response.content)
