"""Account and contact pages."""

from django.http import Http404, HttpRequest, HttpResponse

from dealflow.web.pages import page_view


@page_view
def account_list(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def account_new(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def account_detail(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def account_edit(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def account_delete(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_list(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_new(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_detail(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_edit(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_delete(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")
