"""The README's recipes for verifying a selection proof (Python with PyJWT, shell with openssl and jq) accept the
proofs Connect makes, and refuse a key changed after the choice, another item's proof, a forged one and an expired
one."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import jwt
import pytest

from applications.services import lookup
from tests.applications.conftest import make_application, mint
from tests.support import geo_api

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def recipe(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", README.read_text(), re.S)
    assert found, f"README has no {marker} block"
    return found.group(1)


@pytest.fixture(autouse=True)
def _fresh_application_memory():
    lookup.application_lookup.clear()
    lookup.verified_tokens.clear()
    yield
    lookup.application_lookup.clear()


@pytest.fixture
def made(client, start_server, trust_test_ca):
    """A proof Connect made for the user "shopper" of an application, choosing Amsterdam in the City field."""
    chain = geo_api.make_chain(start_server(geo_api.ROUTES))
    application = make_application(items=[chain.country, chain.city], origins=[])
    response = client.post(
        f"/api/items/{chain.city.pk}/selections",
        data='{"keys": ["AMS"], "q": "am", "values": {"region": "NH"}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {mint(application, sub='shopper')}",
    )
    assert response.status_code == 200, response.content
    return response.json()["proof"], application, chain


def expired(application, item) -> str:
    now = int(time.time())
    claims = {"iss": "connect", "aud": str(application.pk), "sub": "shopper", "item": item.pk, "keys": ["AMS"]}
    claims.update(labels={"AMS": "Amsterdam"}, values={"region": "NH"}, iat=now - 7200, exp=now - 3600)
    return jwt.encode(claims, application.secret, algorithm="HS256")


def forged(proof: str) -> str:
    header, payload, signature = proof.split(".")
    return f"{header}.{payload}.{signature[:-4]}AAAA"


def test_the_python_recipe(made):
    proof, application, chain = made
    namespace = {}
    exec(recipe("verify-proof-python"), namespace)

    def label(**changes):
        arguments = {
            "proof": proof,
            "application_id": application.pk,
            "secret": application.secret,
            "item": chain.city.pk,
            "user": "shopper",
            "key": "AMS",
        }
        arguments.update(changes)
        return namespace["verified_label"](**arguments)

    assert label() == "Amsterdam"
    assert label(key="ROT") is None
    assert label(item=chain.country.pk) is None
    assert label(user="somebody-else") is None
    assert label(application_id=application.pk + 1) is None
    assert label(proof=forged(proof)) is None
    assert label(proof=expired(application, chain.city)) is None


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("jq")), reason="needs openssl and jq")
def test_the_shell_recipe(made):
    proof, application, chain = made

    def run(**changes):
        env = {
            "PATH": os.environ["PATH"],
            "PROOF": proof,
            "APP_ID": str(application.pk),
            "APP_SECRET": application.secret,
            "ITEM": str(chain.city.pk),
            "USER_NAME": "shopper",
            "KEY": "AMS",
        }
        env.update(changes)
        return subprocess.run(
            ["bash", "-c", recipe("verify-proof-shell")], env=env, capture_output=True, text=True, timeout=20
        )

    accepted = run()
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.strip() == "Amsterdam"
    for changes, why in [
        ({"KEY": "ROT"}, "claims"),
        ({"ITEM": str(chain.country.pk)}, "claims"),
        ({"USER_NAME": "somebody-else"}, "claims"),
        ({"APP_ID": str(application.pk + 1)}, "claims"),
        ({"PROOF": forged(proof)}, "forged"),
        ({"PROOF": expired(application, chain.city)}, "claims"),
        ({"APP_SECRET": "not-the-secret"}, "forged"),
    ]:
        refused = run(**changes)
        assert refused.returncode != 0 and f"refused: {why}" in refused.stderr, (changes, refused.stderr)
        assert "Amsterdam" not in refused.stdout


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("jq")), reason="needs openssl and jq")
def test_the_shell_recipe_refuses_alg_none(made):
    proof, application, chain = made
    unsigned = jwt.encode(jwt.decode(proof, options={"verify_signature": False}), None, algorithm="none")
    env = {"PATH": os.environ["PATH"], "PROOF": unsigned, "APP_ID": str(application.pk)}
    env.update(APP_SECRET=application.secret, ITEM=str(chain.city.pk), USER_NAME="shopper", KEY="AMS")
    refused = subprocess.run(
        ["bash", "-c", recipe("verify-proof-shell")], env=env, capture_output=True, text=True, timeout=20
    )
    assert refused.returncode != 0 and "refused: not HS256" in refused.stderr
