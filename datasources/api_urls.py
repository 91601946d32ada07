from django.urls import path

from . import api

app_name = "datasources_api"

urlpatterns = [
    path("", api.datasource_list, name="list"),
    path("<int:pk>/", api.datasource_detail, name="detail"),
]
