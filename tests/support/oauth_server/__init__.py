"""A test-only OAuth2 authorization server (django-oauth-toolkit) with one protected JSON API.

Its own Django project: settings, urls, views and a setup command. It never imports Connect and shares no
settings, database or cache with it. tests/support/oauth_provider.py starts it under gunicorn over TLS.
"""
