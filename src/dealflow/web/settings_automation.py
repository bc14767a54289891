"""Settings pages for issue 7's automation (admins only): the qualification requirement
and checklists, the assignment rules, and the service level for leads (the other settings are in web/settings.py and
web/settings_people.py, what they share in web/settings_forms.py).

Every write goes through the service the API uses (leads.qualification
`qualification_settings_set` and `qualification_item_set`, automation.services
`assignment_rules_set`, leads.service_levels `service_levels_set`), whose DomainError comes back as a message next to the input it
names, or above the form (status 400, nothing written). No rule is repeated here. A
success redirects back to the page with a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.urls import reverse

from dealflow.api.support import request_body
from dealflow.automation.models import AssigneeKind, AssignmentRuleEntry
from dealflow.automation.selectors import active_rule_set, assignment_rules_json
from dealflow.automation.services import assignment_rules_set, describe_criteria
from dealflow.core.errors import DomainError
from dealflow.leads.qualification import (
    LABEL_LENGTH,
    FrameworkDef,
    ItemDef,
    qualification_configuration,
    qualification_item_set,
    qualification_settings_set,
)
from dealflow.leads.service_levels import (
    DAY_NAMES,
    MOST_HOURS,
    service_levels,
    service_levels_set,
)
from dealflow.people.models import User
from dealflow.web.pages import admin_view, signed_in_user
from dealflow.web.settings_forms import (
    SettingsForm,
    checked,
    posted,
    posted_integer,
    posted_sort_order,
    refuse_existing,
    saved,
    settings_page,
)

# ---------------------------------------------------------------------------------------
# Qualification

REQUIREMENT_FIELDS = ("required_framework", "minimum_items")
ITEM_FIELDS = ("framework", "key", "label", "sort_order", "is_active")


def _item_named(text: str | None) -> tuple[FrameworkDef, ItemDef] | None:
    """The framework and item `?edit=<row>` names (None for none); 404 for an unknown row."""
    if not text:
        return None
    try:
        primary_key = int(text)
    except ValueError:
        raise Http404("no such item") from None
    for framework in qualification_configuration.get().frameworks:
        item = framework.item_by_pk(primary_key)
        if item is not None:
            return framework, item
    raise Http404("no such item")


def _item_values(editing: tuple[FrameworkDef, ItemDef] | None) -> dict[str, Any]:
    if editing is None:
        return {"is_active": True}
    framework, item = editing
    return {
        "framework": framework.name,
        "key": item.key,
        "label": item.label,
        "sort_order": item.sort_order,
        "is_active": item.is_active,
    }


@admin_view
def qualification(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The framework conversion requires and how many items (one form), each framework's
    checklist, and a form adding an item or changing the one `?edit=<row>` names.

    The two forms post a hidden `part` (requirement or item) saying which one it is.
    """
    configuration = qualification_configuration.get()
    source = request.POST if request.method == "POST" else request.GET
    editing = _item_named(source.get("edit"))
    requirement = SettingsForm(
        "requirement",
        REQUIREMENT_FIELDS,
        {
            "required_framework": configuration.required_framework or "",
            "minimum_items": configuration.minimum_items,
        },
    )
    item_form = SettingsForm("item", ITEM_FIELDS, _item_values(editing))
    if request.method == "POST":
        part = request.POST.get("part")
        if part == "requirement":
            requirement = SettingsForm(
                "requirement", REQUIREMENT_FIELDS, posted(request.POST, REQUIREMENT_FIELDS)
            )
            try:
                _requirement_save(request)
            except DomainError as error:
                requirement.fail(error)
            else:
                url = reverse("settings_qualification")
                return saved(request, "Saved the qualification requirement.", url)
        elif part == "item":
            item_form = SettingsForm(
                "item", ITEM_FIELDS, posted(request.POST, ITEM_FIELDS, ["is_active"])
            )
            if editing is not None:
                item_form.fixed(framework=editing[0].name, key=editing[1].key)
            try:
                item = _item_save(request, editing)
            except DomainError as error:
                item_form.fail(error)
            else:
                url = reverse("settings_qualification")
                return saved(request, f"Saved the item “{item.label}”.", url)
        else:
            raise Http404("no such form")
    configuration = qualification_configuration.get()
    frameworks = [framework.name for framework in configuration.frameworks]
    context = {
        "frameworks": configuration.frameworks,
        "framework_choices": [(name, name) for name in frameworks],
        "requirement": requirement,
        "form": item_form,
        "editing": editing,
        "label_length": LABEL_LENGTH,
    }
    return settings_page(
        request,
        "web/settings/qualification.html",
        "settings_qualification",
        context,
        refused=requirement.failed or item_form.failed,
    )


def _requirement_save(request: HttpRequest) -> None:
    """Both values at once, as `PATCH /settings/qualification` takes them: an empty
    framework is none, an empty minimum is all items."""
    post = request.POST
    qualification_settings_set(
        actor=signed_in_user(request),
        required_framework=post.get("required_framework") or None,
        # From 0: the service's own message explains the bounds of a number below 1.
        minimum_items=posted_integer(post, "minimum_items", low=0),
    )


def _item_save(request: HttpRequest, editing: tuple[FrameworkDef, ItemDef] | None) -> ItemDef:
    """Add an item (its framework and key as posted) or change the one being edited (its
    framework and key stay: answers are stored by them)."""
    post = request.POST
    if editing is None:
        framework, key = post.get("framework", ""), post.get("key", "").strip()
        chosen = qualification_configuration.get().framework(framework)
        refuse_existing(chosen is not None and chosen.item(key) is not None, "key", "the item", key)
    else:
        framework, key = editing[0].name, editing[1].key
    return qualification_item_set(
        actor=signed_in_user(request),
        framework=framework,
        key=key,
        label=post.get("label", ""),
        sort_order=posted_sort_order(post),
        is_active=checked(post, "is_active"),
    )


# ---------------------------------------------------------------------------------------
# Assignment rules

RULES_FIELDS = ("rules",)


@dataclass(frozen=True)
class EntryRow:
    """One entry of the rules as the page shows it, in words."""

    number: int
    criteria: str
    kind: str
    assignees: str
    capacity: int | None


def _pretty(rules: Any) -> str:
    return json.dumps(rules, indent=2, ensure_ascii=False, default=str)


def _entry_rows(entries: list[AssignmentRuleEntry]) -> list[EntryRow]:
    """The entries in order, their pools' users named with one query for all entries."""
    pool_keys = {key for entry in entries for key in entry.user_ids}
    users = {user.pk: user for user in User.objects.filter(pk__in=pool_keys)} if pool_keys else {}
    rows = []
    for entry in entries:
        if entry.kind == AssigneeKind.USER:
            assignees = str(entry.user)
        elif entry.kind == AssigneeKind.QUEUE:
            assignees = str(entry.queue)
        else:
            assignees = ", ".join(
                str(users[key]) if key in users else f"a removed user ({key})"
                for key in entry.user_ids
            )
        rows.append(
            EntryRow(
                number=entry.sort_order + 1,
                criteria=describe_criteria(entry),
                kind=AssigneeKind(entry.kind).label,
                assignees=assignees,
                capacity=entry.capacity,
            )
        )
    return rows


def _posted_rules(post: QueryDict) -> dict[str, Any]:
    """The textarea's JSON, read as the API reads a request's body: the same refusals
    (not JSON, nested too deep, not an object, text no database can store)."""
    text = post.get("rules", "")
    try:
        # request_body reads only `.body`; an empty text is {} there (rules off).
        return request_body(SimpleNamespace(body=text.encode("utf-8", "surrogatepass")))  # type: ignore[arg-type]
    except DomainError as error:
        # Its messages speak of the request's body; here that is the rules.
        message = error.message.replace("body", "rules", 1)
        raise DomainError(error.code, message, ["rules"]) from None


@admin_view
def assignment(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The active assignment rules in words, and a form replacing them with JSON in the
    shape `PUT /api/v1/assignment-rules` takes (prefilled with what its GET answers)."""
    form = SettingsForm("rules", RULES_FIELDS, {"rules": _pretty(assignment_rules_json())})
    if request.method == "POST":
        form = SettingsForm("rules", RULES_FIELDS, {"rules": request.POST.get("rules", "")})
        try:
            rule_set = assignment_rules_set(
                actor=signed_in_user(request), rules=_posted_rules(request.POST)
            )
        except DomainError as error:
            # Shown above the textarea whatever it names (`entries[0].criteria[0].operator`).
            form.errors["rules"] = error.message
        else:
            text = (
                "Saved the assignment rules."
                if rule_set
                else "Saved: no entries and no default owner, so the assignment rules are off."
            )
            return saved(request, text, reverse("settings_assignment"))
    rule_set = active_rule_set()
    context = {
        "rule_set": rule_set,
        "entries": _entry_rows(list(rule_set.entries.all())) if rule_set else [],
        "form": form,
    }
    return settings_page(
        request,
        "web/settings/assignment.html",
        "settings_assignment",
        context,
        refused=form.failed,
    )


# ---------------------------------------------------------------------------------------
# Service levels

SERVICE_LEVEL_FIELDS = (
    "response_hours",
    "working_days",
    "day_start",
    "day_end",
    "reroute_when_breached",
)


def _service_level_values() -> dict[str, Any]:
    """The setting as the form shows it: hours (blank: off), day names, HH:MM times."""
    levels = service_levels.get()
    return {
        "response_hours": levels.response_hours,
        "working_days": [DAY_NAMES[day] for day in levels.working_days],
        "day_start": levels.day_start.isoformat("minutes"),
        "day_end": levels.day_end.isoformat("minutes"),
        "reroute_when_breached": levels.reroute_when_breached,
    }


@admin_view
def service_level_settings(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The service level for leads: the limit in working hours (blank: off), the working
    days and hours, and whether the rules re-route an overdue lead, saved at once through
    `service_levels_set` as `PATCH /api/v1/settings/service-levels` does."""
    form = SettingsForm("levels", SERVICE_LEVEL_FIELDS, _service_level_values())
    if request.method == "POST":
        post = request.POST
        form = SettingsForm(
            "levels",
            SERVICE_LEVEL_FIELDS,
            {
                **posted(post, SERVICE_LEVEL_FIELDS, ["reroute_when_breached"]),
                "working_days": post.getlist("working_days"),
            },
        )
        try:
            service_levels_set(
                actor=signed_in_user(request),
                # From 0: the service's own message explains the bounds of a number below 1.
                response_hours=posted_integer(post, "response_hours", low=0),
                working_days=post.getlist("working_days"),
                day_start=post.get("day_start", ""),
                day_end=post.get("day_end", ""),
                reroute_when_breached=checked(post, "reroute_when_breached"),
            )
        except DomainError as error:
            form.fail(error)
        else:
            return saved(request, "Saved the service level.", reverse("settings_service_levels"))
    context = {
        "form": form,
        "day_names": DAY_NAMES,
        "hours_hint": f"From 1 to {MOST_HOURS:,} working hours; blank turns the limit off.",
        "time_hint": f"Local time ({service_levels.get().time_zone}).",
        "overdue_url": reverse("lead_list") + "?view=open&overdue=true",
    }
    return settings_page(
        request,
        "web/settings/service_levels.html",
        "settings_service_levels",
        context,
        refused=form.failed,
    )
