"""What every answer under /api/ has in common: it is JSON, errors included ({"error": {"code", "message"}}), never a
login redirect, an HTML error page or a traceback. The views of the items and datasources APIs use `json_view`; the
URL map sends everything else under /api/ (unknown paths, 404 and 500 handlers) here."""

import time
from functools import wraps

from django.http import JsonResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

API_PREFIX = "/api/"


def error_response(code: str, message: str, status: int, *, headers: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status, headers=headers)


def json_view(*, staff_only: bool = False, methods=("GET",), sign_in: bool = True):
    """A read-only JSON view for signed-in users (staff only when asked; sign_in=False: the view identifies its
    caller itself, e.g. by an embedding token): 401/403/405 answered as JSON.

    CSRF is not checked: these views change nothing, and a POST is answered 405 as JSON instead of Django's HTML
    CSRF page."""

    def refusal(request):
        if request.method not in methods:
            return error_response(
                "method_not_allowed",
                f"Use {' or '.join(methods)} for this URL.",
                405,
                headers={"Allow": ", ".join(methods)},
            )
        if sign_in and not request.user.is_authenticated:
            return error_response("not_authenticated", "Sign in to use this API.", 401)
        if staff_only and not request.user.is_staff:
            return error_response("forbidden", "Only staff users can see datasource configuration.", 403)
        return None

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = refusal(request) or view(request, *args, **kwargs)
            set_no_store(response)  # never cached by a browser or a proxy
            return response

        return csrf_exempt(wrapped)

    return decorate


# What django.views.decorators.cache.never_cache sets, written at once (patch_cache_control parses and rebuilds the
# header: a measurable part of an options answer, asked on every keystroke).
NO_STORE = "max-age=0, no-cache, no-store, must-revalidate, private"


def set_no_store(response) -> None:
    response.headers["Expires"] = http_date(time.time())
    response.headers["Cache-Control"] = NO_STORE


@csrf_exempt
def not_found(request, *args, **kwargs):
    return error_response("not_found", "There is no such API URL (see the README for the API's URLs).", 404)


def is_api_request(request) -> bool:
    return request.path.startswith(API_PREFIX)


def server_error(request) -> JsonResponse:
    return error_response("internal_error", "Something unexpected went wrong; the server log has details.", 500)
