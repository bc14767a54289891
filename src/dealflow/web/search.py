"""The global search box and the reference pickers' suggestions.

Both read through `core.selectors.search_records` with each object's ListSpec (the keys
the lists' and the API's `q` search), so a rep finds only what they may see and a prefix
costs a few index range scans however many rows match.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import ACCOUNT_LIST, CONTACT_LIST
from dealflow.core import ids, rows
from dealflow.core.selectors import ListSpec, search_records
from dealflow.leads.models import Lead
from dealflow.leads.selectors import LEAD_LIST, lead_status_name
from dealflow.people.models import Queue, User
from dealflow.sales.models import Opportunity
from dealflow.sales.selectors import OPPORTUNITY_LIST, stage_name
from dealflow.web.pages import page_view

RESULTS_PER_OBJECT = 5
LOOKUP_RESULTS = 8


@dataclass(frozen=True)
class Searched:
    """An object the search box looks in: its label, records, keys and detail page."""

    label: str
    model: type[models.Model]
    spec: ListSpec
    detail: str  # URL name taking the public id
    listing: str  # URL name of the object's list, which takes the same `q`
    list_view: str = ""  # the list's view holding every match (`view=`), if it has views

    def queryset(self) -> models.QuerySet:
        if self.model is Lead:
            return Lead.objects.filter(is_converted=False)  # as Salesforce's search
        return self.model.objects.all()


SEARCHED = (
    Searched("Leads", Lead, LEAD_LIST, "lead_detail", "lead_list", "open"),
    Searched("Accounts", Account, ACCOUNT_LIST, "account_detail", "account_list"),
    Searched("Contacts", Contact, CONTACT_LIST, "contact_detail", "contact_list"),
    Searched(
        "Opportunities", Opportunity, OPPORTUNITY_LIST, "opportunity_detail", "opportunity_list"
    ),
)
# Users and queues (owners) are a directory everybody may read; matched by name prefix.
DIRECTORY = {"User": User, "Queue": Queue}


def _row(model: type[models.Model], record: tuple[Any, ...]) -> SimpleNamespace:
    row = SimpleNamespace(**dict(zip(rows.attnames(model), record, strict=True)))
    row.public_id = ids.encode(model.object_name, row.id)  # type: ignore[attr-defined]
    if model is Lead:
        row.heading = " ".join(part for part in (row.first_name, row.last_name) if part)
        row.details = [row.company, row.email, row.phone, lead_status_name(row.status_id)]
    elif model is Contact:
        row.heading = " ".join(part for part in (row.first_name, row.last_name) if part)
        row.details = [row.title, row.email, row.phone]
    elif model is Account:
        row.heading = row.name
        row.details = [row.website, row.phone, row.industry]
    else:
        row.heading = row.name
        row.details = [stage_name(row.stage_id), row.close_date]
    row.details = [detail for detail in row.details if detail]
    return row


def _results(
    actor: Any, text: str, searched: tuple[Searched, ...], limit: int, account: int | None = None
) -> list:
    """[(Searched, rows)] of the objects with matches, in SEARCHED order; with `account`
    (a primary key), contacts and opportunities of that account only."""
    groups = []
    for item in searched:
        records = item.queryset()
        if account is not None and item.model in (Contact, Opportunity):
            records = records.filter(account_id=account)
        found = search_records(actor, records, item.spec, text, limit=limit)
        if found:
            groups.append((item, [_row(item.model, record) for record in found]))
    return groups


@page_view
def search(request: HttpRequest) -> HttpResponse:
    """Leads, accounts, contacts and opportunities whose name, company, email or phone
    starts with `q` (case and accents as typed are folded, core/matching.py), grouped."""
    text = (request.GET.get("q") or "").strip()
    groups = _results(request.user, text, SEARCHED, RESULTS_PER_OBJECT) if text else []
    return render(
        request,
        "web/search.html",
        {
            "search_text": text,
            "groups": groups,
            "searched": bool(text),
            "results_per_object": RESULTS_PER_OBJECT,
        },
    )


def _directory(model: type[models.Model], text: str) -> list[tuple[str, str]]:
    """(public id, name) of active users or queues whose name starts with `text`."""
    if model is User:
        users = User.objects.filter(is_active=True).filter(
            models.Q(first_name__istartswith=text)
            | models.Q(last_name__istartswith=text)
            | models.Q(username__istartswith=text)
        )
        found = users.order_by("first_name", "last_name")[:LOOKUP_RESULTS]
        return [(user.public_id, user.get_full_name() or user.username) for user in found]
    queues = Queue.objects.filter(name__istartswith=text).order_by("name")[:LOOKUP_RESULTS]
    return [(queue.public_id, queue.name) for queue in queues]


@page_view
def lookup(request: HttpRequest) -> HttpResponse:
    """A reference picker's suggestions (htmx partial): `objects` (comma-separated object
    names the field accepts), `field` (the input's name) and its text in `<field>__text`;
    `account` (an account's id) limits contacts and opportunities to that account's (the
    convert page's "Another contact of <account>"). An `account` that is not an account
    id suggests no contact or opportunity."""
    field = request.GET.get("field", "")
    text = (request.GET.get(f"{field}__text") or "").strip()
    wanted = [name for name in request.GET.get("objects", "").split(",") if name]
    account = None
    if request.GET.get("account"):
        try:
            account = ids.decode(request.GET["account"], "Account")[1]
        except ids.InvalidIdError:
            account = 0  # no account has it: nothing of one is suggested
    choices: list[tuple[str, str, str]] = []  # (object label, id, name)
    if text:
        for item in SEARCHED:
            if item.model.object_name in wanted:  # type: ignore[attr-defined]
                for row in _results(request.user, text, (item,), LOOKUP_RESULTS, account):
                    for found in row[1]:
                        choices.append((item.label, found.public_id, found.heading))
        for object_name, model in DIRECTORY.items():
            if object_name in wanted:
                choices += [(object_name, pk, name) for pk, name in _directory(model, text)]
    return render(request, "web/components/_lookup_results.html", {"choices": choices})
