"""Task pages: my open tasks, adding one from any record, completing one."""

from django.http import Http404, HttpRequest, HttpResponse

from dealflow.web.pages import page_view


@page_view
def task_list(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def task_new(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")


@page_view
def task_complete(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")
