"""The options endpoint: an item's options, as JSON, for signed-in users and for embedding tokens.

Errors are always JSON {"error": {"code", "message"}} (core/json_api.py): never a login redirect, a
traceback, a secret or a raw upstream body.
"""

import logging
from functools import wraps

from django.http import HttpResponse, JsonResponse

from audit.models import Action
from audit.recorder import Actor, record_event, recording
from core.callers import CallerRefused
from core.json_api import error_response, json_view
from datasources.services import errors
from operations.metrics import record_options_request
from operations.request_log import expected_answer

from .access import check_item_access
from .selectors import find_item
from .services import ItemError
from .services.cache import drop_item_answers
from .services.evaluation import CurrentUser
from .services.listing import list_options, slice_asked

logger = logging.getLogger("connect.items")


def refusal_response(refusal: CallerRefused) -> JsonResponse:
    response = error_response(refusal.code, refusal.message, refusal.http_status)
    if refusal.http_status == 401:  # RFC 6750: the error is named only when a token was sent
        response["WWW-Authenticate"] = (
            "Bearer" if refusal.code == "not_authenticated" else 'Bearer error="invalid_token"'
        )
    return response


def item_endpoint(*, methods=("GET",)):
    """An item API view, view(request, item): the caller (request.caller, set by the caller middleware) must be
    allowed to use the item: an embedding token must grant it, a signed-in account must be among those the item is
    open to (items/access.py). Every item endpoint gets both rules from here. Refusals, an unknown item and a wrong
    method are answered as JSON."""

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
            if request.caller.user is not None:
                try:
                    check_item_access(item=item, user=request.caller.user)
                except CallerRefused as refusal:
                    return refusal_response(refusal)
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
    actor = Actor(name=f"application {application.name}", address=request.META.get("REMOTE_ADDR") or None, via="api")
    with recording(actor=actor):
        record_event(action=Action.CACHE_REFRESH, instance=item)
    return HttpResponse(status=204)


def _options_answer(request, item, caller) -> tuple[HttpResponse, str]:
    """The answer, and how the cache served it ("error" when the call failed)."""
    values = {name: request.GET.get(name, "") for name in item.dependency_names}
    try:
        asked = slice_asked(item=item, parameters=request.GET)
        listed = list_options(
            item=item, text=request.GET.get("q", ""), current_user=current_user_of(caller), values=values, asked=asked
        )
    except (ItemError, errors.DatasourceError) as exc:
        return failure_response(request, exc), "error"
    except Exception:
        logger.exception("Options of item %s failed unexpectedly", item.pk)
        return unexpected_failure_response(), "error"
    return JsonResponse(_answer(item, listed)), listed.resolution.cache_status


def current_user_of(caller) -> CurrentUser:
    """$currentUser and its parts for this caller."""
    return CurrentUser(username=caller.username, email=caller.email, display_name=caller.display_name)


def failure_response(request, exc: ItemError | errors.DatasourceError) -> JsonResponse:
    """A failed resolution as the item API tells it: the item's own message, or the public one of an upstream
    failure (never the datasource's URL or answer)."""
    if isinstance(exc, ItemError):
        return error_response(exc.code, exc.message, exc.http_status)
    # Refused or failed calls are counted and summarised per datasource (operations/call_failures.py), not logged
    # again per request by django.request.
    expected_answer(request)
    response = error_response(exc.code, exc.public_text(), exc.http_status)
    if isinstance(exc, errors.ProtectionRefusal):
        response["Retry-After"] = str(exc.retry_after)
    return response


def unexpected_failure_response() -> JsonResponse:
    return error_response("internal_error", "Something unexpected went wrong; the server log has details.", 500)


def _answer(item, listed) -> dict:
    """{"options": [...], "cached", "item", "has_more", "total_known", "complete"}, "narrowed" for a narrowed
    answer, and "stale", "age_seconds" for a stale one."""
    resolution = listed.resolution
    answer = {
        "options": listed.options,
        "cached": resolution.cached,
        "item": item.pk,
        "has_more": listed.has_more,
        "total_known": listed.total_known,
        "complete": listed.complete,
    }
    if resolution.narrowed:
        answer["narrowed"] = True
    if resolution.stale:
        answer.update(stale=True, age_seconds=int(resolution.age_seconds))
    return answer
