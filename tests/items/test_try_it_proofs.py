"""Try it verifies each submitted key's selection proof as the system receiving the form would, and says so."""

import re
import time

import jwt
import pytest

from items.services.proofs import session_proof_key
from tests.support import geo_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(start_server, trust_test_ca):
    return geo_api.make_chain(start_server(geo_api.ROUTES))


def proof_of(client, item, body: str) -> str:
    response = client.post(f"/api/items/{item.pk}/selections", data=body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["proof"]


def verdicts(client, chain, **sent) -> dict:
    page = client.post(f"/items/{chain.city.pk}/try/", sent).content.decode()
    return dict(re.findall(r'data-proof-verdict="(\w+)" data-proof-code="(\w+)"', page))


def test_a_proof_made_in_this_session_is_valid(staff_client, chain):
    proof = proof_of(staff_client, chain.city, '{"keys": ["AMS"], "q": "am", "values": {"region": "NH"}}')
    page = staff_client.post(f"/items/{chain.city.pk}/try/", {"city": "AMS", "city_proof": proof}).content.decode()
    assert 'data-proof-code="valid"' in page and "Connect signed this choice of “Amsterdam” (AMS)" in page
    assert f'data-sent="city_proof">{proof}<' in page


def test_a_changed_key_does_not_match_its_proof(staff_client, chain):
    proof = proof_of(staff_client, chain.city, '{"keys": ["AMS"], "q": "am", "values": {"region": "NH"}}')
    assert verdicts(staff_client, chain, city="ROT", city_proof=proof) == {"city": "other_keys"}


def test_a_key_sent_without_a_proof_says_so(staff_client, chain):
    assert verdicts(staff_client, chain, country="NL", city="AMS") == {"country": "missing", "city": "missing"}


def test_a_forged_expired_or_other_items_proof_is_refused(staff_client, chain):
    now = int(time.time())
    claims = {"iss": "connect", "aud": "connect", "sub": "admin", "item": chain.city.pk, "keys": ["AMS"]}
    claims.update(labels={"AMS": "Amsterdam"}, values={"region": "NH"}, iat=now - 7200, exp=now - 3600)
    expired = jwt.encode(claims, session_proof_key(), algorithm="HS256")
    forged = jwt.encode({**claims, "exp": now + 600}, "not-the-key-0123456789abcdef0123456789", algorithm="HS256")
    country = proof_of(staff_client, chain.country, '{"keys": ["NL"]}')
    assert verdicts(staff_client, chain, city="AMS", city_proof=expired) == {"city": "proof_expired"}
    assert verdicts(staff_client, chain, city="AMS", city_proof=forged) == {"city": "proof_forged"}
    assert verdicts(staff_client, chain, city="AMS", city_proof=country) == {"city": "other_item"}


def test_the_try_it_form_is_sent_by_post_so_typed_text_never_lands_in_a_url(staff_client, chain):
    page = staff_client.get(f"/items/{chain.city.pk}/try/").content.decode()
    assert '<form method="post"' in page and "csrfmiddlewaretoken" in page

    ignored = staff_client.get(f"/items/{chain.city.pk}/try/", {"city": "typed-in-the-url"}).content.decode()
    assert "typed-in-the-url" not in ignored and "data-submitted" not in ignored
