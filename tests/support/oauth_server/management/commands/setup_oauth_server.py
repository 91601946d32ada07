"""Prepare the test authorization server: migrate, the user, and the two client applications.

Names and secrets come from OAUTH_SERVER_* environment variables (set by tests/support/oauth_provider.py), so
they never appear on a command line. Running it again updates in place; --redirect-uri adds to the web client.
"""

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from oauth2_provider.models import Application


class Command(BaseCommand):
    help = "Create the test user and the authorization-code and client-credentials applications."

    def add_arguments(self, parser):
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            help="A redirect URI the web client may use (repeatable; added to the existing ones).",
        )
        parser.add_argument("--skip-migrate", action="store_true")

    def handle(self, *args, redirect_uri, skip_migrate, **options):
        env = os.environ
        if not skip_migrate:
            call_command("migrate", verbosity=0, interactive=False)
        user, _ = get_user_model().objects.get_or_create(username=env["OAUTH_SERVER_USERNAME"])
        user.set_password(env["OAUTH_SERVER_PASSWORD"])
        user.save()

        web = Application.objects.filter(client_id=env["OAUTH_SERVER_WEB_CLIENT_ID"]).first()
        known = web.redirect_uris.split() if web else []
        uris = " ".join(dict.fromkeys(known + redirect_uri))
        if web is None:
            Application.objects.create(
                name="Connect (authorization code)",
                client_id=env["OAUTH_SERVER_WEB_CLIENT_ID"],
                client_secret=env["OAUTH_SERVER_WEB_CLIENT_SECRET"],
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                redirect_uris=uris,
                user=user,
                skip_authorization=False,
                algorithm="",
            )
        else:
            Application.objects.filter(pk=web.pk).update(redirect_uris=uris)

        Application.objects.get_or_create(
            client_id=env["OAUTH_SERVER_SERVICE_CLIENT_ID"],
            defaults=dict(
                name="Connect (client credentials)",
                client_secret=env["OAUTH_SERVER_SERVICE_CLIENT_SECRET"],
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
                algorithm="",
            ),
        )
        self.stdout.write("oauth server ready")
