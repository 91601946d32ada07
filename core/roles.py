"""Connect's roles (SPEC 11): Viewer, Editor and Administrator are Django groups holding permissions. This table is
the one home of what each role may do: the data migration (core/migrations/0001_role_groups.py) and the post-migrate
sync (core/apps.py) create the groups from it, pages and the admin check the permissions, and the 403 page names the
role to ask for.

Each role has every permission of the roles before it. The sync only adds: a permission an organisation gave a
group by hand is kept. A superuser has every permission.
"""

VIEWER = "Viewer"
EDITOR = "Editor"
ADMINISTRATOR = "Administrator"

_MODEL_ACTIONS = ("add", "change", "delete")

VIEWER_PERMISSIONS = (
    "datasources.view_datasource",
    "datasources.view_header",
    "datasources.view_authconfig",
    "items.view_item",
    "items.view_binding",
    "applications.view_application",
)
EDITOR_PERMISSIONS = tuple(
    f"{app}.{action}_{model}"
    for app, model in (
        ("datasources", "datasource"),
        ("datasources", "header"),
        ("datasources", "authconfig"),
        ("items", "item"),
        ("items", "binding"),
    )
    for action in _MODEL_ACTIONS
)
ADMINISTRATOR_PERMISSIONS = (
    *(f"applications.{action}_application" for action in _MODEL_ACTIONS),
    "datasources.connect_oauth",
    "audit.view_auditentry",
    "configuration.export_configuration",
    "configuration.import_configuration",
    # Roles: assigning them is changing users' groups (the admin site's Users page).
    "auth.view_user",
    "auth.change_user",
    "auth.view_group",
)

# Role -> every permission it holds, in order from the least to the most.
ROLES = {
    VIEWER: VIEWER_PERMISSIONS,
    EDITOR: VIEWER_PERMISSIONS + EDITOR_PERMISSIONS,
    ADMINISTRATOR: VIEWER_PERMISSIONS + EDITOR_PERMISSIONS + ADMINISTRATOR_PERMISSIONS,
}

ROLE_DESCRIPTIONS = {
    VIEWER: "sees datasources, items, applications, previews and health",
    EDITOR: "also changes datasources, headers, authentication, items and bindings, and tests connections",
    ADMINISTRATOR: "also manages applications and their secrets, OAuth connections, roles, the audit log and "
    "configuration import and export",
}


def role_for(permission: str) -> str | None:
    """The least role that holds `permission` ("app_label.codename"), or None when no role does."""
    for role, permissions in ROLES.items():
        if permission in permissions:
            return role
    return None


def sync_role_groups(apps) -> None:
    """Create the role groups and give each its permissions (adding only). `apps`: a migration's app registry or
    django.apps.apps; the permissions must exist (create_permissions runs first)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".", 1)
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.add(*wanted)


def create_permissions_and_role_groups(apps) -> None:
    """Every app's permissions (they are otherwise made after all migrations ran), then the role groups."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # A migration's app configs have no models module; create_permissions skips those.
        had_module = getattr(app_config, "models_module", None)
        app_config.models_module = had_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = had_module
    sync_role_groups(apps)
