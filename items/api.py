"""The JSON API: an item's options for signed-in users, and read-only datasource configuration for staff.

Errors are always JSON {"error": {"code", "message"}}: never a login redirect, a traceback, a secret or a raw
upstream body.
"""
import logging
from functools import wraps

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from datasources.models import MODE_FIELDS, SECRET_FIELDS, TOKEN_STATUS_FIELDS, AuthConfig, Datasource
from datasources.services import errors

from .services import ItemError, resolve_item
from .services.lookup import find_item

logger = logging.getLogger("connect.items")


# What a form filler is told about a failed upstream call. The client's own messages name the datasource's URL
# and quote the start of the answer: right for administrators (the preview page), not for this endpoint.
PUBLIC_MESSAGES = {
    "invalid_url": "The item's query does not make a valid URL for its datasource.",
    "address_refused": "The API's address is not allowed by Connect's outbound address policy.",
    "dns_failure": "The API's host name could not be resolved.",
    "connect_failure": "Connect could not connect to the API.",
    "connect_timeout": "The API did not accept the connection in time.",
    "timeout": "The API did not answer in time.",
    "tls_failure": "The secure (TLS) connection to the API failed.",
    "redirect_refused": "The API redirected to a place Connect does not follow.",
    "response_too_large": "The API's answer is larger than Connect accepts.",
    "invalid_json": "The API answered with a body that is not JSON.",
    "authentication_failure": "The API refused Connect's credentials, or no valid credentials are available.",
    "reconnect_needed": "The datasource's account must be reconnected by an administrator.",
    # Connect held the call back to protect the API; {seconds} is the Retry-After the answer carries.
    "rate_limited": "Too many calls to this API right now: try again in {seconds} s.",
    "upstream_paused": "The API asked Connect to wait: calls to it are paused for {seconds} s more.",
    "circuit_open": "The API is failing, so Connect is not calling it for now: try again in {seconds} s.",
}


def public_message(exc: errors.DatasourceError) -> str:
    if isinstance(exc, errors.HTTPStatusError) and exc.status_code:
        return f"The API answered HTTP {exc.status_code}."
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if code in PUBLIC_MESSAGES:
            return PUBLIC_MESSAGES[code].format(seconds=getattr(exc, "retry_after", ""))
    return "The call to the API failed."


def error_response(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _json_view(*, staff_only: bool):
    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return error_response("not_authenticated", "Sign in to use this API.", 401)
            if staff_only and not request.user.is_staff:
                return error_response("forbidden", "Only staff users can see datasource configuration.", 403)
            return view(request, *args, **kwargs)

        return never_cache(require_GET(wrapped))

    return decorate


@_json_view(staff_only=False)
def item_options(request, pk):
    # Without datasource.auth: a cache hit never needs the credentials, and loading them decrypts every secret.
    item = find_item(pk)
    if item is None:
        return error_response("not_found", f"There is no item {pk}.", 404)
    values = {name: request.GET.get(name, "") for name in item.dependency_names}
    try:
        resolution = resolve_item(item=item, user_input=request.GET.get("q", ""),
                                  current_user=request.user.get_username(), values=values)
    except ItemError as exc:
        return error_response(exc.code, exc.message, exc.http_status)
    except errors.DatasourceError as exc:
        response = error_response(exc.code, public_message(exc), exc.http_status)
        if isinstance(exc, errors.ProtectionRefusal):
            response["Retry-After"] = str(exc.retry_after)
        return response
    except Exception:
        logger.exception("Options of item %s failed unexpectedly", item.pk)
        return error_response("internal_error", "Something unexpected went wrong; the server log has details.",
                              500)
    answer = {"options": resolution.options, "cached": resolution.cached, "item": item.pk}
    if resolution.stale:  # stale-if-error: the last good answer, this many seconds old
        answer.update(stale=True, age_seconds=resolution.age_seconds)
    return JsonResponse(answer)


@_json_view(staff_only=True)
def datasource_list(request):
    datasources = Datasource.objects.select_related("auth").prefetch_related("headers")
    return JsonResponse({"datasources": [serialize_datasource(d) for d in datasources]})


@_json_view(staff_only=True)
def datasource_detail(request, pk):
    datasource = Datasource.objects.select_related("auth").prefetch_related("headers").filter(pk=pk).first()
    if datasource is None:
        return error_response("not_found", f"There is no datasource {pk}.", 404)
    return JsonResponse(serialize_datasource(datasource))


def serialize_datasource(datasource: Datasource) -> dict:
    """A datasource's configuration; each secret is a `<name>_set` boolean, never its value."""
    return {
        "id": datasource.pk,
        "name": datasource.name,
        "type": datasource.type,
        "base_url": datasource.base_url,
        "documentation_url": datasource.documentation_url,
        "test_url": datasource.test_url,
        "calls_per_second": datasource.calls_per_second,
        "concurrent_calls": datasource.concurrent_calls,
        "stale_if_error": datasource.stale_if_error,
        "stale_max_age_seconds": datasource.stale_max_age_seconds,
        "headers": [{"name": h.name, "value": h.value} for h in datasource.headers.all()],
        "auth": _serialize_auth(getattr(datasource, "auth", None) or AuthConfig(datasource=datasource)),
        "created_at": datasource.created_at,
        "updated_at": datasource.updated_at,
    }


def _serialize_auth(auth: AuthConfig) -> dict:
    data = {"mode": auth.mode}
    for field in MODE_FIELDS.get(auth.mode, ()):
        if field not in SECRET_FIELDS:
            data[field] = getattr(auth, field)
    if auth.mode.startswith("oauth2_"):
        data.update({field: getattr(auth, field) for field in TOKEN_STATUS_FIELDS})
    data.update({f"{field}_set": bool(getattr(auth, field)) for field in SECRET_FIELDS})
    return data
