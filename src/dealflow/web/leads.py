"""Lead pages: the list with its views, filters and bulk actions, the detail with its timeline, create, edit, delete and the guided conversion."""

from django.http import Http404, HttpRequest, HttpResponse

from dealflow.web.pages import page_view


@page_view
def lead_list(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def lead_new(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def lead_bulk(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def lead_detail(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def lead_edit(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def lead_delete(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")
