"""Round trip: an instance with every authentication mode, pagination, a POST body and bindings is exported, applied
to an empty database with the secrets in the environment, and answers the same options for the same queries from a
real local HTTPS API; exported again, the file is identical. Applying an export to its own instance changes nothing."""

import base64
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from applications.models import Application
from audit.models import AuditEntry
from configuration.applier import apply_configuration
from configuration.exporter import dump, export_configuration
from datasources.models import AuthConfig, Datasource
from items.bindings import save_bindings
from items.models import Item
from tests.applications.conftest import make_application
from tests.conftest import (
    ALL_SECRETS,
    SECRET_ACCESS_TOKEN,
    SECRET_API_KEY,
    SECRET_CLIENT_SECRET,
    SECRET_PASSWORD,
    SECRET_REFRESH_TOKEN,
    assert_no_secret,
    make_datasource,
)
from tests.support import geo_api
from tests.support.https_server import send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("trust_test_ca")]

CC_TOKEN = "issued-token-cc-77"
ENTRIES = [{"id": f"e{n}", "name": f"Entry {n}"} for n in range(1, 7)]


def _json(handler, data, status=200, headers=()):
    send(handler, status, json.dumps(data).encode(), headers=headers)


def _query(handler) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}


def _guarded(check):
    def route(handler):
        if not check(handler):
            return _json(handler, {"error": "unauthorised"}, status=401)
        if handler.headers.get("X-Team") != "blue":
            return _json(handler, {"error": "no team"}, status=400)
        _json(handler, ENTRIES[:2])

    return route


def _token(handler):
    expected = "Basic " + base64.b64encode(f"connect:{SECRET_CLIENT_SECRET}".encode()).decode()
    if handler.headers.get("Authorization") != expected:
        return _json(handler, {"error": "invalid_client"}, status=401)
    _json(handler, {"access_token": CC_TOKEN, "token_type": "Bearer", "expires_in": 3600})


def _pages(handler):
    page = int(_query(handler).get("page", "1"))
    _json(handler, {"items": ENTRIES[(page - 1) * 2 : page * 2]})


def _search(handler):
    body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) or b"{}")
    _json(handler, [e for e in ENTRIES if body.get("q", "") in e["name"]])


BASIC = "Basic " + base64.b64encode(f"elements:{SECRET_PASSWORD}".encode()).decode()
ROUTES = {
    "/api/basic": _guarded(lambda h: h.headers.get("Authorization") == BASIC),
    "/api/key": _guarded(lambda h: h.headers.get("X-API-Key") == SECRET_API_KEY),
    "/api/query": _guarded(lambda h: _query(h).get("api_key") == SECRET_API_KEY),
    "/api/cc": _guarded(lambda h: h.headers.get("Authorization") == f"Bearer {CC_TOKEN}"),
    "/api/code": _guarded(lambda h: h.headers.get("Authorization") == f"Bearer {SECRET_ACCESS_TOKEN}"),
    "/api/token": _token,
    "/api/pages": _pages,
    "/api/search": _search,
    **geo_api.ROUTES,
}


def build_instance(server) -> None:
    base = server.url("/api")
    team = [("X-Team", "blue")]
    common = {"list_path": "", "key_field": "id", "label_template": "{name}", "query": ""}
    sources = {
        "Basic API": make_datasource(
            name="Basic API",
            base_url=f"{base}/basic",
            mode="basic",
            username="elements",
            password=SECRET_PASSWORD,
            headers=team,
        ),
        "Key API": make_datasource(
            name="Key API",
            base_url=f"{base}/key",
            mode="api_key",
            api_key_name="X-API-Key",
            api_key_value=SECRET_API_KEY,
            headers=team,
        ),
        "Query key API": make_datasource(
            name="Query key API",
            base_url=f"{base}/query",
            mode="api_key",
            api_key_location="query",
            api_key_name="api_key",
            api_key_value=SECRET_API_KEY,
            headers=team,
        ),
        "Client API": make_datasource(
            name="Client API",
            base_url=f"{base}/cc",
            mode="oauth2_client_credentials",
            token_url=f"{base}/token",
            client_id="connect",
            client_secret=SECRET_CLIENT_SECRET,
            scopes="read",
            headers=team,
        ),
        "Consent API": make_datasource(
            name="Consent API",
            base_url=f"{base}/code",
            mode="oauth2_authorization_code",
            authorization_url=f"{base}/authorize",
            token_url=f"{base}/token",
            client_id="connect",
            client_secret=SECRET_CLIENT_SECRET,
            access_token=SECRET_ACCESS_TOKEN,
            refresh_token=SECRET_REFRESH_TOKEN,
            headers=team,
        ),
    }
    for name, datasource in sources.items():
        Item.objects.create(name=f"{name} entries", datasource=datasource, **common)
    plain = make_datasource(name="Plain API", base_url=base)
    Item.objects.create(
        name="Paged",
        datasource=plain,
        list_path="items",
        key_field="id",
        label_template="{name}",
        query="/pages",
        pagination="page",
        page_parameter="page",
        page_start=1,
        page_step=1,
        max_pages=5,
    )
    Item.objects.create(
        name="Search",
        datasource=plain,
        key_field="id",
        label_template="{name}",
        list_path="",
        query="/search",
        method="POST",
        body_template='{"q": "$userInput"}',
        user_input_optional=True,
    )
    chain = geo_api.make_chain(server)
    save_bindings(item=chain.city, sources={"region": chain.region})
    make_application(name="Portal", items=[chain.country, chain.city], origins=["https://forms.example.com"])


QUERIES = [
    ("Basic API entries", ""),
    ("Key API entries", ""),
    ("Query key API entries", ""),
    ("Client API entries", ""),
    ("Paged", ""),
    ("Search", "?q=Entry%203"),
    ("Country", ""),
    ("Region", "?country=NL"),
    ("City", "?region=NH&q=a"),
]


def answers(client) -> dict:
    found = {}
    for name, query in QUERIES:
        item = Item.objects.get(name=name)
        response = client.get(f"/api/items/{item.pk}/options{query}")
        assert response.status_code == 200, (name, response.content)
        found[name] = response.json()["options"]
    return found


def environment(text: str) -> dict:
    """The secrets each ${env:NAME} of the export stands for, as an operator would set them."""
    by_field = {"PASSWORD": SECRET_PASSWORD, "API_KEY_VALUE": SECRET_API_KEY, "CLIENT_SECRET": SECRET_CLIENT_SECRET}
    names = re.findall(r"\$\{env:([A-Z0-9_]+)\}", text)
    return {name: next(v for suffix, v in by_field.items() if name.endswith(suffix)) for name in names}


@pytest.fixture
def member(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("filler"))
    return client


def test_an_instance_applied_to_an_empty_database_answers_the_same_and_exports_the_same(start_server, member):
    server = start_server(ROUTES)
    build_instance(server)
    before = answers(member)
    exported = dump(export_configuration())
    assert_no_secret(exported)
    calls_before = len(server.requests)

    Application.objects.all().delete()
    Datasource.objects.all().delete()
    assert not Item.objects.exists()
    result = apply_configuration(exported, environ=environment(exported))

    assert result.errors == []
    assert answers(member) == before
    assert len(server.requests) > calls_before  # the new instance asked the API itself
    assert dump(export_configuration()) == exported
    consent = AuthConfig.objects.get(datasource__name="Consent API")
    assert consent.client_secret == SECRET_CLIENT_SECRET and not consent.access_token  # connect again: consent


def test_applying_an_export_to_its_own_instance_reports_no_change(start_server, tmp_path, monkeypatch, capsys):
    build_instance(start_server(ROUTES))
    path = tmp_path / "connect.yaml"
    call_command("export_config", "--output", str(path))
    for name, value in environment(path.read_text()).items():
        monkeypatch.setenv(name, value)
    entries = AuditEntry.objects.count()

    call_command("apply_config", str(path))

    out = capsys.readouterr().out
    assert "0 created, 0 changed, 0 deleted, 18 unchanged" in out
    assert AuditEntry.objects.exclude(object_type="configuration").count() == entries
    assert_no_secret(path.read_text(), ALL_SECRETS)
