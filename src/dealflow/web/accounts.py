"""Account pages: the list, the detail with its related contacts, opportunities and
converted leads, create, edit and delete (the pages themselves are `web/record_pages.py`'s,
shared with the contacts').

Reads go through `accounts.selectors`, writes through `accounts.services`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dealflow.accounts import services
from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import ACCOUNT_LIST, account_get, account_page, contact_page
from dealflow.sales.models import Opportunity
from dealflow.sales.selectors import opportunity_page
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
    OPPORTUNITY_HEADERS,
    RELATED_SHOWN,
    Related,
    converted_leads,
    delete_page,
    filter_inputs,
    form_page,
    lead_rows,
    list_page,
    opportunity_rows,
    read_page,
    require_edit_page,
    shown_sections,
)
from dealflow.web.timeline import record_timeline

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

ACCOUNT_COLUMNS = [
    Column("Account Name", "name"),
    Column("Website", "website", WIDE_ONLY),
    Column("Phone"),
    Column("Industry", classes=WIDE_ONLY),
    Column("Type", classes=WIDE_ONLY),
    Column("Owner"),
]


@page_view
def account_list(request: HttpRequest) -> HttpResponse:
    """Accounts the user may see: filters of ACCOUNT_LIST, `q`, sortable, keyset pages.
    Queries: the page, its owners' names, the filter form's choices (fixed)."""
    query = list_query(request, ACCOUNT_LIST, Account)
    page = read_page(account_page, request, query)
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
    return list_page(
        request,
        title="Accounts",
        query=query,
        spec=ACCOUNT_LIST,
        page=page,
        columns=ACCOUNT_COLUMNS,
        table_rows=table_rows,
        filters=filter_inputs(query, ACCOUNT_LIST, "Account", filters),
        new_url=reverse("account_new"),
        new_label="New account",
    )


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
    leads_page, leads = converted_leads(actor, converted_account=account.pk)
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
            opportunity_rows(opportunities, owners),
            opportunities_page.total or 0,
            all_url=f"{reverse('opportunity_list')}?account={account.public_id}",
        ),
        Related("Converted Leads", LEAD_HEADERS, lead_rows(leads), leads_page.total or 0),
    ]
    references = {
        "owner": ShownField("Owner", owners.get(("User", account.owner_id), "")),
    }
    context = {
        "record": account,
        "object_label": "Account",
        "heading": account.name,
        "sections": shown_sections(account, ACCOUNT_LAYOUT, references),
        "related": related,
        "timeline": record_timeline(actor, account),
        "task_what": account,
        "task_who": None,
        "edit_url": reverse("account_edit", args=[account.public_id]),
        "delete_url": reverse("account_delete", args=[account.public_id]),
    }
    return render(request, "web/accounts/detail.html", context)


@page_view
def account_new(request: HttpRequest) -> HttpResponse:
    """Create an account (the owner defaults to the user)."""
    return form_page(
        request,
        object_name="Account",
        layout=ACCOUNT_LAYOUT,
        record=None,
        save=lambda data: services.account_create(
            actor=request.user,
            data=data,
            allow_duplicates=request.POST.get("allow_duplicates") == "1",
        ),
        initial={"owner_id": request.user.public_id},
        heading="New Account",
        cancel_url=reverse("account_list"),
    )


@page_view
def account_edit(request: HttpRequest, account_id: str) -> HttpResponse:
    """Change an account's fields through `account_update`."""
    account = account_get(actor=request.user, account_id=account_id)
    require_edit_page(request.user, account)
    names = layout_names(ACCOUNT_LAYOUT)
    return form_page(
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
def account_delete(request: HttpRequest, account_id: str) -> HttpResponse:
    """Delete an account after confirmation; its contacts and deals stay, without it."""
    account = account_get(actor=request.user, account_id=account_id)
    return delete_page(
        request,
        record=account,
        name=account.name,
        consequence="Its contacts and opportunities stay, without an account.",
        delete=lambda: services.account_delete(actor=request.user, account=account),
        list_url=reverse("account_list"),
        detail_url=reverse("account_detail", args=[account.public_id]),
    )
