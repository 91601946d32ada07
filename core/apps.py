from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Connect core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import sign_in  # noqa: F401 (connects the sign-in pause)
