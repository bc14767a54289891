"""Settings pages for people (admins only): users, teams, queues and API tokens (the
other settings are in web/settings.py, what both share in web/settings_forms.py).

Every write goes through people.services, whose DomainError comes back next to the field it
names (status 400, nothing written). A success redirects back to the page with a message,
except creating an API token: its secret is in that one response and nowhere else (not in
the session, the messages, a log or the database, which keeps only its digest).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
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
from dealflow.web.pages import admin_view
from dealflow.web.settings_forms import (
    SettingsForm,
    checked,
    posted,
    posted_text,
    refuse_existing,
    row_named,
    saved,
    settings_page,
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
        form = SettingsForm("user", USER_FIELDS, posted(request.POST, USER_FIELDS))
        try:
            user = _user_create(request)
        except DomainError as error:
            form.fail(error)
        else:
            url = reverse("settings_user_edit", args=[user.public_id])
            return saved(request, f"Added the user {user.username}.", url)
    context = {
        "users": list(user_list_all().order_by("username")),
        "form": form,
        "roles": Role.choices,
        "teams": _team_choices(),
    }
    return settings_page(
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
        username=posted_text(post, "username"),
        password=_new_password(post),
        role=post.get("role", ""),
        email=posted_text(post, "email"),
        first_name=posted_text(post, "first_name"),
        last_name=posted_text(post, "last_name"),
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
            form.values = posted(request.POST, USER_EDIT_FIELDS, ["is_active"])
        try:
            text = _user_change(request, user, action)
        except DomainError as error:
            form.fail(error)
        else:
            return saved(request, text, reverse("settings_user_edit", args=[user.public_id]))
    context = {
        "title": f"User {user.username}",
        "edited": user,
        "details": details,
        "password": password,
        "roles": Role.choices,
        "teams": _team_choices(),
    }
    refused = details.failed or password.failed
    return settings_page(
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
        name: posted_text(post, name) for name in ("first_name", "last_name", "email")
    }
    data.update(
        role=post.get("role", ""), team=_posted_team(post), is_active=checked(post, "is_active")
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
        form = SettingsForm("team", ["name"], posted(request.POST, ["name"]))
        try:
            team = team_create(actor=request.user, name=posted_text(request.POST, "name"))
        except DomainError as error:
            form.fail(error)
        else:
            return saved(request, f"Added the team “{team.name}”.", reverse("settings_teams"))
    rows = team_list().annotate(member_count=Count("members")).order_by("name")
    context = {"teams": list(rows), "form": form}
    return settings_page(
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
        form = SettingsForm("queue", QUEUE_FIELDS, posted(request.POST, QUEUE_FIELDS))
        form.values["members"] = request.POST.getlist("members")
        if editing is not None:
            form.fixed(name=editing.name)
        try:
            queue = _queue_save(request, editing)
        except DomainError as error:
            form.fail(error)
        else:
            return saved(request, f"Saved the queue “{queue.name}”.", reverse("settings_queues"))
    context = {
        "queues": list(queue_list().order_by("name")),
        "form": form,
        "editing": editing,
        "people": _member_choices(editing),
    }
    return settings_page(
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
        name = posted_text(post, "name")
        refuse_existing(queue_list().filter(name=name).exists(), "name", "a queue", name)
    else:
        name = editing.name
    return queue_set(
        actor=request.user,
        name=name,
        email=posted_text(post, "email"),
        members=_posted_members(post),
    )


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
        api_token = row_named(token_list(), request.POST.get("token") or "0")
        token_revoke(actor=request.user, api_token=api_token)
        text = f"Revoked the token “{api_token.name}” of {api_token.user.username}."
        return saved(request, text, reverse("settings_tokens"))
    if request.method == "POST":
        form = SettingsForm("token", TOKEN_FIELDS, posted(request.POST, TOKEN_FIELDS))
        try:
            _use_form_key(request)
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
        "form_key": _new_form_key(request),
    }
    response = settings_page(
        request, "web/settings/tokens.html", "settings_tokens", context, refused=form.failed
    )
    if created:
        response["Cache-Control"] = "no-store"
    return response


# A token form is good for one token: reloading the page that showed a new secret (the
# browser resends the form) must not make a second token. Each rendered form carries a key
# kept in the session until a token is made with it; nothing secret is kept there.
FORM_KEYS = "token_form_keys"


def _new_form_key(request: HttpRequest) -> str:
    key = secrets.token_urlsafe(16)
    request.session[FORM_KEYS] = [*request.session.get(FORM_KEYS, [])[-4:], key]
    return key


def _use_form_key(request: HttpRequest) -> None:
    """Spend the posted form's key; DUPLICATE_VALUE if it was spent (or never given)."""
    keys = request.session.get(FORM_KEYS, [])
    key = request.POST.get("form_key", "")
    if key not in keys:
        raise DomainError(
            ErrorCode.DUPLICATE_VALUE,
            "This form was sent already: its token was created then, and its secret shown "
            "once. Fill in the form below to create another.",
        )
    request.session[FORM_KEYS] = [item for item in keys if item != key]


def _token_create(request: HttpRequest) -> tuple[ApiToken, str]:
    post = request.POST
    user_id = post.get("user", "")
    if not user_id:
        raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "user: required", ["user"])
    try:
        user = user_get(user_id=user_id)
    except DomainError:
        raise DomainError(ErrorCode.NOT_FOUND, "user: choose an active user", ["user"]) from None
    return token_create(actor=request.user, user=user, name=posted_text(post, "name"))
