"""Health, readiness and metrics for operators: no sign-in, no details that would help an attacker.

/healthz: the process answers. /readyz: the database answers (else 503 naming it); Redis down is "degraded", still
200 (SPEC 5: a load balancer must never take every host out for a cache outage).
/metrics: Prometheus text, only with `Authorization: Bearer <CONNECT_METRICS_TOKEN>` (unset: 404, as if absent).
/favicon.ico: where browsers and tools look for the icon without reading a page (pages link it): a redirect to the
static file, not a 404 warning in the log for every visit.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from datasources.selectors import client_certificate_expiries

from . import metrics, readiness
from .request_log import expected_answer


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    state = readiness.readiness()
    if not state.ready:
        answer = {"status": "unavailable", "failing": state.failing}
        if state.degraded:
            answer["degraded"] = state.degraded
        # Asked every few seconds during an outage: not a django.request ERROR each time.
        expected_answer(request)
        return JsonResponse(answer, status=503)
    if state.degraded:
        return JsonResponse({"status": "degraded", "degraded": state.degraded})
    return JsonResponse({"status": "ready"})


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


@cache_control(max_age=86400, public=True)
@require_GET
def favicon(request):
    return HttpResponseRedirect(static("favicon.ico"))
