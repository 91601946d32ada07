"""Connect's URL map."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from datasources.oauth_views import oauth_callback

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="datasources:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("datasources/", include("datasources.urls")),
    path("items/", include("items.urls")),
    path("api/", include("items.api_urls")),
    path("oauth/callback/", oauth_callback, name="oauth_callback"),
    path("admin/", admin.site.urls),
    path("", include("operations.urls")),
]
