"""Connect's URL map. Everything under /api/ answers JSON, errors and unknown URLs included (core/json_api.py)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views import defaults
from django.views.generic import RedirectView

from core import json_api
from core.sign_in import SignOutView
from datasources.oauth_views import oauth_callback

urlpatterns = [
    # The item API first: the options endpoint is asked on every keystroke, and patterns are tried in order.
    path("api/", include("items.api_urls")),
    path("", RedirectView.as_view(pattern_name="datasources:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", SignOutView.as_view(), name="logout"),
    path("datasources/", include("datasources.urls")),
    path("items/", include("items.urls")),
    path("applications/", include("applications.urls")),
    path("audit/", include("audit.urls")),
    path("configuration/", include("configuration.urls")),
    path("api/datasources/", include("datasources.api_urls")),
    re_path(r"^api/", json_api.not_found),
    path("oauth/callback/", oauth_callback, name="oauth_callback"),
    path("admin/", admin.site.urls),
    path("", include("operations.urls")),
]


def handler404(request, exception):
    if json_api.is_api_request(request):
        return json_api.not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if json_api.is_api_request(request):
        return json_api.server_error(request)
    return defaults.server_error(request)
