"""Administrators export and import the configuration (core/roles.py)."""

from django.db import migrations

from core.roles import create_permissions_and_role_groups


def sync_role_groups(apps, schema_editor):
    create_permissions_and_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_role_groups_audit"),
        ("configuration", "0001_configuration_upload"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
