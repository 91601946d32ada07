"""The audit log (SPEC 11): one row per change of Connect's configuration, written in the same transaction as the
change. Rows are written by audit/recorder.py only and never changed afterwards, except by `prune_audit`."""

import json

from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    ROTATE_SECRET = "rotate_secret", "Secret rotated"
    OAUTH_CONNECT = "oauth_connect", "OAuth account connected"
    OAUTH_DISCONNECT = "oauth_disconnect", "OAuth account disconnected"
    ROLE_CHANGE = "role_change", "Roles changed"
    IMPORT = "import", "Configuration imported"
    CACHE_REFRESH = "cache_refresh", "Cached answers dropped"


class AuditEntry(models.Model):
    at = models.DateTimeField("time", default=timezone.now, db_index=True)
    # A username, "apply_config" (or apply_config's --actor), or "system" when no person is known (a shell).
    actor = models.CharField(max_length=150)
    address = models.GenericIPAddressField("client address", null=True, blank=True)
    # Where the change was made: page, admin, apply_config, system.
    via = models.CharField(max_length=20)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=30)
    object_id = models.CharField(max_length=64, blank=True)
    object_name = models.CharField(max_length=200, blank=True)
    # [{"field": "base_url", "old": ..., "new": ...}, {"field": "auth.password", "secret": true}, ...]: a list keeps
    # the order of the fields (a JSON object's keys are reordered by PostgreSQL). A secret is never a value here.
    changes = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-at"], name="audit_object_idx")]

    def __str__(self):
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.get_action_display()} {self.object_type} {self.object_name}"
        )

    def change_lines(self) -> list[dict]:
        """The changes as people read them: field, old, new (secrets: "changed", never a value)."""
        return [
            {
                "field": change.get("field", ""),
                "secret": bool(change.get("secret")),
                "old": "" if change.get("secret") else shown(change.get("old")),
                "new": "changed" if change.get("secret") else shown(change.get("new")),
            }
            for change in self.changes or []
        ]

    def as_record(self) -> dict:
        """One JSON line of `export_audit`."""
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "address": self.address,
            "via": self.via,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_name": self.object_name,
            "changes": self.changes,
        }


def shown(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
