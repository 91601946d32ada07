"""Each role against every page of the admin site: a table over the admin's models (a model registered without a
row here fails test_every_admin_model_has_a_rule). A page answers each role with its page (200), a refusal (403), or
for anyone not staff the admin's sign-in (302), never an error."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.urls import URLResolver, get_resolver

from applications.models import Application
from audit.models import AuditEntry
from items.models import Item
from tests.conftest import make_datasource
from tests.core.test_roles import ADMINISTRATOR, EDITOR, VIEWER, sign_in

pytestmark = pytest.mark.django_db

SUPERUSER = "superuser"
NOBODY = "nobody"  # not even a superuser (read-only models)

# Model route -> the least role that may view it, add one, change one, delete one.
ADMIN_RULES = {
    "datasources/datasource/": {"view": VIEWER, "add": EDITOR, "change": EDITOR, "delete": EDITOR},
    "items/item/": {"view": VIEWER, "add": EDITOR, "change": EDITOR, "delete": EDITOR},
    "applications/application/": {"view": VIEWER, "add": NOBODY, "change": ADMINISTRATOR, "delete": ADMINISTRATOR},
    "audit/auditentry/": {"view": ADMINISTRATOR, "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    "auth/user/": {"view": ADMINISTRATOR, "add": SUPERUSER, "change": ADMINISTRATOR, "delete": SUPERUSER},
    "auth/group/": {"view": ADMINISTRATOR, "add": SUPERUSER, "change": SUPERUSER, "delete": SUPERUSER},
    # django-axes' sign-in records: no role holds their permissions.
    "axes/accessattempt/": {"view": SUPERUSER, "add": NOBODY, "change": SUPERUSER, "delete": SUPERUSER},
    "axes/accesslog/": {"view": SUPERUSER, "add": NOBODY, "change": SUPERUSER, "delete": SUPERUSER},
    "axes/accessfailurelog/": {"view": SUPERUSER, "add": NOBODY, "change": SUPERUSER, "delete": SUPERUSER},
}
ACTORS = ["staff without a role", VIEWER, EDITOR, ADMINISTRATOR, SUPERUSER]
RANK = {"staff without a role": 1, VIEWER: 2, EDITOR: 3, ADMINISTRATOR: 4, SUPERUSER: 5, NOBODY: 6}
# Page -> (path under the model's route, method, what it needs).
PAGES = {
    "list": ("", "get", "view"),
    "add": ("add/", "get", "add"),
    "change page": ("{pk}/change/", "get", "view"),
    "change": ("{pk}/change/", "post", "change"),
    "history": ("{pk}/history/", "get", "view"),
    "delete page": ("{pk}/delete/", "get", "delete"),
}


def admin_model_routes():
    admin_resolver = next(pattern for pattern in get_resolver().url_patterns if str(pattern.pattern) == "admin/")
    for pattern in admin_resolver.url_patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver) and route.count("/") == 2:
            yield route


def test_every_admin_model_has_a_rule():
    assert sorted(admin_model_routes()) == sorted(ADMIN_RULES)


@pytest.fixture
def objects(django_user_model):
    datasource = make_datasource(name="Jira", base_url="https://127.0.0.1:9/rest")
    item = Item.objects.create(name="Issues", datasource=datasource, query="/search", user_input_optional=True)
    application = Application.objects.create(name="Portal")
    entry = AuditEntry.objects.create(actor="someone", via="page", action="create", object_type="datasource")
    colleague = django_user_model.objects.create_user("colleague", is_staff=True)
    sign_in_record = {"user_agent": "test", "ip_address": "192.0.2.1", "username": "colleague", "path_info": "/login/"}
    attempt = AccessAttempt.objects.create(
        **sign_in_record, http_accept="*/*", get_data="", post_data="", failures_since_start=1
    )
    log = AccessLog.objects.create(**sign_in_record, http_accept="*/*")
    failure = AccessFailureLog.objects.create(**sign_in_record, http_accept="*/*")
    return {
        "datasources/datasource/": datasource.pk,
        "items/item/": item.pk,
        "applications/application/": application.pk,
        "audit/auditentry/": entry.pk,
        "auth/user/": colleague.pk,
        "auth/group/": Group.objects.get(name=VIEWER).pk,
        "axes/accessattempt/": attempt.pk,
        "axes/accesslog/": log.pk,
        "axes/accessfailurelog/": failure.pk,
    }


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("model", sorted(ADMIN_RULES))
def test_each_role_against_every_admin_page(client, django_user_model, objects, model, actor, page):
    suffix, method, needs = PAGES[page]
    path = f"/admin/{model}{suffix.format(pk=objects[model])}"
    sign_in(client, django_user_model, actor)

    response = getattr(client, method)(path)

    allowed = RANK[actor] >= RANK[ADMIN_RULES[model][needs]]
    # A refused change of a page one may view is its read-only page (GET) or a 403 (POST).
    assert response.status_code in ((200, 302) if allowed else (403,)), (
        f"{method.upper()} {path} as {actor}: {response.status_code}"
    )
