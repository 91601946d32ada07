"""manage.py prune_audit: delete audit entries older than CONNECT_AUDIT_RETENTION_DAYS (default 365). Schedule it
(e.g. daily, from cron or a systemd timer)."""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.models import AuditEntry


class Command(BaseCommand):
    help = "Delete audit entries older than CONNECT_AUDIT_RETENTION_DAYS days (default 365)."

    def handle(self, *args, **options):
        days = settings.CONNECT_AUDIT_RETENTION_DAYS
        cutoff = timezone.now() - datetime.timedelta(days=days)
        deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
        self.stdout.write(
            f"Deleted {deleted} audit entr{'y' if deleted == 1 else 'ies'} older than {days} days "
            f"(before {cutoff:%Y-%m-%d %H:%M %Z})."
        )
