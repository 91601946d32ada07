from django.urls import path

from . import views

app_name = "configuration"

urlpatterns = [
    path("", views.configuration_page, name="page"),
    path("export.yaml", views.configuration_export, name="export"),
    path("upload/", views.configuration_upload, name="upload"),
    path("<int:pk>/apply/", views.configuration_apply, name="apply"),
]
