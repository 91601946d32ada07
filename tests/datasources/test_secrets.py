"""Secrets at rest: encrypted with Fernet, several keys for rotation, and a command that re-encrypts with the newest."""

import io

import pytest
from cryptography.fernet import InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection
from fernet_fields import EncryptedField

from datasources.models import SECRET_FIELDS, AuthConfig, Datasource
from tests.conftest import (
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
)

pytestmark = pytest.mark.django_db

SECRETS = {
    "password": SECRET_PASSWORD,
    "api_key_value": SECRET_API_KEY,
    "client_secret": SECRET_CLIENT_SECRET,
    "access_token": SECRET_ACCESS_TOKEN,
    "refresh_token": SECRET_REFRESH_TOKEN,
}
OLD_KEY = "old-fernet-key-0001"
NEW_KEY = "new-fernet-key-0002"


def _store_all_secrets(datasource_factory, name="Jira"):
    return datasource_factory(name=name, mode="oauth2_authorization_code", **SECRETS)


def _raw_column(field: str) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {field} FROM datasources_authconfig")  # field names come from SECRET_FIELDS
        return bytes(cursor.fetchone()[0])


def _loaded_secrets(datasource) -> dict:
    auth = AuthConfig.objects.get(datasource=datasource)
    return {field: getattr(auth, field) for field in SECRETS}


def test_every_secret_field_is_an_encrypted_field():
    encrypted = {f.name for f in AuthConfig._meta.concrete_fields if isinstance(f, EncryptedField)}

    assert encrypted == set(SECRET_FIELDS) == set(SECRETS)


@pytest.mark.parametrize("field", sorted(SECRETS))
def test_the_raw_column_holds_a_fernet_token_not_the_secret(datasource_factory, field):
    _store_all_secrets(datasource_factory)

    raw = _raw_column(field)

    assert SECRETS[field].encode() not in raw
    assert raw.startswith(b"gAAAAA")  # a Fernet token, version byte 0x80


@pytest.mark.parametrize("field", sorted(SECRETS))
def test_the_stored_secret_decrypts_to_the_value(datasource_factory, field):
    datasource = _store_all_secrets(datasource_factory)

    assert _loaded_secrets(datasource)[field] == SECRETS[field]


def test_secrets_decrypt_after_a_new_key_is_added_in_front(datasource_factory, fernet_keys):
    fernet_keys([OLD_KEY])
    datasource = _store_all_secrets(datasource_factory)

    fernet_keys([NEW_KEY, OLD_KEY])

    assert _loaded_secrets(datasource) == SECRETS


def test_the_first_key_encrypts_new_secrets(datasource_factory, fernet_keys):
    fernet_keys([NEW_KEY, OLD_KEY])
    datasource = _store_all_secrets(datasource_factory)

    fernet_keys([NEW_KEY])

    assert _loaded_secrets(datasource) == SECRETS


def test_a_secret_does_not_decrypt_without_its_key(datasource_factory, fernet_keys):
    fernet_keys([OLD_KEY])
    datasource = _store_all_secrets(datasource_factory)
    fernet_keys([NEW_KEY])

    with pytest.raises(InvalidToken):
        _loaded_secrets(datasource)


def test_reencrypt_secrets_makes_the_old_key_unnecessary(datasource_factory, fernet_keys):
    fernet_keys([OLD_KEY])
    first = _store_all_secrets(datasource_factory, name="Jira")
    second = _store_all_secrets(datasource_factory, name="Confluence")
    fernet_keys([NEW_KEY, OLD_KEY])

    call_command("reencrypt_secrets", stdout=io.StringIO())
    fernet_keys([NEW_KEY])

    assert (_loaded_secrets(first), _loaded_secrets(second)) == (SECRETS, SECRETS)


def test_reencrypt_secrets_prints_how_many_rows_it_rewrote(datasource_factory, fernet_keys):
    _store_all_secrets(datasource_factory, name="Jira")
    _store_all_secrets(datasource_factory, name="Confluence")
    out = io.StringIO()

    call_command("reencrypt_secrets", stdout=out)

    assert out.getvalue().strip() == "Re-encrypted 2 row(s) of secrets with the newest key."


def test_reencrypt_secrets_is_not_a_configuration_change(datasource_factory):
    datasource = _store_all_secrets(datasource_factory)

    call_command("reencrypt_secrets", stdout=io.StringIO())

    assert Datasource.objects.get(pk=datasource.pk).config_version == datasource.config_version


def test_reencrypt_secrets_keeps_the_other_auth_fields(datasource_factory):
    datasource = datasource_factory(mode="basic", username="elements", password=SECRET_PASSWORD)

    call_command("reencrypt_secrets", stdout=io.StringIO())

    auth = AuthConfig.objects.get(datasource=datasource)
    assert (auth.mode, auth.username, auth.password) == ("basic", "elements", SECRET_PASSWORD)


def test_reencrypt_secrets_stops_with_a_clear_message_when_a_key_is_missing(datasource_factory, fernet_keys):
    fernet_keys([OLD_KEY])
    _store_all_secrets(datasource_factory)
    fernet_keys([NEW_KEY])

    with pytest.raises(CommandError, match="cannot be decrypted with any key in FERNET_KEYS"):
        call_command("reencrypt_secrets", stdout=io.StringIO())
