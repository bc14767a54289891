"""Home ("My work") and the password change page."""

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy

from dealflow.web.pages import page_view


@page_view
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


# Django's own view: it checks the old password, applies the password policy
# (AUTH_PASSWORD_VALIDATORS) and keeps the session signed in.
password_change = auth_views.PasswordChangeView.as_view(
    template_name="web/password_change.html", success_url=reverse_lazy("home")
)
