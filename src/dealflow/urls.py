"""URL map: pages, login, the admin back office."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from dealflow.api.main import api
from dealflow.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
