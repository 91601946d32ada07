"""Each role against every page and API: a table over Connect's URL map. A URL without a row here fails
test_every_url_has_a_rule, so a new page cannot ship without saying who may use it.

To add a URL: add a row to RULES with the least role that may use it (or PUBLIC, SIGNED_IN for the item API).
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from applications.models import Application
from items.models import Item
from tests.conftest import make_datasource, with_role

pytestmark = pytest.mark.django_db

PUBLIC = "public"  # no sign-in needed (or the view judges something else: the metrics token, a 404)
SIGNED_IN = "signed in"  # any signed-in account (the item API; the item's own rule is tested in test_item_access)
VIEWER, EDITOR, ADMINISTRATOR = "Viewer", "Editor", "Administrator"
TOKEN_ONLY = "an embedding token only"  # no signed-in account, whatever its role (the purge API, for webhooks)

RULES = {
    "api/items/<int:pk>/options": SIGNED_IN,
    "api/items/<int:pk>/options/": SIGNED_IN,
    "api/items/<int:pk>/field": SIGNED_IN,
    "api/items/<int:pk>/selections": SIGNED_IN,
    "api/items/<int:pk>/verify": SIGNED_IN,
    "api/items/<int:pk>/labels": SIGNED_IN,
    "api/items/<int:pk>/cache/purge": TOKEN_ONLY,
    "": PUBLIC,
    "login/": PUBLIC,
    "logout/": PUBLIC,
    "datasources/": VIEWER,
    "datasources/new/": EDITOR,
    "datasources/new/name/": EDITOR,
    "datasources/new/configuration/": EDITOR,
    "datasources/<int:pk>/": VIEWER,
    "datasources/<int:pk>/edit/": EDITOR,
    "datasources/<int:pk>/delete/": EDITOR,
    "datasources/<int:pk>/test/": EDITOR,
    "datasources/<int:pk>/oauth/connect/": ADMINISTRATOR,
    "datasources/<int:pk>/oauth/disconnect/": ADMINISTRATOR,
    "items/": VIEWER,
    "items/new/": EDITOR,
    "items/<int:pk>/": PUBLIC,  # a redirect to the item's preview page, which is checked
    "items/<int:pk>/edit/": EDITOR,
    "items/<int:pk>/delete/": EDITOR,
    "items/<int:pk>/preview/": VIEWER,
    "items/<int:pk>/try/": VIEWER,
    "items/<int:pk>/cache/refresh/": EDITOR,
    "applications/": VIEWER,
    "applications/new/": ADMINISTRATOR,
    "applications/<int:pk>/": VIEWER,
    "applications/<int:pk>/edit/": ADMINISTRATOR,
    "applications/<int:pk>/toggle/": ADMINISTRATOR,
    "applications/<int:pk>/rotate/": ADMINISTRATOR,
    "applications/<int:pk>/secret/": ADMINISTRATOR,
    "applications/<int:pk>/delete/": ADMINISTRATOR,
    "audit/": ADMINISTRATOR,
    "configuration/": ADMINISTRATOR,
    "configuration/export.yaml": ADMINISTRATOR,
    "configuration/upload/": ADMINISTRATOR,
    "configuration/<int:pk>/apply/": ADMINISTRATOR,
    "api/datasources/": VIEWER,
    "api/datasources/<int:pk>/": VIEWER,
    "^api/": PUBLIC,
    "oauth/callback/": ADMINISTRATOR,
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "metrics": PUBLIC,
    "favicon.ico": PUBLIC,
}
# The admin site checks the same permissions itself: tests/core/test_admin_pages_by_role.py has its own table.
OWN_RULES = ("admin/",)

# Who asks, from nobody to everybody; each role's rank says which rules it passes.
ACTORS = ["anonymous", "member", "staff without a role", VIEWER, EDITOR, ADMINISTRATOR, "superuser"]
RANK = {"anonymous": 0, "member": 1, "staff without a role": 1, VIEWER: 2, EDITOR: 3, ADMINISTRATOR: 4, "superuser": 5}
NEEDED = {PUBLIC: 0, SIGNED_IN: 1, VIEWER: 2, EDITOR: 3, ADMINISTRATOR: 4, TOKEN_ONLY: 6}


def url_map(resolver=None, prefix=""):
    """Every route of the URL map, as written in the urlconfs ("datasources/<int:pk>/edit/")."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route in OWN_RULES:
                continue
            yield from url_map(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


def test_every_url_has_a_rule():
    routes = list(url_map())

    assert [route for route in routes if route not in RULES] == []
    assert [route for route in RULES if route not in routes] == []


def _allowed(actor: str, rule: str) -> bool:
    if actor == "staff without a role" and rule in (VIEWER, EDITOR, ADMINISTRATOR):
        return False
    return RANK[actor] >= NEEDED[rule]


@pytest.fixture
def objects(db):
    # A private address: any call a test makes is refused at once by the address policy, never sent.
    datasource = make_datasource(name="Jira", base_url="https://127.0.0.1:9/rest")
    item = Item.objects.create(name="Issues", datasource=datasource, query="/search", user_input_optional=True)
    application = Application.objects.create(name="Portal")
    return {"datasources": datasource.pk, "items": item.pk, "applications": application.pk}


def _path(route: str, objects: dict) -> str:
    if route == "^api/":
        return "/api/nothing-here"
    kind = route.removeprefix("api/").split("/")[0]
    if kind == "configuration":
        return "/" + route.replace("<int:pk>", "1")
    return "/" + route.replace("<int:pk>", str(objects.get(kind, 1)))


def sign_in(client, django_user_model, actor: str):
    if actor == "anonymous":
        return client
    if actor == "superuser":
        user = django_user_model.objects.create_superuser("root", "root@example.com", None)
    else:
        # No password (force_login needs none): hashing one costs more than the request under test.
        user = django_user_model.objects.create_user("someone", "s@example.com")
        user.is_staff = actor != "member"
        user.save()
        if actor in (VIEWER, EDITOR, ADMINISTRATOR):
            with_role(user, actor)
    client.force_login(user)
    return client


def _refused(response, path: str, actor: str) -> bool:
    if path.startswith("/api/"):
        return response.status_code in (401, 403)
    if actor == "anonymous":
        return response.status_code == 302 and response["Location"].startswith("/login/?next=")
    return response.status_code == 403


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", sorted(RULES))
def test_each_role_against_every_url(client, django_user_model, objects, route, actor, method):
    path = _path(route, objects)
    client = sign_in(client, django_user_model, actor)

    response = getattr(client, method)(path)

    if path.startswith("/api/") and response.status_code == 405:
        return  # the JSON APIs answer a method they do not serve before they judge the caller: nothing is run
    expected = "allowed" if _allowed(actor, RULES[route]) else "refused"
    assert ("refused" if _refused(response, path, actor) else "allowed") == expected, (
        f"{method.upper()} {path} as {actor}: {response.status_code}"
    )


def test_staff_without_a_role_are_told_which_role_to_ask_for(client, django_user_model, objects):
    sign_in(client, django_user_model, "staff without a role")

    response = client.get(f"/datasources/{objects['datasources']}/edit/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "needs the <strong>Editor</strong> role" in page
    assert "Ask an administrator" in page


def test_a_viewer_is_told_an_administrator_page_needs_the_administrator_role(client, django_user_model, objects):
    sign_in(client, django_user_model, VIEWER)

    response = client.get("/applications/new/")

    assert response.status_code == 403
    assert "needs the <strong>Administrator</strong> role" in response.content.decode()


def test_the_datasource_api_names_the_role_in_its_json_refusal(client, django_user_model, objects):
    sign_in(client, django_user_model, "staff without a role")

    response = client.get("/api/datasources/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "Viewer role" in response.json()["error"]["message"]


def test_a_refused_post_changes_nothing(client, django_user_model, objects):
    sign_in(client, django_user_model, VIEWER)

    client.post(f"/datasources/{objects['datasources']}/delete/")
    client.post(f"/applications/{objects['applications']}/delete/")

    assert Item.objects.filter(pk=objects["items"]).exists()
    assert Application.objects.filter(pk=objects["applications"]).exists()


def test_the_navigation_shows_only_what_the_role_may_open(client, django_user_model, objects):
    sign_in(client, django_user_model, VIEWER)

    page = client.get("/datasources/").content.decode()

    assert 'href="/items/"' in page and 'href="/applications/"' in page
    assert "Create datasource" not in page
