"""Settings pages (admins only): statuses, stages, picklists, users, teams, queues, sharing, API tokens."""

from django.http import Http404, HttpRequest, HttpResponse

from dealflow.web.pages import admin_view


@admin_view
def settings_home(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def lead_statuses(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def stages(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def picklists(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def users(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def user_edit(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def teams(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def queues(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def sharing(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@admin_view
def tokens(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")
