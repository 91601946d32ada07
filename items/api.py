"""The options endpoint: an item's options, as JSON, for signed-in users and for embedding tokens.

Errors are always JSON {"error": {"code", "message"}} (core/json_api.py): never a login redirect, a
traceback, a secret or a raw upstream body.
"""

import json
import logging
from functools import wraps

from django.http import HttpResponse, JsonResponse

from core.callers import CallerRefused
from core.json_api import error_response, json_view
from datasources.services import errors
from operations.metrics import record_options_request

from .selectors import find_item
from .services import ItemError, resolve_item
from .services.cache import drop_item_answers
from .services.evaluation import CurrentUser

logger = logging.getLogger("connect.items")


# What a form filler is told about a failed upstream call. The client's own messages name the datasource's URL
# and quote the start of the answer: right for administrators (the preview page), not for this endpoint.
PUBLIC_MESSAGES = {
    "invalid_url": "The item's query does not make a valid URL for its datasource.",
    "next_page_refused": "The API's link to a next page points outside the datasource: Connect does not follow it.",
    "address_refused": "The API's address is not allowed by Connect's outbound address policy.",
    "dns_failure": "The API's host name could not be resolved.",
    "connect_failure": "Connect could not connect to the API.",
    "connect_timeout": "The API did not accept the connection in time.",
    "timeout": "The API did not answer in time.",
    "tls_failure": "The secure (TLS) connection to the API failed.",
    "proxy_failure": "Connect's outbound proxy failed or refused the connection to the API.",
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
    page = getattr(exc, "page", None)
    where = f" (page {page})" if page and page > 1 else ""
    if isinstance(exc, errors.HTTPStatusError) and exc.status_code:
        return f"The API answered HTTP {exc.status_code}{where}."
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if code in PUBLIC_MESSAGES:
            message = PUBLIC_MESSAGES[code].format(seconds=getattr(exc, "retry_after", ""))
            return message[:-1] + where + "." if where else message
    return f"The call to the API failed{where}."


def refusal_response(refusal: CallerRefused) -> JsonResponse:
    response = error_response(refusal.code, refusal.message, refusal.http_status)
    if refusal.http_status == 401:  # RFC 6750: the error is named only when a token was sent
        response["WWW-Authenticate"] = (
            "Bearer" if refusal.code == "not_authenticated" else 'Bearer error="invalid_token"'
        )
    return response


def item_endpoint(*, methods=("GET",)):
    """An item API view, view(request, item): the caller (request.caller, set by the caller middleware) must be
    allowed to use the item; refusals, an unknown item and a wrong method are answered as JSON."""

    def decorate(view):
        @json_view(sign_in=False, methods=methods)
        @wraps(view)
        def wrapped(request, pk):
            try:
                if request.caller_refusal is not None:
                    raise request.caller_refusal
                request.caller.check_item(pk)
            except CallerRefused as refusal:
                return refusal_response(refusal)
            # Without datasource.auth: a cache hit never needs the credentials, and loading them decrypts every secret.
            item = find_item(pk)
            if item is None:
                return error_response("not_found", f"There is no item {pk}.", 404)
            return view(request, item)

        return wrapped

    return decorate


@item_endpoint()
def item_options(request, item):
    response, cache_status = _options_answer(request, item, request.caller)
    record_options_request(item_id=item.pk, cache_status=cache_status)
    return response


@item_endpoint(methods=("POST",))
def item_cache_purge(request, item):
    """Drop the item's cached answers (a webhook after the data changed at the source): 204. Only an embedding token
    of an application allowed to purge (and granted the item) may; anyone else gets a JSON 403."""
    application = request.caller.application
    if application is None:
        return error_response(
            "purge_not_allowed",
            "Purging needs an embedding token of an application allowed to purge; administrators use "
            "“Refresh now” on the item's page.",
            403,
        )
    if not application.may_purge:
        return error_response(
            "purge_not_allowed",
            "This application may not purge cached answers: an administrator can allow it on the application's "
            "page (“May purge cached answers”).",
            403,
        )
    drop_item_answers(item)
    # Audit: when the audit log exists (SPEC 11), record here that this application purged the item's cache.
    return HttpResponse(status=204)


def _options_answer(request, item, caller) -> tuple[HttpResponse, str]:
    """The answer, and how the cache served it ("error" when the call failed)."""
    values = {name: request.GET.get(name, "") for name in item.dependency_names}
    current_user = CurrentUser(username=caller.username, email=caller.email, display_name=caller.display_name)
    try:
        resolution = resolve_item(
            item=item, user_input=request.GET.get("q", ""), current_user=current_user, values=values
        )
    except ItemError as exc:
        return error_response(exc.code, exc.message, exc.http_status), "error"
    except errors.DatasourceError as exc:
        response = error_response(exc.code, public_message(exc), exc.http_status)
        if isinstance(exc, errors.ProtectionRefusal):
            response["Retry-After"] = str(exc.retry_after)
        return response, "error"
    except Exception:
        logger.exception("Options of item %s failed unexpectedly", item.pk)
        return error_response(
            "internal_error", "Something unexpected went wrong; the server log has details.", 500
        ), "error"
    return HttpResponse(_answer_json(item, resolution), content_type="application/json"), resolution.cache_status


def _answer_json(item, resolution) -> bytes:
    """{"options": [...], "cached": ..., "item": id} (and "stale", "age_seconds" for a stale answer), as JsonResponse
    would encode it; options remembered from a cached body come already encoded (items/services/extracted.py)."""
    options = resolution.options
    encoded = options.encoded() if hasattr(options, "encoded") else json.dumps(options).encode()
    tail = f', "stale": true, "age_seconds": {int(resolution.age_seconds)}' if resolution.stale else ""
    return b'{"options": %s, "cached": %s, "item": %d%s}' % (
        encoded,
        b"true" if resolution.cached else b"false",
        item.pk,
        tail.encode(),
    )
