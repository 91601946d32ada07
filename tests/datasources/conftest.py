"""Datasource test helpers: read a rendered form like a browser would, walk the wizard, rotate Fernet keys."""

from html.parser import HTMLParser

import pytest
from django.apps import apps
from fernet_fields import EncryptedField

STEP3_URL = "/datasources/new/configuration/"


class _PageParser(HTMLParser):
    """Collects the post forms of a page (what a browser would submit) and the errors shown next to each input.

    An error is "next to" an input when both sit in the same field container: a `div.field` of
    includes/field.html or a `td` of a header row.
    """

    VOID = {"input", "br", "meta", "link", "img", "hr", "col", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.containers: list[dict] = []
        self._form = None
        self._in_template = 0
        self._stack: list[str] = []  # open elements, "ul.errorlist" marks an error list
        self._open: list[dict] = []  # open field containers, each with the stack depth it opened at
        self._error = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "template":
            self._in_template += 1
        if self._in_template:
            return
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = {"action": a.get("action"), "fields": []}
            self.forms.append(self._form)
        if tag not in self.VOID:
            self._stack.append("ul.errorlist" if tag == "ul" and "errorlist" in classes else tag)
        if (tag == "div" and "field" in classes) or tag == "td":
            self._open.append({"depth": len(self._stack), "names": [], "errors": [], "ids": [], "describedby": {}})
        if self._open and a.get("id") and tag in ("ul", "p"):
            self._open[-1]["ids"].append(a["id"])
        if tag == "li" and len(self._stack) > 1 and self._stack[-2] == "ul.errorlist" and self._open:
            self._error = []
        if tag in ("input", "select", "textarea") and a.get("name"):
            if self._open:
                self._open[-1]["names"].append(a["name"])
                if a.get("aria-describedby"):
                    self._open[-1]["describedby"][a["name"]] = a["aria-describedby"].split()
            if self._form is not None:
                self._add_field(tag, a)
        if tag == "option" and self._select is not None and "selected" in a:
            self._select["value"] = a.get("value", "")

    def _add_field(self, tag, a):
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["fields"].append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "image", "reset"):
                self._form["fields"].append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = {"name": a["name"], "value": None}
        elif tag == "textarea":
            self._textarea = {"name": a["name"], "value": ""}

    def handle_endtag(self, tag):
        if tag == "template":
            self._in_template -= 1
            return
        if self._in_template or tag in self.VOID:
            return
        if tag == "li" and self._error is not None:
            self._open[-1]["errors"].append("".join(self._error).strip())
            self._error = None
        if tag == "select" and self._select is not None:
            if self._select["value"] is not None and self._form is not None:
                self._form["fields"].append((self._select["name"], self._select["value"]))
            self._select = None
        if tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                # Browsers drop the newline that Django writes right after <textarea>.
                value = self._textarea["value"].removeprefix("\r\n").removeprefix("\n")
                self._form["fields"].append((self._textarea["name"], value))
            self._textarea = None
        if tag == "form":
            self._form = None
        names = [t.split(".")[0] for t in self._stack]
        if tag in names:
            depth = len(names) - 1 - names[::-1].index(tag)
            del self._stack[depth:]
        while self._open and self._open[-1]["depth"] > len(self._stack):
            self.containers.append(self._open.pop())

    def handle_data(self, data):
        if self._in_template:
            return
        if self._error is not None:
            self._error.append(data)
        if self._textarea is not None:
            self._textarea["value"] += data


def parse_page(response) -> _PageParser:
    parser = _PageParser()
    parser.feed(response.content.decode())
    return parser


def form_data(response) -> dict:
    """The values a browser would submit from the page's configuration form (the logout form is ignored)."""
    forms = [f for f in parse_page(response).forms if "logout" not in (f["action"] or "")]
    assert forms, "no post form on the page"
    data: dict = {}
    for name, value in forms[0]["fields"]:
        data.setdefault(name, [])
        data[name].append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in data.items()}


def errors_next_to(response, name: str) -> list[str]:
    """The error messages shown in the same field container as the input called `name`."""
    for container in parse_page(response).containers:
        if name in container["names"]:
            return [e for e in container["errors"] if e]
    raise AssertionError(f"no input named {name!r} on the page")


def described_by_missing(response) -> list[str]:
    """aria-describedby references that point at no element of the same field container."""
    missing = []
    for container in parse_page(response).containers:
        for name, refs in container["describedby"].items():
            missing += [f"{name} -> {ref}" for ref in refs if ref not in container["ids"]]
    return missing


@pytest.fixture
def superuser_client(client, django_user_model):
    """Admin pages need a superuser: a staff user without permissions gets 403 there."""
    user = django_user_model.objects.create_superuser("support", "support@example.com", "pw-support-123")
    client.force_login(user)
    return client


def start_wizard(client, *, name="Jira", type_key="rest_api"):
    """Steps 1 and 2; returns the step 3 GET response."""
    client.get("/datasources/new/?restart=1")
    response = client.post("/datasources/new/", {"type": type_key})
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post("/datasources/new/name/", {"name": name, "action": "next"})
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.get(STEP3_URL)
    assert response.status_code == 200
    return response


def step3_data(response, *, base_url="https://api.example.com/rest", headers=(), action="save", **auth) -> dict:
    """Step 3 as a browser fills it in: server details, header rows (name, value), auth fields without prefix."""
    data = form_data(response)
    data["base_url"] = base_url
    data["action"] = action
    fill_headers(data, headers)
    for key, value in auth.items():
        data[f"auth-{key}"] = value
    return data


def fill_headers(data: dict, rows, *, start=None) -> dict:
    """Replace the new (extra) header rows of a formset POST by `rows`; existing rows stay as they are."""
    initial = int(data.get("headers-INITIAL_FORMS", 0))
    total = int(data.get("headers-TOTAL_FORMS", 0))
    for index in range(initial, total):
        for field in ("name", "value", "id", "DELETE", "datasource"):
            data.pop(f"headers-{index}-{field}", None)
    index = initial if start is None else start
    for name, value in rows:
        data[f"headers-{index}-name"] = name
        data[f"headers-{index}-value"] = value
        index += 1
    data["headers-TOTAL_FORMS"] = str(max(index, initial))
    return data


@pytest.fixture
def fernet_keys(settings):
    """Set FERNET_KEYS for the test: the encrypted fields cache their keys, so the caches are reset both ways."""
    cached = ("fernet", "fernet_keys", "keys")

    def reset():
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, EncryptedField):
                    for attr in cached:
                        field.__dict__.pop(attr, None)

    def use(keys):
        settings.FERNET_KEYS = list(keys)
        reset()

    yield use
    reset()


@pytest.fixture
def connect_attempts(monkeypatch):
    """Outbound connections recorded and refused, never made: [(address, port), ...] in the order tried.

    The address policy runs when a connection is opened, below the adapter that `responses` replaces, so tests of
    the policy use the real transport with this fixture: a refusal shows as no attempt, an allowed address as an
    attempt to exactly that address (then a ConnectFailure).
    """
    from urllib3.util import connection as urllib3_connection

    attempts = []

    def create_connection(address, *args, **kwargs):
        attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused (test: no network)")

    monkeypatch.setattr(urllib3_connection, "create_connection", create_connection)
    return attempts
