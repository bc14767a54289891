"""The guided conversion of a lead (DOMAIN.md section 5) at /leads/<id>/convert/."""

from django.http import Http404, HttpRequest, HttpResponse

from dealflow.web.pages import page_view


@page_view
def lead_convert(request: HttpRequest, **_ids: str) -> HttpResponse:
    raise Http404("not built yet")
