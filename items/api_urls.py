from django.urls import path

from . import api

app_name = "api"

urlpatterns = [
    path("items/<int:pk>/options", api.item_options, name="item_options"),
    path("items/<int:pk>/options/", api.item_options),
]
