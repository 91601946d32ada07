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
