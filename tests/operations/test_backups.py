"""Backups (README "Backups"): `manage.py dumpdata` never writes a secret (encrypted fields are left out, in every
format), and a pg_dump/pg_restore round trip keeps every secret, encrypted, readable with the same FERNET_KEYS and
with no other key."""

import io
import json
import shutil
import subprocess
import uuid

import pytest
from django.core.management import call_command

from applications.models import Application
from datasources.models import AuthConfig, Datasource
from tests.conftest import (
    ALL_SECRETS,
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
    assert_no_secret,
    make_datasource,
)
from tests.support.connect_server import TEST_FERNET_KEY, connect_env, run_connect_tasks

CONNECT_APPS = ("datasources", "items", "applications", "core", "operations")


@pytest.fixture
def stored_secrets(db):
    """A datasource with every kind of secret stored, and an application (its signing secret)."""
    datasource = make_datasource(name="Everything", mode="basic", username="reader", password=SECRET_PASSWORD)
    AuthConfig.objects.filter(datasource=datasource).update(
        api_key_value=SECRET_API_KEY,
        client_secret=SECRET_CLIENT_SECRET,
        access_token=SECRET_ACCESS_TOKEN,
        refresh_token=SECRET_REFRESH_TOKEN,
    )
    application = Application.objects.create(name="Forms")
    return {"datasource": datasource, "application_secret": Application.objects.get(pk=application.pk).secret}


def dump(*labels, **options) -> str:
    out = io.StringIO()
    call_command("dumpdata", *labels, stdout=out, **options)
    return out.getvalue()


@pytest.mark.parametrize("format", ["json", "jsonl", "xml", "yaml"])
def test_dumpdata_writes_no_secret_in_any_format(stored_secrets, format):
    written = dump(*CONNECT_APPS, format=format)
    assert_no_secret(written, secrets=(*ALL_SECRETS, stored_secrets["application_secret"]))
    assert "Everything" in written and "reader" in written and "Forms" in written  # the rest is there


def test_dumpdata_of_everything_writes_no_secret(stored_secrets):
    assert_no_secret(dump(), secrets=(*ALL_SECRETS, stored_secrets["application_secret"]))


def test_a_dump_loads_back_with_the_secrets_left_empty(stored_secrets, tmp_path):
    path = tmp_path / "connect.json"
    path.write_text(dump("datasources"))
    assert "password" not in json.loads(path.read_text())[1]["fields"]
    Datasource.objects.all().delete()
    call_command("loaddata", str(path), verbosity=0)
    auth = AuthConfig.objects.get(datasource__name="Everything")
    assert (auth.username, auth.password, auth.api_key_value, auth.access_token) == ("reader", "", "", "")


# --- pg_dump / pg_restore --------------------------------------------------------------------------------------

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_TOOLS = ("pg_dump", "pg_restore")


@pytest.fixture
def two_databases():
    """Two new databases on the local PostgreSQL: the one backed up and the one restored into (dropped after)."""
    if not all(shutil.which(tool) for tool in PG_TOOLS):
        pytest.skip("pg_dump and pg_restore are not installed")
    import psycopg

    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 does not answer: {exc}")
    names = [f"connect_backup_{uuid.uuid4().hex[:8]}", f"connect_restored_{uuid.uuid4().hex[:8]}"]
    for name in names:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [f"{PG_SERVER}/{name}" for name in names]
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_pg_dump_restored_elsewhere_keeps_every_secret_readable_with_the_same_fernet_keys(two_databases, tmp_path):
    original, restored = two_databases
    env = connect_env(tmp_path, database_url=original)
    _, created = run_connect_tasks(
        env,
        ("migrate", {}),
        (
            "create_item",
            {
                "base_url": "https://api.example.com/",
                "query": "/search?q=$userInput",
                "auth": {"mode": "api_key", "api_key_name": "X-Api-Key", "api_key_value": SECRET_API_KEY},
            },
        ),
    )
    backup = tmp_path / "connect.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={backup}", original], check=True, timeout=120)
    assert SECRET_API_KEY.encode() not in backup.read_bytes()  # secrets stay encrypted in the backup
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored}", str(backup)], check=True, timeout=120)

    same_keys = connect_env(tmp_path, database_url=restored)
    [check] = run_connect_tasks(same_keys, ("check_secret", {"datasource": created["datasource"]}))
    assert check == {"readable": True, "matches": SECRET_API_KEY}

    other_key = connect_env(tmp_path, database_url=restored, FERNET_KEYS="K" * 43 + "=")
    assert other_key["FERNET_KEYS"] != TEST_FERNET_KEY
    [lost] = run_connect_tasks(other_key, ("check_secret", {"datasource": created["datasource"]}))
    assert lost == {"readable": False, "matches": None}  # without the keys, every secret is lost
