"""The base of every configuration row whose derived state (cache keys, pooled sessions, per-process lookups) must be
forgotten when it changes."""

import uuid

from django.db import models


def new_config_version() -> str:
    return uuid.uuid4().hex


class VersionedConfiguration(models.Model):
    """A configuration with a config_version that changes on every save: cache keys and pooled sessions include it,
    so what was built from an older configuration is never used again."""

    config_version = models.CharField(max_length=32, default=new_config_version, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.config_version = new_config_version()
        super().save(*args, **kwargs)

    def bump_config_version(self):
        """A new version without saving the row: for changes stored elsewhere (headers, authentication)."""
        self.config_version = new_config_version()
        type(self)._default_manager.filter(pk=self.pk).update(config_version=self.config_version)
