"""Who is calling the item API: the user of an embedding token, or the signed-in user of a Connect session.

A request with an Authorization header is judged by its token alone: it never falls back to the session, so a
refused token is never rescued by a browser's cookies. The caller keeps the user's email and display name for
the $currentUser parts; today resolution uses the username.
"""

from dataclasses import dataclass

from django.conf import settings

from . import tokens
from .lookup import KnownApplication
from .usage import note_application_use


class NotAuthenticated(tokens.TokenRefused):
    code = "not_authenticated"
    message = "Sign in to use this API, or send an embedding token (Authorization: Bearer <token>)."


@dataclass(frozen=True)
class Caller:
    username: str
    email: str = ""
    display_name: str = ""
    application: KnownApplication | None = None  # None: a signed-in Connect user


def identify_caller(request, *, item_id: int) -> Caller:
    """The caller allowed to use item `item_id`, or a TokenRefused subclass (its code, message and status)."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization is not None:
        return _token_caller(request, authorization, item_id)
    user = request.user
    if not user.is_authenticated:
        raise NotAuthenticated()
    return Caller(username=user.get_username(), email=user.email or "", display_name=user.get_full_name())


def _token_caller(request, authorization: str, item_id: int) -> Caller:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise tokens.InvalidToken("Send the embedding token as Authorization: Bearer <token>.")
    verified = tokens.verify_embedding_token(token=token.strip(), audience=audience_for(request))
    if item_id not in verified.item_ids:
        raise tokens.ItemNotGranted()
    origin = request.META.get("HTTP_ORIGIN")
    # No Origin: a server-to-server caller. A browser always sends one on a cross-origin request.
    if origin is not None and origin not in verified.application.origins:
        raise tokens.OriginNotAllowed()
    note_application_use(application_id=verified.application.pk)
    return Caller(
        username=verified.subject, email=verified.email, display_name=verified.name, application=verified.application
    )


def audience_for(request) -> str:
    """The `aud` tokens must carry: CONNECT_PUBLIC_URL, or this request's own origin when it is unset."""
    if settings.CONNECT_PUBLIC_URL:
        return settings.CONNECT_PUBLIC_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}"
