"""Log lines as the settings configure them, in a fresh process (logging is configured once, at start-up)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SECRET_API_KEY

PROJECT = Path(__file__).resolve().parents[2]

REQUEST_A_MISSING_PAGE = """
import django
django.setup()
from django.test import Client
print(Client().get("/no-such-page/").status_code)
"""

LOG_SOME_LINES = f"""
import logging
import django
django.setup()
from datasources.services import redaction
redaction.install_log_filter()
logging.getLogger("connect.items").warning("plain %s", "line")
with redaction.redacting(redaction.Redaction(secret_values=({SECRET_API_KEY!r},))):
    logging.getLogger("urllib3.connectionpool").warning("GET /search?q=x&key=%s HTTP/1.1", {SECRET_API_KEY!r})
try:
    raise ValueError("first line\\nsecond line")
except ValueError:
    logging.getLogger("connect.items").exception("It broke")
"""


def run(code: str, tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {
        key: value for key, value in os.environ.items() if key not in ("DEBUG", "CONNECT_LOG_FORMAT", "DATABASE_URL")
    }
    environment.update(
        PYTHONPATH=str(PROJECT),
        DJANGO_SETTINGS_MODULE="connect_project.settings",
        SECRET_KEY="x",
        FERNET_KEYS="key-1",
        ALLOWED_HOSTS="testserver",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result


def test_under_debug_each_django_request_line_is_logged_once(tmp_path):
    result = run(REQUEST_A_MISSING_PAGE, tmp_path, DEBUG="true")
    assert result.stdout.strip() == "404"
    assert result.stderr.count("Not Found: /no-such-page/") == 1, result.stderr


def test_in_production_each_django_request_line_is_logged_once(tmp_path):
    result = run(REQUEST_A_MISSING_PAGE, tmp_path, DEBUG="false")
    assert result.stderr.count("Not Found: /no-such-page/") == 1, result.stderr


def test_json_log_lines_are_one_object_per_line_and_still_redacted(tmp_path):
    result = run(LOG_SOME_LINES, tmp_path, DEBUG="true", CONNECT_LOG_FORMAT="json")
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(lines) == 3, result.stderr
    plain, library, failure = lines
    assert {key: plain[key] for key in ("level", "logger", "message")} == {
        "level": "WARNING",
        "logger": "connect.items",
        "message": "plain line",
    }
    assert plain["time"].endswith("Z") and plain["process"] > 0
    assert library["message"] == "GET /search?q=x&key=*** HTTP/1.1"
    assert SECRET_API_KEY not in result.stderr
    assert failure["message"] == "It broke" and "ValueError: first line\nsecond line" in failure["exception"]


def test_plain_log_lines_by_default(tmp_path):
    result = run(LOG_SOME_LINES, tmp_path, DEBUG="true")
    assert " WARNING connect.items: plain line" in result.stderr
    assert "GET /search?q=x&key=*** HTTP/1.1" in result.stderr and SECRET_API_KEY not in result.stderr


REQUEST_ANOTHER_HOST = """
import django
django.setup()
from django.test import Client
print(Client().get("/login/", HTTP_HOST="scanner.example").status_code)
"""


def test_a_request_for_another_host_is_one_warning_line_without_a_traceback(tmp_path):
    result = run(REQUEST_ANOTHER_HOST, tmp_path, DEBUG="false", STATIC_ROOT=str(tmp_path))
    assert result.stdout.strip() == "400"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert " WARNING django.security.DisallowedHost: Invalid HTTP_HOST header: 'scanner.example'." in lines[0]
    assert lines[0].endswith("(client 127.0.0.1)")


def test_in_json_a_request_line_names_its_client(tmp_path):
    result = run(REQUEST_ANOTHER_HOST, tmp_path, DEBUG="false", CONNECT_LOG_FORMAT="json", STATIC_ROOT=str(tmp_path))
    (line,) = [json.loads(line) for line in result.stderr.splitlines()]
    assert (line["level"], line["logger"], line["client"]) == ("WARNING", "django.security.DisallowedHost", "127.0.0.1")
    assert "exception" not in line
