from django.apps import AppConfig


class DatasourcesConfig(AppConfig):
    name = "datasources"
    verbose_name = "Datasources"
    default_auto_field = "django.db.models.BigAutoField"
