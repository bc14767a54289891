"""Web-to-Lead (DOMAIN.md section 8, docs/web-to-lead.md): a lead from a public web form,
with Salesforce's form field names, and its settings.

- The form's names (`first_name`, `zip`, `revenue`, `emailOptOut`, ...) map to Lead fields
  (FORM_FIELDS); the metadata registry checks every value (`clean_values`), so a form is
  refused field by field exactly as the API would refuse the same values.
- A lead is created by `lead_create` acting as the default creator (Salesforce's "Default
  Lead Creator": the setting's user, else the first active admin), so the assignment
  rules choose its owner; the creator owns it when no rule does.
- The same email again (its matching key, core/matching.py) never makes a second lead: the
  unconverted lead that has it is updated with the values the form gave when it was
  created, or last submitted, within the repeat window; later, its fields are left alone.
  The partial unique index on unconverted leads' emails decides between two concurrent
  submissions (a double click): the second one finds the first's lead and updates it.
- Every accepted submission records a `form_submit` event for scoring, after commit.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from dealflow.automation.models import LeadEvent, LeadEventType
from dealflow.automation.scoring import lead_event_record
from dealflow.core.access import require_admin
from dealflow.core.audit import audit_event, changes_since, snapshot
from dealflow.core.cache import ConfigurationCache, configuration_changed
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.matching import email_key
from dealflow.core.metadata import FieldDef, get_object
from dealflow.core.models import AuditAction
from dealflow.core.validation import clean_values
from dealflow.leads.models import Lead, WebToLeadSetting
from dealflow.leads.services import lead_create, lead_update
from dealflow.people.models import Role, User

# Salesforce's Web-to-Lead form names -> Lead fields (native names), in the order a
# generated form shows them.
FORM_FIELDS: dict[str, str] = {
    "salutation": "salutation",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "company": "company",
    "title": "title",
    "phone": "phone",
    "mobile": "mobile_phone",
    "street": "street",
    "city": "city",
    "state": "state",
    "zip": "postal_code",
    "country": "country",
    "url": "website",
    "description": "description",
    "lead_source": "lead_source",
    "industry": "industry",
    "rating": "rating",
    "revenue": "annual_revenue",
    "employees": "number_of_employees",
    "emailOptOut": "has_opted_out_of_email",
    "doNotCall": "do_not_call",
}
FORM_NAMES = {field: form_name for form_name, field in FORM_FIELDS.items()}
# What a checked box of a Salesforce form posts ("1"), and what browsers post by default.
CHECKED = {"1", "on", "true", "yes"}
# Bounds an admin may set.
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_SUBMISSIONS_PER_HOUR = 100_000
MAX_RETURN_HOSTS = 50
HOST_LENGTH = 253


def form_field(form_name: str) -> FieldDef:
    """The registry's definition of the Lead field a form name maps to."""
    definition = get_object("Lead").field(FORM_FIELDS[form_name])
    assert definition is not None, form_name
    return definition


def form_name_of(public_name: str) -> str:
    """The form name of a field named publicly in an error (`annual_revenue` -> `revenue`)."""
    definition = get_object("Lead").field_by_public_name(public_name)
    if definition is None:
        return public_name
    return FORM_NAMES.get(definition.name, public_name)


# ---------------------------------------------------------------------------------------
# The organisation id and the settings


def organization_id() -> str:
    """The id a form's `oid` must equal: DEALFLOW_ORGANIZATION_ID, else 15 characters
    derived from the secret key (stable while the key is: set the variable before
    rotating the key). Salesforce-shaped: `00D` and 12 letters and digits."""
    configured = settings.DEALFLOW_ORGANIZATION_ID
    if configured:
        return configured
    digest = hashlib.sha256(f"dealflow organization id {settings.SECRET_KEY}".encode()).digest()
    letters = base64.b32encode(digest).decode().replace("=", "")
    return "00D" + letters[:12]


@dataclass(frozen=True)
class WebToLeadSettings:
    """The settings as saved (the defaults before an admin first saves them)."""

    allowed_return_hosts: tuple[str, ...] = ()
    repeat_window_minutes: int = 10
    submissions_per_hour: int = 20
    default_lead_source: str = "Web"
    default_creator_id: int | None = None

    @property
    def rate(self) -> str:
        """The rate limit as django-ratelimit reads it."""
        return f"{self.submissions_per_hour}/h"


def _load() -> WebToLeadSettings:
    row = WebToLeadSetting.objects.order_by("pk").first()
    if row is None:
        return WebToLeadSettings()
    return WebToLeadSettings(
        allowed_return_hosts=tuple(row.allowed_return_hosts),
        repeat_window_minutes=row.repeat_window_minutes,
        submissions_per_hour=row.submissions_per_hour,
        default_lead_source=row.default_lead_source,
        default_creator_id=row.default_creator_id,
    )


web_to_lead_settings: ConfigurationCache[WebToLeadSettings] = ConfigurationCache(_load)


def _clean_host(text: Any) -> str:
    """A host name as a URL carries it, lower-cased; no scheme, path, port or wildcard."""
    if not isinstance(text, str):
        raise DomainError(
            ErrorCode.INVALID_TYPE,
            "allowed_return_hosts: expected host names",
            ["allowed_return_hosts"],
        )
    host = text.strip().lower().rstrip(".")
    parsed = urlsplit(f"//{host}")
    valid = (
        host
        and len(host) <= HOST_LENGTH
        and parsed.hostname == host
        and parsed.port is None
        and all(part and part.replace("-", "").isalnum() for part in host.split("."))
    )
    if not valid:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"allowed_return_hosts: {text!r} is not a host name (like www.example.com)",
            ["allowed_return_hosts"],
        )
    return host


def _whole_number(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(ErrorCode.INVALID_TYPE, f"{name}: expected a whole number", [name])
    if not low <= value <= high:
        raise DomainError(
            ErrorCode.NUMBER_OUTSIDE_VALID_RANGE, f"{name}: from {low} to {high}", [name]
        )
    return value


_UNSET: Any = object()


def web_to_lead_settings_set(
    *,
    actor: User | None,
    allowed_return_hosts: Any = _UNSET,
    repeat_window_minutes: Any = _UNSET,
    submissions_per_hour: Any = _UNSET,
    default_lead_source: Any = _UNSET,
    default_creator: Any = _UNSET,
) -> WebToLeadSettings:
    """Change the Web-to-Lead settings (admins only; what is not given stays); audited.

    `allowed_return_hosts`: host names (`www.example.com`, at most MAX_RETURN_HOSTS);
    `repeat_window_minutes`: 1 to MAX_WINDOW_MINUTES; `submissions_per_hour` (per client
    address): 1 to MAX_SUBMISSIONS_PER_HOUR; `default_lead_source`: an active Lead Source
    value or ""; `default_creator`: an active User or None (the first active admin).
    Errors name the field (INVALID_FIELD, INVALID_TYPE, NUMBER_OUTSIDE_VALID_RANGE,
    INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST).
    """
    require_admin(actor, "the Web-to-Lead settings")
    with transaction.atomic():
        row = WebToLeadSetting.objects.select_for_update().order_by("pk").first()
        row = row or WebToLeadSetting()
        names = [
            "allowed_return_hosts",
            "repeat_window_minutes",
            "submissions_per_hour",
            "default_lead_source",
            "default_creator",
        ]
        before = snapshot(row, names)
        if allowed_return_hosts is not _UNSET:
            if not isinstance(allowed_return_hosts, list | tuple):
                raise DomainError(
                    ErrorCode.INVALID_TYPE,
                    "allowed_return_hosts: expected a list of host names",
                    ["allowed_return_hosts"],
                )
            hosts = list(dict.fromkeys(_clean_host(host) for host in allowed_return_hosts))
            if len(hosts) > MAX_RETURN_HOSTS:
                raise DomainError(
                    ErrorCode.INVALID_FIELD,
                    f"allowed_return_hosts: at most {MAX_RETURN_HOSTS} hosts",
                    ["allowed_return_hosts"],
                )
            row.allowed_return_hosts = hosts
        if repeat_window_minutes is not _UNSET:
            row.repeat_window_minutes = _whole_number(
                "repeat_window_minutes", repeat_window_minutes, 1, MAX_WINDOW_MINUTES
            )
        if submissions_per_hour is not _UNSET:
            row.submissions_per_hour = _whole_number(
                "submissions_per_hour", submissions_per_hour, 1, MAX_SUBMISSIONS_PER_HOUR
            )
        if default_lead_source is not _UNSET:
            source = clean_values(
                get_object("Lead"), {"lead_source": default_lead_source or ""}, creating=False
            )["lead_source"]
            row.default_lead_source = source
        if default_creator is not _UNSET:
            if default_creator is not None and (
                not isinstance(default_creator, User) or not default_creator.is_active
            ):
                raise DomainError(
                    ErrorCode.INVALID_FIELD,
                    "default_creator: expected an active user",
                    ["default_creator"],
                )
            row.default_creator = default_creator
        created = row.pk is None
        changes = changes_since(before, row)
        if changes or created:
            row.save()
            action = AuditAction.CREATE if created else AuditAction.UPDATE
            audit_event(actor, row, action, changes).save()
            configuration_changed()
    return web_to_lead_settings.get()


def return_url_allowed(url: str) -> bool:
    """Whether a form's retURL may be followed: http(s) to a host an admin allowed."""
    try:
        parsed = urlsplit(url.strip())
        host = (parsed.hostname or "").rstrip(".")
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not host:
        return False
    if any(character in url for character in "\r\n\\"):
        return False
    return host in web_to_lead_settings.get().allowed_return_hosts


def default_creator() -> User:
    """The user web-to-lead acts as: the setting's when active, else the first active
    admin (INSUFFICIENT_ACCESS_OR_READONLY when there is none: nobody can own the lead)."""
    creator_id = web_to_lead_settings.get().default_creator_id
    creator = None
    if creator_id is not None:
        creator = User.objects.filter(pk=creator_id, is_active=True).first()
    if creator is None:
        creator = (
            User.objects.filter(is_active=True, role=Role.ADMIN).order_by("pk").first()
            or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
        )
    if creator is None:
        raise DomainError(
            ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
            "Web-to-Lead has no active user to create leads as; set its default creator",
        )
    return creator


# ---------------------------------------------------------------------------------------
# A submission


@dataclass(frozen=True)
class Submission:
    """What a submission did: the lead, and whether it was created or its fields updated
    (neither: the same email came back after the repeat window; only its event counts)."""

    lead: Lead
    created: bool
    updated: bool


def form_data(form: Mapping[str, Any]) -> dict[str, Any]:
    """The Lead values a posted form gives, by native name: text as typed, a check box
    checked when it posts 1 (or on/true/yes); names the form does not know are left out
    (oid, retURL, Salesforce's debug fields, custom fields)."""
    data: dict[str, Any] = {}
    for form_name, field in FORM_FIELDS.items():
        if form_name not in form:
            continue
        value = form[form_name]
        if form_field(form_name).type == "boolean":
            data[field] = str(value).strip().lower() in CHECKED
        else:
            data[field] = value
    return data


def _given(data: Mapping[str, Any]) -> dict[str, Any]:
    """The values a repeat submission changes: non-blank text and checked boxes."""
    return {
        field: value
        for field, value in data.items()
        if value is not None and value is not False and str(value).strip() != ""
    }


def _unconverted_lead(key: str) -> Lead | None:
    if not key:
        return None
    return Lead.objects.filter(email_key=key, is_converted=False).order_by("pk").first()


def _within_window(lead: Lead, minutes: int) -> bool:
    """Created, or last submitted through a form, less than `minutes` ago."""
    since = timezone.now() - datetime.timedelta(minutes=minutes)
    if lead.created_at >= since:
        return True
    latest = LeadEvent.objects.filter(lead=lead, type=LeadEventType.FORM_SUBMIT).aggregate(
        latest=Max("occurred_at")
    )["latest"]
    return latest is not None and latest >= since


def _record_event(lead: Lead) -> None:
    transaction.on_commit(
        lambda: lead_event_record(actor=None, lead=lead, type=LeadEventType.FORM_SUBMIT)
    )


def web_to_lead_submit(*, form: Mapping[str, Any]) -> Submission:
    """Create a lead from a posted form, or update the lead a repeat submission names.

    Every value is checked before anything is written: one DomainError whose `every()`
    lists each bad field, named publicly (`annual_revenue`; `form_name_of` gives the
    form's `revenue`); REQUIRED_FIELD_MISSING names last_name and company when missing.
    A form without a lead source gets the setting's. See the module's docstring for
    the repeat window and double submissions.
    """
    configuration = web_to_lead_settings.get()
    data = form_data(form)
    given = _given(data)  # what a repeat changes: the form's values, not the defaults
    given.pop("email", None)  # the same mailbox, perhaps spelled otherwise
    if not str(data.get("lead_source") or "").strip() and configuration.default_lead_source:
        data["lead_source"] = configuration.default_lead_source
    cleaned = clean_values(get_object("Lead"), data, creating=True)  # refuses before writing
    key = email_key(cleaned.get("email") or "")
    creator = default_creator()
    for _attempt in range(2):  # the second after losing a race for the email
        existing = _unconverted_lead(key)
        if existing is None:
            try:
                # A public form is not refused for a likely duplicate (a person with
                # a new email): the duplicate scan and its review queue find it.
                lead = lead_create(actor=creator, data=data, allow_duplicates=True)
            except DomainError as error:
                if error.code == ErrorCode.DUPLICATE_VALUE and error.fields == ["email"]:
                    continue  # a concurrent submission created it: update that one
                raise
            _record_event(lead)
            return Submission(lead, created=True, updated=False)
        if not _within_window(existing, configuration.repeat_window_minutes):
            _record_event(existing)
            return Submission(existing, created=False, updated=False)
        try:
            # As the system: the lead may have been assigned to someone the creator may
            # not change; the audit event says the system changed it.
            lead = lead_update(actor=None, lead=existing, data=given)  # type: ignore[arg-type]
        except DomainError as error:
            if error.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD:
                continue  # converted meanwhile: its email is free for a new lead
            raise
        _record_event(lead)
        return Submission(lead, created=False, updated=True)
    raise DomainError(
        ErrorCode.DUPLICATE_VALUE,
        "email: the submission raced another one; send it again",
        ["email"],
    )
