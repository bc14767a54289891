"""Writes for leads: create, update and the one atomic conversion."""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.automation.scoring import lead_changed, lead_created
from dealflow.automation.selectors import active_rule_set
from dealflow.automation.services import assignment_decide, assignment_record
from dealflow.core import ids, rows
from dealflow.core.access import can_read, require_admin, require_edit
from dealflow.core.audit import audit_event, changes_since, creation_changes, snapshot
from dealflow.core.cache import configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.idempotency import fingerprint, once
from dealflow.core.matching import email_key
from dealflow.core.metadata import get_object
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.core.services import configuration_name, locked_configuration_row, record_delete
from dealflow.core.validation import apply_values, check_storable_text, clean_values
from dealflow.duplicates.services import (
    duplicate_keys_changed,
    duplicate_keys_rewrite,
    duplicate_keys_write,
    duplicates_check,
)
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.qualification import qualification_gate, qualification_override_save
from dealflow.leads.selectors import lead_status, lead_statuses
from dealflow.people.models import Queue, User
from dealflow.sales.models import Opportunity, OpportunityContactRole, Task, TaskStatus
from dealflow.sales.services import first_open_stage, history_row


def set_lead_owner(lead: Lead, owner: User | Queue) -> None:
    """Point the lead's two owner columns at a user or a queue (one of them is null);
    shared with imports (dataio), which write owners in bulk."""
    if isinstance(owner, Queue):
        lead.owner_user, lead.owner_queue = None, owner
    else:
        lead.owner_user, lead.owner_queue = owner, None


def refuse_converted_status(status: LeadStatus) -> None:
    """INVALID_STATUS: only lead_convert gives a lead a converted status (also imports)."""
    if status.is_converted:
        raise DomainError(
            ErrorCode.INVALID_STATUS,
            f"status: {status.name!r} is a converted status; convert the lead instead",
            ["status"],
        )


def _duplicate_email_error(actor: User, email: str, existing: Lead | None) -> DomainError:
    """DUPLICATE_VALUE naming the lead that has the email only if the actor may see it."""
    if existing is not None and can_read(actor, existing):
        holder = f"an unconverted lead ({existing.public_id})"
    else:
        holder = "an unconverted lead you cannot see"
    return DomainError(
        ErrorCode.DUPLICATE_VALUE, f"email: {holder} already has the email {email!r}", ["email"]
    )


@contextmanager
def _duplicate_email_refused(actor: User, email: str, lead_id: int = 0) -> Iterator[None]:
    """Turn the unique index's refusal of an email into DUPLICATE_VALUE.

    Letting the index (on the email's matching key, core/matching.py) decide costs no
    query on the common path and cannot be raced. Put this around the transaction (or
    savepoint): once it has rolled back, the existing lead can be looked up to name it.
    """
    try:
        yield
    except IntegrityError as error:
        text = str(error)
        # PostgreSQL names the index; SQLite names the indexed column.
        if "lead_unconverted_email_unique" not in text and "leads_lead.email_key" not in text:
            raise
        existing = (
            Lead.objects.filter(email_key=email_key(email), is_converted=False)
            .exclude(pk=lead_id)  # the lead being changed (0, no lead, on create)
            .order_by()
            .first()
        )
        raise _duplicate_email_error(actor, email, existing) from error


def default_lead_status() -> LeadStatus:
    """The status new leads get."""
    for status in lead_statuses.get():
        if status.is_default:
            return status
    raise DomainError(ErrorCode.INVALID_STATUS, "No default lead status is configured", ["status"])


def _owner_until_assigned(actor: User) -> User | None:
    """Who owns a new lead until a worker has run the rules (DEALFLOW_ASSIGNMENT=worker):
    the rules' default owner, else the acting user; None when no rules are active."""
    rule_set = active_rule_set()
    if rule_set is None:
        return None
    default_owner = rule_set.default_owner
    return default_owner if default_owner is not None and default_owner.is_active else actor


def _assign_later(lead_id: int) -> None:
    from dealflow.automation.tasks import assign_leads  # automation's tasks import leads

    assign_leads.delay([lead_id])


def lead_create(
    *, actor: User, data: Mapping[str, Any], assign: bool = True, allow_duplicates: bool = False
) -> Lead:
    """Create a lead with the default status; the owner defaults to the acting user.

    A lead the duplicate rules match to records the actor can see is refused
    (DUPLICATES_DETECTED with the matches, docs/duplicates.md) unless `allow_duplicates`;
    its duplicate keys are written in the lead's transaction.

    Without an owner, active assignment rules choose it and record why (automation),
    unless `assign` is False: in this transaction when settings.DEALFLOW_ASSIGNMENT is
    "inline", else (with a broker, by default) by the task
    `dealflow.automation.tasks.assign_leads` after commit, the lead owned meanwhile by
    the rules' default owner or the acting user. With fit rules set, the task
    `dealflow.automation.tasks.score_leads` scores the lead after commit.
    """
    cleaned = clean_values(get_object("Lead"), data, creating=True)
    given_owner = cleaned.pop("owner", None)
    owner = given_owner or actor
    status = cleaned.pop("status", None) or default_lead_status()
    refuse_converted_status(status)
    lead = Lead(status=status)
    set_lead_owner(lead, owner)
    apply_values(lead, cleaned)
    profile = duplicates_check(
        object_name="Lead", record=lead, actor=actor, allow_duplicates=allow_duplicates
    )
    with _duplicate_email_refused(actor, lead.email), transaction.atomic():
        decision, waiting_owner = None, None
        if assign and not given_owner:
            if settings.DEALFLOW_ASSIGNMENT == "worker":
                waiting_owner = _owner_until_assigned(actor)
            else:
                # In the transaction: dealing from a pool locks the round until the lead is in.
                decision = assignment_decide(actor=actor, lead=lead)
        if decision is not None and decision.owner is not None:
            set_lead_owner(lead, decision.owner)
        if waiting_owner is not None:
            set_lead_owner(lead, waiting_owner)
        # The busiest write: two inserts without compiling a query (see core/rows.py).
        rows.insert(lead)
        names = [field.name for field in get_object("Lead").fields if field.createable]
        changes = creation_changes(lead, [*names, "status"])
        rows.insert(audit_event(actor, lead, AuditAction.CREATE, changes))
        duplicate_keys_write(object_name="Lead", record=lead, profile=profile, created=True)
        if decision is not None:
            assignment_record(actor=actor, lead=lead, decision=decision)
        # robust: the lead stays created if the broker is down (docs/operations.md).
        lead_id = lead.pk
        if waiting_owner is not None:
            transaction.on_commit(lambda: _assign_later(lead_id), robust=True)
        lead_created(lead_id=lead_id)  # its score and likelihood, on commit
    return lead


def _locked_lead(lead_id: int) -> Lead:
    """The lead, its row locked until the transaction ends (PostgreSQL; SQLite locks it all).

    One statement without joins: PostgreSQL re-checks a locked row's join conditions
    after waiting, so a waiter joined to the old status row would find nothing. The
    status comes from the cache; the owner loads when first used.
    """
    lead = rows.by_primary_key(Lead, lead_id, for_update=True)
    if lead is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, f"lead {ids.encode('Lead', lead_id)} does not exist", ["id"]
        )
    lead.status = lead_status(lead.status_id)
    return lead


def _refuse_converted_lead(lead: Lead) -> None:
    if lead.is_converted:
        raise DomainError(
            ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD,
            f"lead {lead.public_id} was converted on {lead.converted_date} and is read-only",
            ["id"],
        )


def lead_update(*, actor: User, lead: Lead, data: Mapping[str, Any]) -> Lead:
    """Change fields of an unconverted lead; a converted status is refused."""
    cleaned = clean_values(get_object("Lead"), data, creating=False)
    with _duplicate_email_refused(actor, cleaned.get("email", ""), lead.pk), transaction.atomic():
        lead = _locked_lead(lead.pk)
        require_edit(actor, lead)
        _refuse_converted_lead(lead)
        if "status" in cleaned:
            refuse_converted_status(cleaned["status"])
        owner = cleaned.pop("owner", None)
        before = snapshot(lead, [*cleaned, "owner_user", "owner_queue"])
        apply_values(lead, cleaned)
        if owner is not None:
            set_lead_owner(lead, owner)
        changes = changes_since(before, lead)
        if not changes:
            return lead
        lead.save(update_fields=[*changes, "updated_at"])  # and the keys (TimeStampedModel)
        audit_event(actor, lead, AuditAction.UPDATE, changes).save()
        lead_changed(lead_id=lead.pk, fields=changes)  # its score and likelihood, on commit
        if duplicate_keys_changed("Lead", changes):
            duplicate_keys_write(object_name="Lead", record=lead, created=False)
    return lead


def lead_delete(*, actor: User, lead: Lead) -> None:
    """Delete an unconverted lead with its tasks; converted leads stay for reporting.

    The lead is re-read under its row lock: a caller's copy may predate a conversion.
    """
    with transaction.atomic():
        lead = _locked_lead(lead.pk)
        _refuse_converted_lead(lead)
        record_delete(actor=actor, record=lead)


# At most a list page's worth of leads per bulk change (core.selectors.MAX_PAGE_SIZE).
BULK_UPDATE_LIMIT = 200


def lead_bulk_update(*, actor: User, lead_ids: list[int], data: Mapping[str, Any]) -> list[Lead]:
    """Apply the same `lead_update` to several leads (by primary key) in one transaction.

    All or nothing: the first refusal rolls every change back and is raised again with
    its message prefixed by the lead it concerns (`lead 00Q...: ...`), its code and fields
    unchanged. A lead the actor may not see is NOT_FOUND, as when opened alone. Leads are
    locked in primary-key order, so two bulk changes of overlapping leads cannot deadlock.
    Returns the updated leads in that order. Refuses an empty list and more than
    BULK_UPDATE_LIMIT leads (a list page's bulk action covers one page).
    """
    wanted = sorted(set(lead_ids))
    if not wanted:
        raise DomainError(
            ErrorCode.REQUIRED_FIELD_MISSING, "lead_ids: choose at least one lead", ["lead_ids"]
        )
    if len(wanted) > BULK_UPDATE_LIMIT:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"lead_ids: at most {BULK_UPDATE_LIMIT} leads at once (got {len(wanted)})",
            ["lead_ids"],
        )
    updated = []
    with transaction.atomic():
        for lead_id in wanted:
            public_id = ids.encode("Lead", lead_id)
            lead = rows.by_primary_key(Lead, lead_id)
            if lead is None or not can_read(actor, lead):
                raise DomainError(
                    ErrorCode.NOT_FOUND,
                    f"lead {public_id}: no lead you can see has this id",
                    ["lead_ids"],
                )
            try:
                updated.append(lead_update(actor=actor, lead=lead, data=data))
            except DomainError as error:
                raise DomainError(
                    error.code, f"lead {public_id}: {error.message}", error.fields
                ) from error
    return updated


# ---------------------------------------------------------------------------------------
# Conversion (DOMAIN.md section 5)

# Lead field -> field of the record conversion creates or fills.
ACCOUNT_MAPPING = {
    "company": "name",
    "website": "website",
    "industry": "industry",
    "annual_revenue": "annual_revenue",
    "number_of_employees": "number_of_employees",
    "rating": "rating",
    "lead_source": "account_source",
    "street": "billing_street",
    "city": "billing_city",
    "state": "billing_state",
    "postal_code": "billing_postal_code",
    "country": "billing_country",
}
CONTACT_MAPPING = {
    "salutation": "salutation",
    "first_name": "first_name",
    "last_name": "last_name",
    "title": "title",
    "email": "email",
    "phone": "phone",
    "mobile_phone": "mobile_phone",
    "do_not_call": "do_not_call",
    "has_opted_out_of_email": "has_opted_out_of_email",
    "description": "description",
    "lead_source": "lead_source",
    "street": "mailing_street",
    "city": "mailing_city",
    "state": "mailing_state",
    "postal_code": "mailing_postal_code",
    "country": "mailing_country",
}
OPPORTUNITY_NAME_LENGTH = 120


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion produced or attached, by primary key."""

    lead_id: int
    account_id: int
    contact_id: int
    opportunity_id: int | None

    def public_ids(self) -> dict[str, str | None]:
        return {
            "lead_id": ids.encode("Lead", self.lead_id),
            "account_id": ids.encode("Account", self.account_id),
            "contact_id": ids.encode("Contact", self.contact_id),
            "opportunity_id": (
                ids.encode("Opportunity", self.opportunity_id) if self.opportunity_id else None
            ),
        }


def end_of_fiscal_quarter(day: datetime.date, first_month: int = 1) -> datetime.date:
    """The last day of the fiscal quarter containing `day` (fiscal year starts `first_month`)."""
    months_into_year = (day.month - first_month) % 12
    months_to_quarter_end = 2 - months_into_year % 3
    month_index = day.year * 12 + (day.month - 1) + months_to_quarter_end
    year, month = divmod(month_index, 12)
    return datetime.date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value is False


def _fill_blanks(record: Any, lead: Lead, mapping: Mapping[str, str]) -> dict[str, list]:
    """Copy lead values into the record's blank fields only; return what changed."""
    before = snapshot(record, mapping.values())
    for lead_field, record_field in mapping.items():
        value = getattr(lead, lead_field)
        if _is_blank(getattr(record, record_field)) and not _is_blank(value):
            setattr(record, record_field, value)
    return changes_since(before, record)


def _converted_status(name: str | None) -> LeadStatus:
    statuses = [
        status for status in lead_statuses.get() if status.is_converted and status.is_active
    ]
    matching = [status for status in statuses if status.name == name] if name else statuses
    if not matching:
        allowed = ", ".join(status.name for status in statuses) or "none configured"
        raise DomainError(
            ErrorCode.INVALID_STATUS,
            f"converted_status: {name!r} is not a converted status (allowed: {allowed})",
            ["converted_status"],
        )
    return matching[0]


@dataclass
class _ConversionPlan:
    lead: Lead
    status: LeadStatus
    account: Account | None
    contact: Contact | None
    opportunity: Opportunity | None
    create_opportunity: bool
    opportunity_name: str
    owner: User
    overwrite_lead_source: bool


def conversion_contact_mismatch(contact: Contact | None, account: Account | None) -> str:
    """Why an existing contact cannot take a lead converted into `account` ("" when it can:
    no contact, or a contact of that account). DOMAIN.md section 5: the contact must
    belong to the account. The message starts with the field, "contact_id: ", and names
    the records as the user chose them, with their ids; the contact's own account, which
    the user may not see, is not named."""
    if contact is None or (account is not None and contact.account_id == account.pk):
        return ""
    if account is None and contact.account_id is not None:
        return ""  # no account chosen: the conversion goes into the contact's own
    named = f"{contact} ({contact.public_id})"
    chosen = f"account {account} ({account.public_id})" if account is not None else ""
    if contact.account_id is None:
        if account is None:
            return f"contact_id: {named} belongs to no account; choose the account to convert into"
        return f"contact_id: {named} belongs to no account, not to {chosen}"
    return f"contact_id: {named} does not belong to {chosen}"


def _check_conversion(plan: _ConversionPlan, opportunity_name: str | None) -> None:
    """The guards of DOMAIN.md section 5; each refuses with its own error before any write."""
    lead = plan.lead
    _refuse_converted_lead(lead)
    mismatch = conversion_contact_mismatch(plan.contact, plan.account)
    if mismatch:
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION, mismatch, ["contact_id", "account_id"]
        )
    if plan.opportunity is not None and opportunity_name:
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "opportunity_name: give an existing opportunity or a name for a new one, not both",
            ["opportunity_id", "opportunity_name"],
        )
    if plan.opportunity is not None and plan.opportunity.account_id not in (
        None,
        getattr(plan.account, "pk", None),
    ):
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            f"opportunity_id: {plan.opportunity} ({plan.opportunity.public_id}) belongs to"
            " another account",
            ["opportunity_id", "account_id"],
        )
    if plan.overwrite_lead_source and plan.contact is None:
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "overwrite_lead_source: only applies when converting into an existing contact",
            ["overwrite_lead_source"],
        )
    if len(plan.opportunity_name) > OPPORTUNITY_NAME_LENGTH:
        raise DomainError(
            ErrorCode.STRING_TOO_LONG,
            f"opportunity_name: at most {OPPORTUNITY_NAME_LENGTH} characters",
            ["opportunity_name"],
        )


def lead_convert(
    *,
    actor: User,
    lead: Lead | int,
    converted_status: str | None = None,
    account: Account | None = None,
    contact: Contact | None = None,
    opportunity: Opportunity | None = None,
    create_opportunity: bool = True,
    opportunity_name: str | None = None,
    owner: User | None = None,
    overwrite_lead_source: bool = False,
    idempotency_key: str | None = None,
    qualification_override_reason: str | None = None,
) -> ConversionResult:
    """Convert a lead into an account, a contact and optionally an opportunity, atomically.

    Existing records given are attached and only their blank fields filled. The lead row
    is locked for the whole transaction (PostgreSQL), so of two concurrent conversions
    exactly one wins; a retry with the same idempotency key returns the first result.
    When the organisation requires a qualification framework, an unqualified lead is
    refused (QUALIFICATION_REQUIRED) unless a manager or admin gives
    `qualification_override_reason` (leads/qualification.py).
    """
    lead_id = lead.pk if isinstance(lead, Lead) else lead
    opportunity_name = (
        check_storable_text("opportunity_name", opportunity_name or "").strip() or None
    )
    options: dict[str, Any] = {
        "converted_status": converted_status,
        "account": account,
        "contact": contact,
        "opportunity": opportunity,
        "create_opportunity": create_opportunity,
        "opportunity_name": opportunity_name,
        "owner": owner,
        "overwrite_lead_source": overwrite_lead_source,
        "qualification_override_reason": qualification_override_reason,
    }
    if not idempotency_key:
        with transaction.atomic():
            return _convert_lead(actor, lead_id, **options)
    request = {name: getattr(value, "pk", value) for name, value in options.items()}
    result, _replayed = once(
        scope=f"lead_convert:{getattr(actor, 'pk', None) or 0}",  # None: the system
        key=idempotency_key,
        request_fingerprint=fingerprint({"lead": lead_id, **request}),
        actor=actor,
        perform=lambda: asdict(_convert_lead(actor, lead_id, **options)),
    )
    return ConversionResult(**result)


def _convert_lead(
    actor: User,
    lead_id: int,
    *,
    converted_status: str | None,
    account: Account | None,
    contact: Contact | None,
    opportunity: Opportunity | None,
    create_opportunity: bool,
    opportunity_name: str | None,
    owner: User | None,
    overwrite_lead_source: bool,
    qualification_override_reason: str | None,
) -> ConversionResult:
    """The conversion itself; the caller holds the transaction (once() or atomic())."""
    locked_lead = _locked_lead(lead_id)
    require_edit(actor, locked_lead)
    if contact is not None and account is None and contact.account_id:
        account = contact.account  # the contact's own account is the obvious one
    if owner is None and locked_lead.owner_user_id is None:
        raise DomainError(
            ErrorCode.REQUIRED_FIELD_MISSING,
            "owner_id: the lead is owned by a queue; name the user who owns the new records",
            ["owner_id"],
        )
    plan = _ConversionPlan(
        lead=locked_lead,
        status=_converted_status(converted_status),
        account=account,
        contact=contact,
        opportunity=opportunity,
        create_opportunity=create_opportunity,
        opportunity_name=opportunity_name or locked_lead.company[:OPPORTUNITY_NAME_LENGTH],
        owner=owner or _lead_owner(locked_lead, actor),
        overwrite_lead_source=overwrite_lead_source,
    )
    _check_conversion(plan, opportunity_name)
    for existing in (plan.account, plan.contact, plan.opportunity):
        if existing is not None:
            require_edit(actor, existing)  # conversion fills their blank fields
    override = qualification_gate(
        actor=actor, lead=locked_lead, override_reason=qualification_override_reason
    )
    result = _convert(plan, actor)
    if override is not None:
        qualification_override_save(actor=actor, override=override)
    return result


def _lead_owner(lead: Lead, actor: User) -> User:
    """The user who owns the lead; no query when that is the acting user, as it usually is."""
    if actor is not None and lead.owner_user_id == actor.pk:
        return actor
    return lead.owner_user  # type: ignore[return-value]


def _convert(plan: _ConversionPlan, actor: User) -> ConversionResult:
    lead = plan.lead
    events: list[AuditEvent] = []

    account = plan.account
    if account is None:
        account = Account(owner=plan.owner)
        _fill_blanks(account, lead, ACCOUNT_MAPPING)
        account.save()
        events.append(
            audit_event(actor, account, AuditAction.CREATE, _created(account, ACCOUNT_MAPPING))
        )
    else:
        account = Account.objects.select_for_update().get(pk=account.pk)
        changes = _fill_blanks(account, lead, ACCOUNT_MAPPING)
        if changes:
            account.save(update_fields=[*changes, "updated_at"])
            events.append(audit_event(actor, account, AuditAction.UPDATE, changes))

    contact = plan.contact
    if contact is None:
        contact = Contact(owner=plan.owner, account=account)
        _fill_blanks(contact, lead, CONTACT_MAPPING)
        contact.save()
        events.append(
            audit_event(actor, contact, AuditAction.CREATE, _created(contact, CONTACT_MAPPING))
        )
    else:
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        before_source = contact.lead_source
        changes = _fill_blanks(contact, lead, CONTACT_MAPPING)
        if plan.overwrite_lead_source and lead.lead_source and lead.lead_source != before_source:
            contact.lead_source = lead.lead_source
            changes["lead_source"] = [before_source, lead.lead_source]
        if changes:
            contact.save(update_fields=[*changes, "updated_at"])
            events.append(audit_event(actor, contact, AuditAction.UPDATE, changes))

    opportunity = _convert_opportunity(plan, account, actor, events)
    if opportunity is not None:
        _make_primary_contact(
            opportunity, contact, is_new=plan.opportunity is None, events=events, actor=actor
        )

    # The lead's open activities follow it to the contact (and account and deal).
    Task.objects.filter(lead=lead, status=TaskStatus.OPEN).update(
        lead=None,
        contact=contact,
        account=account,
        opportunity=Coalesce("opportunity", Value(opportunity.pk if opportunity else None)),
        updated_at=timezone.now(),
    )

    before = snapshot(lead, ["status", "is_converted", "converted_date"])
    lead.status = plan.status
    lead.is_converted = True
    lead.converted_date = timezone.localdate()
    lead.converted_account = account
    lead.converted_contact = contact
    lead.converted_opportunity = opportunity
    lead.save(
        update_fields=[
            "status",
            "is_converted",
            "converted_date",
            "converted_account",
            "converted_contact",
            "converted_opportunity",
            "updated_at",
        ]
    )
    changes = changes_since(before, lead)
    changes["converted_account"] = [None, account.public_id]
    changes["converted_contact"] = [None, contact.public_id]
    changes["converted_opportunity"] = [None, opportunity.public_id if opportunity else None]
    events.append(audit_event(actor, lead, AuditAction.CONVERT, changes))
    AuditEvent.objects.bulk_create(events)
    # The lead leaves duplicate matching; its account and contact are filed (anew).
    duplicate_keys_rewrite(
        removed=[("Lead", lead.pk), ("Account", account.pk), ("Contact", contact.pk)],
        filed=[("Account", account), ("Contact", contact)],
    )
    return ConversionResult(
        lead_id=lead.pk,
        account_id=account.pk,
        contact_id=contact.pk,
        opportunity_id=opportunity.pk if opportunity else None,
    )


def _created(record: Any, mapping: Mapping[str, str]) -> dict[str, list]:
    return creation_changes(record, [*mapping.values(), "owner"])


def _convert_opportunity(
    plan: _ConversionPlan, account: Account, actor: User, events: list[AuditEvent]
) -> Opportunity | None:
    lead = plan.lead
    if plan.opportunity is not None:
        opportunity = Opportunity.objects.select_for_update().get(pk=plan.opportunity.pk)
        before = snapshot(opportunity, ["account", "lead_source"])
        opportunity.account = opportunity.account or account
        opportunity.lead_source = opportunity.lead_source or lead.lead_source
        changes = changes_since(before, opportunity)
        if changes:
            opportunity.save(update_fields=[*changes, "updated_at"])
            events.append(audit_event(actor, opportunity, AuditAction.UPDATE, changes))
        return opportunity
    if not plan.create_opportunity:
        return None
    stage = first_open_stage()
    opportunity = Opportunity.objects.create(
        name=plan.opportunity_name,
        account=account,
        close_date=end_of_fiscal_quarter(
            timezone.localdate(), settings.DEALFLOW_FISCAL_YEAR_START_MONTH
        ),
        stage=stage,
        probability=stage.probability,
        forecast_category=stage.forecast_category,
        is_closed=False,
        is_won=False,
        lead_source=lead.lead_source,
        owner=plan.owner,
    )
    history_row(opportunity, actor=actor).save()
    events.append(
        audit_event(
            actor,
            opportunity,
            AuditAction.CREATE,
            creation_changes(
                opportunity, ["name", "account", "close_date", "stage", "lead_source", "owner"]
            ),
        )
    )
    return opportunity


def _make_primary_contact(
    opportunity: Opportunity,
    contact: Contact,
    *,
    is_new: bool,
    events: list[AuditEvent],
    actor: User,
) -> None:
    if is_new:
        contact_role = OpportunityContactRole.objects.create(
            opportunity=opportunity, contact=contact, is_primary=True
        )
    else:
        OpportunityContactRole.objects.filter(opportunity=opportunity, is_primary=True).exclude(
            contact=contact
        ).update(is_primary=False, updated_at=timezone.now())
        contact_role, _created_now = OpportunityContactRole.objects.update_or_create(
            opportunity=opportunity, contact=contact, defaults={"is_primary": True}
        )
    events.append(
        audit_event(
            actor,
            contact_role,
            AuditAction.CREATE,
            {"contact": [None, contact.public_id], "is_primary": [None, True]},
        )
    )


# ---------------------------------------------------------------------------------------
# Lead statuses (configuration)


def lead_status_set(
    *,
    actor: User,
    name: str,
    status: LeadStatus | None = None,
    sort_order: int | None = None,
    is_default: bool | None = None,
    is_converted: bool | None = None,
    is_closed: bool | None = None,
    is_active: bool | None = None,
) -> LeadStatus:
    """Add a lead status or change one (admins only); there is one default status.

    Without `status` the status called `name` is changed, or added; with it, that status
    is changed and may be renamed.
    """
    require_admin(actor, "lead statuses")
    name = configuration_name(name)
    with transaction.atomic():
        status = locked_configuration_row(LeadStatus, name, status)
        status = status or LeadStatus(name=name, sort_order=LeadStatus.objects.count() + 1)
        before = snapshot(status, LeadStatus.SETTINGS)
        status.name = name
        for field, value in (
            ("sort_order", sort_order),
            ("is_default", is_default),
            ("is_converted", is_converted),
            ("is_closed", is_closed),
            ("is_active", is_active),
        ):
            if value is not None:
                setattr(status, field, value)
        if status.is_default and (status.is_converted or not status.is_active):
            raise DomainError(
                ErrorCode.FIELD_INTEGRITY_EXCEPTION,
                "is_default: the default status must be active and not converted",
                ["is_default"],
            )
        if status.is_default:
            LeadStatus.objects.filter(is_default=True).exclude(pk=status.pk).update(
                is_default=False
            )
        created = status.pk is None
        status.save()
        changes = changes_since(before, status)
        action = AuditAction.CREATE if created else AuditAction.UPDATE
        audit_event(actor, status, action, changes).save()
        configuration_changed()
    return status
