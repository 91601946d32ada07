from django.apps import AppConfig


class ConfigurationConfig(AppConfig):
    name = "configuration"
    verbose_name = "Configuration as code"
    default_auto_field = "django.db.models.BigAutoField"
