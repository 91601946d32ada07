from django.urls import path

from . import oauth_views, views

app_name = "datasources"

urlpatterns = [
    path("", views.datasource_list, name="list"),
    path("new/", views.wizard_type, name="wizard_type"),
    path("new/name/", views.wizard_name, name="wizard_name"),
    path("new/configuration/", views.wizard_config, name="wizard_config"),
    path("<int:pk>/", views.datasource_detail, name="detail"),
    path("<int:pk>/edit/", views.datasource_edit, name="edit"),
    path("<int:pk>/delete/", views.datasource_delete, name="delete"),
    path("<int:pk>/test/", views.datasource_test, name="test"),
    path("<int:pk>/oauth/connect/", oauth_views.oauth_connect, name="oauth_connect"),
    path("<int:pk>/oauth/disconnect/", oauth_views.oauth_disconnect, name="oauth_disconnect"),
]
