"""Applications: other systems that embed Connect's field widget or call the options endpoint with embedding
tokens they sign. Data and invariants only, no I/O beyond the database."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from fernet_fields import EncryptedTextField

from core.models import VersionedConfiguration
from core.text_rules import null_character_error
from items.models import Item

from . import origins

SECRET_BYTES = 32  # HS256 wants a key of at least 32 bytes; 43 URL-safe characters


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


# The form's check and the database's constraint say the same (core/unique_names.py: two saves at once).
NAME_TAKEN = "An application with this name already exists (names ignore case)."


class Application(VersionedConfiguration):
    name = models.CharField(max_length=100, help_text="A unique name, 1-100 characters (case is ignored).")
    items = models.ManyToManyField(
        Item,
        blank=True,
        related_name="applications",
        verbose_name="items it may use",
        help_text="The items its embedding tokens may name. A token can only narrow this list.",
    )
    allowed_origins = models.JSONField(
        "allowed web origins",
        default=list,
        blank=True,
        help_text="The pages allowed to embed the widget, as https://host[:port], one per line.",
    )
    enabled = models.BooleanField(default=True, help_text="A disabled application's tokens are refused at once.")
    may_purge = models.BooleanField(
        "May purge cached answers",
        default=False,
        help_text="Its embedding tokens may drop the cached answers of the items they grant (POST "
        "/api/items/<id>/cache/purge), e.g. from a webhook when the data changed at the source.",
    )
    # Stored encrypted (HS256 needs the secret itself to verify a signature); shown once, after creation or rotation.
    secret = EncryptedTextField(default=new_secret, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Written at most about once a minute per application (applications/services/usage.py).
    last_used_at = models.DateTimeField("last used", null=True, blank=True, editable=False)
    # config_version (VersionedConfiguration) changes on every save and grant change: see services/lookup.py.

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="application_name_ci_unique",
                violation_error_message=NAME_TAKEN,
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name = (self.name or "").strip()
        super().save(*args, **kwargs)

    def clean(self):
        self.name = (self.name or "").strip()
        errors = {}
        if not self.name:
            errors["name"] = "Enter a name."
        elif Application.objects.filter(name__iexact=self.name).exclude(pk=self.pk).exists():
            errors["name"] = NAME_TAKEN
        if not isinstance(self.allowed_origins, list) or not all(isinstance(o, str) for o in self.allowed_origins):
            errors["allowed_origins"] = "Allowed origins must be a list of origins."
        elif null_character_error(self.allowed_origins):
            errors["allowed_origins"] = null_character_error(self.allowed_origins)
        else:
            try:
                self.allowed_origins = origins.normalise_origins(self.allowed_origins, allow_local_http=settings.DEBUG)
            except ValidationError as exc:
                errors["allowed_origins"] = exc.messages
        if errors:
            raise ValidationError(errors)


@receiver(m2m_changed, sender=Application.items.through)
def _grants_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """A grant added or removed is a new configuration: cached copies of the application must be reloaded.

    The version changes after the change is written, so a copy loaded in between is reloaded at the next request."""
    if reverse and action == "pre_clear":  # item.applications.clear(): remember who loses the grant
        instance._applications_before_clear = list(instance.applications.values_list("pk", flat=True))
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        instance.bump_config_version()
        return
    changed = pk_set if action != "post_clear" else getattr(instance, "_applications_before_clear", [])
    for application in Application.objects.filter(pk__in=list(changed or ())):
        application.bump_config_version()
