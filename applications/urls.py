from django.urls import path

from . import views

app_name = "applications"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.application_create, name="create"),
    path("<int:pk>/", views.application_detail, name="detail"),
    path("<int:pk>/edit/", views.application_edit, name="edit"),
    path("<int:pk>/toggle/", views.application_toggle, name="toggle"),
    path("<int:pk>/rotate/", views.application_rotate, name="rotate"),
    path("<int:pk>/secret/", views.application_secret, name="secret"),
    path("<int:pk>/delete/", views.application_delete, name="delete"),
]
