"""What every answer under /api/ has in common: it is JSON, errors included ({"error": {"code", "message"}}), never a
login redirect, an HTML error page or a traceback. The views of the items and datasources APIs use `json_view`; the
URL map sends everything else under /api/ (unknown paths, 404 and 500 handlers) here."""

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from connect_project.limits import MAX_QUERY_STRING_BYTES

from .access import may
from .roles import role_for

API_PREFIX = "/api/"


def error_response(code: str, message: str, status: int, *, headers: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status, headers=headers)


def json_view(*, permission: str = "", methods=("GET",), sign_in: bool = True):
    """A JSON view for signed-in users (holding `permission` when given, as Connect's pages check it,
    core/access.py; sign_in=False: the view judges its caller itself, request.caller, e.g. by an embedding token):
    401/403/405, and 414 for a query string over Connect's limit (connect_project/limits.py), answered as JSON, never
    cached.

    CSRF is not checked: these views change nothing Connect stores (a POST here reads, or signs what it read), and a
    refused method is answered 405 as JSON instead of Django's HTML CSRF page."""

    def refusal(request):
        if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING_BYTES:
            return error_response(
                "query_too_long",
                f"The query string is longer than {MAX_QUERY_STRING_BYTES} bytes (percent-encoded): shorten the "
                f"search text or the values sent.",
                414,
            )
        if request.method not in methods:
            return error_response(
                "method_not_allowed",
                f"Use {' or '.join(methods)} for this URL.",
                405,
                headers={"Allow": ", ".join(methods)},
            )
        if sign_in and not request.user.is_authenticated:
            return error_response("not_authenticated", "Sign in to use this API.", 401)
        if permission and not may(request.user, permission):
            role = role_for(permission)
            return error_response(
                "forbidden", f"This needs the {role} role: ask an administrator of Connect for it.", 403
            )
        return None

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            return refusal(request) or view(request, *args, **kwargs)

        return csrf_exempt(never_cache(wrapped))

    return decorate


@csrf_exempt
def not_found(request, *args, **kwargs):
    return error_response("not_found", "There is no such API URL (see the README for the API's URLs).", 404)


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)


def server_error(request) -> JsonResponse:
    return error_response("internal_error", "Something unexpected went wrong; the server log has details.", 500)
