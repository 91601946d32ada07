"""WSGI entry point for app servers (gunicorn, uWSGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connect_project.settings")
application = get_wsgi_application()
