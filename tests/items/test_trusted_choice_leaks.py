"""No secret in any answer or log line of the trusted-choice endpoints (/selections, /verify, /labels): not the
application's secret that signs the proofs, not the datasource's API key (sent as a query parameter, and echoed
back by the API in its answers), not in a proof's claims either. And what a person typed is never logged."""

import base64
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from applications.services import lookup, usage
from tests.applications.conftest import make_application, mint
from tests.support import geo_api
from tests.support.https_server import send

from ..conftest import SECRET_API_KEY, assert_no_secret

pytestmark = pytest.mark.django_db

APP_SECRET = "s3cr3t-APP-SECRET-5e9d0c2b7a41f3e6d8c9b0a1"
SECRETS = (APP_SECRET, SECRET_API_KEY)
TYPED = "zq-typed-by-a-person-8812"


@pytest.fixture(autouse=True)
def _fresh_application_memory():
    lookup.application_lookup.clear()
    lookup.verified_tokens.clear()
    usage.forget_uses()
    yield
    lookup.application_lookup.clear()
    lookup.verified_tokens.clear()


def _echo(handler, data, status=200):
    """Answer `data` with the API key the request carried echoed into every name and a header."""
    key = parse_qs(urlsplit(handler.path).query).get("appid", [""])[0]
    for entry in data if isinstance(data, list) else [data]:
        entry["name"] = f"{entry['name']} (key {key})"
    send(handler, status, json.dumps(data).encode(), headers=[("X-Echo", key)])


def _query(handler) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(handler.path).query).items()}


def _cities(region: str) -> list[str]:
    return [
        c
        for _n, regions in geo_api.GEO.values()
        for code, (_r, cities) in regions.items()
        if code == region
        for c in cities
    ]


def cities(handler):
    query = _query(handler)
    if geo_api.FAILING_TEXT in query.get("q", ""):
        return _echo(handler, {"name": "upstream exploded"}, status=500)
    found = [c for c in _cities(query.get("region", "")) if query.get("q", "").lower() in c.lower()]
    _echo(handler, [{"code": c[:3].upper(), "name": c} for c in found])


def city(handler):
    code = _query(handler).get("code", "")
    found = [c for region in ("NH", "ZH", "IDF", "ARA") for c in _cities(region) if c[:3].upper() == code]
    _echo(
        handler, {"code": code, "name": found[0]} if found else {"name": "no such city"}, status=200 if found else 404
    )


def countries(handler):
    _echo(handler, [{"code": code, "name": name} for code, (name, _regions) in geo_api.GEO.items()])


ECHOING = {"/geo/countries": countries, "/geo/regions": geo_api.regions, "/geo/cities": cities, "/geo/city": city}


@pytest.fixture
def keyed(start_server, trust_test_ca):
    server = start_server(ECHOING)
    chain = geo_api.make_chain(server)
    datasource = chain.city.datasource
    datasource.auth.mode = "api_key"
    datasource.auth.api_key_location = "query"
    datasource.auth.api_key_name = "appid"
    datasource.auth.api_key_value = SECRET_API_KEY
    datasource.auth.save()
    datasource.bump_config_version()
    application = make_application(name="Shop", items=[chain.country, chain.region, chain.city], origins=[])
    application.secret = APP_SECRET
    application.save()
    return server, chain, application


def claims_of(proof: str) -> str:
    payload = proof.split(".")[1]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()


def everything_said(response) -> str:
    """The answer as a caller sees it: status, headers, body, and a proof's claims decoded."""
    text = f"{response.status_code}\n{dict(response.items())}\n{response.content.decode()}"
    try:
        proof = response.json().get("proof")
    except ValueError:
        proof = None
    return text + (claims_of(proof) if isinstance(proof, str) else "")


def test_no_secret_in_any_answer_or_log_line_of_the_new_endpoints(client, keyed, caplog):
    server, chain, application = keyed
    caplog.set_level(logging.DEBUG)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {mint(application)}"}
    city = f"/api/items/{chain.city.pk}"

    def post(endpoint, body):
        return client.post(f"{city}/{endpoint}", data=json.dumps(body), content_type="application/json", **auth)

    answers = []
    selection = post("selections", {"keys": ["AMS"], "q": "am", "values": {"region": "NH"}})
    assert selection.status_code == 200, selection.content
    answers.append(selection)
    answers.append(post("selections", {"keys": ["AMS"], "q": "am", "values": {"region": "NH"}}))  # a cache hit
    answers.append(post("selections", {"keys": ["ROT"], "q": "am", "values": {"region": "NH"}}))  # not an option
    answers.append(post("selections", {"keys": ["AMS"], "q": geo_api.FAILING_TEXT, "values": {"region": "NH"}}))
    answers.append(post("verify", {"proof": selection.json()["proof"]}))
    answers.append(post("verify", {"proof": selection.json()["proof"] + "x"}))
    answers.append(post("verify", {"keys": ["AMS"], "q": "am", "values": {"region": "NH"}}))
    answers.append(post("verify", {"keys": "AMS"}))
    answers.append(client.get(f"{city}/labels?key=AMS&key=NOPE", **auth))
    answers.append(client.get(f"/api/items/{chain.country.pk}/labels?key=NL", **auth))
    answers.append(client.get(f"{city}/labels?key=AMS", HTTP_AUTHORIZATION="Bearer forged." + APP_SECRET))

    assert any(SECRET_API_KEY in r["path"] for r in server.requests)  # the key really was sent ...
    assert "Amsterdam (key ***)" in selection.json()["labels"]["AMS"]  # ... and echoed back, masked
    for response in answers:
        assert_no_secret(everything_said(response), SECRETS)
    assert caplog.records and any(r.name == "connect.client" for r in caplog.records)
    assert_no_secret(caplog.text, SECRETS)


@pytest.fixture
def chain(start_server, trust_test_ca):
    return geo_api.make_chain(start_server(geo_api.ROUTES))


def info_and_above(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)


def test_typed_text_is_never_logged_at_info_by_a_selection_or_verification(client, chain, django_user_model, caplog):
    """A miss (the API is called), a hit, a key that is not an option, an upstream failure."""
    client.force_login(django_user_model.objects.create_user("filler"))
    caplog.set_level(logging.INFO)
    bodies = [
        {"keys": ["NOPE"], "q": TYPED, "values": {"region": "NH"}},
        {"keys": ["NOPE"], "q": TYPED, "values": {"region": "NH"}},
        {"keys": ["AMS"], "q": f"{TYPED}-{geo_api.FAILING_TEXT}", "values": {"region": "NH"}},
    ]
    statuses = []
    for endpoint in ("selections", "verify"):
        for body in bodies:
            response = client.post(
                f"/api/items/{chain.city.pk}/{endpoint}", data=json.dumps(body), content_type="application/json"
            )
            statuses.append(response.status_code)
    assert statuses == [400, 400, 502, 200, 200, 502]
    assert any(r.name == "connect.client" for r in caplog.records)  # the API was called, and that was logged
    assert TYPED not in info_and_above(caplog)


def test_typed_text_is_never_logged_at_info_by_labels(client, chain, django_user_model, caplog):
    client.force_login(django_user_model.objects.create_user("filler"))
    caplog.set_level(logging.INFO)
    response = client.get(f"/api/items/{chain.city.pk}/labels", {"key": [TYPED, "AMS"]})
    assert response.json() == {"labels": {TYPED: None, "AMS": "Amsterdam"}}
    assert TYPED not in info_and_above(caplog)


@pytest.mark.parametrize(
    "body",
    [
        '{"keys": ["AMS"], "q": "TYPED"',  # malformed JSON
        '{"keys": ["AMS"], "q": ["TYPED"], "values": {}}',  # q of the wrong shape
        '{"keys": [{"typed": "TYPED"}], "q": "TYPED"}',  # a key of the wrong shape
        '{"keys": ["TYPED"], "q": "TYPED", "values": "TYPED"}',  # values of the wrong shape
    ],
)
@pytest.mark.parametrize("endpoint", ["selections", "verify"])
def test_bad_input_is_refused_without_logging_what_was_typed(client, chain, django_user_model, caplog, body, endpoint):
    client.force_login(django_user_model.objects.create_user("filler"))
    caplog.set_level(logging.DEBUG)
    data = body.replace("TYPED", TYPED)
    response = client.post(f"/api/items/{chain.city.pk}/{endpoint}", data=data, content_type="application/json")
    assert response.status_code == 400
    assert TYPED not in caplog.text
