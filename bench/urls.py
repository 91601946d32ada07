"""Connect's URL map plus the HTTP floors: constant-JSON views served by the same Django, middleware and server.

/bench/constant answers at once; /bench/constant-signed-in first checks the session's user, as the options
endpoint does, which shows how much of the gap is the sign-in rather than Connect's own work.
"""
import json

from django.http import HttpResponse
from django.urls import path

from connect_project.urls import urlpatterns as connect_urlpatterns

from .answers import small_options

# The body the options endpoint answers for the bench's item, built once: every side sends the same bytes.
CONSTANT_BODY = json.dumps({"options": small_options(), "cached": True, "item": 1}).encode()


def constant_json(request):
    return HttpResponse(CONSTANT_BODY, content_type="application/json")


def constant_json_signed_in(request):
    if not request.user.is_authenticated:
        return HttpResponse(b'{"error": "not signed in"}', status=401, content_type="application/json")
    return HttpResponse(CONSTANT_BODY, content_type="application/json")


urlpatterns = [
    path("bench/constant", constant_json),
    path("bench/constant-signed-in", constant_json_signed_in),
    *connect_urlpatterns,
]
