"""Opportunity pages and the pipeline board."""

from django.http import Http404, HttpRequest, HttpResponse

from dealflow.web.pages import page_view


@page_view
def pipeline(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def pipeline_column(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def opportunity_list(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def opportunity_new(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def opportunity_detail(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def opportunity_edit(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def opportunity_delete(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def opportunity_stage(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_role_add(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_role_primary(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def contact_role_delete(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")
