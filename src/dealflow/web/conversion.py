"""The guided conversion of a lead (DOMAIN.md section 5) at /leads/<id>/convert/.

GET shows every option of `lead_convert`: the suggested accounts and, within the chosen
account, the suggested contacts and its open opportunities, with a preview of the outcome.
While the options change, htmx GETs `?part=update` for the preview again (and for the
contact and opportunity choices too when the account changed). POST converts through the
service with the idempotency key the page was rendered with, so a double click converts
once; a refusal shows the page again with the service's reason. A converted lead's page
links the account, contact and opportunity it became.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dealflow.accounts.models import Account, Contact
from dealflow.core import ids, rows
from dealflow.core.access import can_edit
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import get_object
from dealflow.leads import services as lead_services
from dealflow.leads.models import Lead
from dealflow.leads.selectors import (
    PreviewRecord,
    conversion_account_candidates,
    conversion_contact_candidates,
    conversion_preview,
    lead_get,
    lead_status_name,
    lead_statuses,
)
from dealflow.sales.models import Opportunity
from dealflow.sales.selectors import opportunity_page, stage_name
from dealflow.sales.services import first_open_stage
from dealflow.web.leads import converted_words, lead_owner_name
from dealflow.web.pages import page_view, person_name
from dealflow.web.qualification import qualification_gate_context
from dealflow.web.records import record_get, user_choices

NEW = "new"  # create the record
OTHER = "other"  # an existing record chosen with the lookup (`<option>_other`)
NO_OPPORTUNITY = "none"
# The page's first offer: the account named exactly as the lead's company when there is
# one (converting into it beats creating a duplicate), else a new account.
SAME_NAME = "same-name"
NOT_A_RECORD = ("", NEW, OTHER, NO_OPPORTUNITY)
SUGGESTIONS = 10  # accounts, contacts and opportunities offered, each


@dataclass
class Options:
    """The form's choices as text. `account` and `contact` are "new", a suggestion's
    public id or "other" (then `<name>_other` holds the lookup's id); `opportunity` is
    "new", "none" or a suggestion's public id."""

    account: str = NEW
    account_other: str = ""
    contact: str = NEW
    contact_other: str = ""
    opportunity: str = NEW
    opportunity_name: str = ""
    converted_status: str = ""
    owner: str = ""
    overwrite_lead_source: bool = False
    idempotency_key: str = ""
    qualification_override_reason: str = ""  # managers and admins (web/qualification.py)
    # The account whose contacts and opportunities the page shows ("" for a new one).
    account_shown: str = ""


def _converted_statuses() -> list[str]:
    """The names of the active converted lead statuses, in order (cached)."""
    statuses = lead_statuses.get()
    return [status.name for status in statuses if status.is_converted and status.is_active]


def _default_options(lead: Lead, actor: Any) -> Options:
    """Salesforce's defaults but for the account: the account named as the company if there
    is one (else a new one), a new contact and an opportunity named as the lead's Company
    (DOMAIN.md §5: "an opportunity name (default: the lead's Company)"; not Salesforce
    Classic's "<Company>-", which reads as unfinished),
    the first converted status, the lead's owner (the converting user when a queue owns
    it) and a fresh idempotency key."""
    statuses = _converted_statuses()
    owner_id = ids.encode("User", lead.owner_user_id) if lead.owner_user_id else actor.public_id
    return Options(
        account=SAME_NAME,
        opportunity_name=lead.company[: lead_services.OPPORTUNITY_NAME_LENGTH],
        converted_status=statuses[0] if statuses else "",
        owner=owner_id,
        idempotency_key=uuid.uuid4().hex,
    )


def _given_options(data: Mapping[str, str]) -> Options:
    """The options a form posted (or htmx sent in the query string)."""
    text = {item.name: (data.get(item.name) or "").strip() for item in fields(Options)}
    text["opportunity_name"] = data.get("opportunity_name") or ""  # the service strips it
    return Options(**{**text, "overwrite_lead_source": bool(data.get("overwrite_lead_source"))})


def _existing(option: str, other: str) -> str:
    """The public id an option names: the suggestion's, the lookup's, or a NOT_A_RECORD."""
    return other if option == OTHER else option


def _chosen(
    actor: Any, object_name: str, public_id: str, known: Iterable[Any], errors: list[str]
) -> Any:
    """The record with this id, from the suggestions already read or through its selector;
    None for "create one" or when the actor may not see it (then a message in `errors`:
    a refusal of the options, not a 404 of the page)."""
    if public_id in NOT_A_RECORD:
        return None
    for record in known:
        if record.public_id == public_id:
            return record
    try:
        return record_get(actor, object_name, public_id)
    except DomainError:
        field_name = "owner_id" if object_name == "User" else f"{object_name.lower()}_id"
        errors.append(f"{field_name}: no {object_name.lower()} you can see has this id")
        return None


# ---------------------------------------------------------------------------------------
# The page: suggestions, choices and preview


def _opportunity_candidates(actor: Any, account: Account | None) -> list[Opportunity]:
    """The account's open opportunities the actor may see, by close date (one query)."""
    if account is None:
        return []
    page = opportunity_page(
        actor=actor,
        filters={"account": account.pk, "is_closed": False},
        order_by="close_date",
        limit=SUGGESTIONS,
    )
    names = rows.attnames(Opportunity)
    opportunities = [Opportunity.from_db(None, names, record) for record in page.records]
    for opportunity in opportunities:
        opportunity.stage_name = stage_name(opportunity.stage_id)  # cached: no query
    return opportunities


@dataclass
class Choices:
    """What the page offers and which of it is chosen."""

    options: Options  # as shown: a suggestion of another account falls back to "new"
    accounts: list[Account]
    contacts: list[Contact]
    opportunities: list[Opportunity]
    account: Account | None
    contact: Contact | None
    opportunity: Opportunity | None
    errors: list[str]

    @property
    def problems(self) -> list[str]:
        """The errors in words, without their field's name ("Contact Vera Parker (003...)
        does not belong to account ...")."""
        return [_sentence(message.split(": ", 1)[-1]) for message in self.errors]

    @property
    def missing(self) -> str:
        """ "account" or "contact" when an existing one is wanted but its lookup names none
        (or none the actor may see) yet; "" otherwise."""
        if self.options.account == OTHER and self.account is None:
            return "account"
        if self.options.contact == OTHER and self.contact is None:
            return "contact"
        return ""


def _within_account(
    options: Options, contacts: list[Contact], opportunities: list[Opportunity]
) -> Options:
    """The options as the page shows them for the account chosen: a contact or
    opportunity suggested for another account falls back to a new one."""
    shown = replace(options)
    if options.contact not in (NEW, OTHER) and options.contact not in {
        contact.public_id for contact in contacts
    }:
        shown.contact = NEW
    if options.opportunity not in (NEW, NO_OPPORTUNITY) and options.opportunity not in {
        opportunity.public_id for opportunity in opportunities
    }:
        shown.opportunity = NEW
    return shown


def _choices(actor: Any, lead: Lead, options: Options) -> Choices:
    """The suggestions and the chosen records: a fixed number of queries however many
    accounts, contacts or opportunities match (each suggestion list is limited)."""
    errors: list[str] = []
    accounts = conversion_account_candidates(actor=actor, lead=lead, limit=SUGGESTIONS)
    if options.account == SAME_NAME:
        name_key = Account._meta.get_field("name_key").key_of(Account(name=lead.company))  # type: ignore[attr-defined]
        same_name = bool(accounts) and accounts[0].name_key == name_key
        options = replace(options, account=accounts[0].public_id if same_name else NEW)
    account_id = _existing(options.account, options.account_other)
    account = _chosen(actor, "Account", account_id, accounts, errors)
    contacts = conversion_contact_candidates(
        actor=actor, account=account, lead=lead, limit=SUGGESTIONS
    )
    opportunities = _opportunity_candidates(actor, account)
    shown = _within_account(options, contacts, opportunities)
    shown.account_shown = account.public_id if account else ""
    if account is None:
        shown.contact = NEW  # a new account has no contacts yet
    contact_id = _existing(shown.contact, shown.contact_other)
    contact = _chosen(actor, "Contact", contact_id, contacts, errors)
    # Said before the user presses Convert: the service refuses it the same way.
    mismatch = lead_services.conversion_contact_mismatch(contact, account)
    if mismatch:
        errors.append(mismatch)
    return Choices(
        options=shown,
        accounts=accounts,
        contacts=contacts,
        opportunities=opportunities,
        account=account,
        contact=contact,
        opportunity=_chosen(actor, "Opportunity", shown.opportunity, opportunities, errors),
        errors=errors,
    )


@dataclass(frozen=True)
class PreviewLine:
    """One record in the preview: created or existing, and the fields filled from the lead
    as (label, value)."""

    object_label: str
    name: str
    created: bool
    filled: list[tuple[str, Any]]
    detail: str = ""


def _preview_line(record: PreviewRecord, detail: str = "") -> PreviewLine:
    definition = get_object(record.object_name)
    filled = []
    for name, value in record.filled:
        field_def = definition.field(name)
        label = field_def.label if field_def else name
        filled.append((label, "Yes" if value is True else value))
    return PreviewLine(definition.label, record.name, record.created, filled, detail)


def _new_opportunity_detail() -> str:
    try:
        return f"in stage {first_open_stage().name}"
    except DomainError as error:  # no open stage configured: conversion will say so too
        return error.message


def _preview(lead: Lead, choices: Choices) -> list[PreviewLine] | None:
    """The preview of the options shown; None while an existing account or contact is
    wanted but not chosen yet, or a choice is refused (`choices.errors`)."""
    if choices.missing or choices.errors:
        return None
    options = choices.options
    result = conversion_preview(
        lead=lead,
        account=choices.account,
        contact=choices.contact,
        opportunity=choices.opportunity,
        create_opportunity=options.opportunity != NO_OPPORTUNITY,
        opportunity_name=options.opportunity_name,
        overwrite_lead_source=options.overwrite_lead_source,
    )
    lines = [_preview_line(result.account), _preview_line(result.contact)]
    if result.opportunity is not None:
        detail = _new_opportunity_detail() if result.opportunity.created else ""
        lines.append(_preview_line(result.opportunity, detail))
    return lines


def _context(request: HttpRequest, lead: Lead, options: Options) -> dict[str, Any]:
    """Everything the page and its parts show, in a fixed number of queries."""
    choices = _choices(request.user, lead, options)
    shown = choices.options
    return {
        "lead": lead,
        "lead_name": person_name(lead),
        "lead_status": lead_status_name(lead.status_id),
        "lead_owner": lead_owner_name(lead),
        "choices": choices,
        "options": shown,
        "account_objects": ["Account"],
        "contact_objects": ["Contact"],
        "converted_statuses": _converted_statuses(),
        "owners": user_choices(),
        "preview": _preview(lead, choices),
        "account_other_text": choices.account.name
        if shown.account == OTHER and choices.account
        else "",
        "contact_other_text": str(choices.contact)
        if shown.contact == OTHER and choices.contact
        else "",
        "may_convert": can_edit(request.user, lead),
        "name_length": lead_services.OPPORTUNITY_NAME_LENGTH,
        "gate": qualification_gate_context(request, lead, shown.qualification_override_reason),
    }


# ---------------------------------------------------------------------------------------
# Converting


def _convert(actor: Any, lead: Lead, options: Options) -> None:
    """Convert with the options as posted; the service decides (DomainError)."""
    errors: list[str] = []
    account_id = _existing(options.account, options.account_other)
    contact_id = _existing(options.contact, options.contact_other)
    account = _chosen(actor, "Account", account_id, (), errors)
    contact = _chosen(actor, "Contact", contact_id, (), errors)
    opportunity = _chosen(actor, "Opportunity", options.opportunity, (), errors)
    owner = _chosen(actor, "User", options.owner, [actor], errors)
    if options.account == OTHER and not options.account_other:
        errors.append("account_id: choose the existing account, or create a new one")
    if options.contact == OTHER and not options.contact_other:
        errors.append("contact_id: choose the existing contact, or create a new one")
    if errors:
        # One refusal per field ("account_id: ..."), so the page puts each beside its input.
        refusals = [
            DomainError(ErrorCode.INVALID_FIELD, message, [message.split(":", 1)[0]])
            for message in errors
        ]
        refusals[0].also = refusals[1:]
        raise refusals[0]
    lead_services.lead_convert(
        actor=actor,
        lead=lead,
        converted_status=options.converted_status or None,
        account=account,
        contact=contact,
        opportunity=opportunity,
        create_opportunity=options.opportunity != NO_OPPORTUNITY,
        opportunity_name=options.opportunity_name if options.opportunity == NEW else None,
        owner=owner,
        overwrite_lead_source=options.overwrite_lead_source,
        idempotency_key=options.idempotency_key or None,
        qualification_override_reason=options.qualification_override_reason or None,
    )


def _converted_records(actor: Any, lead: Lead) -> list[dict[str, Any]]:
    """The account, contact and opportunity the lead became: each with its record, or
    None when there is none, it was deleted or the actor may not see it (<= 3 queries)."""
    wanted = (
        ("Account", "account_detail", lead.converted_account_id),
        ("Contact", "contact_detail", lead.converted_contact_id),
        ("Opportunity", "opportunity_detail", lead.converted_opportunity_id),
    )
    found = []
    for object_name, url_name, primary_key in wanted:
        record = None
        if primary_key:
            try:
                record = record_get(actor, object_name, ids.encode(object_name, primary_key))
            except DomainError:
                record = None
        found.append(
            {
                "object_name": object_name,
                "url_name": url_name,
                "record": record,
                "set": bool(primary_key),
            }
        )
    return found


def _converted_page(
    request: HttpRequest, lead: Lead, *, error: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "lead": lead,
        "lead_name": person_name(lead),
        "converted": _converted_records(request.user, lead),
        "error": error,
    }
    return render(request, "web/leads/convert_done.html", context, status=status)


def _refused(
    request: HttpRequest, lead: Lead, options: Options, error: DomainError
) -> HttpResponse:
    """The page again with the service's reason: 403 when the user may not change the
    lead or a record it would fill, 400 otherwise. A lead converted meanwhile (another
    tab, another user) shows what it became, with the reason."""
    status = 403 if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY else 400
    current = lead_get(actor=request.user, lead_id=lead.public_id)
    if current.is_converted:
        # In words, without the lead's id: "This lead was converted on 27 Nov 2026 and
        # can no longer be converted." (the service's is an API client's message).
        message = (
            converted_words(current, "converted")
            if error.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD
            else error.message
        )
        return _converted_page(request, current, error=message, status=status)
    context = _context(request, current, options)
    field_errors, others = _field_errors(error)
    context["field_errors"] = field_errors
    context["error_fields"] = [
        (label, input_id)
        for name, (label, input_id) in CHOICE_INPUTS.items()
        if name in field_errors
    ]
    context["error"] = " ".join(others)
    return render(request, "web/leads/convert.html", context, status=status)


# The choices a refusal can name, with the words and the input the page shows them by.
CHOICE_INPUTS = {
    "account_id": ("Account", "account-other-search"),
    "contact_id": ("Contact", "contact-other-search"),
    "overwrite_lead_source": ("Overwrite Lead Source", "conversion-overwrite-lead-source"),
    "opportunity_name": ("Opportunity Name", "opportunity-name"),
    "converted_status": ("Converted Status", "conversion-status"),
    "owner_id": ("Record Owner", "conversion-owner"),
}


def _sentence(words: str) -> str:
    """A refusal's words as a sentence: capitalised, ending with a full stop."""
    words = words[:1].upper() + words[1:]
    return words if words.endswith(".") else f"{words}."


def _field_errors(error: DomainError) -> tuple[dict[str, str], list[str]]:
    """A refusal split for the page: ({"account_id": "Choose the existing account, or
    create a new one."}, the other messages as given), so a choice's problem shows beside
    its input in words rather than as "account_id: choose ..." above the form."""
    field_errors: dict[str, str] = {}
    others: list[str] = []
    for each in error.every():
        named = [name for name in each.fields if name in CHOICE_INPUTS]
        if not named:
            others.append(each.message)
            continue
        # The field the message is about (its "field: " prefix), else the first named.
        name = next((name for name in named if each.detail(name) != each.message), named[0])
        field_errors.setdefault(name, _sentence(each.detail(name)))
    return field_errors, others


@page_view
def lead_convert(request: HttpRequest, lead_id: str) -> HttpResponse:
    """The convert page of a lead the user may see (404 otherwise); see the module doc."""
    lead = lead_get(actor=request.user, lead_id=lead_id)
    if request.method == "POST":
        options = _given_options(request.POST)
        try:
            # Also for a converted lead: a retry with the key that converted it gets its
            # result back; any other key is refused by the service, with its reason.
            _convert(request.user, lead, options)
        except DomainError as error:
            return _refused(request, lead, options, error)
        return redirect("lead_convert", lead_id=lead.public_id)
    if lead.is_converted and request.GET.get("part") == "update":
        # Converted meanwhile (another tab, another user): say so in the preview.
        context = {"lead": lead, "converted_meanwhile": True}
        return render(request, "web/leads/_convert_update.html", context)
    if lead.is_converted:
        return _converted_page(request, lead)
    if request.GET.get("part") == "update":
        given = _given_options(request.GET)
        context = _context(request, lead, given)
        context["account_changed"] = given.account_shown != context["options"].account_shown
        return render(request, "web/leads/_convert_update.html", context)
    options = _default_options(lead, request.user)
    return render(request, "web/leads/convert.html", _context(request, lead, options))
