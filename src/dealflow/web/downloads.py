"""The "Download CSV" of every list page (leads, accounts, contacts, opportunities): the
records the list shows under its current view, filters, search and order, every page of
them, streamed (dataio.exports; docs/export.md).

The query string is the list's own, read by the list's own function, so a download
cannot disagree with the list it came from; its cursor is ignored (the download starts
at the first row). `headers=salesforce` names the columns by Salesforce API name.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import ACCOUNT_LIST, CONTACT_LIST
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.dataio.exports import export_csv
from dealflow.web.lead_list import lead_list_query
from dealflow.web.pages import ListQuery, list_query, page_view, signed_in_user
from dealflow.web.sales import opportunity_list_query


def _download(request: HttpRequest, object_name: str, query: ListQuery, name: str) -> HttpResponse:
    headers = "salesforce" if request.GET.get("headers") == "salesforce" else "native"
    options = {
        "actor": signed_in_user(request),
        "object_name": object_name,
        "headers": headers,
        "filters": query.filters,
        "search": query.search,
    }
    try:
        chunks = export_csv(**options, order_by=query.order_by)
    except DomainError as error:
        if error.code != ErrorCode.INVALID_FIELD or "order_by" not in error.fields:
            raise
        chunks = export_csv(**options)  # an unknown order: the list's own, as the list does
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{name}-{day}.csv"'
    return response


def _list_download(object_name: str, name: str, read: Callable[[HttpRequest], ListQuery]):
    @page_view
    @require_GET
    def download(request: HttpRequest) -> HttpResponse:
        return _download(request, object_name, read(request), name)

    download.__name__ = f"{name}_download"
    download.__doc__ = f"The {name} the list shows, as CSV."
    return download


lead_download = _list_download("Lead", "leads", lambda request: lead_list_query(request)[1])
account_download = _list_download(
    "Account", "accounts", lambda request: list_query(request, ACCOUNT_LIST, Account)
)
contact_download = _list_download(
    "Contact", "contacts", lambda request: list_query(request, CONTACT_LIST, Contact)
)
opportunity_download = _list_download("Opportunity", "opportunities", opportunity_list_query)
