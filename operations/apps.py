from django.apps import AppConfig

from .metrics import record_build_info


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations (health, metrics, outage reports)"

    def ready(self):
        record_build_info()
