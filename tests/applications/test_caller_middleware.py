"""The caller middleware: request.caller for the item API, a session's user or an embedding token's, and the
refusal instead when a token is refused. Items learn who calls from it, not from the applications app."""

import ast
import pathlib

import pytest

from items.models import Item
from tests.conftest import make_datasource

from .conftest import make_application, mint

pytestmark = pytest.mark.django_db

ORIGIN = "https://forms.example.com"


@pytest.fixture
def item(db):
    return Item.objects.create(name="Assets", datasource=make_datasource(), query="/assets", key_field="id")


def test_a_signed_in_user_is_the_caller(client, django_user_model, item):
    user = django_user_model.objects.create_user("filler", email="filler@example.com", password="pw-12345-long")
    client.force_login(user)
    request = client.get(f"/api/items/{item.pk}/field").wsgi_request
    assert request.caller.username == "filler" and request.caller.email == "filler@example.com"
    assert request.caller.application is None and request.caller_refusal is None


def test_an_embedding_token_is_the_caller_with_its_application(client, item):
    application = make_application(items=[item], origins=[ORIGIN])
    token = mint(application, sub="shopper", items=[item.pk])
    response = client.get(f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response.wsgi_request.caller.username == "shopper"
    assert response.wsgi_request.caller.application.pk == application.pk


def test_a_refused_token_is_never_rescued_by_the_session(client, django_user_model, item):
    client.force_login(django_user_model.objects.create_user("filler", password="pw-12345-long"))
    response = client.get(f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    assert response.wsgi_request.caller is None
    assert response.wsgi_request.caller_refusal.code == "invalid_token"


def test_a_token_for_another_item_is_refused_for_this_one(client, item):
    other = Item.objects.create(name="Other", datasource=item.datasource, query="/other", key_field="id")
    application = make_application(items=[item, other], origins=[ORIGIN])
    token = mint(application, sub="shopper", items=[other.pk])
    response = client.get(f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 403 and response.json()["error"]["code"] == "item_not_granted"


def test_no_caller_is_identified_outside_the_item_api(client):
    request = client.get("/healthz", HTTP_AUTHORIZATION="Bearer not-a-jwt").wsgi_request
    assert request.caller is None and request.caller_refusal is None


def test_items_import_nothing_of_applications():
    """Imports run one way: applications (which grants items) above items."""
    root = pathlib.Path(__file__).resolve().parents[2] / "items"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "applications"]
    assert offenders == []
