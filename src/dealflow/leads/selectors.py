"""Reads of leads, restricted to what the acting user may see."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Q, QuerySet, Value, When

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.selectors import ACCOUNT_LIST
from dealflow.core import rows
from dealflow.core.access import readable
from dealflow.core.cache import ConfigurationCache
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.matching import fold
from dealflow.core.selectors import ListSpec, Page, page_of, record_get, search_records
from dealflow.duplicates.selectors import duplicates_find
from dealflow.leads.models import Lead, LeadStatus
from dealflow.sales.models import Opportunity

# The `lead_source` filter's value for records without a lead source (a blank value is
# no filter at all): the dashboard's "(none)" bar, the list's "(none)" choice, the API.
NO_LEAD_SOURCE = "__none__"

LEAD_LIST = ListSpec(
    filters={
        "owner": "owner_user",
        "owner_queue": "owner_queue",
        "status": "status_id",
        "lead_source": "lead_source",
        "rating": "rating",
        "industry": "industry",
        "is_converted": "is_converted",
        # A status flagged closed ("Closed - Not Converted"); matched by status ids, no join.
        "is_closed": "status_id__in",
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
        "modified_after": "updated_at__gte",
        "modified_before": "updated_at__lt",
        "converted_after": "converted_date__gte",
        "converted_before": "converted_date__lte",
    },
    search=("last_name_key", "first_name_key", "company_key", "email_key", "phone_digits"),
    # Each by an index; names sort case-insensitively (by their matching keys).
    orderings={
        "created_date": "created_at",
        "last_modified_date": "updated_at",
        "first_name": "first_name_key",
        "last_name": "last_name_key",
        "company": "company_key",
        "email": "email_key",
    },
    default_order="-created_date",
    picklists={"lead_source": "lead_source", "rating": "rating", "industry": "industry"},
)


# Statuses are read by every lead write and shown with every lead; see core/cache.py.
lead_statuses: ConfigurationCache[list[LeadStatus]] = ConfigurationCache(
    lambda: list(LeadStatus.objects.all())
)


def lead_status(status_id: int) -> LeadStatus:
    """A status by id, from the cache."""
    status = lead_statuses.find(lambda status: status.pk == status_id)
    if status is None:
        raise LookupError(f"no lead status {status_id}")
    return status


def lead_status_name(status_id: int) -> str:
    return lead_status(status_id).name


def _status_id(name: str) -> int:
    """A status's id by name matched case-insensitively (core/matching.py), from the
    cache; 0, which no row has, for an unknown name."""
    wanted = fold(name)
    status = lead_statuses.find(lambda status: fold(status.name) == wanted)
    return status.pk if status else 0


def lead_queryset() -> QuerySet[Lead]:
    return Lead.objects.all()


def lead_get(*, actor: Any, lead_id: str) -> Lead:
    """A lead the actor may see, by public id (NOT_FOUND otherwise)."""
    return record_get(actor, Lead, lead_id)


def _closed_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise DomainError(ErrorCode.INVALID_FIELD, "is_closed: expected true or false", ["is_closed"])


def lead_page(*, actor: Any, filters: dict[str, Any], **options: Any) -> Page:
    """A page of the leads the actor may see (a status is matched by id: no join).

    `is_closed` (true/false) keeps the leads whose status is (not) flagged closed, as the
    statuses are configured now (DOMAIN.md section 3); an open lead is neither converted
    nor closed. INVALID_FIELD for anything but true or false. `overdue` (True or False)
    keeps the leads that are (not) overdue for their service level now. `lead_source`
    NO_LEAD_SOURCE (`__none__`) keeps the leads without a lead source.
    """
    if filters.get("status") is not None:
        filters = {**filters, "status": _status_id(filters["status"])}
    if filters.get("lead_source") == NO_LEAD_SOURCE:
        filters = {**filters, "lead_source": ""}
    if filters.get("is_closed") is not None:
        closed = _closed_flag(filters["is_closed"])
        status_ids = [status.pk for status in lead_statuses.get() if status.is_closed == closed]
        filters = {**filters, "is_closed": status_ids or [0]}
    if filters.get("overdue") is not None:  # service levels (leads/service_levels.py)
        from dealflow.leads.service_levels import OVERDUE_LIST, overdue_queryset

        return page_of(actor, overdue_queryset(), OVERDUE_LIST, filters=filters, **options)
    return page_of(actor, lead_queryset(), LEAD_LIST, filters=filters, **options)


def lead_visible(*, actor: Any) -> QuerySet[Lead]:
    """Every lead the actor may see (reports, exports)."""
    return readable(actor, lead_queryset())


def lead_status_list() -> QuerySet[LeadStatus]:
    return LeadStatus.objects.all()


# ---------------------------------------------------------------------------------------
# Conversion suggestions and preview (DOMAIN.md section 5; the guided conversion page)


def _accounts_of(records: list[tuple[Any, ...]]) -> list[Account]:
    """Account instances of rows read by `rows.fetch` (no query)."""
    names = rows.attnames(Account)
    return [Account.from_db(None, names, record) for record in records]


def conversion_account_candidates(*, actor: Any, lead: Lead, limit: int = 10) -> list[Account]:
    """Up to `limit` accounts the actor may see that the lead's Company may name.

    First the accounts whose name equals the Company after Unicode normalisation and case
    folding (`Account.name_key`, core/matching.py), then those the account duplicate
    rules match (duplicates_find: the company without its legal form, a name spelled
    otherwise in the same city or with the same phone; best score first), then those
    whose name or website starts with it (`search_records` with ACCOUNT_LIST, the global
    search's read), each in key order. Every query is bounded (an index range that stops
    after `limit` rows, or the duplicate check's 200 candidates): at most four queries,
    however many accounts there are.
    """
    company_key = fold(lead.company)
    if not company_key or limit < 1:
        return []
    exact = readable(actor, Account.objects.filter(name_key=company_key[:255]))
    found = list(exact.order_by("name_key", "pk")[:limit])
    # The account duplicate rules (docs/duplicates.md), best score first: "ACME GmbH"
    # for "Acme, Inc.", a name spelled otherwise in the lead's city. One query.
    values = {"name": lead.company, "billing_city": lead.city, "phone": lead.phone}
    seen = {account.pk for account in found}
    found += [
        match.record
        for match in duplicates_find(object_name="Account", values=values, actor=actor)
        if match.record is not None and match.record.pk not in seen
    ]
    if len(found) < limit:
        seen = {account.pk for account in found}
        similar = search_records(
            actor, Account.objects.all(), ACCOUNT_LIST, lead.company, limit=limit
        )
        found += [account for account in _accounts_of(similar) if account.pk not in seen]
    return found[:limit]


def _contact_key(name: str, lead: Lead) -> str:
    """The lead's value as the contact's matching key `name` would hold it (the same
    normaliser and length: the lead has the fields the contact's keys are made from)."""
    return Contact._meta.get_field(name).key_of(lead)  # type: ignore[attr-defined]


def conversion_contact_candidates(
    *, actor: Any, account: Account | None, lead: Lead, limit: int = 10
) -> list[Contact]:
    """Up to `limit` contacts of `account` the actor may see that may be the lead's person.

    A contact matches by email (`email_key`: case-folded, IDNA domains) or by name (the
    last name's key, and the first name's when the lead has one); those matching by
    email come first, then by last and first name; then the account's contacts the
    contact duplicate rules match (duplicates_find: a first name spelled otherwise, a
    phone in common; best score first). Two queries, bounded by the account's contacts
    (indexed by account) and the duplicate check's 200 candidates; none without an account.
    """
    if account is None or limit < 1:
        return []
    matches = Q()
    lead_email = _contact_key("email_key", lead)
    if lead_email:
        matches |= Q(email_key=lead_email)
    last_name = _contact_key("last_name_key", lead)
    if last_name:
        same_name = Q(last_name_key=last_name)
        first_name = _contact_key("first_name_key", lead)
        if first_name:
            same_name &= Q(first_name_key=first_name)
        matches |= same_name
    if not matches:
        return []
    order: list[Any] = ["last_name_key", "first_name_key", "pk"]
    if lead_email:
        by_email_first = Case(When(email_key=lead_email, then=Value(0)), default=Value(1))
        order.insert(0, by_email_first)
    contacts = readable(actor, Contact.objects.filter(matches, account=account))
    found = list(contacts.order_by(*order)[:limit])
    # The contact duplicate rules (docs/duplicates.md), best score first, within the
    # account: a first name spelled otherwise, the same phone. One query.
    names = ("first_name", "last_name", "email", "phone", "mobile_phone")
    values = {**{name: getattr(lead, name) for name in names}, "account": account}
    seen = {contact.pk for contact in found}
    found += [
        match.record
        for match in duplicates_find(object_name="Contact", values=values, actor=actor)
        if match.record is not None
        and match.record.account_id == account.pk
        and match.record.pk not in seen
    ]
    return found[:limit]


@dataclass(frozen=True)
class PreviewRecord:
    """One record a conversion will create or change, as the preview shows it.

    `filled` holds (field name, value from the lead) for each blank field of an existing
    record the conversion fills (or Lead Source it overwrites), in the mapping's order.
    """

    object_name: str
    name: str
    created: bool
    filled: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ConversionPreview:
    """What `lead_convert` would do with these options; `opportunity` None: no deal."""

    account: PreviewRecord
    contact: PreviewRecord
    opportunity: PreviewRecord | None


def _filled(record: Any, lead: Lead, mapping: dict[str, str]) -> tuple[tuple[str, Any], ...]:
    """The fields conversion would fill on the record: the service's own rule, run on a
    copy so the record itself is untouched."""
    from dealflow.leads.services import _fill_blanks  # services import this module

    copied = copy.copy(record)
    changes = _fill_blanks(copied, lead, mapping)
    return tuple((name, getattr(copied, name)) for name in changes)


def _contact_name(first_name: str, last_name: str) -> str:
    return " ".join(part for part in (first_name, last_name) if part)


def conversion_preview(
    *,
    lead: Lead,
    account: Account | None,
    contact: Contact | None,
    opportunity: Opportunity | None,
    create_opportunity: bool,
    opportunity_name: str | None,
    overwrite_lead_source: bool = False,
) -> ConversionPreview:
    """What converting the lead with these options creates, and which blank fields of the
    existing account, contact or opportunity it fills from the lead (no query, no write).

    Uses the service's field mappings and blank-filling rule (leads/services.py), so the
    preview and the conversion cannot disagree. Options the service would refuse (a
    contact of another account, say) are previewed as given; the service says why.
    """
    from dealflow.leads.services import (
        ACCOUNT_MAPPING,
        CONTACT_MAPPING,
        OPPORTUNITY_NAME_LENGTH,
    )

    if account is None:
        account_preview = PreviewRecord("Account", lead.company, created=True)
    else:
        account_preview = PreviewRecord(
            "Account", account.name, created=False, filled=_filled(account, lead, ACCOUNT_MAPPING)
        )
    if contact is None:
        contact_name = _contact_name(lead.first_name, lead.last_name)
        contact_preview = PreviewRecord("Contact", contact_name, created=True)
    else:
        filled = _filled(contact, lead, CONTACT_MAPPING)
        overwritten = lead.lead_source and lead.lead_source != contact.lead_source
        if overwrite_lead_source and overwritten and "lead_source" not in dict(filled):
            filled += (("lead_source", lead.lead_source),)
        contact_preview = PreviewRecord(
            "Contact",
            _contact_name(contact.first_name, contact.last_name),
            created=False,
            filled=filled,
        )
    return ConversionPreview(
        account=account_preview,
        contact=contact_preview,
        opportunity=_opportunity_preview(
            lead,
            account_preview,
            opportunity,
            create_opportunity,
            (opportunity_name or "").strip() or lead.company[:OPPORTUNITY_NAME_LENGTH],
        ),
    )


def _opportunity_preview(
    lead: Lead,
    account: PreviewRecord,
    opportunity: Opportunity | None,
    create_opportunity: bool,
    new_name: str,
) -> PreviewRecord | None:
    """As `leads.services._convert_opportunity`: an existing deal gets the account and
    the lead's source when it has none; a new one is named `new_name`."""
    if opportunity is not None:
        filled: tuple[tuple[str, Any], ...] = ()
        if opportunity.account_id is None:
            filled += (("account", account.name),)
        if not opportunity.lead_source and lead.lead_source:
            filled += (("lead_source", lead.lead_source),)
        return PreviewRecord("Opportunity", opportunity.name, created=False, filled=filled)
    if not create_opportunity:
        return None
    return PreviewRecord("Opportunity", new_name, created=True)
