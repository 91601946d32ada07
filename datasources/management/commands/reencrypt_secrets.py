"""Re-encrypt every stored secret with the newest Fernet key: run it after putting a new key first in FERNET_KEYS,
then the old keys can be removed."""

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from fernet_fields import EncryptedField


def encrypted_fields_by_model() -> dict:
    """Every model with encrypted fields (datasource secrets, OAuth state, ...), with the names of those fields."""
    found = {}
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if names:
            found[model] = names
    return found


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FERNET_KEYS (the newest)."

    def handle(self, *args, **options):
        total = 0
        with transaction.atomic():
            for model, names in encrypted_fields_by_model().items():
                total += self._reencrypt(model, names)
        self.stdout.write(f"Re-encrypted {total} row(s) of secrets with the newest key.")

    def _reencrypt(self, model, names: list[str]) -> int:
        count = 0
        rows = model._default_manager.select_for_update().only("pk", *names).order_by("pk")
        try:
            for row in rows:
                # A queryset update encrypts with the first key (get_db_prep_save) and, unlike save(), does not
                # count as a configuration change.
                model._default_manager.filter(pk=row.pk).update(**{name: getattr(row, name) for name in names})
                count += 1
        except InvalidToken:
            raise CommandError(
                f"A secret in {model._meta.label} cannot be decrypted with any key in FERNET_KEYS: keep the key it "
                f"was encrypted with in the list (after the new one) and run this command again."
            ) from None
        return count
