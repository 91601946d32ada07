"""Django's serialization formats (json, jsonl, xml, yaml: what `manage.py dumpdata` writes) without secrets.

Every encrypted field (fernet_fields) holds a secret: an API key, a password, a client secret, a token, an
application's signing secret. Django's serializers would write them decrypted; these leave them out (settings.py
SERIALIZATION_MODULES puts them in place of Django's own). A dump loaded back (`loaddata`) has no secrets: each is
entered again, and an application gets a new signing secret. A backup with the secrets is the database's own
(pg_dump, which keeps them encrypted) together with FERNET_KEYS: README "Backups".
"""

from fernet_fields import EncryptedField


class WithoutSecrets:
    """A serializer mixin: encrypted fields are not written."""

    def handle_field(self, obj, field):
        if isinstance(field, EncryptedField):
            return
        super().handle_field(obj, field)
