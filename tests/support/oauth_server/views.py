"""The protected API: what a datasource behind this authorization server answers."""

from django.http import HttpResponse, JsonResponse
from oauth2_provider.views.generic import ProtectedResourceView

ISSUES = [{"id": "1", "summary": "Printer on fire"}, {"id": "2", "summary": "Coffee machine out of beans"}]


class IssuesView(ProtectedResourceView):
    """A valid bearer token gets the issues; anything else a 401 with a Bearer challenge (RFC 6750)."""

    def get(self, request, *args, **kwargs):
        owner = request.resource_owner
        return JsonResponse({"issues": ISSUES, "user": owner.username if owner else None})

    def unauthenticated_response(self, request, oauthlib_request=None):
        response = JsonResponse({"error": "invalid_token"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="issues", error="invalid_token"'
        return response


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
