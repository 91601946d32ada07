"""Shared fixtures. Secrets in tests are distinctive strings so leak tests can search any output for them."""

from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import pre_save

from datasources.models import AuthConfig, Datasource, Header
from items.services import cache as item_cache
from operations.reports import reset_every_report

# Fixtures shared by every test folder (the real local HTTPS server, its CA, the suite's Redis, a second process).
pytest_plugins = [
    "tests.support.https_server",
    "tests.support.redis_store",
    "tests.support.protection",
    "tests.support.connect_proxy",
]

SECRET_PASSWORD = "s3cr3t-PASSWORD-91ad"
SECRET_API_KEY = "s3cr3t-API-KEY-7f1c"
SECRET_CLIENT_SECRET = "s3cr3t-CLIENT-SECRET-4b2e"
SECRET_ACCESS_TOKEN = "s3cr3t-ACCESS-TOKEN-aa01"
SECRET_REFRESH_TOKEN = "s3cr3t-REFRESH-TOKEN-bb02"
ALL_SECRETS = (SECRET_PASSWORD, SECRET_API_KEY, SECRET_CLIENT_SECRET, SECRET_ACCESS_TOKEN, SECRET_REFRESH_TOKEN)

PUBLIC_TEST_IP = "93.184.216.34"


def assert_no_secret(text, secrets=ALL_SECRETS):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for secret in secrets:
        assert secret not in text, f"secret {secret!r} leaked"


def pytest_configure(config):
    """Pages rendered in the suite use plain static names, whatever DEBUG the environment says: the test servers
    (live_server) serve static/ through the finders, which know no hashed names, and no collectstatic ran. Hashed,
    compressed files are tested where they are served: under gunicorn (tests/operations/test_serving.py)."""
    # Passwords: a fast hasher for the suite's own accounts (Django's PBKDF2 takes about a second per password on this
    # machine, and most tests create a signed-in user). Production keeps Django's default hashers.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left_at_the_end(django_db_setup):
    """Before the test database is dropped: every database connection still open in this process is closed (each
    holds the database open: PostgreSQL then refuses to drop it, "is being accessed by other users"). Besides this
    thread's, those of ended threads are still referenced, by contexts copied into them, for instance, so neither
    close_all() nor the garbage collector reaches them."""
    yield
    import gc

    from django.db import connections

    connections.close_all()
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    gc.collect()
    for obj in gc.get_objects():
        # type(), not isinstance(): isinstance asks a lazy object (a request's user) its __class__, which loads it.
        if issubclass(type(obj), psycopg.Connection) and not obj.closed:
            obj.close()


@pytest.fixture(autouse=True)
def _fresh_redis_memory():
    """ "Redis is down" is remembered per process (the item cache skips Redis for a while, the outage is reported
    once per interval), and so are the other reports written once per interval: no test inherits another's."""
    item_cache.health.reset()
    reset_every_report()
    yield
    item_cache.health.reset()
    reset_every_report()


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (the suite's own Redis db when REDIS_URL is set), and with no protection
    state (limits, breakers, health) from another test, in Redis or in this process."""
    from datasources import protection

    protection.reset()
    cache.clear()
    yield
    protection.reset()
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_sessions():
    """No test reuses another's pooled outbound sessions (or their connections)."""
    from datasources.services import sessions

    sessions.close_all()
    yield
    sessions.close_all()


@pytest.fixture
def fake_dns(monkeypatch):
    """Stubbed DNS: every host resolves to a public address unless the test maps it elsewhere."""
    answers: dict[str, list[str]] = {}

    def resolve(host, port):
        return list(answers.get(host.lower(), [PUBLIC_TEST_IP]))

    monkeypatch.setattr("datasources.services.address_policy.resolve_host", resolve)
    return answers


def with_role(user, role: str):
    """`user` in the role's group (core/roles.py: Viewer, Editor, Administrator), made by the data migration."""
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def staff_user(django_user_model):
    """A staff account with the Administrator role: every Connect page."""
    user = django_user_model.objects.create_user("admin", "admin@example.com", "pw-admin-123", is_staff=True)
    return with_role(user, "Administrator")


@pytest.fixture
def staff_client(client, staff_user):
    # force_login, not login(): django-axes' backend needs the request, so a test that signs in with a password
    # calls client.login(request=HttpRequest(), username=..., password=...) (or posts the login page).
    client.force_login(staff_user)
    return client


def make_datasource(*, name="Jira", base_url="https://api.example.com/rest", mode="none", headers=(), **auth):
    datasource = Datasource.objects.create(name=name, base_url=base_url)
    for header_name, value in headers:
        Header.objects.create(datasource=datasource, name=header_name, value=value)
    AuthConfig.objects.create(datasource=datasource, mode=mode, **auth)
    datasource.refresh_from_db()
    return datasource


@pytest.fixture
def datasource_factory(db):
    return make_datasource


@pytest.fixture(scope="session")
def oauth_provider(tmp_path_factory):
    """A real OAuth2 authorization server (django-oauth-toolkit, gunicorn, TLS) on 127.0.0.1 for the session.

    See tests/support/oauth_provider.py: URLs, client ids and secrets, the user, `ca_pem`, `consent(...)`.
    """
    from tests.support.oauth_provider import running_oauth_provider, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with running_oauth_provider(workdir=tmp_path_factory.mktemp("oauth_provider")) as provider:
        yield provider


@contextmanager
def saved_first_by_a_colleague(model, **row):
    """While in the block, the next save of a `model` row is preceded by the creation of `row` (its name the same),
    as a colleague's concurrent save would be: the form's checks have passed by then, the database decides. (Made
    in the same transaction, the colleague's row goes when the refused save is rolled back.)"""

    def colleague_first(sender, instance, **kwargs):
        pre_save.disconnect(colleague_first, sender=model)
        model.objects.create(**row)

    pre_save.connect(colleague_first, sender=model, weak=False)
    try:
        yield
    finally:
        pre_save.disconnect(colleague_first, sender=model)
