"""Health, readiness and metrics for operators: no sign-in, no details that would help an attacker.

/healthz: the process answers. /readyz: the database and Redis answer (503 naming only the failing parts).
/metrics: Prometheus text, only with `Authorization: Bearer <CONNECT_METRICS_TOKEN>` (unset: 404, as if absent).
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from datasources.selectors import client_certificate_expiries

from . import metrics, readiness


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    failing = readiness.failing_parts()
    if not failing:
        return JsonResponse({"status": "ready"})
    response = JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    # An expected answer, asked every few seconds during an outage: not a django.request ERROR each time (the
    # outage itself is reported once per interval, operations/redis_outage.py).
    response._has_been_logged = True
    return response


@never_cache
@require_GET
def metrics_view(request):
    token = settings.CONNECT_METRICS_TOKEN
    if not token:
        raise Http404("Metrics are not enabled.")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse(
            "A valid bearer token is needed to read the metrics.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    certificates = metrics.client_certificate_expiry(client_certificate_expiries(), now=timezone.now())
    return HttpResponse(metrics.exposition(families=[certificates]), content_type=CONTENT_TYPE_LATEST)
