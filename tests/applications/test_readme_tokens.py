"""The README's token recipes (Python with PyJWT, shell with openssl) make tokens Connect accepts."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from items.models import Item
from tests.conftest import make_datasource

from .conftest import make_application

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def recipe(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", README.read_text(), re.S)
    assert found, f"README has no {marker} block"
    return found.group(1)


@pytest.fixture
def item(db):
    return Item.objects.create(
        name="Assets", datasource=make_datasource(), query="/assets?q=$userInput", key_field="id"
    )


def field(client, item, token):
    return client.get(f"/api/items/{item.pk}/field", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_python_recipe(client, item):
    application = make_application(items=[item], origins=[])
    namespace = {}
    exec(recipe("mint-token-python"), namespace)
    token = namespace["embedding_token"](
        application_id=application.pk,
        secret=application.secret,
        connect_url="http://testserver",
        user="filler",
        items=[item.pk],
        email="filler@example.com",
        name="Fay Filler",
    )
    response = field(client, item, token)
    assert response.status_code == 200, response.content
    assert response.wsgi_request.caller.display_name == "Fay Filler"


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")
def test_the_shell_recipe(client, item):
    application = make_application(items=[item], origins=[])
    env = {
        "PATH": os.environ["PATH"],
        "APP_ID": str(application.pk),
        "APP_SECRET": application.secret,
        "CONNECT_URL": "http://testserver",
        "USER_NAME": "filler",
        "ITEMS": str(item.pk),
    }
    token = subprocess.run(
        ["bash", "-c", recipe("mint-token-shell")], env=env, capture_output=True, text=True, check=True, timeout=20
    ).stdout.strip()
    response = field(client, item, token)
    assert response.status_code == 200, response.content
    assert response.wsgi_request.caller.username == "filler"
