from django.apps import AppConfig


class ItemsConfig(AppConfig):
    name = "items"
    verbose_name = "Connected items"
    default_auto_field = "django.db.models.BigAutoField"
