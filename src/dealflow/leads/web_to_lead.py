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
- A submission that creates a lead, when the admin turned the auto-response on, queues
  one email to the submitter after commit (leads.tasks.send_web_to_lead_auto_response,
  `auto_response_send`): plain text, {first_name} and {company} filled in. A repeat of
  the same email (within the window or after it) creates nothing, so it sends nothing;
  refused, honeypot and rate-limited submissions never reach this module.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
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
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.core.validation import check_storable_text, clean_values, is_email
from dealflow.leads.models import Lead, WebToLeadSetting
from dealflow.leads.services import lead_create, lead_update
from dealflow.people.models import Role, User

logger = logging.getLogger("dealflow.web_to_lead")

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
# The auto-response: the placeholders its subject and body may hold (Lead fields), and
# the lengths of its texts (the model's columns; Salesforce's email template body).
AUTO_RESPONSE_PLACEHOLDERS = ("first_name", "company")
AUTO_RESPONSE_LENGTHS = {
    "auto_response_from": 320,
    "auto_response_subject": 255,
    "auto_response_body": 32_000,
}
# How long a sent auto-response is remembered (a retried task sends it once): longer
# than the longest repeat window.
AUTO_RESPONSE_SENT_SECONDS = 8 * 24 * 60 * 60
# The marker a lead's create event carries when the form made it (`changes["channel"]`).
WEB_TO_LEAD_CHANNEL = "web_to_lead"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


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
    auto_response_enabled: bool = False
    auto_response_from: str = ""  # "": DEFAULT_FROM_EMAIL
    auto_response_subject: str = ""
    auto_response_body: str = ""

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
        auto_response_enabled=row.auto_response_enabled,
        auto_response_from=row.auto_response_from,
        auto_response_subject=row.auto_response_subject,
        auto_response_body=row.auto_response_body,
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


def _text(name: str, value: Any) -> str:
    """A text setting: a string a database can store, within its column's length."""
    if not isinstance(value, str):
        raise DomainError(ErrorCode.INVALID_TYPE, f"{name}: expected text", [name])
    check_storable_text(name, value)
    length = AUTO_RESPONSE_LENGTHS[name]
    if len(value) > length:
        raise DomainError(ErrorCode.STRING_TOO_LONG, f"{name}: at most {length} characters", [name])
    return value


def _one_line(name: str, value: str) -> str:
    """Refuse line breaks and other control characters: the text becomes an email header,
    where a line break would start a header of the sender's choosing (header injection)."""
    if any(character in value for character in "\r\n") or not value.isprintable():
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"{name}: one line of text (no line breaks or control characters)",
            [name],
        )
    return value


def _check_placeholders(name: str, text: str) -> None:
    """Refuse {words} that are not placeholders: a typo would reach every submitter."""
    for found in _PLACEHOLDER.findall(text):
        if found not in AUTO_RESPONSE_PLACEHOLDERS:
            known = " or ".join(f"{{{known}}}" for known in AUTO_RESPONSE_PLACEHOLDERS)
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"{name}: {{{found}}} is not a placeholder; use {known}",
                [name],
            )


def _clean_from(value: Any) -> str:
    """An email address, or `Name <address>`, on one line; "" for DEFAULT_FROM_EMAIL."""
    text = _one_line("auto_response_from", _text("auto_response_from", value)).strip()
    if not text:
        return ""
    address = text
    if text.endswith(">") and "<" in text:
        display, _bracket, address = text[:-1].rpartition("<")
        if '"' in display or "," in display:
            address = ""  # no quoting games: a plain display name only
    if not is_email(address.strip()):
        raise DomainError(
            ErrorCode.INVALID_EMAIL_ADDRESS,
            "auto_response_from: expected an email address, like sales@example.com "
            "or Sales <sales@example.com>",
            ["auto_response_from"],
        )
    return text


_UNSET: Any = object()


def web_to_lead_settings_set(
    *,
    actor: User | None,
    allowed_return_hosts: Any = _UNSET,
    repeat_window_minutes: Any = _UNSET,
    submissions_per_hour: Any = _UNSET,
    default_lead_source: Any = _UNSET,
    default_creator: Any = _UNSET,
    auto_response_enabled: Any = _UNSET,
    auto_response_from: Any = _UNSET,
    auto_response_subject: Any = _UNSET,
    auto_response_body: Any = _UNSET,
) -> WebToLeadSettings:
    """Change the Web-to-Lead settings (admins only; what is not given stays); audited.

    `allowed_return_hosts`: host names (`www.example.com`, at most MAX_RETURN_HOSTS);
    `repeat_window_minutes`: 1 to MAX_WINDOW_MINUTES; `submissions_per_hour` (per client
    address): 1 to MAX_SUBMISSIONS_PER_HOUR; `default_lead_source`: an active Lead Source
    value or ""; `default_creator`: an active User or None (the first active admin).

    The auto-response (DOMAIN.md section 8): `auto_response_enabled` (a bool);
    `auto_response_from`: an address or `Name <address>`, "" for DEFAULT_FROM_EMAIL;
    `auto_response_subject` (one line, at most 255 characters: a line break would let the
    text add email headers) and `auto_response_body` (plain text, at most 32,000), each
    with the placeholders {first_name} and {company} only; subject and body are required
    while it is on.

    Errors name the field (INVALID_FIELD, INVALID_TYPE, NUMBER_OUTSIDE_VALID_RANGE,
    INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, INVALID_EMAIL_ADDRESS, STRING_TOO_LONG,
    REQUIRED_FIELD_MISSING); a refusal saves nothing.
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
            "auto_response_enabled",
            "auto_response_from",
            "auto_response_subject",
            "auto_response_body",
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
        if auto_response_enabled is not _UNSET:
            if not isinstance(auto_response_enabled, bool):
                raise DomainError(
                    ErrorCode.INVALID_TYPE,
                    "auto_response_enabled: expected true or false",
                    ["auto_response_enabled"],
                )
            row.auto_response_enabled = auto_response_enabled
        if auto_response_from is not _UNSET:
            row.auto_response_from = _clean_from(auto_response_from)
        if auto_response_subject is not _UNSET:
            # Checked before trimming: a line break anywhere, even last, is refused.
            subject = _one_line(
                "auto_response_subject", _text("auto_response_subject", auto_response_subject)
            ).strip()
            _check_placeholders("auto_response_subject", subject)
            row.auto_response_subject = subject
        if auto_response_body is not _UNSET:
            body = _text("auto_response_body", auto_response_body)
            body = body.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
            _check_placeholders("auto_response_body", body)
            row.auto_response_body = body
        if row.auto_response_enabled:
            for name in ("auto_response_subject", "auto_response_body"):
                if not getattr(row, name).strip():
                    raise DomainError(
                        ErrorCode.REQUIRED_FIELD_MISSING,
                        f"{name}: required while the auto-response is on",
                        [name],
                    )
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


def _mark_created_by_form(lead: Lead) -> None:
    """Say in the lead's create event, in the transaction that made it, that the form made
    it (`changes["channel"] = "web_to_lead"`, a marker rather than a field's [old, new]
    pair): its actor is the default creator the form acts as, and the lead's page says
    "Created by the web form (Web-to-Lead)" rather than that person's name."""
    event = (
        AuditEvent.objects.filter(object_name="Lead", record_id=lead.pk, action=AuditAction.CREATE)
        .order_by("-pk")
        .first()
    )
    if event is not None:
        event.changes = {**event.changes, "channel": WEB_TO_LEAD_CHANNEL}
        event.save(update_fields=["changes"])


def _record_event(lead: Lead) -> None:
    transaction.on_commit(
        lambda: lead_event_record(actor=None, lead=lead, type=LeadEventType.FORM_SUBMIT)
    )


def _auto_respond_later(lead: Lead) -> None:
    """Queue the auto-response to a new lead's submitter once the lead is committed (a
    rolled-back submission emails nobody); robust: a broker or mail failure is logged
    and does not undo the lead."""
    if not web_to_lead_settings.get().auto_response_enabled or not lead.email:
        return
    lead_id = lead.pk

    def enqueue() -> None:
        from dealflow.leads.tasks import send_web_to_lead_auto_response

        send_web_to_lead_auto_response.delay(lead_id)

    transaction.on_commit(enqueue, robust=True)


def _filled(template: str, values: Mapping[str, str]) -> str:
    """The template with each {placeholder} replaced by its value (nothing else is read:
    no format strings, so a value or a template cannot reach any other data)."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def auto_response_message(
    configuration: WebToLeadSettings, *, first_name: str, company: str
) -> tuple[str, str]:
    """(subject, plain-text body) of the auto-response for a lead with these values.

    In the subject, any run of whitespace or control characters in a value becomes one
    space, so a submitter's value can never add a line (an email header) to it.
    """
    values = {"first_name": first_name or "", "company": company or ""}
    one_line = {
        name: " ".join("".join(c if c.isprintable() else " " for c in value).split())
        for name, value in values.items()
    }
    return (
        _filled(configuration.auto_response_subject, one_line),
        _filled(configuration.auto_response_body, values),
    )


def _auto_response_mark(lead_id: int) -> str:
    return f"dealflow:web-to-lead-auto-response:{lead_id}"


def auto_response_send(lead_id: int) -> str:
    """Email the auto-response to the submitter of the lead `lead_id` (a primary key)
    through Django's email backend (EMAIL_BACKEND), from the setting's address or
    DEFAULT_FROM_EMAIL, to the lead's email only. Reads the lead and the settings as
    they are now.

    Returns what happened: "sent"; "already_sent" (a retried task: the send is
    remembered in Django's cache for AUTO_RESPONSE_SENT_SECONDS); "off" (turned off
    since); "gone" (deleted or converted since); "no_address"; "opted_out" (the form's
    Email Opt Out was checked: the person asked for no email). Mail errors propagate
    (the task fails and is logged; the lead stays).
    """
    configuration = web_to_lead_settings.get()
    if not configuration.auto_response_enabled:
        return "off"
    lead = (
        Lead.objects.filter(pk=lead_id, is_converted=False)
        .only("email", "first_name", "company", "has_opted_out_of_email")
        .first()
    )
    if lead is None:
        return "gone"
    if not lead.email:
        return "no_address"
    if lead.has_opted_out_of_email:
        return "opted_out"
    mark = _auto_response_mark(lead_id)
    if cache.get(mark):
        return "already_sent"
    subject, body = auto_response_message(
        configuration, first_name=lead.first_name, company=lead.company
    )
    sender = configuration.auto_response_from or None
    EmailMessage(subject, body, sender, [lead.email]).send()
    cache.set(mark, True, AUTO_RESPONSE_SENT_SECONDS)
    logger.info("web-to-lead: auto-response sent for lead %s", lead_id)
    return "sent"


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
                with transaction.atomic():
                    lead = lead_create(actor=creator, data=data, allow_duplicates=True)
                    _mark_created_by_form(lead)
            except DomainError as error:
                if error.code == ErrorCode.DUPLICATE_VALUE and error.fields == ["email"]:
                    continue  # a concurrent submission created it: update that one
                raise
            _record_event(lead)
            _auto_respond_later(lead)
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
