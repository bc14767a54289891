"""What every Settings page shares: its frame (the sub-navigation, a title, 400 when a
form was refused) and its forms: the posted text read as a service's types, within the
input bounds the API's schemas set (api/people.py), and a service's refusal shown next to
the input it names. No rule lives here: the services decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.validation import MAX_INTEGER, check_storable_text
from dealflow.web.forms import field_message

# (label, URL name, what the page is for): the sub-navigation and the index.
SECTIONS = (
    ("Lead statuses", "settings_lead_statuses", "The values of a lead's Status, in order."),
    ("Stages", "settings_stages", "Opportunity stages: probability and forecast category."),
    ("Picklists", "settings_picklists", "Lead Source, Rating, Industry and the other picklists."),
    ("Qualification", "settings_qualification", "The checklist conversion requires; items."),
    ("Assignment rules", "settings_assignment", "Who gets a new lead: rules, pools, default."),
    ("Service levels", "settings_service_levels", "Working hours a new lead may wait; re-routing."),
    ("Scoring model", "settings_scoring_model", "The conversion model: AUC, calibration, weights."),
    ("Web-to-Lead", "settings_web_to_lead", "Your site's lead form: code, return hosts, limits."),
    ("Users", "settings_users", "Add users, set roles, teams and passwords, deactivate."),
    ("Teams", "settings_teams", "Sales teams; a manager sees the records of their team."),
    ("Queues", "settings_queues", "Shared owners of leads and their members."),
    ("Sharing", "settings_sharing", "Who may see and change everybody's records."),
    ("API tokens", "settings_tokens", "Bearer tokens for the API: create and revoke."),
)
# Input bounds of text the services store without checking its length: the model's columns
# (and the API's schemas, api/people.py).
TEXT_LENGTHS = {
    "name": 80,
    "value": 255,
    "username": 150,
    "first_name": 150,
    "last_name": 150,
    "email": 254,
}
# An order's range, as the API takes it.
MAX_SORT_ORDER = 100_000
# The labels settings pages give the inputs most of their forms share, for a refusal shown
# above a form ("Name: ..."); a form passes `labels` for its own inputs' words, and a name
# in neither reads as words ("auto_response_body" -> "Auto response body").
LABELS = {
    "name": "Name",
    "value": "Value",
    "sort_order": "Order",
    "is_active": "Active",
    "is_default": "Default",
    "is_converted": "Converted",
    "is_closed": "Closed",
    "is_won": "Won",
    "probability": "Probability (%)",
    "forecast_category": "Forecast Category",
    "stall_days": "Stalled after (days)",
    "username": "Username",
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email",
    "role": "Role",
    "team": "Team",
    "password": "Password",
    "password_again": "Password (again)",
    "members": "Members",
    "user": "User",
    "framework": "Framework",
    "key": "Key",
    "label": "Label",
    "required_framework": "Required framework",
    "minimum_items": "Minimum items met",
    "response_hours": "Limit (working hours)",
    "working_days": "Working days",
    "day_start": "Working day starts",
    "day_end": "Working day ends",
    "reroute_when_breached": "Re-route an overdue lead",
    "rules": "Rules",
}


@dataclass
class Input:
    """One input as a template shows it."""

    name: str
    id: str
    value: Any
    error: str
    label: str = ""


class SettingsForm:
    """The values and refusal messages of one form of a settings page.

    Templates read an input as `form.<name>` (an Input: id, value, error, label); `prefix`
    keeps the ids of two forms on one page apart; `labels` gives the form's own words for
    its inputs (LABELS has those most forms share). No rule lives here: `fail` places a
    service's DomainError next to the input it names, in words without the internal name
    ("{nme} is not a placeholder..." for "auto_response_subject: {nme} is not..."), or
    above the form prefixed by the label ("Subject: ...") when the form shows no such input.
    """

    def __init__(
        self,
        prefix: str,
        names: Iterable[str],
        values: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.prefix = prefix
        self.names = tuple(names)
        self.values = dict(values or {})
        self.labels = dict(labels or {})
        self.errors: dict[str, str] = {}
        self.message = ""
        # Inputs this form holds but does not show (a row's name while it is edited).
        self.unshown: set[str] = set()

    def __getitem__(self, name: str) -> Input:
        # A KeyError lets templates fall back to attributes (form.message).
        if name not in self.names:
            raise KeyError(name)
        value = self.values.get(name, "")
        return Input(
            name,
            f"{self.prefix}-{name}",
            "" if value is None else value,
            self.errors.get(name, ""),
            self.label(name),
        )

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.message)

    def label(self, name: str) -> str:
        """The words a page shows for the input or field `name`."""
        return self.labels.get(name) or LABELS.get(name) or name.replace("_", " ").capitalize()

    def fixed(self, **values: Any) -> None:
        """Values the form keeps but does not offer to change (shown as text, or not at
        all): a refusal naming one of them is shown above the form."""
        self.values.update(values)
        self.unshown.update(values)

    def fail(self, error: DomainError) -> None:
        """Show a refusal (and those found with it) next to each input it names, without
        the name the label already says; above the form, after the label of the field it
        names, when the form does not show that field; as it is when it names none."""
        for each in error.every():
            named = [name for name in each.fields if name in self.names]
            shown = [name for name in named if name not in self.unshown]
            for name in shown:
                self.errors.setdefault(name, self._beside(each, name))
            if shown:
                continue
            text = each.message
            if each.fields:
                name = each.fields[0]
                text = self._beside(each, name)
                if text != f"{self.label(name)} is required.":
                    # "Auto-response subject: {nme} is not...": the label, the service's words.
                    text = f"{self.label(name)}: {each.detail(name)}"
            self.message = " ".join(filter(None, [self.message, text]))

    def _beside(self, error: DomainError, name: str) -> str:
        """The refusal's words next to the input `name`: "Username is required.", or its
        message without the "name: " the label already says, its first letter capitalised."""
        # "day_end: ..." names both day_start and day_end: no input shows the name.
        named = [each for each in error.fields if error.message.startswith(f"{each}: ")]
        text = field_message(error, named[0] if named else name, self.label(name))
        if text.lower() == "required":
            return f"{self.label(name)} is required."
        return text


def posted(post: QueryDict, names: Iterable[str], checkboxes: Iterable[str] = ()) -> dict:
    """The posted text of a form, to show it again after a refusal (passwords never)."""
    boxes = set(checkboxes)
    return {
        name: post.get(name) == "on" if name in boxes else post.get(name, "")
        for name in names
        if "password" not in name
    }


def posted_text(post: QueryDict, name: str) -> str:
    """A posted text, trimmed; refused if no database can store it or it is too long."""
    text = check_storable_text(name, post.get(name, "")).strip()
    length = TEXT_LENGTHS.get(name)
    if length is not None and len(text) > length:
        raise DomainError(ErrorCode.STRING_TOO_LONG, f"{name}: at most {length} characters", [name])
    return text


def posted_integer(
    post: QueryDict, name: str, *, low: int = -MAX_INTEGER, high: int = MAX_INTEGER
) -> int | None:
    """A posted whole number, None when blank; refused outside [low, high]."""
    text = post.get(name, "").strip()
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise DomainError(
            ErrorCode.INVALID_TYPE, f"{name}: a whole number from {low} to {high}", [name]
        )
    return number


def posted_sort_order(post: QueryDict) -> int | None:
    """A posted order from 0 to MAX_SORT_ORDER, None when blank."""
    return posted_integer(post, "sort_order", low=0, high=MAX_SORT_ORDER)


def checked(post: QueryDict, name: str) -> bool:
    """A check box: browsers post only checked ones."""
    return post.get(name) == "on"


def refuse_existing(exists: bool, field: str, what: str, name: str) -> None:
    """Adding must not change an existing row: the services find a row by its name and
    would change it, so the add form refuses a name that is taken."""
    if exists:
        raise DomainError(
            ErrorCode.DUPLICATE_VALUE,
            f"{field}: {what} {name!r} exists; change it from the list",
            [field],
        )


def _primary_key(text: str | None) -> int | None:
    """A row number from a query string or form (configuration rows have no public id)."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise Http404("no such row") from None


def row_named(queryset: QuerySet, text: str | None) -> Any:
    """The row of `queryset` the text names (None for none); 404 for one that is not there."""
    primary_key = _primary_key(text)
    if primary_key is None:
        return None
    row = queryset.filter(pk=primary_key).first()
    if row is None:
        raise Http404("no such row")
    return row


def settings_page(
    request: HttpRequest,
    template: str,
    current: str,
    context: dict[str, Any],
    *,
    refused: bool = False,
) -> HttpResponse:
    """A settings page in its frame (titled by its section unless `context` has a
    title); 400 when a form was refused."""
    title = next((label for label, name, _text in SECTIONS if name == current), "Settings")
    context = {"sections": SECTIONS, "current": current, "title": title, **context}
    return render(request, template, context, status=400 if refused else 200)


def saved(request: HttpRequest, text: str, url: str) -> HttpResponse:
    """Post/redirect/get: the success message, then back to `url`."""
    messages.success(request, text)
    return redirect(url)


def setting_values(row: Any, names: Iterable[str]) -> dict[str, Any]:
    """A configuration row's values for its edit form; a new row is active."""
    if row is None:
        return {"is_active": True}
    return {name: getattr(row, name) for name in names}
