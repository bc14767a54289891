"""Lead pages: the detail with its timeline, create, edit and delete (the list and its bulk
actions are web/lead_list.py, the guided conversion web/conversion.py).

Every read goes through `leads.selectors` (access rules apply: a lead a rep may not see
is a 404), every write through `leads.services`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats

from dealflow.automation.selectors import active_rule_set
from dealflow.core import ids
from dealflow.core.access import readable
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.matching import email_key
from dealflow.core.metadata import get_object
from dealflow.leads import services
from dealflow.leads.models import Lead
from dealflow.leads.selectors import lead_get, lead_status, lead_statuses
from dealflow.web.forms import RecordForm, initial_values, layout_names, posted_data, posted_values
from dealflow.web.pages import (
    ShownField,
    ShownSection,
    owner_names,
    page_view,
    person_name,
    signed_in_user,
)
from dealflow.web.qualification import qualification_panel
from dealflow.web.recent import remember
from dealflow.web.records import owner_choices, record_get, resolver
from dealflow.web.timeline import record_timeline

# The lead's page layout, grouped as Salesforce's default lead layout groups it.
LAYOUT: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Lead Information",
        (
            "salutation",
            "first_name",
            "last_name",
            "title",
            "company",
            "email",
            "phone",
            "mobile_phone",
            "website",
            "lead_source",
            "status",
            "rating",
            "industry",
            "annual_revenue",
            "number_of_employees",
            "owner",
            "do_not_call",
            "has_opted_out_of_email",
        ),
    ),
    ("Address Information", ("street", "city", "state", "postal_code", "country")),
    ("Description", ("description",)),
)
FIELD_NAMES = layout_names(LAYOUT)


# ---------------------------------------------------------------------------------------
# Shared with the list


def open_statuses(current: str = "") -> list[tuple[str, str]]:
    """(name, name) of the active statuses a lead may be set to: converted ones are
    conversion's (the service refuses them); a retired current status stays selectable."""
    names = [
        status.name
        for status in lead_statuses.get()
        if status.is_active and not status.is_converted
    ]
    if current and current not in names:
        names.append(current)
    return [(name, name) for name in names]


# ---------------------------------------------------------------------------------------
# The detail


def _website_url(text: str) -> str:
    """A link for a website as typed ("example.com"); never another scheme than http(s)."""
    lowered = text.lower()
    return text if lowered.startswith(("http://", "https://")) else f"https://{text}"


def _shown_value(lead: Lead, name: str, owner: str) -> ShownField:
    definition = get_object("Lead").field(name)
    assert definition is not None
    label = definition.label
    if name == "owner":
        return ShownField(label, owner)
    if name == "status":
        return ShownField(label, lead.status.name)
    value = getattr(lead, name)
    if isinstance(value, bool):
        return ShownField(label, "Yes" if value else "No")
    if isinstance(value, Decimal):
        return ShownField(label, formats.number_format(value, 2, force_grouping=True))
    if value is None:
        return ShownField(label, "")
    if value and name == "email":
        return ShownField(label, value, f"mailto:{value}")
    if value and name in ("phone", "mobile_phone"):
        return ShownField(label, value, f"tel:{value}")
    if value and name == "website":
        return ShownField(label, value, _website_url(value))
    return ShownField(label, value)


def lead_owner_name(lead: Lead) -> str:
    """The name of the lead's owner: a user or a queue (at most two queries)."""
    names = owner_names([lead.owner_user_id], [lead.owner_queue_id])
    if lead.owner_user_id:
        return names.get(("User", lead.owner_user_id), "")
    return names.get(("Queue", lead.owner_queue_id), "")


def _converted_links(request: HttpRequest, lead: Lead) -> list[ShownField]:
    """The records a converted lead became, each linked when the user may see it."""
    targets = (
        ("Converted Account", "Account", lead.converted_account_id, "account_detail"),
        ("Converted Contact", "Contact", lead.converted_contact_id, "contact_detail"),
        (
            "Converted Opportunity",
            "Opportunity",
            lead.converted_opportunity_id,
            "opportunity_detail",
        ),
    )
    links = []
    for label, object_name, primary_key, url_name in targets:
        if not primary_key:
            links.append(ShownField(label, "None"))
            continue
        public_id = ids.encode(object_name, primary_key)
        try:
            record = record_get(signed_in_user(request), object_name, public_id)
        except DomainError:
            links.append(ShownField(label, "A record you cannot see"))
            continue
        name = getattr(record, "name", None) or person_name(record)
        links.append(ShownField(label, name, reverse(url_name, args=[public_id])))
    return links


def _status_path(lead: Lead) -> list[tuple[str, bool]]:
    """(status name, is the lead's) of the active statuses in order: the "path"."""
    return [
        (status.name, status.pk == lead.status_id)
        for status in lead_statuses.get()
        if status.is_active or status.pk == lead.status_id
    ]


@page_view
def lead_detail(request: HttpRequest, lead_id: str) -> HttpResponse:
    """A lead's fields in Salesforce's groups, its conversion, its timeline and the "Add a
    task / Log a call" form (web/components/_task_form.html, posting to task_new)."""
    lead = lead_get(actor=signed_in_user(request), lead_id=lead_id)
    lead.status = lead_status(lead.status_id)  # from the cache, not a query
    remember(request, lead)
    owner = lead_owner_name(lead)
    sections = [
        ShownSection(title, [_shown_value(lead, name, owner) for name in names])
        for title, names in LAYOUT
    ]
    context = {
        "lead": lead,
        "name": " ".join(part for part in (lead.salutation, person_name(lead)) if part),
        "owner": owner,
        "sections": sections,
        "converted": _converted_links(request, lead) if lead.is_converted else [],
        "status_path": _status_path(lead),
        "timeline": record_timeline(signed_in_user(request), lead),
        "qualification": qualification_panel(request, lead),
    }
    return render(request, "web/leads/detail.html", context)


# ---------------------------------------------------------------------------------------
# Create and edit


def _form(values: Mapping[str, Any]) -> RecordForm:
    """The lead form; the owner is chosen among users and queues, the status among the
    statuses a lead may be set to."""
    return RecordForm(
        "Lead",
        LAYOUT,
        values=values,
        choices={"owner": owner_choices(), "status": open_statuses(values.get("status", ""))},
    )


def _form_page(
    request: HttpRequest, form: RecordForm, *, lead: Lead | None, status: int = 200
) -> HttpResponse:
    context = {"form": form, "lead": lead, "name": person_name(lead) if lead else ""}
    return render(request, "web/leads/form.html", context, status=status)


def _refused_form(request: HttpRequest, error: DomainError, lead: Lead | None) -> HttpResponse:
    """The form again with the service's refusal beside its fields (400)."""
    if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
        raise error  # the 403 page (page_view)
    form = _form(posted_values(request.POST, "Lead", FIELD_NAMES))
    form.fail(error)
    return _form_page(request, form, lead=lead, status=400)


def _email_taken_form(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The new-lead form again (400) when an unconverted lead already has the email: the
    lead by its name, linked, when the user may see it (the service named it then too);
    otherwise only the service's words, which do not say which lead it is."""
    form = _form(posted_values(request.POST, "Lead", FIELD_NAMES))
    form.fail(error)
    email = (request.POST.get("email") or "").strip()
    holder = None
    if email:
        same_email = Lead.objects.filter(email_key=email_key(email), is_converted=False)
        holder = readable(signed_in_user(request), same_email).order_by("pk").first()
    context: dict[str, Any] = {"form": form, "lead": None, "name": ""}
    if holder is not None:
        form.errors["email"] = "An open lead already has this email: see above."
        context["email_holder"] = {
            "name": person_name(holder),
            "url": reverse("lead_detail", args=[holder.public_id]),
        }
    return render(request, "web/leads/form.html", context, status=400)


@page_view
def lead_new(request: HttpRequest) -> HttpResponse:
    """Create a lead; a refusal (a missing Company, say) shows beside its field."""
    if request.method == "POST":
        try:
            data = posted_data(request.POST, "Lead", FIELD_NAMES, resolver(signed_in_user(request)))
            lead = services.lead_create(
                actor=signed_in_user(request),
                data=data,
                allow_duplicates=request.POST.get("allow_duplicates") == "1",
            )
        except DomainError as error:
            if error.code == ErrorCode.DUPLICATE_VALUE and "email" in error.fields:
                return _email_taken_form(request, error)
            return _refused_form(request, error, None)
        messages.success(request, f"Lead “{person_name(lead)}” was created.")
        return redirect("lead_detail", lead.public_id)
    default = next((status.name for status in lead_statuses.get() if status.is_default), "")
    # With assignment rules active the owner starts blank, so the rules choose it.
    owner_id = "" if active_rule_set() else signed_in_user(request).public_id
    values = {"owner_id": owner_id, "status": default}
    return _form_page(request, _form(values), lead=None)


@page_view
def lead_edit(request: HttpRequest, lead_id: str) -> HttpResponse:
    """Change a lead; a converted lead is read-only (the service refuses, the page says so)."""
    lead = lead_get(actor=signed_in_user(request), lead_id=lead_id)
    lead.status = lead_status(lead.status_id)
    if request.method == "POST":
        try:
            data = posted_data(request.POST, "Lead", FIELD_NAMES, resolver(signed_in_user(request)))
            services.lead_update(actor=signed_in_user(request), lead=lead, data=data)
        except DomainError as error:
            if error.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD or lead.is_converted:
                return _converted_edit_page(request, lead, status=400)
            return _refused_form(request, error, lead)
        messages.success(request, f"Lead “{person_name(lead)}” was saved.")
        return redirect("lead_detail", lead.public_id)
    if lead.is_converted:
        return _converted_edit_page(request, lead)
    form = _form(initial_values(lead, "Lead", FIELD_NAMES))
    return _form_page(request, form, lead=lead)


def converted_words(lead: Lead, cannot: str) -> str:
    """A converted lead's refusal in words, without its id: "This lead was converted on
    7 Dec 2026 and can no longer be edited." (`cannot`: "edited", "deleted"); the
    service's message ("lead 00Q… was converted on 2026-12-07 and is read-only") is an
    API client's (leads/services._refuse_converted_lead, DOMAIN.md section 5)."""
    if lead.converted_date is None:
        return f"This lead was converted and can no longer be {cannot}."
    day = formats.date_format(lead.converted_date, "j M Y")
    return f"This lead was converted on {day} and can no longer be {cannot}."


def _converted_edit_page(request: HttpRequest, lead: Lead, *, status: int = 200) -> HttpResponse:
    """The edit page of a converted lead: why it cannot be edited, and no form (the
    detail page offers no Edit; this answers a bookmark or another tab)."""
    context = {
        "lead": lead,
        "name": person_name(lead),
        "read_only": converted_words(lead, "edited"),
    }
    return render(request, "web/leads/form.html", context, status=status)


# ---------------------------------------------------------------------------------------
# Delete


@page_view
def lead_delete(request: HttpRequest, lead_id: str) -> HttpResponse:
    """GET asks "Delete lead X?"; POST deletes through `lead_delete` and goes to the list."""
    lead = lead_get(actor=signed_in_user(request), lead_id=lead_id)
    name = person_name(lead)
    error = ""
    if request.method == "POST":
        try:
            services.lead_delete(actor=signed_in_user(request), lead=lead)
        except DomainError as refusal:
            if refusal.code != ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD:
                raise
            error = converted_words(lead, "deleted")
        else:
            messages.success(request, f"Lead “{name}” was deleted.")
            return redirect("lead_list")
    context = {"lead": lead, "name": name, "error": error}
    return render(request, "web/leads/delete.html", context, status=400 if error else 200)
