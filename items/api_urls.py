from django.urls import path

from . import api, field_api

app_name = "api"

urlpatterns = [
    path("items/<int:pk>/options", api.item_options, name="item_options"),
    path("items/<int:pk>/options/", api.item_options),
    path("items/<int:pk>/field", field_api.item_field, name="item_field"),
    path("items/<int:pk>/cache/purge", api.item_cache_purge, name="item_cache_purge"),
]
