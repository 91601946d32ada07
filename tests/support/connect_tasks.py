"""Tasks run in a Connect process with a test's environment (tests/support/connect_server.py run_connect_tasks):
`python -m tests.support.connect_tasks '[["TASK", {arguments}], ...]'` runs them in order and prints their results
as one JSON list on its last line.

They write through Connect's own models, as an administrator's edit or a migration would, to the database the
servers under test use (which is not the test process's database).
"""

import json
import sys
from datetime import timedelta


def migrate() -> dict:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return {"migrated": True}


def collectstatic() -> dict:
    from django.core.management import call_command

    call_command("collectstatic", verbosity=0, interactive=False)
    return {"collected": True}


def sign_in(*, username: str = "alice", staff: bool = False) -> dict:
    """A user and a signed-in session; returns the session cookie's name and value."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": staff})
    client = Client()
    client.force_login(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}


def create_user(*, username: str, password: str, staff: bool = False, role: str = "") -> dict:
    """A user who signs in with a password (through the login page); a staff user has the Administrator role unless
    told another (core/roles.py)."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password=password, is_staff=staff)
    if staff or role:
        user.groups.add(Group.objects.get(name=role or "Administrator"))
    return {"user": user.pk}


def create_item(
    *,
    base_url: str,
    query: str,
    datasource_name: str = "API",
    item_name: str = "Issues",
    auth: dict | None = None,
    label_template: str = "{key} - {fields.summary}",
    limits: dict | None = None,
) -> dict:
    """A datasource (auth: AuthConfig fields, e.g. mode and api_key_value; limits: calls_per_second,
    concurrent_calls) and an item on it."""
    from datasources.models import AuthConfig, Datasource
    from items.models import Item

    datasource = Datasource.objects.create(name=datasource_name, base_url=base_url, **(limits or {}))
    AuthConfig.objects.create(datasource=datasource, **(auth or {}))
    item = Item(
        name=item_name,
        datasource=datasource,
        query=query,
        list_path="issues",
        key_field="key",
        label_template=label_template,
    )
    item.full_clean()
    item.save()
    return {"item": item.pk, "datasource": datasource.pk}


def update_item(*, item: int, **fields) -> dict:
    """An administrator's edit: save() bumps the item's config version."""
    from items.models import Item

    row = Item.objects.get(pk=item)
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()
    return {"item": row.pk, "config_version": row.config_version}


def expire_token(*, datasource: int, access_token: str = "expired-token") -> dict:
    from django.utils import timezone

    from datasources.models import AuthConfig

    AuthConfig.objects.filter(datasource_id=datasource).update(
        access_token=access_token, token_expires_at=timezone.now() - timedelta(minutes=5)
    )
    return {"expired": datasource}


def stored_token(*, datasource: int) -> dict:
    from datasources.models import AuthConfig

    auth = AuthConfig.objects.get(datasource_id=datasource)
    return {"access_token": auth.access_token}


def check_secret(*, datasource: int) -> dict:
    """Whether the datasource's stored API key can be decrypted with this process's FERNET_KEYS, and what it is (the
    tests' own distinctive secret, compared by the test)."""
    from cryptography.fernet import InvalidToken

    from datasources.models import AuthConfig

    try:
        value = AuthConfig.objects.get(datasource_id=datasource).api_key_value
    except InvalidToken:
        return {"readable": False, "matches": None}
    return {"readable": True, "matches": value}


TASKS = {
    task.__name__: task
    for task in (
        migrate,
        collectstatic,
        sign_in,
        create_user,
        create_item,
        update_item,
        expire_token,
        stored_token,
        check_secret,
    )
}

if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps([TASKS[task](**arguments) for task, arguments in json.loads(sys.argv[1])]))
