"""Administrators read the audit log (core/roles.py)."""

from django.db import migrations

from core.roles import create_permissions_and_role_groups


def sync_role_groups(apps, schema_editor):
    create_permissions_and_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_role_groups"),
        ("audit", "0001_audit_entry"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
