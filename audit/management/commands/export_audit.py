"""manage.py export_audit [--since DATE] [--output FILE]: the audit log as JSON lines, oldest first."""

import datetime
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditEntry


def parse_since(text: str) -> datetime.datetime:
    """A date (2026-01-31: from its midnight, in TIME_ZONE) or an ISO date and time."""
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ValueError
        moment = datetime.datetime.combine(day, datetime.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "Write the audit log as JSON lines (one entry per line, oldest first)."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Only entries from this date (2026-01-31) or time (2026-01-31T08:00).")
        parser.add_argument("--output", help="Write to this file instead of the standard output.")

    def handle(self, *args, since=None, output=None, **options):
        entries = AuditEntry.objects.order_by("at", "id")
        if since:
            try:
                entries = entries.filter(at__gte=parse_since(since))
            except (ValueError, TypeError):
                raise CommandError(
                    f"--since {since!r} is not a date (2026-01-31) or a date and time (2026-01-31T08:00)."
                ) from None
        stream = open(output, "w", encoding="utf-8") if output else sys.stdout
        count = 0
        try:
            for entry in entries.iterator(chunk_size=1000):
                stream.write(json.dumps(entry.as_record(), ensure_ascii=False) + "\n")
                count += 1
        finally:
            if output:
                stream.close()
        if output:
            self.stderr.write(f"Wrote {count} audit entr{'y' if count == 1 else 'ies'} to {output}.")
