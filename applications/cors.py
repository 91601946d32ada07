"""The per-application CORS check: django-cors-headers answers CORS only on the item API (CORS_URLS_REGEX) and
asks this function whether an Origin it does not list itself may read the answer.

A preflight carries no token: its origin is allowed when an enabled application that may use the item lists it.
An actual request whose token was accepted is allowed for its own application's origins (no query); a refused
one is judged like a preflight, so the page can read the JSON error (e.g. origin_not_allowed). Cookies are never
allowed cross-origin (CORS_ALLOW_CREDENTIALS is False).
"""

import re

from django.conf import settings

from .models import Application

_api_path = re.compile(settings.CORS_URLS_REGEX)


def allow_application_origin(sender, request, **kwargs) -> bool:
    # Called by the middleware for every request it does not enable itself: answer no quickly.
    origin = request.META.get("HTTP_ORIGIN")
    if not origin:
        return False
    match = _api_path.match(request.path_info)
    if match is None:
        return False
    caller = getattr(request, "caller", None)
    if caller is not None and caller.application is not None:
        return origin in caller.application.origins
    return origin_may_use_item(origin=origin, item_id=int(match["pk"]))


def origin_may_use_item(*, origin: str, item_id: int) -> bool:
    listed = Application.objects.filter(enabled=True, items__pk=item_id).values_list("allowed_origins", flat=True)
    return any(origin in (origins or ()) for origins in listed)
