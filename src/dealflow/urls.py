"""URL map: the pages (web/urls.py), the admin back office, the native API."""

from django.contrib import admin
from django.urls import include, path

from dealflow.api.main import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("dealflow.web.urls")),
]
