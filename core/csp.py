"""The Content-Security-Policy header (settings.CONTENT_SECURITY_POLICY) on Connect's pages: django-csp's middleware,
skipped for the JSON API. A policy governs what a page loads and runs, which an API answer never does; building the
header costs about a tenth of a cached options answer, the hottest request Connect serves."""

from csp.middleware import CSPMiddleware

from .json_api import API_PREFIX


class PageCSPMiddleware(CSPMiddleware):
    def process_request(self, request):
        if not request.path_info.startswith(API_PREFIX):
            super().process_request(request)

    def process_response(self, request, response):
        if request.path_info.startswith(API_PREFIX):
            return response
        return super().process_response(request, response)
