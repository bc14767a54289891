"""Contact pages: the list, the detail with its account, the opportunities it has a role
on and the leads converted into it, create, edit and delete (the pages themselves are
`web/record_pages.py`'s, shared with the accounts').

Reads go through `accounts.selectors`, writes through `accounts.services`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dealflow.accounts import services
from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import ACCOUNT_LIST, CONTACT_LIST, contact_get, contact_page
from dealflow.core.selectors import page_of
from dealflow.sales.models import Opportunity, OpportunityContactRole
from dealflow.sales.selectors import CONTACT_ROLE_LIST, OPPORTUNITY_LIST, opportunity_queryset
from dealflow.web import recent
from dealflow.web.forms import initial_values, layout_names
from dealflow.web.pages import (
    WIDE_ONLY,
    Column,
    ShownField,
    as_rows,
    list_query,
    owner_names,
    page_view,
    person_name,
)
from dealflow.web.record_pages import (
    LEAD_HEADERS,
    Related,
    converted_leads,
    delete_page,
    filter_inputs,
    form_page,
    lead_rows,
    list_page,
    opportunity_rows,
    read_page,
    related_page,
    require_edit_page,
    shown_sections,
    visible_rows,
)
from dealflow.web.records import account_label
from dealflow.web.timeline import record_timeline

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

CONTACT_COLUMNS = [
    Column("Name", "last_name"),
    Column("Account"),
    Column("Title", classes=WIDE_ONLY),
    Column("Email", "email"),
    Column("Phone", classes=WIDE_ONLY),
    Column("Owner", classes=WIDE_ONLY),
]


@page_view
def contact_list(request: HttpRequest) -> HttpResponse:
    """Contacts the user may see, with their accounts' names (one query for all rows)."""
    query = list_query(request, CONTACT_LIST, Contact)
    page = read_page(contact_page, request, query)
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
    return list_page(
        request,
        title="Contacts",
        query=query,
        spec=CONTACT_LIST,
        page=page,
        columns=CONTACT_COLUMNS,
        table_rows=table_rows,
        filters=filter_inputs(query, CONTACT_LIST, "Contact", filters),
        new_url=reverse("contact_new"),
        new_label="New contact",
    )


@page_view
def contact_detail(request: HttpRequest, contact_id: str) -> HttpResponse:
    """A contact's fields, its account, the opportunities it has a role on, the leads
    converted into it, its activity and the task form."""
    actor = request.user
    contact = contact_get(actor=actor, contact_id=contact_id)
    recent.remember(request, contact)
    accounts = visible_rows(actor, Account.objects.all(), ACCOUNT_LIST, [contact.account_id])
    opportunities_page = related_page(
        actor,
        opportunity_queryset().filter(contact_roles__contact=contact.pk),
        OPPORTUNITY_LIST,
    )
    opportunities = as_rows(opportunities_page, Opportunity)
    roles = _contact_roles(actor, contact, [opportunity.id for opportunity in opportunities])
    leads_page, leads = converted_leads(actor, converted_contact=contact.pk)
    owners = owner_names(
        [contact.owner_id, *(opportunity.owner_id for opportunity in opportunities)]
    )
    account = accounts.get(contact.account_id)
    references = {
        "owner": ShownField("Owner", owners.get(("User", contact.owner_id), "")),
        "account": ShownField(
            "Account",
            account.name if account else "",
            reverse("account_detail", args=[account.public_id]) if account else "",
        ),
    }
    related = [
        Related(
            "Opportunities",
            ["Opportunity Name", "Stage", "Amount", "Close Date", "Role", "Owner"],
            opportunity_rows(opportunities, owners, roles),
            opportunities_page.total or 0,
        ),
        Related("Converted Leads", LEAD_HEADERS, lead_rows(leads), leads_page.total or 0),
    ]
    context = {
        "record": contact,
        "object_label": "Contact",
        "heading": person_name(contact),
        "sections": shown_sections(contact, CONTACT_LAYOUT, references),
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


@page_view
def contact_new(request: HttpRequest) -> HttpResponse:
    """Create a contact; `?account=<id>` (from an account's page) fills in its account."""
    initial = {"owner_id": request.user.public_id}
    account_id = request.GET.get("account", "")
    if account_id and account_label(request.user, account_id):
        initial["account_id"] = account_id
    return form_page(
        request,
        object_name="Contact",
        layout=CONTACT_LAYOUT,
        record=None,
        save=lambda data: services.contact_create(
            actor=request.user,
            data=data,
            allow_duplicates=request.POST.get("allow_duplicates") == "1",
        ),
        initial=initial,
        heading="New Contact",
        cancel_url=reverse("contact_list"),
    )


@page_view
def contact_edit(request: HttpRequest, contact_id: str) -> HttpResponse:
    """Change a contact's fields through `contact_update`."""
    contact = contact_get(actor=request.user, contact_id=contact_id)
    require_edit_page(request.user, contact)
    names = layout_names(CONTACT_LAYOUT)
    return form_page(
        request,
        object_name="Contact",
        layout=CONTACT_LAYOUT,
        record=contact,
        save=lambda data: services.contact_update(actor=request.user, contact=contact, data=data),
        initial=initial_values(contact, "Contact", names),
        heading=f"Edit {person_name(contact)}",
        cancel_url=reverse("contact_detail", args=[contact.public_id]),
    )


@page_view
def contact_delete(request: HttpRequest, contact_id: str) -> HttpResponse:
    """Delete a contact after confirmation, with its roles on deals and its tasks."""
    contact = contact_get(actor=request.user, contact_id=contact_id)
    return delete_page(
        request,
        record=contact,
        name=person_name(contact),
        consequence="Its roles on opportunities and its tasks are deleted too.",
        delete=lambda: services.contact_delete(actor=request.user, contact=contact),
        list_url=reverse("contact_list"),
        detail_url=reverse("contact_detail", args=[contact.public_id]),
    )
