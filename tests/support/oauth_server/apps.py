from django.apps import AppConfig


class OAuthServerConfig(AppConfig):
    name = "tests.support.oauth_server"
    label = "oauth_server"
    default_auto_field = "django.db.models.BigAutoField"
