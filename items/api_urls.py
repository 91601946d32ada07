from django.urls import path

from . import api, field_api, selection_api

app_name = "api"

urlpatterns = [
    path("items/<int:pk>/options", api.item_options, name="item_options"),
    path("items/<int:pk>/options/", api.item_options),
    path("items/<int:pk>/field", field_api.item_field, name="item_field"),
    path("items/<int:pk>/selections", selection_api.item_selections, name="item_selections"),
    path("items/<int:pk>/verify", selection_api.item_verify, name="item_verify"),
    path("items/<int:pk>/labels", selection_api.item_labels, name="item_labels"),
    path("items/<int:pk>/cache/purge", api.item_cache_purge, name="item_cache_purge"),
]
