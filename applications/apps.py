from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = "Applications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The per-application CORS check: django-cors-headers asks this signal for the origins it does not list.
        from corsheaders.signals import check_request_enabled

        from .cors import allow_application_origin

        check_request_enabled.connect(allow_application_origin, dispatch_uid="connect-application-origins")
