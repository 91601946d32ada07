from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "items"

urlpatterns = [
    path("", views.item_list, name="list"),
    path("new/", views.item_create, name="create"),
    path("<int:pk>/", RedirectView.as_view(pattern_name="items:preview", permanent=False)),
    path("<int:pk>/edit/", views.item_edit, name="edit"),
    path("<int:pk>/delete/", views.item_delete, name="delete"),
    path("<int:pk>/preview/", views.item_preview, name="preview"),
    path("<int:pk>/try/", views.item_try, name="try"),
    path("<int:pk>/cache/refresh/", views.item_refresh, name="refresh"),
]
