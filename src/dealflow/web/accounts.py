"""Account and contact pages: lists, details with their related lists, create, edit and
delete.

Reads go through the selectors (`account_page`, `contact_get`, `core.selectors.page_of`
with the objects' ListSpecs), so a rep sees in a related list only the records they may
see; writes go through `accounts.services`, whose refusals come back next to their fields.
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

from dealflow.accounts import services
from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import (
    ACCOUNT_LIST,
    CONTACT_LIST,
    account_get,
    account_page,
    contact_get,
    contact_page,
)
from dealflow.core.access import can_edit
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.core.selectors import ListSpec, Page, page_of
from dealflow.leads.models import Lead
from dealflow.leads.selectors import LEAD_LIST, lead_queryset, lead_status_name
from dealflow.sales.models import Opportunity, OpportunityContactRole
from dealflow.sales.selectors import (
    CONTACT_ROLE_LIST,
    OPPORTUNITY_LIST,
    opportunity_page,
    opportunity_queryset,
    stage_name,
)
from dealflow.web import recent
from dealflow.web.forms import (
    RecordForm,
    initial_values,
    picklist_choices,
    posted_data,
    posted_values,
)
from dealflow.web.pages import ListQuery, as_rows, list_query, owner_names, page_view
from dealflow.web.records import resolver, user_choices
from dealflow.web.timeline import record_timeline

PAGE_SIZE = 50
RELATED_SHOWN = 10  # rows of each related list on a detail page; the count says the rest

ACCOUNT_LAYOUT = [
    (
        "Account Information",
        [
            "name",
            "owner",
            "type",
            "industry",
            "rating",
            "website",
            "phone",
            "annual_revenue",
            "number_of_employees",
            "account_source",
        ],
    ),
    (
        "Address Information",
        [
            "billing_street",
            "billing_city",
            "billing_state",
            "billing_postal_code",
            "billing_country",
        ],
    ),
    ("Description Information", ["description"]),
]
CONTACT_LAYOUT = [
    (
        "Contact Information",
        [
            "salutation",
            "first_name",
            "last_name",
            "account",
            "title",
            "owner",
            "email",
            "phone",
            "mobile_phone",
            "lead_source",
            "do_not_call",
            "has_opted_out_of_email",
        ],
    ),
    (
        "Address Information",
        [
            "mailing_street",
            "mailing_city",
            "mailing_state",
            "mailing_postal_code",
            "mailing_country",
        ],
    ),
    ("Description Information", ["description"]),
]


def person_name(record: Any) -> str:
    """A contact's or lead's name as Salesforce shows it: first and last name."""
    return " ".join(part for part in (record.first_name, record.last_name) if part)


def money(amount: Decimal | None) -> str:
    """An amount with thousands separators and two decimals; blank when there is none."""
    return "" if amount is None else f"{amount:,.2f}"


# ---------------------------------------------------------------------------------------
# Lists


# Columns a list hides below 992 px, so it stays readable at tablet width.
WIDE_ONLY = "d-none d-lg-table-cell"


@dataclass(frozen=True)
class Column:
    """A list column: its heading, the order name it sorts by (None: not sortable) and
    the classes of its cells (WIDE_ONLY for the less needed ones)."""

    label: str
    order: str | None = None
    classes: str = ""


@dataclass(frozen=True)
class FilterInput:
    """One input of a list's filter form, named as the ListSpec's filter."""

    name: str
    label: str
    value: str
    error: str = ""
    choices: Sequence[tuple[str, str]] | None = None  # a select when given
    input_type: str = "text"

    @property
    def input_id(self) -> str:
        return f"filter_{self.name}"


def _sort_headers(query: ListQuery, spec: ListSpec, columns: Sequence[Column]) -> list[dict]:
    """Each column as components/_list_table.html takes it: the link that sorts by it
    (ascending first, then descending) and, for the current order, its aria-sort value."""
    current = query.order_by or spec.default_order
    headers = []
    for column in columns:
        header: dict[str, Any] = {
            "label": column.label,
            "sort_url": "",
            "sorted": "",
            "classes": column.classes,
        }
        if column.order:
            descending_now = current == f"-{column.order}"
            ascending_now = current == column.order
            target = f"-{column.order}" if ascending_now else column.order
            header["sort_url"] = query.url(order_by=target)
            if ascending_now or descending_now:
                header["sorted"] = "descending" if descending_now else "ascending"
        headers.append(header)
    return headers


def _filter_inputs(
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


def _read_page(read: Callable[..., Page], request: HttpRequest, query: ListQuery) -> Page:
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


def _list_page(
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
    table = {
        "caption": title,
        "empty_text": f"No {title.lower()} match.",
        "select_name": "",
        "columns": _sort_headers(query, spec, columns),
        "rows": [
            {
                "cells": [
                    {"text": text, "url": url if text else "", "classes": column.classes}
                    for (text, url), column in zip(cells, columns, strict=True)
                ]
            }
            for cells in table_rows
        ],
    }
    pager = {
        "shown": len(table_rows),
        "next_url": query.url(cursor=page.next_cursor) if page.next_cursor else "",
        "first_url": query.url() if query.cursor else "",
    }
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


ACCOUNT_COLUMNS = [
    Column("Account Name", "name"),
    Column("Website", "website", WIDE_ONLY),
    Column("Phone"),
    Column("Industry", classes=WIDE_ONLY),
    Column("Type", classes=WIDE_ONLY),
    Column("Owner"),
]
CONTACT_COLUMNS = [
    Column("Name", "last_name"),
    Column("Account"),
    Column("Title", classes=WIDE_ONLY),
    Column("Email", "email"),
    Column("Phone", classes=WIDE_ONLY),
    Column("Owner", classes=WIDE_ONLY),
]


@page_view
def account_list(request: HttpRequest) -> HttpResponse:
    """Accounts the user may see: filters of ACCOUNT_LIST, `q`, sortable, keyset pages.
    Queries: the page, its owners' names, the filter form's choices (fixed)."""
    query = list_query(request, ACCOUNT_LIST, Account)
    page = _read_page(account_page, request, query)
    accounts = as_rows(page, Account)
    owners = owner_names(account.owner_id for account in accounts)
    table_rows = [
        [
            (account.name, reverse("account_detail", args=[account.public_id])),
            (account.website, ""),
            (account.phone, ""),
            (account.industry, ""),
            (account.type, ""),
            (owners.get(("User", account.owner_id), ""), ""),
        ]
        for account in accounts
    ]
    filters = ["owner", "type", "industry", "rating", "created_after", "created_before"]
    return _list_page(
        request,
        title="Accounts",
        query=query,
        spec=ACCOUNT_LIST,
        page=page,
        columns=ACCOUNT_COLUMNS,
        table_rows=table_rows,
        filters=_filter_inputs(query, ACCOUNT_LIST, "Account", filters),
        new_url=reverse("account_new"),
        new_label="New account",
    )


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


@page_view
def contact_list(request: HttpRequest) -> HttpResponse:
    """Contacts the user may see, with their accounts' names (one query for all rows)."""
    query = list_query(request, CONTACT_LIST, Contact)
    page = _read_page(contact_page, request, query)
    contacts = as_rows(page, Contact)
    owners = owner_names(contact.owner_id for contact in contacts)
    accounts = visible_rows(
        request.user,
        Account.objects.all(),
        ACCOUNT_LIST,
        (contact.account_id for contact in contacts),
    )
    table_rows = []
    for contact in contacts:
        account = accounts.get(contact.account_id)
        table_rows.append(
            [
                (person_name(contact), reverse("contact_detail", args=[contact.public_id])),
                (
                    (account.name, reverse("account_detail", args=[account.public_id]))
                    if account
                    else ("", "")
                ),
                (contact.title, ""),
                (contact.email, f"mailto:{contact.email}" if contact.email else ""),
                (contact.phone, ""),
                (owners.get(("User", contact.owner_id), ""), ""),
            ]
        )
    filters = ["owner", "lead_source", "created_after", "created_before"]
    return _list_page(
        request,
        title="Contacts",
        query=query,
        spec=CONTACT_LIST,
        page=page,
        columns=CONTACT_COLUMNS,
        table_rows=table_rows,
        filters=_filter_inputs(query, CONTACT_LIST, "Contact", filters),
        new_url=reverse("contact_new"),
        new_label="New contact",
    )


# ---------------------------------------------------------------------------------------
# Details


@dataclass
class Shown:
    """One field on a detail page: its label, its text and, for a reference, a link."""

    label: str
    text: str
    url: str = ""


def _field_text(definition: Any, value: Any) -> str:
    if value is None or value == "":
        return ""
    if definition.type == "boolean":
        return "Yes" if value else "No"
    if definition.type == "currency":
        return money(value)
    return str(value)


def _shown_sections(
    record: Any,
    layout: Sequence[tuple[str, Sequence[str]]],
    references: dict[str, Shown],
) -> list[tuple[str, list[Shown]]]:
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
                shown.append(
                    Shown(definition.label, _field_text(definition, getattr(record, name)))
                )
        sections.append((title, shown))
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


def _related_page(actor: Any, queryset: models.QuerySet, spec: ListSpec, **options: Any) -> Page:
    """The first rows of a related list and its total (two queries), readable rows only."""
    return page_of(
        actor, queryset, spec, filters={}, limit=RELATED_SHOWN, include_total=True, **options
    )


def _opportunity_rows(
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


def _converted_leads(actor: Any, **condition: Any) -> tuple[Page, list[SimpleNamespace]]:
    """Leads converted into this account or contact that the actor may see."""
    page = _related_page(actor, lead_queryset().filter(is_converted=True, **condition), LEAD_LIST)
    return page, as_rows(page, Lead)


def _lead_rows(leads: list[SimpleNamespace]) -> list[list[tuple[str, str]]]:
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


@page_view
def account_detail(request: HttpRequest, account_id: str) -> HttpResponse:
    """An account's fields and its related contacts, opportunities and converted leads
    (first RELATED_SHOWN of each and their count), its activity and the task form."""
    actor = request.user
    account = account_get(actor=actor, account_id=account_id)
    recent.remember(request, account)
    contacts_page = contact_page(
        actor=actor, filters={"account": account.pk}, limit=RELATED_SHOWN, include_total=True
    )
    contacts = as_rows(contacts_page, Contact)
    opportunities_page = opportunity_page(
        actor=actor,
        filters={"account": account.pk},
        limit=RELATED_SHOWN,
        include_total=True,
    )
    opportunities = as_rows(opportunities_page, Opportunity)
    leads_page, leads = _converted_leads(actor, converted_account=account.pk)
    owners = owner_names(
        [account.owner_id, *(opportunity.owner_id for opportunity in opportunities)]
    )
    related = [
        Related(
            "Contacts",
            ["Name", "Title", "Email", "Phone"],
            [
                [
                    (person_name(contact), reverse("contact_detail", args=[contact.public_id])),
                    (contact.title, ""),
                    (contact.email, f"mailto:{contact.email}" if contact.email else ""),
                    (contact.phone, ""),
                ]
                for contact in contacts
            ],
            contacts_page.total or 0,
            new_url=f"{reverse('contact_new')}?account={account.public_id}",
            new_label="New contact",
            all_url=f"{reverse('contact_list')}?account={account.public_id}",
        ),
        Related(
            "Opportunities",
            OPPORTUNITY_HEADERS,
            _opportunity_rows(opportunities, owners),
            opportunities_page.total or 0,
            all_url=f"{reverse('opportunity_list')}?account={account.public_id}",
        ),
        Related("Converted Leads", LEAD_HEADERS, _lead_rows(leads), leads_page.total or 0),
    ]
    references = {
        "owner": Shown("Owner", owners.get(("User", account.owner_id), "")),
    }
    context = {
        "record": account,
        "object_label": "Account",
        "heading": account.name,
        "sections": _shown_sections(account, ACCOUNT_LAYOUT, references),
        "related": related,
        "timeline": record_timeline(actor, account),
        "task_what": account,
        "task_who": None,
        "edit_url": reverse("account_edit", args=[account.public_id]),
        "delete_url": reverse("account_delete", args=[account.public_id]),
    }
    return render(request, "web/accounts/detail.html", context)


@page_view
def contact_detail(request: HttpRequest, contact_id: str) -> HttpResponse:
    """A contact's fields, its account, the opportunities it has a role on, the leads
    converted into it, its activity and the task form."""
    actor = request.user
    contact = contact_get(actor=actor, contact_id=contact_id)
    recent.remember(request, contact)
    accounts = visible_rows(actor, Account.objects.all(), ACCOUNT_LIST, [contact.account_id])
    opportunities_page = _related_page(
        actor,
        opportunity_queryset().filter(contact_roles__contact=contact.pk),
        OPPORTUNITY_LIST,
    )
    opportunities = as_rows(opportunities_page, Opportunity)
    roles = _contact_roles(actor, contact, [opportunity.id for opportunity in opportunities])
    leads_page, leads = _converted_leads(actor, converted_contact=contact.pk)
    owners = owner_names(
        [contact.owner_id, *(opportunity.owner_id for opportunity in opportunities)]
    )
    account = accounts.get(contact.account_id)
    references = {
        "owner": Shown("Owner", owners.get(("User", contact.owner_id), "")),
        "account": Shown(
            "Account",
            account.name if account else "",
            reverse("account_detail", args=[account.public_id]) if account else "",
        ),
    }
    related = [
        Related(
            "Opportunities",
            ["Opportunity Name", "Stage", "Amount", "Close Date", "Role", "Owner"],
            _opportunity_rows(opportunities, owners, roles),
            opportunities_page.total or 0,
        ),
        Related("Converted Leads", LEAD_HEADERS, _lead_rows(leads), leads_page.total or 0),
    ]
    context = {
        "record": contact,
        "object_label": "Contact",
        "heading": person_name(contact),
        "sections": _shown_sections(contact, CONTACT_LAYOUT, references),
        "related": related,
        "timeline": record_timeline(actor, contact),
        "task_who": contact,
        "task_what": None,
        "edit_url": reverse("contact_edit", args=[contact.public_id]),
        "delete_url": reverse("contact_delete", args=[contact.public_id]),
    }
    return render(request, "web/accounts/detail.html", context)


def _contact_roles(actor: Any, contact: Contact, opportunity_ids: list[int]) -> dict[int, str]:
    """{opportunity pk: the contact's role on it ("Primary" added)} for the shown deals."""
    if not opportunity_ids:
        return {}
    page = page_of(
        actor,
        OpportunityContactRole.objects.filter(contact=contact.pk, opportunity__in=opportunity_ids),
        CONTACT_ROLE_LIST,
        filters={},
        limit=len(opportunity_ids),
    )
    roles = {}
    for role in as_rows(page, OpportunityContactRole):
        parts = [role.role, "Primary" if role.is_primary else ""]
        roles[role.opportunity_id] = " · ".join(part for part in parts if part)
    return roles


# ---------------------------------------------------------------------------------------
# Create, edit, delete


def _reference_label(actor: Any, object_name: str, public_id: str) -> str:
    """The name a lookup shows for its current value, if the user may see the record."""
    if not public_id or object_name != "Account":
        return ""
    try:
        return account_get(actor=actor, account_id=public_id).name
    except DomainError:
        return ""


def _form_page(
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
        form.reference_labels = {
            "account": _reference_label(request.user, "Account", str(account_id))
        }
    context = {
        "form": form,
        "heading": heading,
        "record": record,
        "cancel_url": cancel_url,
        "submit_label": "Save",
    }
    return render(request, "web/accounts/form.html", context, status=status)


def _require_edit_page(actor: Any, record: Any) -> None:
    """An edit or delete page of a record the user may see but not change is refused."""
    if not can_edit(actor, record):
        raise PermissionDenied("you may not change this record")


@page_view
def account_new(request: HttpRequest) -> HttpResponse:
    """Create an account (the owner defaults to the user)."""
    return _form_page(
        request,
        object_name="Account",
        layout=ACCOUNT_LAYOUT,
        record=None,
        save=lambda data: services.account_create(actor=request.user, data=data),
        initial={"owner_id": request.user.public_id},
        heading="New Account",
        cancel_url=reverse("account_list"),
    )


@page_view
def account_edit(request: HttpRequest, account_id: str) -> HttpResponse:
    """Change an account's fields through `account_update`."""
    account = account_get(actor=request.user, account_id=account_id)
    _require_edit_page(request.user, account)
    names = [name for _title, section in ACCOUNT_LAYOUT for name in section]
    return _form_page(
        request,
        object_name="Account",
        layout=ACCOUNT_LAYOUT,
        record=account,
        save=lambda data: services.account_update(actor=request.user, account=account, data=data),
        initial=initial_values(account, "Account", names),
        heading=f"Edit {account.name}",
        cancel_url=reverse("account_detail", args=[account.public_id]),
    )


@page_view
def contact_new(request: HttpRequest) -> HttpResponse:
    """Create a contact; `?account=<id>` (from an account's page) fills in its account."""
    initial = {"owner_id": request.user.public_id}
    account_id = request.GET.get("account", "")
    if account_id and _reference_label(request.user, "Account", account_id):
        initial["account_id"] = account_id
    return _form_page(
        request,
        object_name="Contact",
        layout=CONTACT_LAYOUT,
        record=None,
        save=lambda data: services.contact_create(actor=request.user, data=data),
        initial=initial,
        heading="New Contact",
        cancel_url=reverse("contact_list"),
    )


@page_view
def contact_edit(request: HttpRequest, contact_id: str) -> HttpResponse:
    """Change a contact's fields through `contact_update`."""
    contact = contact_get(actor=request.user, contact_id=contact_id)
    _require_edit_page(request.user, contact)
    names = [name for _title, section in CONTACT_LAYOUT for name in section]
    return _form_page(
        request,
        object_name="Contact",
        layout=CONTACT_LAYOUT,
        record=contact,
        save=lambda data: services.contact_update(actor=request.user, contact=contact, data=data),
        initial=initial_values(contact, "Contact", names),
        heading=f"Edit {person_name(contact)}",
        cancel_url=reverse("contact_detail", args=[contact.public_id]),
    )


def _delete_page(
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
    _require_edit_page(request.user, record)
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


@page_view
def account_delete(request: HttpRequest, account_id: str) -> HttpResponse:
    """Delete an account after confirmation; its contacts and deals stay, without it."""
    account = account_get(actor=request.user, account_id=account_id)
    return _delete_page(
        request,
        record=account,
        name=account.name,
        consequence="Its contacts and opportunities stay, without an account.",
        delete=lambda: services.account_delete(actor=request.user, account=account),
        list_url=reverse("account_list"),
        detail_url=reverse("account_detail", args=[account.public_id]),
    )


@page_view
def contact_delete(request: HttpRequest, contact_id: str) -> HttpResponse:
    """Delete a contact after confirmation, with its roles on deals and its tasks."""
    contact = contact_get(actor=request.user, contact_id=contact_id)
    return _delete_page(
        request,
        record=contact,
        name=person_name(contact),
        consequence="Its roles on opportunities and its tasks are deleted too.",
        delete=lambda: services.contact_delete(actor=request.user, contact=contact),
        list_url=reverse("contact_list"),
        detail_url=reverse("contact_detail", args=[contact.public_id]),
    )
