"""Settings refuse to start production without what it needs (checked in a fresh process: settings load once)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
PRINT_KEYS = "import django; django.setup(); from django.conf import settings; print(settings.FERNET_KEYS)"


def _start(tmp_path, code="import django; django.setup(); print('started')", **env):
    """Load the settings in a new interpreter, from a directory without .env; `env` wins over the project's .env."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "DEBUG",
            "SECRET_KEY",
            "FERNET_KEYS",
            "OAUTHLIB_INSECURE_TRANSPORT",
            "DATABASE_URL",
            "DATABASE_CONN_MAX_AGE",
            "CONNECT_BEHIND_TLS_PROXY",
            "CONNECT_STATIC_MANIFEST",
            "SESSION_COOKIE_SECURE",
            "SECURE_HSTS_SECONDS",
            "CONNECT_LOG_FORMAT",
        )
    }
    environment.update(PYTHONPATH=str(PROJECT), DJANGO_SETTINGS_MODULE="connect_project.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )


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


PRINT_CONNECTIONS = (
    "import django; django.setup(); from django.conf import settings; "
    "d = settings.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
)


def test_database_connections_are_kept_between_requests_and_checked_before_reuse(tmp_path):
    result = _start(tmp_path, PRINT_CONNECTIONS, DEBUG="true", SECRET_KEY="x")

    assert result.stdout.strip() == "60 True"


def test_database_conn_max_age_zero_opens_a_connection_per_request(tmp_path):
    result = _start(tmp_path, PRINT_CONNECTIONS, DEBUG="true", SECRET_KEY="x", DATABASE_CONN_MAX_AGE="0")

    assert result.stdout.strip() == "0 True"


PRINT_CACHE = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.CACHES['default'], default=str))"
)


def test_redis_sentinel_comes_from_the_environment(tmp_path):
    result = _start(
        tmp_path,
        PRINT_CACHE,
        DEBUG="true",
        SECRET_KEY="x",
        REDIS_URL="",
        REDIS_SENTINELS="sentinel-1.internal:26379, sentinel-2.internal:26380",
        REDIS_SENTINEL_MASTER="cache",
        REDIS_SENTINEL_DB="3",
        REDIS_PASSWORD="redis-pw",
        REDIS_SENTINEL_PASSWORD="sentinel-pw",
    )
    cache = json.loads(result.stdout)
    assert cache["LOCATION"] == ["redis://cache/3"]
    options = cache["OPTIONS"]
    assert options["CLIENT_CLASS"] == "django_redis.client.SentinelClient"
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["SENTINELS"] == [["sentinel-1.internal", 26379], ["sentinel-2.internal", 26380]]
    assert options["PASSWORD"] == "redis-pw" and options["SENTINEL_KWARGS"]["password"] == "sentinel-pw"
    assert options["IGNORE_EXCEPTIONS"] is True


def test_redis_url_and_sentinels_together_are_refused(tmp_path):
    result = _start(
        tmp_path, DEBUG="true", SECRET_KEY="x", REDIS_URL="redis://127.0.0.1:6379/0", REDIS_SENTINELS="sentinel-1:26379"
    )
    assert "Set REDIS_URL or REDIS_SENTINELS, not both" in result.stderr


def test_a_sentinel_address_that_is_not_host_port_is_refused(tmp_path):
    result = _start(tmp_path, DEBUG="true", SECRET_KEY="x", REDIS_URL="", REDIS_SENTINELS="sentinel-1:port")
    assert "REDIS_SENTINELS: 'sentinel-1:port' is not host:port" in result.stderr


PRINT_SERVING = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps(["
    "getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.USE_X_FORWARDED_HOST, s.SECURE_HSTS_SECONDS, "
    "s.STORAGES['staticfiles']['BACKEND'], s.SESSION_COOKIE_SECURE]))"
)


def test_production_hashes_static_files_and_sends_hsts_on_https(tmp_path):
    result = _start(tmp_path, PRINT_SERVING, DEBUG="false", SECRET_KEY="x", FERNET_KEYS="key-1")
    assert json.loads(result.stdout) == [
        None,
        False,
        31536000,
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        True,
    ]


def test_development_serves_plain_static_names_without_hsts(tmp_path):
    result = _start(tmp_path, PRINT_SERVING, DEBUG="true", SECRET_KEY="x")
    assert json.loads(result.stdout) == [None, False, 0, "django.contrib.staticfiles.storage.StaticFilesStorage", False]


def test_the_static_manifest_can_be_turned_off_in_production(tmp_path):
    result = _start(
        tmp_path, PRINT_SERVING, DEBUG="false", SECRET_KEY="x", FERNET_KEYS="key-1", CONNECT_STATIC_MANIFEST="false"
    )
    assert json.loads(result.stdout)[3] == "django.contrib.staticfiles.storage.StaticFilesStorage"


def test_behind_a_tls_proxy_forwarded_proto_and_host_are_trusted_only_when_opted_in(tmp_path):
    result = _start(
        tmp_path, PRINT_SERVING, DEBUG="false", SECRET_KEY="x", FERNET_KEYS="key-1", CONNECT_BEHIND_TLS_PROXY="true"
    )
    assert json.loads(result.stdout)[:2] == [["HTTP_X_FORWARDED_PROTO", "https"], True]


def test_an_unknown_log_format_is_refused(tmp_path):
    result = _start(tmp_path, DEBUG="true", SECRET_KEY="x", CONNECT_LOG_FORMAT="xml")
    assert "CONNECT_LOG_FORMAT must be plain or json, not 'xml'" in result.stderr
