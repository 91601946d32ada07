from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Connect core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import sign_in  # noqa: F401 (connects the sign-in pause)

        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="connect-sync-role-groups")


def _sync_roles(sender, apps=None, using="default", **kwargs):
    """After every migrate (and a test database flush, which empties the tables): the role groups exist and hold
    their permissions (adding only). The data migration made them first; this keeps them when the table grows."""
    from django.apps import apps as installed_apps
    from django.db import router

    from .roles import create_permissions_and_role_groups

    if router.allow_migrate(using, "auth"):
        create_permissions_and_role_groups(apps or installed_apps)
