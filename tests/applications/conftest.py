"""Application helpers: a factory and a token minter (PyJWT, HS256, as an application's server would sign)."""

import time

import jwt
import pytest

from applications.models import Application
from applications.services import lookup, usage


def make_application(*, name="Intranet forms", items=(), origins=("https://forms.example.com",), enabled=True):
    application = Application.objects.create(name=name, allowed_origins=list(origins), enabled=enabled)
    application.items.set(items)
    application.refresh_from_db()
    return application


def mint(
    application,
    *,
    audience="http://testserver",
    items=None,
    secret=None,
    algorithm="HS256",
    headers=None,
    lifetime=600,
    omit=(),
    **claims,
):
    """A token for `application` (its current secret unless told), valid `lifetime` seconds from now; claims named
    in `omit` are left out."""
    now = int(time.time())
    payload = {
        "iss": str(application.pk),
        "sub": "filler",
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "items": list(items if items is not None else application.items.values_list("pk", flat=True)),
    }
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if name not in omit}
    return jwt.encode(
        payload, secret if secret is not None else application.secret, algorithm=algorithm, headers=headers
    )


@pytest.fixture(autouse=True)
def _fresh_application_memory():
    """Per-process memories (application rows, last-use writes) start empty in every test."""
    lookup.application_lookup.clear()
    lookup.verified_tokens.clear()
    usage.forget_uses()
    yield
    lookup.application_lookup.clear()
    lookup.verified_tokens.clear()
    usage.forget_uses()
