"""The field lists of configuration/schema.py: every name is a field of its model, and no secret is ever listed as a
value (a secret is written as ${env:NAME}: AUTH_SECRETS), so a field added later cannot leak through the export."""

import pytest
from fernet_fields import EncryptedField

from applications.models import Application
from configuration import schema
from datasources.models import AuthConfig, Datasource, Header
from items.models import Item

VALUE_LISTS = [
    (Datasource, schema.DATASOURCE_FIELDS),
    (Header, schema.HEADER_FIELDS),
    (AuthConfig, schema.AUTH_FIELDS),
    (Item, schema.ITEM_FIELDS),
    (Application, schema.APPLICATION_FIELDS),
]


@pytest.mark.parametrize("model, fields", VALUE_LISTS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_listed_field_is_a_plain_field_of_its_model(model, fields):
    for name in fields:
        field = model._meta.get_field(name)
        assert not isinstance(field, EncryptedField), f"{model.__name__}.{name} is a secret: list it as a secret"


def test_the_secrets_are_the_encrypted_fields_a_person_enters():
    for name in schema.AUTH_SECRETS:
        assert isinstance(AuthConfig._meta.get_field(name), EncryptedField)


# Fields a configuration file does not carry, on purpose: identities and relations written another way, state that
# belongs to an instance (versions, times, tokens, last use), and secrets (written as ${env:NAME} references).
NOT_VALUES = {
    "id",
    "name",
    "config_version",
    "created_at",
    "updated_at",
    "datasource",
    "allowed_groups",
    "items",
}


@pytest.mark.parametrize("model, fields", VALUE_LISTS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_field_a_person_edits_is_carried_by_the_file(model, fields):
    """A field added to a model (by any branch) must be listed here or in the file's lists, never forgotten."""
    edited = {
        f.name
        for f in model._meta.get_fields()
        if getattr(f, "editable", False) and not f.auto_created and not isinstance(f, EncryptedField)
    }
    missing = edited - set(fields) - NOT_VALUES - set(schema.AUTH_SECRETS)
    assert missing == set(), f"{model.__name__}: add {sorted(missing)} to configuration/schema.py"
