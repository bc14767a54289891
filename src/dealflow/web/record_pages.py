"""What the account and contact pages share: their list page (columns, filters, keyset
pages), their detail page (fields by layout, related lists), and their create, edit and
delete pages.

Reads go through the selectors (`core.selectors.page_of` with the objects' ListSpecs), so a
rep sees in a related list only the records they may see; writes go through the service a
page passes in, whose refusals come back next to their fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from dealflow.core.access import can_edit
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.core.selectors import ListSpec, Page, page_of
from dealflow.leads.models import Lead
from dealflow.leads.selectors import LEAD_LIST, lead_queryset, lead_status_name
from dealflow.sales.selectors import stage_name
from dealflow.web.forms import RecordForm, picklist_choices, posted_data, posted_values
from dealflow.web.pages import (
    Cell,
    Column,
    FilterInput,
    ListQuery,
    Pager,
    ShownField,
    ShownSection,
    Table,
    TableRow,
    as_rows,
    person_name,
    sort_headers,
)
from dealflow.web.records import account_label, resolver, user_choices

PAGE_SIZE = 50
RELATED_SHOWN = 10  # rows of each related list on a detail page; the count says the rest


def money(amount: Decimal | None) -> str:
    """An amount with thousands separators and two decimals; blank when there is none."""
    return "" if amount is None else f"{amount:,.2f}"


# ---------------------------------------------------------------------------------------
# Lists


def filter_inputs(
    query: ListQuery, spec: ListSpec, object_name: str, names: Sequence[str]
) -> list[FilterInput]:
    """The filter form's inputs: the owner as a user select, picklists as selects,
    date ranges as dates; each filled with what was typed and its error."""
    object_def = get_object(object_name)
    inputs = []
    for name in names:
        value = query.given.get(name, "")
        error = query.errors.get(name, "")
        if name == "owner":
            inputs.append(FilterInput(name, "Owner", value, error, user_choices()))
        elif name in spec.picklists:
            definition = object_def.field(name)
            assert definition is not None, f"{object_name} has no field {name}"
            choices = picklist_choices(definition, value)
            inputs.append(FilterInput(name, definition.label, value, error, choices))
        elif name.startswith("created_"):
            label = "Created from" if name.endswith("after") else "Created before"
            inputs.append(FilterInput(name, label, value, error, input_type="date"))
    return inputs


def read_page(read: Callable[..., Page], request: HttpRequest, query: ListQuery) -> Page:
    """One page of a list, or an empty one with the refusal as a message (a cursor from
    another order, an unknown order_by)."""
    try:
        return read(
            actor=request.user,
            filters=query.filters,
            search=query.search,
            order_by=query.order_by,
            cursor=query.cursor,
            limit=PAGE_SIZE,
        )
    except DomainError as error:
        if error.code != ErrorCode.INVALID_FIELD:
            raise
        messages.error(request, error.message)
        query.order_by = query.cursor = None
        return Page(records=[], next_cursor=None, total=None)


def list_page(
    request: HttpRequest,
    *,
    title: str,
    query: ListQuery,
    spec: ListSpec,
    page: Page,
    columns: Sequence[Column],
    table_rows: list[list[tuple[str, str]]],
    filters: list[FilterInput],
    new_url: str,
    new_label: str,
) -> HttpResponse:
    """The list page of accounts or contacts: `table_rows` holds each row's (text, link)
    per column (a blank text is not linked)."""
    table = Table(
        caption=title,
        columns=sort_headers(
            columns,
            query.order_by or spec.default_order,
            lambda order: query.url(order_by=order),
        ),
        rows=[
            TableRow(
                [
                    Cell(text, url if text else "", column.classes)
                    for (text, url), column in zip(cells, columns, strict=True)
                ]
            )
            for cells in table_rows
        ],
        empty_text=f"No {title.lower()} match.",
    )
    pager = Pager(
        first_url=query.url() if query.cursor else "",
        next_url=query.url(cursor=page.next_cursor) if page.next_cursor else "",
        shown=len(table_rows),
    )
    context = {
        "title": title,
        "query": query,
        "table": table,
        "pager": pager,
        "filters": filters,
        "mine_url": query.url(owner=request.user.public_id),
        "clear_url": request.path,
        "new_url": new_url,
        "new_label": new_label,
    }
    return render(request, "web/accounts/list.html", context)


def visible_rows(
    actor: Any, queryset: models.QuerySet, spec: ListSpec, primary_keys: Iterable[int | None]
) -> dict[int, SimpleNamespace]:
    """{primary key: row} of the records with these keys the actor may see: one query
    through `page_of`, so the access rules are the lists' own."""
    wanted = sorted({pk for pk in primary_keys if pk})
    if not wanted:
        return {}
    page = page_of(actor, queryset.filter(pk__in=wanted), spec, filters={}, limit=len(wanted))
    return {row.id: row for row in as_rows(page, queryset.model)}


# ---------------------------------------------------------------------------------------
# Details


def _field_text(definition: Any, value: Any) -> str:
    if value is None or value == "":
        return ""
    if definition.type == "boolean":
        return "Yes" if value else "No"
    if definition.type == "currency":
        return money(value)
    return str(value)


def shown_sections(
    record: Any,
    layout: Sequence[tuple[str, Sequence[str]]],
    references: dict[str, ShownField],
) -> list[ShownSection]:
    """The detail page's sections as the form's layout groups them; `references` gives
    the text and link of each reference field (owner, account)."""
    object_def = get_object(record.object_name)
    sections = []
    for title, names in layout:
        shown = []
        for name in names:
            definition = object_def.field(name)
            assert definition is not None
            if name in references:
                shown.append(references[name])
            else:
                text = _field_text(definition, getattr(record, name))
                shown.append(ShownField(definition.label, text))
        sections.append(ShownSection(title, shown))
    return sections


@dataclass
class Related:
    """A related list on a detail page: its first rows and how many there are in all."""

    title: str
    headers: Sequence[str]
    rows: list[list[tuple[str, str]]]
    total: int
    new_url: str = ""
    new_label: str = ""
    all_url: str = ""  # the full list, filtered to this record

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


def related_page(actor: Any, queryset: models.QuerySet, spec: ListSpec, **options: Any) -> Page:
    """The first rows of a related list and its total (two queries), readable rows only."""
    return page_of(
        actor, queryset, spec, filters={}, limit=RELATED_SHOWN, include_total=True, **options
    )


def opportunity_rows(
    opportunities: list[SimpleNamespace], owners: dict, roles: dict[int, str] | None = None
) -> list[list[tuple[str, str]]]:
    table_rows = []
    for opportunity in opportunities:
        row = [
            (opportunity.name, reverse("opportunity_detail", args=[opportunity.public_id])),
            (stage_name(opportunity.stage_id), ""),
            (money(opportunity.amount), ""),
            (opportunity.close_date.isoformat(), ""),
        ]
        if roles is not None:
            row.append((roles.get(opportunity.id, ""), ""))
        row.append((owners.get(("User", opportunity.owner_id), ""), ""))
        table_rows.append(row)
    return table_rows


def converted_leads(actor: Any, **condition: Any) -> tuple[Page, list[SimpleNamespace]]:
    """Leads converted into this account or contact that the actor may see."""
    page = related_page(actor, lead_queryset().filter(is_converted=True, **condition), LEAD_LIST)
    return page, as_rows(page, Lead)


def lead_rows(leads: list[SimpleNamespace]) -> list[list[tuple[str, str]]]:
    return [
        [
            (person_name(lead), reverse("lead_detail", args=[lead.public_id])),
            (lead.company, ""),
            (lead_status_name(lead.status_id), ""),
            (lead.converted_date.isoformat() if lead.converted_date else "", ""),
        ]
        for lead in leads
    ]


LEAD_HEADERS = ["Name", "Company", "Lead Status", "Converted Date"]
OPPORTUNITY_HEADERS = ["Opportunity Name", "Stage", "Amount", "Close Date", "Owner"]


# ---------------------------------------------------------------------------------------
# Create, edit, delete


def form_page(
    request: HttpRequest,
    *,
    object_name: str,
    layout: Sequence[tuple[str, Sequence[str]]],
    record: Any,
    save: Callable[[dict[str, Any]], Any],
    initial: dict[str, Any],
    heading: str,
    cancel_url: str,
) -> HttpResponse:
    """A create or edit page: GET shows the form; POST saves through `save` and opens the
    record, or shows the service's refusal next to its fields (400, nothing saved)."""
    form = RecordForm(object_name, layout, choices={"owner": user_choices()})
    names = form.field_names()
    status = 200
    if request.method == "POST":
        try:
            saved = save(posted_data(request.POST, object_name, names, resolver(request.user)))
        except DomainError as error:
            if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
                raise
            form.values = posted_values(request.POST, object_name, names)
            form.fail(error)
            status = 400
        else:
            detail = "account_detail" if object_name == "Account" else "contact_detail"
            return redirect(detail, saved.public_id)
    else:
        form.values = initial
    account_id = form.values.get("account_id", "")
    if object_name == "Contact" and account_id:
        form.reference_labels = {"account": account_label(request.user, str(account_id))}
    context = {
        "form": form,
        "heading": heading,
        "record": record,
        "cancel_url": cancel_url,
        "submit_label": "Save",
    }
    return render(request, "web/accounts/form.html", context, status=status)


def require_edit_page(actor: Any, record: Any) -> None:
    """An edit or delete page of a record the user may see but not change is refused."""
    if not can_edit(actor, record):
        raise PermissionDenied("you may not change this record")


def delete_page(
    request: HttpRequest,
    *,
    record: Any,
    name: str,
    consequence: str,
    delete: Callable[[], None],
    list_url: str,
    detail_url: str,
) -> HttpResponse:
    """GET asks to confirm; POST deletes through the service and returns to the list."""
    require_edit_page(request.user, record)
    if request.method == "POST":
        delete()
        messages.success(request, f"{record.object_name} “{name}” was deleted.")
        return redirect(list_url)
    context = {
        "record": record,
        "name": name,
        "consequence": consequence,
        "cancel_url": detail_url,
    }
    return render(request, "web/accounts/delete.html", context)
