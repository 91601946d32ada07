from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/issues/", views.IssuesView.as_view(), name="issues"),
    path("healthz/", views.healthz, name="healthz"),
]
