"""A configuration file uploaded on the Configuration page, kept between its preview (the diff) and its import. It
holds what the file holds: names, settings and ${env:NAME} references, never a secret value."""

from django.conf import settings
from django.db import models


class ConfigurationUpload(models.Model):
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    filename = models.CharField(max_length=255, blank=True)
    content = models.TextField()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        permissions = [
            ("export_configuration", "Can export the configuration (without secrets)"),
            ("import_configuration", "Can import a configuration file"),
        ]

    def __str__(self):
        return self.filename or f"upload {self.pk}"
