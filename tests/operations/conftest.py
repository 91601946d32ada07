"""Fixtures for tests of Connect in real processes: collected static files and a migrated SQLite database, built
once per session and shared by the servers the test modules start (see tests/support/connect_server.py)."""

import shutil

import pytest
import trustme
from django.conf import settings

from tests.support.connect_server import connect_env, run_connect_task
from tests.support.https_server import HTTPSTestServer, server_context


@pytest.fixture(scope="session")
def suite_redis_url() -> str:
    """The suite's own Redis db (REDIS_URL), which servers under test share with it."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: Connect's servers under test use the suite's Redis")
    return settings.REDIS_URL


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """`collectstatic` as `make serve` runs it (DEBUG=false: hashed names, compressed copies, a manifest)."""
    workdir = tmp_path_factory.mktemp("static")
    root = workdir / "staticfiles"
    run_connect_task(
        connect_env(workdir, database_url=f"sqlite:///{workdir / 'unused.sqlite3'}", static_root=root), "collectstatic"
    )
    return root


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sqlite-template")
    path = workdir / "connect.sqlite3"
    run_connect_task(connect_env(workdir, database_url=f"sqlite:///{path}"), "migrate")
    return path


@pytest.fixture(scope="module")
def sqlite_url(_migrated_sqlite, tmp_path_factory) -> str:
    """A migrated SQLite database of this module's own (a copy of the session's template)."""
    path = tmp_path_factory.mktemp("sqlite") / "connect.sqlite3"
    shutil.copyfile(_migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def serving_ca() -> trustme.CA:
    """The CA of the APIs that Connect's servers under test call (its own name: modules that import the in-process
    `trusted_ca` fixture get their own instance of that one)."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(serving_ca, tmp_path_factory):
    """serving_ca as a file: CONNECT_CA_BUNDLE of the servers under test."""
    path = tmp_path_factory.mktemp("ca") / "connect-test-ca.pem"
    serving_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def module_upstream(serving_ca):
    """start(routes) -> a running HTTPS API (certificate from serving_ca) for this module's servers, stopped at the
    module's end."""
    servers = []

    def start(routes: dict) -> HTTPSTestServer:
        server = HTTPSTestServer(server_context(serving_ca, "127.0.0.1"), routes).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
