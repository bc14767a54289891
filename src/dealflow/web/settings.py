"""Settings pages (admins only): statuses, stages, picklists, users, teams, queues, sharing,
API tokens.

Every page lists its rows and offers a form; every write goes through the domain's service
(leads.services.lead_status_set, sales.services.opportunity_stage_set,
core.services.picklist_value_set and sharing_default_set, people.services), whose
DomainError comes back as a message next to the field it names (status 400, nothing
written). The view only reads the posted text as the service's types, within the same
input bounds the API's schemas set (api/people.py); no rule is repeated here.

A success redirects back to the page (post/redirect/get) with a message, except creating an
API token: its secret is in that one response and nowhere else (not in the session, the
messages, a log or the database, which keeps only its digest).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from dealflow.core import ids
from dealflow.core.access import sharing_default
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, Picklist
from dealflow.core.selectors import picklist_value_list
from dealflow.core.services import picklist_value_set, sharing_default_set
from dealflow.core.validation import MAX_INTEGER, check_storable_text
from dealflow.leads.models import LeadStatus
from dealflow.leads.selectors import lead_status_list
from dealflow.leads.services import lead_status_set
from dealflow.people.models import ApiToken, Role, User
from dealflow.people.selectors import (
    queue_get,
    queue_list,
    team_get,
    team_list,
    token_list,
    user_get,
    user_get_any,
    user_list,
    user_list_all,
)
from dealflow.people.services import (
    queue_set,
    team_create,
    token_create,
    token_revoke,
    user_create,
    user_set_password,
    user_update,
)
from dealflow.sales.models import ForecastCategory, OpportunityStage
from dealflow.sales.selectors import stage_list
from dealflow.sales.services import opportunity_stage_set
from dealflow.web.pages import admin_view

# (label, URL name, what the page is for): the sub-navigation and the index.
SECTIONS = (
    ("Lead statuses", "settings_lead_statuses", "The values of a lead's Status, in order."),
    ("Stages", "settings_stages", "Opportunity stages: probability and forecast category."),
    ("Picklists", "settings_picklists", "Lead Source, Rating, Industry and the other picklists."),
    ("Users", "settings_users", "Add users, set roles, teams and passwords, deactivate."),
    ("Teams", "settings_teams", "Sales teams; a manager sees the records of their team."),
    ("Queues", "settings_queues", "Shared owners of leads and their members."),
    ("Sharing", "settings_sharing", "Who may see and change everybody's records."),
    ("API tokens", "settings_tokens", "Bearer tokens for the API: create and revoke."),
)
# Objects whose records have an owner, so their organisation-wide default applies; tasks
# and contact roles follow the record they belong to (core/access.py).
SHARING_OBJECTS = (
    ("Lead", "Leads"),
    ("Account", "Accounts"),
    ("Contact", "Contacts"),
    ("Opportunity", "Opportunities"),
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


# ---------------------------------------------------------------------------------------
# A settings form: posted text, and the refusals shown next to its inputs


@dataclass
class Input:
    """One input as a template shows it."""

    name: str
    id: str
    value: Any
    error: str


class SettingsForm:
    """The values and refusal messages of one form of a settings page.

    Templates read an input as `form.<name>` (an Input: id, value, error); `prefix` keeps
    the ids of two forms on one page apart. No rule lives here: `fail` places a service's
    DomainError next to the inputs it names, or above the form.
    """

    def __init__(
        self, prefix: str, names: Iterable[str], values: Mapping[str, Any] | None = None
    ) -> None:
        self.prefix = prefix
        self.names = tuple(names)
        self.values = dict(values or {})
        self.errors: dict[str, str] = {}
        self.message = ""

    def __getitem__(self, name: str) -> Input:
        # A KeyError lets templates fall back to attributes (form.message).
        if name not in self.names:
            raise KeyError(name)
        value = self.values.get(name, "")
        return Input(
            name, f"{self.prefix}-{name}", "" if value is None else value, self.errors.get(name, "")
        )

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.message)

    def fail(self, error: DomainError) -> None:
        """Show a refusal next to each input it names, or above the form."""
        named = [name for name in error.fields if name in self.names]
        for name in named:
            self.errors[name] = error.message
        if not named:
            self.message = error.message


def _posted(post: QueryDict, names: Iterable[str], checkboxes: Iterable[str] = ()) -> dict:
    """The posted text of a form, to show it again after a refusal (passwords never)."""
    boxes = set(checkboxes)
    return {
        name: post.get(name) == "on" if name in boxes else post.get(name, "")
        for name in names
        if "password" not in name
    }


def _text(post: QueryDict, name: str) -> str:
    """A posted text, trimmed; refused if no database can store it or it is too long."""
    text = check_storable_text(name, post.get(name, "")).strip()
    length = TEXT_LENGTHS.get(name)
    if length is not None and len(text) > length:
        raise DomainError(ErrorCode.STRING_TOO_LONG, f"{name}: at most {length} characters", [name])
    return text


def _integer(
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


def _sort_order(post: QueryDict) -> int | None:
    return _integer(post, "sort_order", low=0, high=MAX_SORT_ORDER)


def _checked(post: QueryDict, name: str) -> bool:
    """A check box: browsers post only checked ones."""
    return post.get(name) == "on"


def _refuse_existing(exists: bool, field: str, what: str, name: str) -> None:
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


def _row(queryset: QuerySet, text: str | None) -> Any:
    """The row of `queryset` the text names (None for none); 404 for one that is not there."""
    primary_key = _primary_key(text)
    if primary_key is None:
        return None
    row = queryset.filter(pk=primary_key).first()
    if row is None:
        raise Http404("no such row")
    return row


def _render(
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


def _saved(request: HttpRequest, text: str, url: str) -> HttpResponse:
    messages.success(request, text)
    return redirect(url)


# ---------------------------------------------------------------------------------------
# Index


@admin_view
def settings_home(request: HttpRequest, **_ids: str) -> HttpResponse:
    return _render(request, "web/settings/home.html", "settings_home", {})


# ---------------------------------------------------------------------------------------
# Lead statuses

STATUS_FIELDS = ("name", "sort_order", "is_default", "is_converted", "is_closed", "is_active")
STATUS_FLAGS = STATUS_FIELDS[2:]


@admin_view
def lead_statuses(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The lead statuses and a form adding one, or changing the one `?edit=<row>` names."""
    source = request.POST if request.method == "POST" else request.GET
    editing = _row(lead_status_list(), source.get("edit"))
    form = SettingsForm("status", STATUS_FIELDS, _setting_values(editing, STATUS_FIELDS))
    if request.method == "POST":
        form = SettingsForm(
            "status", STATUS_FIELDS, _posted(request.POST, STATUS_FIELDS, STATUS_FLAGS)
        )
        try:
            status = _status_save(request, editing)
        except DomainError as error:
            form.fail(error)
        else:
            url = reverse("settings_lead_statuses")
            return _saved(request, f"Saved the lead status “{status.name}”.", url)
    context = {"statuses": list(lead_status_list()), "form": form, "editing": editing}
    return _render(
        request,
        "web/settings/lead_statuses.html",
        "settings_lead_statuses",
        context,
        refused=form.failed,
    )


def _setting_values(row: Any, names: Iterable[str]) -> dict[str, Any]:
    """A configuration row's values for its edit form; a new row is active."""
    if row is None:
        return {"is_active": True}
    return {name: getattr(row, name) for name in names}


def _status_save(request: HttpRequest, editing: LeadStatus | None) -> LeadStatus:
    post = request.POST
    name = _text(post, "name")
    if editing is None:
        _refuse_existing(lead_status_list().filter(name=name).exists(), "name", "a status", name)
    return lead_status_set(
        actor=request.user,
        name=name,
        status=editing,
        sort_order=_sort_order(post),
        **{flag: _checked(post, flag) for flag in STATUS_FLAGS},
    )


# ---------------------------------------------------------------------------------------
# Opportunity stages

STAGE_FIELDS = OpportunityStage.SETTINGS
STAGE_FLAGS = ("is_closed", "is_won", "is_active")


@admin_view
def stages(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The opportunity stages and a form adding one, or changing the one `?edit=` names."""
    source = request.POST if request.method == "POST" else request.GET
    editing = _row(stage_list(), source.get("edit"))
    form = SettingsForm("stage", STAGE_FIELDS, _setting_values(editing, STAGE_FIELDS))
    if request.method == "POST":
        form = SettingsForm("stage", STAGE_FIELDS, _posted(request.POST, STAGE_FIELDS, STAGE_FLAGS))
        try:
            stage = _stage_save(request, editing)
        except DomainError as error:
            form.fail(error)
        else:
            return _saved(request, f"Saved the stage “{stage.name}”.", reverse("settings_stages"))
    context = {
        "stages": list(stage_list()),
        "form": form,
        "editing": editing,
        "forecast_categories": ForecastCategory.choices,
    }
    return _render(
        request, "web/settings/stages.html", "settings_stages", context, refused=form.failed
    )


def _stage_save(request: HttpRequest, editing: OpportunityStage | None) -> OpportunityStage:
    post = request.POST
    name = _text(post, "name")
    if editing is None:
        _refuse_existing(stage_list().filter(name=name).exists(), "name", "a stage", name)
    return opportunity_stage_set(
        actor=request.user,
        name=name,
        stage=editing,
        sort_order=_sort_order(post),
        probability=_integer(post, "probability"),
        forecast_category=post.get("forecast_category") or None,
        **{flag: _checked(post, flag) for flag in STAGE_FLAGS},
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
    editing = _row(values, source.get("edit"))
    form = SettingsForm("picklist", PICKLIST_FIELDS, _setting_values(editing, PICKLIST_FIELDS))
    if request.method == "POST":
        form = SettingsForm(
            "picklist", PICKLIST_FIELDS, _posted(request.POST, PICKLIST_FIELDS, ["is_active"])
        )
        if editing is not None:
            form.values["value"] = editing.value
        try:
            row = _picklist_value_save(request, picklist, values, editing)
        except DomainError as error:
            form.fail(error)
        else:
            url = f"{reverse('settings_picklists')}?picklist={picklist}"
            return _saved(request, f"Saved the value “{row.value}”.", url)
    context = {
        "picklists": Picklist.choices,
        "picklist": picklist,
        "picklist_label": Picklist(picklist).label,
        "values": list(values),
        "form": form,
        "editing": editing,
    }
    return _render(
        request, "web/settings/picklists.html", "settings_picklists", context, refused=form.failed
    )


def _picklist_value_save(
    request: HttpRequest, picklist: str, values: QuerySet, editing: Any
) -> Any:
    post = request.POST
    if editing is None:
        value = _text(post, "value")
        _refuse_existing(values.filter(value=value).exists(), "value", "the value", value)
    else:
        value = editing.value
    return picklist_value_set(
        actor=request.user,
        picklist=picklist,
        value=value,
        sort_order=_sort_order(post),
        is_active=_checked(post, "is_active"),
    )


# ---------------------------------------------------------------------------------------
# Users

USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "team",
    "password",
    "password_again",
)
USER_EDIT_FIELDS = ("first_name", "last_name", "email", "role", "team", "is_active")
PASSWORD_FIELDS = ("password", "password_again")


def _team_choices() -> list[tuple[str, str]]:
    names = team_list().order_by("name").values_list("name", flat=True)
    return [(name, name) for name in names]


@admin_view
def users(request: HttpRequest, **_ids: str) -> HttpResponse:
    """Every user (deactivated ones too) and a form adding one."""
    form = SettingsForm("user", USER_FIELDS, {"role": Role.REP})
    if request.method == "POST":
        form = SettingsForm("user", USER_FIELDS, _posted(request.POST, USER_FIELDS))
        try:
            user = _user_create(request)
        except DomainError as error:
            form.fail(error)
        else:
            url = reverse("settings_user_edit", args=[user.public_id])
            return _saved(request, f"Added the user {user.username}.", url)
    context = {
        "users": list(user_list_all().order_by("username")),
        "form": form,
        "roles": Role.choices,
        "teams": _team_choices(),
    }
    return _render(
        request, "web/settings/users.html", "settings_users", context, refused=form.failed
    )


def _new_password(post: QueryDict) -> str | None:
    """The password typed twice, or None when both are blank (no password: the user works
    with API tokens until one is set)."""
    password, again = post.get("password", ""), post.get("password_again", "")
    if password != again:
        raise DomainError(
            ErrorCode.INVALID_FIELD, "password_again: the two passwords differ", ["password_again"]
        )
    return password or None


def _posted_team(post: QueryDict) -> Any:
    name = post.get("team", "")
    return team_get(name=name) if name else None


def _user_create(request: HttpRequest) -> User:
    post = request.POST
    return user_create(
        actor=request.user,
        username=_text(post, "username"),
        password=_new_password(post),
        role=post.get("role", ""),
        email=_text(post, "email"),
        first_name=_text(post, "first_name"),
        last_name=_text(post, "last_name"),
        team=_posted_team(post),
    )


@admin_view
def user_edit(request: HttpRequest, user_id: str, **_ids: str) -> HttpResponse:
    """One user: names, email, role, team and whether they may sign in; their password.

    Two forms post here, told apart by `action`: `details`, `password`, or `deactivate`
    and `reactivate` (the buttons beside the user's state).
    """
    user = user_get_any(user_id=user_id)
    details = SettingsForm("details", USER_EDIT_FIELDS, _user_values(user))
    password = SettingsForm("password", PASSWORD_FIELDS)
    if request.method == "POST":
        action = request.POST.get("action", "")
        form = password if action == "password" else details
        if action == "details":
            form.values = _posted(request.POST, USER_EDIT_FIELDS, ["is_active"])
        try:
            text = _user_change(request, user, action)
        except DomainError as error:
            form.fail(error)
        else:
            return _saved(request, text, reverse("settings_user_edit", args=[user.public_id]))
    context = {
        "title": f"User {user.username}",
        "edited": user,
        "details": details,
        "password": password,
        "roles": Role.choices,
        "teams": _team_choices(),
    }
    refused = details.failed or password.failed
    return _render(
        request, "web/settings/user_edit.html", "settings_users", context, refused=refused
    )


def _user_values(user: User) -> dict[str, Any]:
    values = {name: getattr(user, name) for name in USER_EDIT_FIELDS if name != "team"}
    values["team"] = user.team.name if user.team else ""
    return values


def _user_change(request: HttpRequest, user: User, action: str) -> str:
    """Run the action's service; the message saying what changed."""
    post, actor = request.POST, request.user
    if action == "password":
        new_password = _new_password(post)
        if new_password is None:
            raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "password: required", ["password"])
        user_set_password(actor=actor, user=user, password=new_password)
        return f"Set the password of {user.username}."
    if action in ("deactivate", "reactivate"):
        user_update(actor=actor, user=user, data={"is_active": action == "reactivate"})
        return f"{action.capitalize()}d {user.username}."
    if action != "details":
        raise DomainError(ErrorCode.INVALID_FIELD, f"action: unknown action {action!r}")
    data: dict[str, Any] = {
        name: _text(post, name) for name in ("first_name", "last_name", "email")
    }
    data.update(
        role=post.get("role", ""), team=_posted_team(post), is_active=_checked(post, "is_active")
    )
    user_update(actor=actor, user=user, data=data)
    return f"Saved {user.username}."


# ---------------------------------------------------------------------------------------
# Teams


@admin_view
def teams(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The teams with their number of members, and a form adding one (there is no rename)."""
    form = SettingsForm("team", ["name"])
    if request.method == "POST":
        form = SettingsForm("team", ["name"], _posted(request.POST, ["name"]))
        try:
            team = team_create(actor=request.user, name=_text(request.POST, "name"))
        except DomainError as error:
            form.fail(error)
        else:
            return _saved(request, f"Added the team “{team.name}”.", reverse("settings_teams"))
    rows = team_list().annotate(member_count=Count("members")).order_by("name")
    context = {"teams": list(rows), "form": form}
    return _render(
        request, "web/settings/teams.html", "settings_teams", context, refused=form.failed
    )


# ---------------------------------------------------------------------------------------
# Queues

QUEUE_FIELDS = ("name", "email", "members")


@admin_view
def queues(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The queues with their members, and a form adding one or changing the email and
    members of the one `?edit=<queue id>` names (queues are found by name: no rename)."""
    source = request.POST if request.method == "POST" else request.GET
    editing = queue_get(queue_id=source["edit"]) if source.get("edit") else None
    form = SettingsForm("queue", QUEUE_FIELDS, _queue_values(editing))
    if request.method == "POST":
        form = SettingsForm("queue", QUEUE_FIELDS, _posted(request.POST, QUEUE_FIELDS))
        form.values["members"] = request.POST.getlist("members")
        if editing is not None:
            form.values["name"] = editing.name
        try:
            queue = _queue_save(request, editing)
        except DomainError as error:
            form.fail(error)
        else:
            return _saved(request, f"Saved the queue “{queue.name}”.", reverse("settings_queues"))
    context = {
        "queues": list(queue_list().order_by("name")),
        "form": form,
        "editing": editing,
        "people": _member_choices(editing),
    }
    return _render(
        request, "web/settings/queues.html", "settings_queues", context, refused=form.failed
    )


def _queue_values(queue: Any) -> dict[str, Any]:
    if queue is None:
        return {"members": []}
    members = [member.public_id for member in queue.members.all()]
    return {"name": queue.name, "email": queue.email, "members": members}


def _member_choices(queue: Any) -> list[tuple[str, str]]:
    """(public id, name) of the active users, and of the queue's deactivated members so that
    saving the queue keeps them (one query; the members are prefetched)."""
    people = {user.pk: user for user in user_list().order_by("first_name", "last_name", "username")}
    for member in queue.members.all() if queue is not None else ():
        people.setdefault(member.pk, member)
    return [(str(user.public_id), str(user)) for user in people.values()]


def _posted_members(post: QueryDict) -> list[User]:
    """The users the member check boxes name (one query); INVALID_ID for any other id."""
    refused = DomainError(ErrorCode.INVALID_ID, "members: choose users from the list", ["members"])
    keys = set()
    for text in post.getlist("members"):
        try:
            keys.add(ids.decode(text, "User")[1])
        except ids.InvalidIdError:
            raise refused from None
    found = list(user_list_all().filter(pk__in=keys)) if keys else []
    if len(found) != len(keys):
        raise refused
    return found


def _queue_save(request: HttpRequest, editing: Any) -> Any:
    post = request.POST
    if editing is None:
        name = _text(post, "name")
        _refuse_existing(queue_list().filter(name=name).exists(), "name", "a queue", name)
    else:
        name = editing.name
    return queue_set(
        actor=request.user, name=name, email=_text(post, "email"), members=_posted_members(post)
    )


# ---------------------------------------------------------------------------------------
# Sharing defaults


@admin_view
def sharing(request: HttpRequest, **_ids: str) -> HttpResponse:
    """Each object's organisation-wide default access, changed in one form (all or nothing)."""
    names = [name for name, _label in SHARING_OBJECTS]
    form = SettingsForm("sharing", names, {name: sharing_default(name).value for name in names})
    if request.method == "POST":
        form = SettingsForm("sharing", names, _posted(request.POST, names))
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
            return _saved(request, text, reverse("settings_sharing"))
    fields = [(label, form[name]) for name, label in SHARING_OBJECTS]
    context = {"form": form, "fields": fields, "accesses": Access.choices}
    return _render(
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
                raise DomainError(error.code, f"{name}: {error.message}", [name]) from None
            changed.append(name)
    return changed


# ---------------------------------------------------------------------------------------
# API tokens

TOKEN_FIELDS = ("user", "name")


@admin_view
def tokens(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The API tokens, a form creating one for a user, and a revoke button per active one.

    A created token's secret is in this response only (`Cache-Control: no-store`): the
    database keeps its digest, and the page never shows it again.
    """
    form = SettingsForm("token", TOKEN_FIELDS)
    created: tuple[ApiToken, str] | None = None
    if request.method == "POST" and request.POST.get("action") == "revoke":
        api_token = _row(token_list(), request.POST.get("token") or "0")
        token_revoke(actor=request.user, api_token=api_token)
        text = f"Revoked the token “{api_token.name}” of {api_token.user.username}."
        return _saved(request, text, reverse("settings_tokens"))
    if request.method == "POST":
        form = SettingsForm("token", TOKEN_FIELDS, _posted(request.POST, TOKEN_FIELDS))
        try:
            created = _token_create(request)
        except DomainError as error:
            form.fail(error)
        else:
            form = SettingsForm("token", TOKEN_FIELDS)
    context = {
        "tokens": list(token_list()),
        "form": form,
        "people": [
            (user.public_id, f"{user.get_full_name() or user.username} ({user.username})")
            for user in user_list().order_by("username")
        ],
        "created": created[0] if created else None,
        "secret": created[1] if created else "",
    }
    response = _render(
        request, "web/settings/tokens.html", "settings_tokens", context, refused=form.failed
    )
    if created:
        response["Cache-Control"] = "no-store"
    return response


def _token_create(request: HttpRequest) -> tuple[ApiToken, str]:
    post = request.POST
    user_id = post.get("user", "")
    if not user_id:
        raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "user: required", ["user"])
    try:
        user = user_get(user_id=user_id)
    except DomainError:
        raise DomainError(ErrorCode.NOT_FOUND, "user: choose an active user", ["user"]) from None
    return token_create(actor=request.user, user=user, name=_text(post, "name"))
