from tests.datasources.conftest import superuser_client  # noqa: F401  (the admin site's tests need a superuser)
