"""Settings pages (admins only): the index, lead statuses, opportunity stages, picklist
values and the sharing defaults; users, teams, queues and API tokens are in
web/settings_people.py, what both share in web/settings_forms.py.

Every page lists its rows and offers a form; every write goes through the domain's service
(leads.services.lead_status_set, sales.services.opportunity_stage_set,
core.services.picklist_value_set and sharing_default_set), whose DomainError comes back as
a message next to the field it names (status 400, nothing written). The view only reads
the posted text as the service's types; no rule is repeated here. A success redirects back
to the page (post/redirect/get) with a message.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from dealflow.core.access import is_admin, sharing_default
from dealflow.core.errors import DomainError
from dealflow.core.models import Access, Picklist
from dealflow.core.selectors import picklist_value_list
from dealflow.core.services import picklist_value_set, sharing_default_set
from dealflow.leads.models import LeadStatus
from dealflow.leads.selectors import lead_status_list
from dealflow.leads.services import lead_status_set
from dealflow.people.models import Role
from dealflow.sales.models import ForecastCategory, OpportunityStage
from dealflow.sales.selectors import stage_list
from dealflow.sales.services import MAX_STALL_DAYS, opportunity_stage_set
from dealflow.web.pages import admin_view, page_view, refused, signed_in_user
from dealflow.web.settings_forms import (
    SettingsForm,
    checked,
    posted,
    posted_integer,
    posted_sort_order,
    posted_text,
    refuse_existing,
    row_named,
    saved,
    setting_values,
    settings_page,
)

# Objects whose records have an owner, so their organisation-wide default applies; tasks
# and contact roles follow the record they belong to (core/access.py).
SHARING_OBJECTS = (
    ("Lead", "Leads"),
    ("Account", "Accounts"),
    ("Contact", "Contacts"),
    ("Opportunity", "Opportunities"),
)


# ---------------------------------------------------------------------------------------
# Index


@page_view
def settings_home(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The settings' index for an admin. A manager's one settings page is the scoring
    model's (docs/scoring.md), where their navigation's Settings leads: /settings/ typed
    by a manager redirects there rather than answering "Not allowed"; a rep gets 403."""
    user = signed_in_user(request)
    if not is_admin(user):
        if user.role == Role.MANAGER:
            return redirect("settings_scoring_model")
        return refused(request, "Settings are for admins")
    return settings_page(request, "web/settings/home.html", "settings_home", {})


# ---------------------------------------------------------------------------------------
# Lead statuses

STATUS_FIELDS = ("name", "sort_order", "is_default", "is_converted", "is_closed", "is_active")
STATUS_FLAGS = STATUS_FIELDS[2:]


@admin_view
def lead_statuses(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The lead statuses and a form adding one, or changing the one `?edit=<row>` names."""
    source = request.POST if request.method == "POST" else request.GET
    editing = row_named(lead_status_list(), source.get("edit"))
    form = SettingsForm("status", STATUS_FIELDS, setting_values(editing, STATUS_FIELDS))
    if request.method == "POST":
        form = SettingsForm(
            "status", STATUS_FIELDS, posted(request.POST, STATUS_FIELDS, STATUS_FLAGS)
        )
        try:
            status = _status_save(request, editing)
        except DomainError as error:
            form.fail(error)
        else:
            url = reverse("settings_lead_statuses")
            return saved(request, f"Saved the lead status “{status.name}”.", url)
    context = {"statuses": list(lead_status_list()), "form": form, "editing": editing}
    return settings_page(
        request,
        "web/settings/lead_statuses.html",
        "settings_lead_statuses",
        context,
        refused=form.failed,
    )


def _status_save(request: HttpRequest, editing: LeadStatus | None) -> LeadStatus:
    post = request.POST
    name = posted_text(post, "name")
    if editing is None:
        refuse_existing(lead_status_list().filter(name=name).exists(), "name", "a status", name)
    return lead_status_set(
        actor=request.user,
        name=name,
        status=editing,
        sort_order=posted_sort_order(post),
        **{flag: checked(post, flag) for flag in STATUS_FLAGS},
    )


# ---------------------------------------------------------------------------------------
# Opportunity stages

STAGE_FIELDS = OpportunityStage.SETTINGS
STAGE_FLAGS = ("is_closed", "is_won", "is_active")


@admin_view
def stages(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The opportunity stages and a form adding one, or changing the one `?edit=` names."""
    source = request.POST if request.method == "POST" else request.GET
    editing = row_named(stage_list(), source.get("edit"))
    form = SettingsForm("stage", STAGE_FIELDS, setting_values(editing, STAGE_FIELDS))
    if request.method == "POST":
        form = SettingsForm("stage", STAGE_FIELDS, posted(request.POST, STAGE_FIELDS, STAGE_FLAGS))
        try:
            stage = _stage_save(request, editing)
        except DomainError as error:
            form.fail(error)
        else:
            return saved(request, f"Saved the stage “{stage.name}”.", reverse("settings_stages"))
    context = {
        "stages": list(stage_list()),
        "form": form,
        "editing": editing,
        "forecast_categories": ForecastCategory.choices,
    }
    return settings_page(
        request, "web/settings/stages.html", "settings_stages", context, refused=form.failed
    )


def _stage_save(request: HttpRequest, editing: OpportunityStage | None) -> OpportunityStage:
    post = request.POST
    name = posted_text(post, "name")
    if editing is None:
        refuse_existing(stage_list().filter(name=name).exists(), "name", "a stage", name)
    return opportunity_stage_set(
        actor=request.user,
        name=name,
        stage=editing,
        sort_order=posted_sort_order(post),
        probability=posted_integer(post, "probability"),
        forecast_category=post.get("forecast_category") or None,
        stall_days=posted_integer(post, "stall_days", low=1, high=MAX_STALL_DAYS),
        **{flag: checked(post, flag) for flag in STAGE_FLAGS},
    )


# ---------------------------------------------------------------------------------------
# Picklist values

PICKLIST_FIELDS = ("value", "sort_order", "is_active")


@admin_view
def picklists(request: HttpRequest, **_ids: str) -> HttpResponse:
    """One picklist's values (`?picklist=lead_source`) and a form adding a value, or
    changing the order and whether the value `?edit=` names is offered (a value's text is
    what records hold, so it is not renamed)."""
    source = request.POST if request.method == "POST" else request.GET
    picklist = source.get("picklist") or Picklist.LEAD_SOURCE
    if picklist not in Picklist.values:
        raise Http404("no such picklist")
    values = picklist_value_list().filter(picklist=picklist).order_by("sort_order", "value")
    editing = row_named(values, source.get("edit"))
    form = SettingsForm("picklist", PICKLIST_FIELDS, setting_values(editing, PICKLIST_FIELDS))
    if request.method == "POST":
        form = SettingsForm(
            "picklist", PICKLIST_FIELDS, posted(request.POST, PICKLIST_FIELDS, ["is_active"])
        )
        if editing is not None:
            form.fixed(value=editing.value)
        try:
            row = _picklist_value_save(request, picklist, values, editing)
        except DomainError as error:
            form.fail(error)
        else:
            url = f"{reverse('settings_picklists')}?picklist={picklist}"
            return saved(request, f"Saved the value “{row.value}”.", url)
    context = {
        "picklists": Picklist.choices,
        "picklist": picklist,
        "picklist_label": Picklist(picklist).label,
        "values": list(values),
        "form": form,
        "editing": editing,
    }
    return settings_page(
        request, "web/settings/picklists.html", "settings_picklists", context, refused=form.failed
    )


def _picklist_value_save(
    request: HttpRequest, picklist: str, values: QuerySet, editing: Any
) -> Any:
    post = request.POST
    if editing is None:
        value = posted_text(post, "value")
        refuse_existing(values.filter(value=value).exists(), "value", "the value", value)
    else:
        value = editing.value
    return picklist_value_set(
        actor=request.user,
        picklist=picklist,
        value=value,
        sort_order=posted_sort_order(post),
        is_active=checked(post, "is_active"),
    )


# ---------------------------------------------------------------------------------------
# Sharing defaults


@admin_view
def sharing(request: HttpRequest, **_ids: str) -> HttpResponse:
    """Each object's organisation-wide default access, changed in one form (all or nothing)."""
    names = [name for name, _label in SHARING_OBJECTS]
    form = SettingsForm("sharing", names, {name: sharing_default(name).value for name in names})
    if request.method == "POST":
        form = SettingsForm("sharing", names, posted(request.POST, names))
        try:
            changed = _sharing_save(request, names)
        except DomainError as error:
            form.fail(error)
        else:
            text = (
                f"Saved the sharing defaults of {', '.join(changed)}."
                if changed
                else "Nothing changed."
            )
            return saved(request, text, reverse("settings_sharing"))
    fields = [(label, form[name]) for name, label in SHARING_OBJECTS]
    context = {"form": form, "fields": fields, "accesses": Access.choices}
    return settings_page(
        request, "web/settings/sharing.html", "settings_sharing", context, refused=form.failed
    )


def _sharing_save(request: HttpRequest, names: list[str]) -> list[str]:
    """Set each object's default the form changed; a refusal names that object's input."""
    changed = []
    with transaction.atomic():
        for name in names:
            access = request.POST.get(name, "")
            if access == sharing_default(name).value:
                continue
            try:
                sharing_default_set(actor=request.user, object_name=name, access=access)
            except DomainError as error:
                # The service names its input `access`; here that is the object's select.
                message = error.message.removeprefix("access: ")
                raise DomainError(error.code, f"{name}: {message}", [name]) from None
            changed.append(name)
    return changed
