"""Connect's URL map plus the HTTP floors: constant-JSON views served by the same Django, middleware and server.

/bench/constant answers at once. /bench/constant-after-reads first does the reads any signed-in cache hit needs,
whoever implements it: the session and the user (the sign-in), the item's current config versions (one row) and the
cached answer (one Redis GET); then it sends the same constant body. It shows how much of the gap to the constant
view is that I/O rather than Connect's own work.
"""

import json

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.urls import path

from connect_project.urls import urlpatterns as connect_urlpatterns
from datasources.models import Datasource
from items.models import Item

from .answers import small_options

# The body the options endpoint answers for the bench's item, built once: every side sends the same bytes.
CONSTANT_BODY = json.dumps({"options": small_options(), "cached": True, "item": 1}).encode()
CACHED_ANSWER_KEY = "bench:cached-answer"  # set by the bench to the item's cached answer


def constant_json(request):
    return HttpResponse(CONSTANT_BODY, content_type="application/json")


def constant_json_after_reads(request):
    if not request.user.is_authenticated:
        return HttpResponse(b'{"error": "not signed in"}', status=401, content_type="application/json")
    with connection.cursor() as cursor:
        cursor.execute(_VERSIONS_SQL, [int(request.GET["item"])])
        if cursor.fetchone() is None:
            return HttpResponse(b'{"error": "no such item"}', status=404, content_type="application/json")
    if cache.get(CACHED_ANSWER_KEY) is None:
        return HttpResponse(b'{"error": "no cached answer"}', status=500, content_type="application/json")
    return HttpResponse(CONSTANT_BODY, content_type="application/json")


_VERSIONS_SQL = (
    f"SELECT i.config_version, d.config_version FROM {Item._meta.db_table} i "
    f"JOIN {Datasource._meta.db_table} d ON d.id = i.datasource_id WHERE i.id = %s"
)

urlpatterns = [
    path("bench/constant", constant_json),
    path("bench/constant-after-reads", constant_json_after_reads),
    *connect_urlpatterns,
]
