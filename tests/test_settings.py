"""Settings refuse to start production without what it needs (checked in a fresh process: settings load once)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
PRINT_KEYS = "import django; django.setup(); from django.conf import settings; print(settings.FERNET_KEYS)"


def _start(tmp_path, code="import django; django.setup(); print('started')", **env):
    """Load the settings in a new interpreter, from a directory without .env; `env` wins over the project's .env."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DEBUG", "SECRET_KEY", "FERNET_KEYS", "OAUTHLIB_INSECURE_TRANSPORT", "DATABASE_URL",
                                   "DATABASE_CONN_MAX_AGE")}
    environment.update(PYTHONPATH=str(PROJECT), DJANGO_SETTINGS_MODULE="connect_project.settings", **env)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=60)


def test_production_without_fernet_keys_refuses_to_start_with_a_clear_message(tmp_path):
    result = _start(tmp_path, DEBUG="false", SECRET_KEY="x", FERNET_KEYS="")

    assert result.returncode != 0
    assert "ImproperlyConfigured: FERNET_KEYS is not set: Connect will not start without a key" in result.stderr


def test_production_with_only_blank_fernet_keys_refuses_to_start(tmp_path):
    result = _start(tmp_path, DEBUG="false", SECRET_KEY="x", FERNET_KEYS=" , ")

    assert "FERNET_KEYS is not set" in result.stderr


def test_production_with_fernet_keys_starts(tmp_path):
    result = _start(tmp_path, DEBUG="false", SECRET_KEY="x", FERNET_KEYS="key-1")

    assert (result.returncode, result.stdout.strip()) == (0, "started")


def test_fernet_keys_ignore_spaces_around_commas(tmp_path):
    result = _start(tmp_path, PRINT_KEYS, DEBUG="false", SECRET_KEY="x", FERNET_KEYS="new-key, old-key ,")

    assert result.stdout.strip() == "['new-key', 'old-key']"


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = _start(tmp_path, DEBUG="false", SECRET_KEY="", FERNET_KEYS="key-1")

    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_development_without_fernet_keys_starts(tmp_path):
    result = _start(tmp_path, DEBUG="true", SECRET_KEY="x", FERNET_KEYS="")

    assert (result.returncode, result.stdout.strip()) == (0, "started")


@pytest.mark.parametrize("value", ["1", "0", "true"])
def test_production_refuses_oauthlib_insecure_transport(tmp_path, value):
    result = _start(tmp_path, DEBUG="false", SECRET_KEY="x", FERNET_KEYS="key-1", OAUTHLIB_INSECURE_TRANSPORT=value)

    assert result.returncode != 0
    assert "OAUTHLIB_INSECURE_TRANSPORT must not be set in production" in result.stderr


PRINT_CONNECTIONS = ("import django; django.setup(); from django.conf import settings; "
                     "d = settings.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])")


def test_database_connections_are_kept_between_requests_and_checked_before_reuse(tmp_path):
    result = _start(tmp_path, PRINT_CONNECTIONS, DEBUG="true", SECRET_KEY="x")

    assert result.stdout.strip() == "60 True"


def test_database_conn_max_age_zero_opens_a_connection_per_request(tmp_path):
    result = _start(tmp_path, PRINT_CONNECTIONS, DEBUG="true", SECRET_KEY="x", DATABASE_CONN_MAX_AGE="0")

    assert result.stdout.strip() == "0 True"
