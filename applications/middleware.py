"""The caller middleware: who is calling the item API (`request.caller`, core/callers.py), for every request under
/api/items/.

A request with an Authorization header is judged by its embedding token alone: it never falls back to the session,
so a refused token is never rescued by a browser's cookies. A token caller keeps the user's email and display name
for the $currentUser parts, and its application (the CORS check reads it: cors.py).
"""

from connect_project.limits import MAX_TOKEN_BYTES
from core.callers import Caller, CallerRefused, NotAuthenticated, audience_for

from .services import tokens
from .services.usage import note_application_use

ITEM_API_PREFIX = "/api/items/"


class CallerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.caller, request.caller_refusal = None, None
        if request.path_info.startswith(ITEM_API_PREFIX):
            try:
                request.caller = identify_caller(request)
            except CallerRefused as refusal:
                request.caller_refusal = refusal
        return self.get_response(request)


def identify_caller(request) -> Caller:
    """The caller of this request, or a CallerRefused saying why not."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization is not None:
        return _token_caller(request, authorization)
    user = request.user
    if not user.is_authenticated:
        raise NotAuthenticated()
    return Caller.of_user(user)


def _token_caller(request, authorization: str) -> Caller:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise tokens.InvalidToken("Send the embedding token as Authorization: Bearer <token>.")
    if len(token.strip()) > MAX_TOKEN_BYTES:  # the header is Latin-1 text: one character per byte
        raise tokens.TokenTooLong()
    verified = tokens.verify_embedding_token(token=token.strip(), audience=audience_for(request))
    origin = request.META.get("HTTP_ORIGIN")
    # No Origin: a server-to-server caller. A browser always sends one on a cross-origin request.
    if origin is not None and origin not in verified.application.origins:
        raise tokens.OriginNotAllowed()
    note_application_use(application_id=verified.application.pk)
    return Caller(
        username=verified.subject,
        email=verified.email,
        display_name=verified.name,
        application=verified.application,
        item_ids=verified.item_ids,
    )
