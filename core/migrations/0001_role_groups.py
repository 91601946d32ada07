"""Connect's roles: the groups Viewer, Editor and Administrator with their permissions (core/roles.py)."""

from django.db import migrations

from core.roles import create_permissions_and_role_groups


def create_role_groups(apps, schema_editor):
    create_permissions_and_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("datasources", "0004_authconfig_connect_oauth_permission"),
        ("items", "0004_item_access"),
        ("applications", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
